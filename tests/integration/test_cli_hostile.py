"""`phidesk` against servers that are not the Ollama they claim to be, run as a user runs it.

`HostileServer` is a real HTTP server on a real socket: each path answers what a test scripts
(a captive portal's web page, a proxy's error page, a plain-text body, 200 MB without a line
break, a redirect to nowhere, escape sequences in names and errors, a 401), and every other
path is passed on to the Ollama double, so the rest of a command sees a working Ollama.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import keyring
import keyring.backends.fail
import pytest

from app.backend.hosts import HostProfiles
from app.config import Paths
from app.secrets import TokenStore
from tests.ollama_double.server import OllamaDouble

WEB_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head>\n"
    b"<body><h1>Welcome</h1><p>Accept the terms to continue.</p></body></html>\n"
)
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"
CONTROL_BYTES = (b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode())
NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


@dataclass
class Reply:
    """What a path answers. `filler` bytes of `x` (no line break) follow `body` when set."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    filler: int = 0
    unless_authorized: Reply | None = None  # the reply when an Authorization header came


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class HostileServer:
    def __init__(self, upstream: str | None = None) -> None:
        self.replies: dict[str, Reply] = {}
        self.default: Reply | None = None
        self.upstream = upstream
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.seen.append(Seen(self.command, path, headers))
                reply = server.replies.get(path, server.default)
                if reply is not None and reply.unless_authorized and "authorization" in headers:
                    reply = reply.unless_authorized
                try:
                    if reply is None:
                        self._forward(body)
                    else:
                        self._send(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up reading, as it should for a hostile body

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body) + reply.filler))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(reply.body)
                chunk = b"x" * (1 << 20)
                left = reply.filler
                while left > 0:
                    self.wfile.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)

            def _forward(self, body: bytes) -> None:
                assert server.upstream is not None, f"nothing scripted for {self.path}"
                target = urlsplit(server.upstream)
                connection = http.client.HTTPConnection(target.netloc, timeout=30)
                try:
                    connection.request(
                        self.command,
                        self.path,
                        body=body or None,
                        headers={"Content-Type": "application/json"},
                    )
                    answer = connection.getresponse()
                    payload = answer.read()
                    content_type = answer.getheader("Content-Type") or "application/json"
                    self._send(Reply(answer.status, payload, content_type))
                finally:
                    connection.close()

            do_GET = do_POST = do_DELETE = do_HEAD = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@pytest.fixture
def hostile(ollama_double: OllamaDouble) -> Iterator[HostileServer]:
    server = HostileServer(upstream=ollama_double.url)
    try:
        yield server
    finally:
        server.close()


@dataclass
class Run:
    returncode: int
    stdout: bytes
    stderr: bytes
    peak_memory: int  # bytes: the largest resident set the process had

    @property
    def lines(self) -> list[str]:
        return self.stderr.decode(errors="replace").splitlines()


def phidesk(
    host: str, *args: str, data: Path, env: Mapping[str, str] | None = None, stdin: bytes = b""
) -> Run:
    """Run `phidesk --host HOST ARGS` to the end and measure its peak memory (Linux: ru_maxrss).

    Linux keeps a process's peak resident set across exec, so a child forked straight from this
    (large) test process would report the test's own size: a small launcher forks it instead."""
    out, err, peak = (data.parent / name for name in ("stdout", "stderr", "peak"))
    command = [sys.executable, "-m", "app", "--data-dir", str(data), "--host", host, *args]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(peak), *command],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, **(env or {})},
            check=False,
        )
    peak_bytes = int(peak.read_text()) * 1024
    return Run(process.returncode, out.read_bytes(), err.read_bytes(), peak_bytes)


LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as peak:
    peak.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def error_line(run: Run) -> str:
    assert run.returncode == 1, run.stderr
    assert b"Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.lines if line.startswith("phidesk: error: ")]
    assert len(errors) == 1, run.lines
    assert "unexpected" not in errors[0], errors[0]
    return errors[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- item 15: a web page is never taken for Ollama's answer ---------------------------------


@pytest.mark.parametrize("status", [200, 502])
def test_a_web_page_instead_of_ollama_is_named_for_rm_models_and_ask(
    hostile: HostileServer, tmp_path: Path, status: int
) -> None:
    hostile.default = Reply(status, WEB_PAGE, "text/html; charset=utf-8")
    commands = [("rm", "phi4-mini"), ("models",), ("ask", "-m", "phi4-mini", "hello")]
    for number, args in enumerate(commands):
        run = phidesk(hostile.url, *args, data=tmp_path / f"data{number}")
        line = error_line(run)
        assert f"the server at {hostile.url} does not look like Ollama" in line, line
        assert "web page" in line, line
        assert b"<" not in run.stderr, run.stderr  # never the page itself
        assert b"deleted" not in run.stdout


def test_a_web_page_without_a_content_type_is_still_a_web_page(
    hostile: HostileServer, tmp_path: Path
) -> None:
    hostile.default = Reply(502, WEB_PAGE, "application/octet-stream")
    for number, args in enumerate([("rm", "phi4-mini"), ("models",)]):
        line = error_line(phidesk(hostile.url, *args, data=tmp_path / f"data{number}"))
        assert "does not look like Ollama" in line and "web page" in line, line


def test_rm_is_deleted_only_when_ollama_says_so(hostile: HostileServer, tmp_path: Path) -> None:
    hostile.replies["/api/delete"] = Reply(200, b"OK, whatever you say", "text/plain")
    line = error_line(phidesk(hostile.url, "rm", "phi4-mini", data=tmp_path / "data"))
    assert "does not look like Ollama" in line, line
    hostile.replies.pop("/api/delete")  # now the double answers: the real thing
    run = phidesk(hostile.url, "rm", "phi4-mini", data=tmp_path / "data")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == b"deleted phi4-mini"


# --- item 18: what was said about a stream is said only of a stream -------------------------


def test_a_plain_body_is_not_called_a_broken_stream(hostile: HostileServer, tmp_path: Path) -> None:
    hostile.replies["/api/tags"] = Reply(200, b"hello from a router", "text/plain")
    hostile.replies["/api/chat"] = Reply(200, b"hello from a router", "text/plain")
    for number, args in enumerate([("models",), ("ask", "-m", "phi4-mini", "hi")]):
        line = error_line(phidesk(hostile.url, *args, data=tmp_path / f"data{number}"))
        assert "does not look like Ollama" in line, line
        assert "middle of the stream" not in line and "was kept" not in line, line


def test_a_huge_answer_without_a_line_break_is_refused_without_reading_it_whole(
    hostile: HostileServer, tmp_path: Path
) -> None:
    size = 200 * 1024 * 1024
    hostile.replies["/api/tags"] = Reply(200, b'{"models": "', filler=size)
    hostile.replies["/api/chat"] = Reply(200, b'{"message": "', filler=size)
    for number, args in enumerate([("models",), ("ask", "-m", "phi4-mini", "hi")]):
        run = phidesk(hostile.url, *args, data=tmp_path / f"data{number}")
        line = error_line(run)
        assert "does not look like Ollama" in line and "line break" in line, line
        assert "middle of the stream" not in line, line
        assert run.peak_memory < 200 * 1024 * 1024, (args, run.peak_memory)


def test_a_redirect_to_a_dead_host_names_where_it_went(
    hostile: HostileServer, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    hostile.default = Reply(307, b"", headers={"Location": f"{dead}/api/tags"})
    for number, args in enumerate([("models",), ("rm", "phi4-mini")]):
        line = error_line(phidesk(hostile.url, *args, data=tmp_path / f"data{number}"))
        assert dead in line, line
        assert f"not answering at {hostile.url}" not in line, line


# --- item 10: names and errors from a server are printed without terminal controls ---------


def test_hostile_model_names_and_error_text_print_without_terminal_controls(
    hostile: HostileServer, tmp_path: Path
) -> None:
    model = {
        "name": f"phi4{ESCAPES}:latest",
        "model": f"phi4{ESCAPES}:latest",
        "size": 1000,
        "digest": "0" * 64,
        "modified_at": "2025-01-01T00:00:00Z",
        "details": {"family": f"phi3{ESCAPES}", "quantization_level": f"Q4{ESCAPES}"},
    }
    hostile.replies["/api/tags"] = Reply(200, json.dumps({"models": [model]}).encode())
    hostile.replies["/api/ps"] = Reply(200, b'{"models": []}')
    for args in (("models",), ("models", "--json")):
        run = phidesk(hostile.url, *args, data=tmp_path / "data")
        assert run.returncode == 0, run.stderr
        assert b"pwned" in run.stdout
        for byte in CONTROL_BYTES:
            assert byte not in run.stdout + run.stderr, run.stdout

    failure = json.dumps({"error": f"model {ESCAPES} failed"}).encode()
    hostile.replies["/api/tags"] = Reply(500, failure)
    hostile.replies["/api/delete"] = Reply(500, failure)
    for args in (("models",), ("rm", "phi4-mini")):
        run = phidesk(hostile.url, *args, data=tmp_path / "data")
        assert "pwned" in error_line(run)
        for byte in CONTROL_BYTES:
            assert byte not in run.stdout + run.stderr, run.stderr


# --- item 12: credentials that are not sent are never lost silently -------------------------


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.mark.usefixtures("no_keyring")
def test_a_token_kept_for_one_session_is_named_when_a_later_run_is_refused(
    hostile: HostileServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    profiles = HostProfiles(Paths.resolve(data).ensure(), tokens=TokenStore())
    profile, saved = profiles.add("gpu box", hostile.url, token="sess-token")
    assert saved is not None and not saved.in_keyring
    stored = json.loads((data / "hosts.json").read_text())["hosts"][0]
    assert stored["has_token"] is False  # the file does not claim a token it does not have

    refused = Reply(401, b'{"error": "unauthorized"}')
    refused.unless_authorized = Reply(200, b'{"models": []}')
    hostile.replies["/api/tags"] = refused
    run = phidesk(hostile.url, "models", data=data, env=NO_KEYRING)
    line = error_line(run)
    assert "401" in line and "keyring" in line and "token" in line, line
    assert all("authorization" not in seen.headers for seen in hostile.seen)
    assert profile.id  # the same profile: its URL is the one asked


def test_a_user_and_password_in_the_host_url_are_said_not_to_be_sent(
    hostile: HostileServer, tmp_path: Path
) -> None:
    refused = Reply(401, b'{"error": "unauthorized"}')
    hostile.replies["/api/tags"] = refused
    with_credentials = hostile.url.replace("http://", "http://someone:s3cret-pw@")
    for given in (["--host", with_credentials], []):
        env = {} if given else {"OLLAMA_HOST": with_credentials}
        command = [sys.executable, "-m", "app", "--data-dir", str(tmp_path / "data"), *given]
        result = subprocess.run(
            [*command, "models"],
            capture_output=True,
            env={**os.environ, **env},
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        text = result.stderr.decode()
        assert "s3cret-pw" not in text  # never echo a password
        lines = text.splitlines()
        warnings = [line for line in lines if line.startswith("phidesk: warning: ")]
        assert len(warnings) == 1 and "password" in warnings[0], lines
        assert lines[-1].startswith("phidesk: error: ") and "401" in lines[-1], lines
