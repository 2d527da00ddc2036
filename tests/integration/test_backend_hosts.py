"""Host profiles: tokens only in a real Secret Service, never on disk in the data dir."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from app.backend.hosts import (
    LOCAL_ID,
    NO_KEYRING_NOTICE,
    HostProfiles,
    InsecureTokenRefused,
    is_loopback,
)
from app.config import Paths
from app.errors import UsageError
from app.secrets import TokenStore
from tests.ollama_double.server import OllamaDouble


# First in the module: keyring decides once per process which backends are viable, so the
# Secret Service must be up before any other test here asks for a keyring.
@pytest.mark.keyring_real
def test_token_round_trips_through_the_secret_service_and_never_reaches_disk(
    secret_service: str, data_dir: Path, ollama_double: OllamaDouble
) -> None:
    assert TokenStore().describe_backend() == "keyring.backends.SecretService.Keyring"
    token = f"needle-{uuid.uuid4()}"
    paths = Paths.resolve().ensure()
    profiles = HostProfiles(paths)
    profile, saved = profiles.add("double", ollama_double.url, token=token)
    assert saved is not None and saved.in_keyring and saved.notice is None
    assert keyring.get_password("phidesk", profile.id) == token

    # After a restart the token comes back from the keyring and reaches the server as a header.
    restarted = HostProfiles(paths)
    assert restarted.token(profile.id) == token

    async def listing() -> None:
        async with restarted.client(profile.id) as client:
            await client.list_models()

    asyncio.run(listing())
    assert ollama_double.requests_to("/api/tags")[-1].headers["authorization"] == (
        f"Bearer {token}"
    )

    stored = json.loads((paths.config / "hosts.json").read_text())
    assert stored["hosts"][0]["url"] == ollama_double.url
    assert stored["hosts"][0]["has_token"] is True
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert files  # hosts.json at least; the search below is not vacuous
    for path in files:
        assert token.encode() not in path.read_bytes(), path

    restarted.remove(profile.id)
    assert keyring.get_password("phidesk", profile.id) is None
    assert [p.id for p in HostProfiles(paths).all()] == [LOCAL_ID]


def test_local_profile_comes_from_ollama_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:11500")
    profiles = HostProfiles(Paths.resolve().ensure())
    assert profiles.local.url == "http://127.0.0.1:11500"
    assert [p.id for p in profiles.all()] == [LOCAL_ID]
    assert HostProfiles(Paths.resolve().ensure(), local_url="http://h:1").local.url == "http://h:1"


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:11434", True),
        ("http://127.8.9.1:1", True),
        ("http://[::1]:11434", True),
        ("http://localhost:11434", True),
        ("http://192.168.1.20:11434", False),
        ("https://ollama.example.com", False),
    ],
)
def test_loopback_detection(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.mark.usefixtures("no_keyring")
def test_plain_http_token_to_another_machine_needs_confirmation() -> None:
    profiles = HostProfiles(Paths.resolve().ensure())
    with pytest.raises(InsecureTokenRefused, match="plain http://"):
        profiles.add("lab", "http://192.168.1.20:11434", token="tok")
    assert [p.id for p in profiles.all()] == [LOCAL_ID]  # nothing half-added
    profile, saved = profiles.add(
        "lab", "http://192.168.1.20:11434", token="tok", confirm_insecure=True
    )
    assert profile.has_token and profile.insecure_confirmed
    assert saved is not None
    # An https host, or plain http to this machine, needs no confirmation.
    profiles.add("tls", "https://ollama.example.com", token="tok")
    profiles.add("tunnel", "http://127.0.0.1:9999", token="tok")


@pytest.mark.usefixtures("no_keyring")
def test_without_a_keyring_the_token_lives_for_the_session_only(data_dir: Path) -> None:
    tokens = TokenStore()
    profiles = HostProfiles(Paths.resolve().ensure(), tokens=tokens)
    profile, saved = profiles.add("remote", "https://gpu.example.com", token="sess-token")
    assert saved is not None and not saved.in_keyring
    assert saved.notice == NO_KEYRING_NOTICE
    assert profiles.token(profile.id) == "sess-token"
    restarted = HostProfiles(Paths.resolve().ensure(), tokens=TokenStore())
    assert restarted.get(profile.id).url == "https://gpu.example.com:443"
    assert restarted.token(profile.id) is None
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert b"sess-token" not in path.read_bytes(), path


@pytest.mark.usefixtures("no_keyring")
def test_a_token_not_kept_is_named_after_a_restart_and_credentials_in_a_url_are_refused() -> None:
    profiles = HostProfiles(Paths.resolve().ensure(), tokens=TokenStore())
    profile, _ = profiles.add("remote", "https://gpu.example.com", token="sess-token")
    assert profiles.missing_token(profile.id) is None  # this session still has it
    restarted = HostProfiles(Paths.resolve().ensure(), tokens=TokenStore())
    assert restarted.get(profile.id).token_session_only
    note = restarted.missing_token(profile.id)
    assert note is not None and "no keyring" in note and "enter it again" in note
    assert restarted.client(profile.id).auth_note == note
    with pytest.raises(UsageError, match="user name and password"):
        restarted.add("lab", "https://me:pw@gpu.example.com")
