"""The backend's hostile-server and host-profile paths, run in this process.

tests/integration/test_cli_hostile.py proves these through `phidesk` subprocesses, which
coverage does not follow; here the same `HostileServer` (a real HTTP server on a real socket)
answers an `OllamaClient` directly, so each failure's type and sentence is checked where it is
made. Host profiles run against the fail keyring, as on a system without one.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import keyring
import keyring.backends.fail
import pytest

from app.backend import errors
from app.backend.client import OllamaClient
from app.backend.events import ContentDelta, PullEvent, StreamStalled, ThinkingDelta
from app.backend.failures import MAX_LINE_BYTES, UnlikeOllama, translate
from app.backend.hosts import LOCAL_ID, NO_KEYRING_NOTICE, HostProfiles
from app.config import Paths
from app.errors import UsageError
from app.secrets import TokenStore
from tests.integration.test_cli_hostile import WEB_PAGE, HostileServer, Reply
from tests.ollama_double.server import OllamaDouble

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    try:
        yield server
    finally:
        server.close()


def with_client[T](url: str, work: Callable[[OllamaClient], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        async with OllamaClient(url, **options) as client:
            return await work(client)

    return asyncio.run(main())


def failure_of(
    url: str, work: Callable[[OllamaClient], Awaitable[object]], **options: Any
) -> errors.OllamaError:
    """The typed error `work` ends with (it must end with one)."""
    with pytest.raises(errors.OllamaError) as caught:
        with_client(url, work, **options)
    return caught.value


async def chat_all(client: OllamaClient, model: str = "phi4") -> list[object]:
    return [event async for event in client.chat(model, USER, num_ctx=4096)]


async def pull_all(client: OllamaClient, name: str = "phi4") -> list[PullEvent]:
    return [event async for event in client.pull(name)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- what is not Ollama is said to be not Ollama --------------------------------------------


@pytest.mark.parametrize("status", [200, 502])
def test_a_web_page_is_not_taken_for_ollama_by_any_call(
    hostile: HostileServer, status: int
) -> None:
    hostile.default = Reply(status, WEB_PAGE, "text/html; charset=utf-8")
    calls: list[Callable[[OllamaClient], Awaitable[object]]] = [
        lambda c: c.list_models(),
        lambda c: c.show("phi4"),
        lambda c: c.delete("phi4"),
        chat_all,
    ]
    for call in calls:
        error = failure_of(hostile.url, call)
        assert isinstance(error, errors.NotOllama), error
        assert f"the server at {hostile.url} does not look like Ollama" in str(error)
        assert "web page" in str(error) and "<" not in str(error)
    assert with_client(hostile.url, lambda c: c.ping()) is False


def test_delete_counts_only_ollamas_own_success(hostile: HostileServer) -> None:
    replies = [
        (Reply(200, b"OK, whatever you say", "text/plain"), "something that is not JSON"),
        (Reply(200, b"<p>deleted</p>", "application/json"), "sent a web page"),
        (Reply(202, b"", "application/json"), "answered 202 instead of deleting"),
    ]
    for reply, said in replies:
        hostile.replies["/api/delete"] = reply
        error = failure_of(hostile.url, lambda c: c.delete("phi4"))
        assert isinstance(error, errors.NotOllama) and said in str(error), error
    hostile.replies["/api/delete"] = Reply(200, b"{}")
    with_client(hostile.url, lambda c: c.delete("phi4"))


def test_a_plain_body_is_not_json_and_not_a_broken_stream(hostile: HostileServer) -> None:
    hostile.default = Reply(200, b"hello from a router", "text/plain")
    for call in (lambda c: c.list_models(), lambda c: c.show("phi4"), chat_all):
        error = failure_of(hostile.url, call)
        assert isinstance(error, errors.NotOllama), error
        assert "answered with something that is not JSON" in str(error), error
        assert "was kept" not in str(error)


def test_bytes_that_are_not_text_or_json_of_the_wrong_shape_are_not_ollama(
    hostile: HostileServer,
) -> None:
    hostile.replies["/api/show"] = Reply(200, b"\xff\xfe\xfa\xfb")
    error = failure_of(hostile.url, lambda c: c.show("phi4"))
    assert isinstance(error, errors.NotOllama) and "not JSON" in str(error), error
    hostile.replies["/api/tags"] = Reply(200, b'{"models": 5}')
    error = failure_of(hostile.url, lambda c: c.list_models())
    assert isinstance(error, errors.NotOllama) and "not in Ollama's format" in str(error)
    hostile.replies["/api/version"] = Reply(200, b'{"version": 3}')
    error = failure_of(hostile.url, lambda c: c.version())
    assert str(error) == f"the server at {hostile.url} does not look like Ollama"


def test_a_compressed_answer_that_was_not_asked_for_is_refused(hostile: HostileServer) -> None:
    hostile.default = Reply(200, b"\x1f\x8b\x08\x00", headers={"Content-Encoding": "gzip"})
    error = failure_of(hostile.url, lambda c: c.list_models())
    assert isinstance(error, errors.NotOllama), error
    assert "sent a compressed answer it was not asked for" in str(error)


def test_a_huge_line_is_refused_before_it_is_read_whole(hostile: HostileServer) -> None:
    hostile.default = Reply(200, b'{"models": "', filler=MAX_LINE_BYTES + (1 << 20))
    for call in (lambda c: c.list_models(), chat_all):
        error = failure_of(hostile.url, call)
        assert isinstance(error, errors.NotOllama), error
        assert "without a line break" in str(error) and "middle" not in str(error)


def test_a_huge_line_after_the_first_chunk_keeps_what_arrived(hostile: HostileServer) -> None:
    first = b'{"model":"phi4","message":{"role":"assistant","content":"Hel"},"done":false}\n'
    hostile.replies["/api/chat"] = Reply(200, first, filler=MAX_LINE_BYTES + (1 << 20))

    async def work(client: OllamaClient) -> list[object]:
        seen: list[object] = []
        try:
            async for event in client.chat("phi4", USER, num_ctx=4096):
                seen.append(event)
        except errors.OllamaError as exc:
            seen.append(exc)
        return seen

    events = with_client(hostile.url, work)
    assert ContentDelta("Hel") in events
    error = events[-1]
    assert isinstance(error, errors.StreamFailed), error
    assert "in the middle of the answer, which Ollama never does" in str(error)


def test_a_plain_answer_over_the_size_limit_is_refused(hostile: HostileServer) -> None:
    line = b" " * 1023 + b"\n"
    hostile.replies["/api/tags"] = Reply(200, b"{" + line * (33 * 1024))
    error = failure_of(hostile.url, lambda c: c.list_models())
    assert isinstance(error, errors.NotOllama), error
    assert "sent more than 32 MB at once" in str(error)


def test_a_redirect_to_a_dead_port_names_where_it_went(hostile: HostileServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    hostile.default = Reply(307, b"", headers={"Location": f"{dead}/api/tags"})
    for call in (lambda c: c.list_models(), lambda c: c.delete("phi4")):
        error = failure_of(hostile.url, call)
        assert isinstance(error, errors.ServerUnreachable), error
        assert f"redirected the request to {dead}, where nothing answers" in str(error)


# --- refusals, limits and streams that stop early -------------------------------------------


def test_a_refusal_ends_with_the_callers_note_about_the_token(hostile: HostileServer) -> None:
    note = "the token was kept only until PhiDesk closed: enter it again"
    hostile.default = Reply(401, b'{"error": "unauthorized"}')
    error = failure_of(hostile.url, lambda c: c.list_models(), auth_note=note)
    assert isinstance(error, errors.Unauthorized) and error.status == 401
    assert str(error) == (
        f"the server at {hostile.url} refused the request as unauthorized (401); {note}"
    )
    hostile.default = Reply(403, b'{"error": "not on the list"}')
    error = failure_of(hostile.url, lambda c: c.list_models())
    assert isinstance(error, errors.Unauthorized)
    assert "denied access (403: not on the list); check the access token" in str(error)
    hostile.default = Reply(429, b'{"error": "slow down"}')
    error = failure_of(hostile.url, lambda c: c.list_models())
    assert isinstance(error, errors.ServerBusy)
    assert "limiting requests (429: slow down)" in str(error)


def test_unload_and_pull_failures_are_typed(hostile: HostileServer) -> None:
    hostile.replies["/api/chat"] = Reply(500, b'{"error": "runner crashed"}')
    error = failure_of(hostile.url, lambda c: c.unload("phi4"))
    assert error.status == 500 and "failed (500: runner crashed)" in str(error)
    hostile.replies["/api/pull"] = Reply(500, b'{"error": "pull model manifest: 404"}')
    error = failure_of(hostile.url, pull_all)
    assert isinstance(error, errors.TagNotFound), error
    assert "the registry has no model called phi4" in str(error)


def test_streams_that_end_without_done_are_interrupted(hostile: HostileServer) -> None:
    part = {"model": "phi4", "message": {"role": "assistant", "content": "<think>abc</th"}}
    hostile.replies["/api/chat"] = Reply(200, json.dumps({**part, "done": False}).encode() + b"\n")
    hostile.replies["/api/pull"] = Reply(200, b'{"status": "pulling manifest"}\n')

    async def chat(client: OllamaClient) -> list[object]:
        seen: list[object] = []
        try:
            async for event in client.chat("phi4", USER, num_ctx=4096):
                seen.append(event)
        except errors.OllamaError as exc:
            seen.append(exc)
        return seen

    events = with_client(hostile.url, chat)
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)).startswith("abc")
    assert isinstance(events[-1], errors.StreamInterrupted), events
    assert "closed before the answer finished; what arrived so far was kept" in str(events[-1])
    error = failure_of(hostile.url, pull_all)
    assert isinstance(error, errors.StreamInterrupted)
    assert "closed before the pull of phi4 finished" in str(error)


def test_a_context_that_is_not_positive_is_refused_before_asking(hostile: HostileServer) -> None:
    async def work(client: OllamaClient) -> None:
        async for _ in client.chat("phi4", USER, num_ctx=0):
            pass

    with pytest.raises(ValueError, match="num_ctx must be positive, not 0"):
        with_client(hostile.url, work)
    assert hostile.seen == []


def test_silence_is_given_up_after_the_stall_timeout(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("stall", path="/api/chat", after=0, seconds=3.0)
    events: list[object] = []

    async def work(client: OllamaClient) -> None:
        async for event in client.chat("phi4", USER, num_ctx=4096):
            events.append(event)

    error = failure_of(ollama_double.url, work, stall_seconds=0.1, stall_timeout=0.4)
    assert isinstance(error, errors.StreamInterrupted), error
    assert str(error) == (
        f"the Ollama server at {ollama_double.url} sent nothing for 0.4 s, so PhiDesk stopped "
        "waiting; what arrived so far was kept"
    )
    assert events and all(isinstance(e, StreamStalled) for e in events)


def test_a_pull_that_goes_quiet_tells_the_caller(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("stall", path="/api/pull", after=1, seconds=1.0, times=1)
    told: list[StreamStalled] = []

    async def work(client: OllamaClient) -> list[PullEvent]:
        return [event async for event in client.pull("phi4-mini", stalled=told.append)]

    events = with_client(ollama_double.url, work, stall_seconds=0.1, stall_timeout=30.0)
    assert told and events


# --- failures.translate on what the network layer raises ------------------------------------


def test_translate_keeps_typed_errors_and_names_timeouts_and_bad_bytes() -> None:
    host = "http://127.0.0.1:11434"
    typed = errors.ServerBusy("busy")
    assert translate(typed, host=host) is typed
    late = translate(httpx.ReadTimeout("slow"), host=host)
    assert type(late) is errors.OllamaError
    assert str(late) == (
        f"the Ollama server at {host} did not answer in time; it may be overloaded, try again"
    )
    garbled = translate(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), host=host)
    assert isinstance(garbled, errors.NotOllama) and "not JSON" in str(garbled)
    mid = translate(UnlikeOllama("sent a web page"), host=host, streaming=True)
    assert isinstance(mid, errors.StreamFailed) and "what arrived so far was kept" in str(mid)
    assert translate(KeyError("x"), host=host) is None


# --- host profiles without a keyring --------------------------------------------------------


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.mark.usefixtures("no_keyring")
def test_a_session_token_is_sent_then_forgotten_and_the_file_says_so(
    hostile: HostileServer, data_dir: Path
) -> None:
    paths = Paths.resolve().ensure()
    profiles = HostProfiles(paths, tokens=TokenStore())
    profile, saved = profiles.add("gpu box", hostile.url, token="sess-token")
    assert saved is not None and saved.notice == NO_KEYRING_NOTICE
    stored = json.loads((paths.config / "hosts.json").read_text())["hosts"][0]
    assert stored["has_token"] is False and stored["token_session_only"] is True
    assert b"sess-token" not in (paths.config / "hosts.json").read_bytes()

    refused = Reply(401, b'{"error": "unauthorized"}')
    refused.unless_authorized = Reply(200, b'{"models": []}')
    hostile.replies["/api/tags"] = refused
    assert profiles.find_by_url(hostile.url) == profiles.get(profile.id)
    assert with_client_of(profiles.client_for_url(hostile.url)) == []
    assert hostile.seen[-1].headers["authorization"] == "Bearer sess-token"

    restarted = HostProfiles(paths, tokens=TokenStore())
    with pytest.raises(errors.Unauthorized) as caught:
        with_client_of(restarted.client_for_url(hostile.url))
    assert "401" in str(caught.value) and "no keyring to keep it" in str(caught.value)
    assert "authorization" not in hostile.seen[-1].headers


def with_client_of(client: OllamaClient) -> list[object]:
    async def main() -> list[object]:
        async with client:
            return list(await client.list_models())

    return asyncio.run(main())


@pytest.mark.usefixtures("no_keyring")
def test_a_token_the_keyring_cannot_give_back_is_named() -> None:
    paths = Paths.resolve().ensure()
    entry = {"id": "host-1", "name": "lab", "url": "https://lab.example.com", "has_token": True}
    (paths.config / "hosts.json").write_text(json.dumps({"hosts": [entry]}))
    profiles = HostProfiles(paths, tokens=TokenStore())
    note = profiles.missing_token("host-1")
    assert note == (
        "the access token of lab could not be read from the keyring, so none was sent: "
        "unlock the keyring, or enter the token again"
    )
    profiles.clear_token("host-1")
    assert profiles.missing_token("host-1") is None
    stored = json.loads((paths.config / "hosts.json").read_text())["hosts"][0]
    assert stored["has_token"] is False


@pytest.mark.usefixtures("no_keyring")
def test_profile_changes_refuse_what_cannot_be_done() -> None:
    paths = Paths.resolve().ensure()
    profiles = HostProfiles(paths, tokens=TokenStore(), local_url="http://127.0.0.1:11434")
    with pytest.raises(UsageError, match="cannot carry a user name and password"):
        profiles.add("lab", "https://me:pw@gpu.example.com")
    with pytest.raises(UsageError, match="a host needs a name"):
        profiles.add("  ", "https://gpu.example.com")
    profile, saved = profiles.add("lab", "https://gpu.example.com")
    assert saved is None and not profile.has_token
    with pytest.raises(UsageError, match="the token is empty"):
        profiles.set_token(profile.id, "   ")
    with pytest.raises(UsageError, match="the local host does not take a token"):
        profiles.set_token(LOCAL_ID, "tok")
    with pytest.raises(UsageError, match="the local host cannot be removed"):
        profiles.remove(LOCAL_ID)
    assert profiles.get(LOCAL_ID) is profiles.local
    assert profiles.find_by_url("http://127.0.0.1:11434") is profiles.local
    assert profiles.find_by_url("https://elsewhere.example.com") is None
    assert profiles.client_for_url("http://127.0.0.1:11434").host == "http://127.0.0.1:11434"
    profiles.clear_token(LOCAL_ID)
    profiles.remove(profile.id)
    with pytest.raises(UsageError, match="there is no host profile"):
        profiles.get(profile.id)
    assert [p.id for p in HostProfiles(paths, tokens=TokenStore()).all()] == [LOCAL_ID]


@pytest.mark.usefixtures("no_keyring")
def test_an_unreadable_or_damaged_hosts_file_is_ignored_entry_by_entry() -> None:
    paths = Paths.resolve().ensure()
    hosts = paths.config / "hosts.json"
    hosts.write_text("{not json")
    assert [p.id for p in HostProfiles(paths, tokens=TokenStore()).all()] == [LOCAL_ID]
    good = {"id": "host-good", "name": "good", "url": "https://good.example.com"}
    hosts.write_text(json.dumps({"hosts": [{"id": "host-bad"}, good]}))
    kept = HostProfiles(paths, tokens=TokenStore()).all()
    assert [p.id for p in kept] == [LOCAL_ID, "host-good"]
