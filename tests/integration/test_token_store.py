"""Host tokens live in a real Secret Service (gnome-keyring on a private D-Bus), nowhere else."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from app.config import Paths, Settings
from app.secrets import TokenStore

pytestmark = pytest.mark.keyring_real


def test_token_round_trips_through_the_secret_service(secret_service: str) -> None:
    store = TokenStore()
    assert store.keyring_available, store.describe_backend()
    assert store.describe_backend() == "keyring.backends.SecretService.Keyring"
    host_id = f"host-{uuid.uuid4()}"
    token = f"secret-{uuid.uuid4()}"
    assert store.save(host_id, token) is True
    assert TokenStore().load(host_id) == token  # a new store, as after a restart
    assert keyring.get_password("phidesk", host_id) == token
    store.delete(host_id)
    assert TokenStore().load(host_id) is None


def test_token_never_reaches_the_data_dir(secret_service: str, data_dir: Path) -> None:
    paths = Paths.resolve().ensure()
    token = f"needle-{uuid.uuid4()}"
    TokenStore().save("remote-1", token)
    Settings(default_model="phi4").save(paths.settings_file)
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.mark.usefixtures("no_keyring")
def test_without_a_keyring_the_token_is_kept_for_the_session_only() -> None:
    store = TokenStore()
    assert not store.keyring_available
    assert store.save("remote-2", "t0ken") is False
    assert store.load("remote-2") == "t0ken"
    assert TokenStore().load("remote-2") is None  # nothing persisted anywhere
