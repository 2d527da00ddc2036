"""`phidesk ask` and `phidesk pull` as real subprocesses against servers that stop answering,
and against signals: they give up after `--stall-timeout` with a note first and one sentence at
the end, SIGTERM saves what streamed as Ctrl-C does, and nothing typed is left behind as junk or
lost (issue 14, items 1, 5, 8 and 19)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from app.store import Database
from tests.ollama_double.server import OllamaDouble

STALL = "3"
"""The --stall-timeout of these tests, in seconds."""

PLAIN_ANSWERS: dict[str, object] = {
    "/api/version": {"version": "0.33.0"},
    "/api/tags": {"models": []},
    "/api/ps": {"models": []},
    "/api/show": {
        "modelfile": "",
        "parameters": "",
        "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": "phi3", "quantization_level": "Q4_K_M"},
        "model_info": {"general.architecture": "phi3", "phi3.context_length": 131072},
        "capabilities": ["completion"],
    },
}


def chat_line(content: str) -> bytes:
    part = {
        "model": "phi4-mini",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": False,
    }
    return json.dumps(part).encode() + b"\n"


PULL_LINES = [
    b'{"status":"pulling manifest"}\n',
    b'{"status":"pulling 3a4b","digest":"sha256:3a4b","total":1000000,"completed":1000}\n',
]


class HostileServer:
    """A real HTTP server on a socket. "silent": accepts every connection, reads the request and
    never answers. "stalls": answers the plain endpoints as Ollama does, starts the chat and pull
    streams with a few lines, then sends nothing more while keeping the connection open."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> Self:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._listener.close()
        for connection in list(self._connections):
            with closing(connection), suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        self._listener.settimeout(0.05)  # to see the stop: closing does not wake accept()
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            self._connections.append(connection)
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, connection: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                path = self._read_request(connection)
                if path is None:
                    return
                self.paths.append(path)
                if self.mode == "silent":
                    self._stop.wait()
                    return
                if path in ("/api/chat", "/api/pull"):
                    lines = (
                        [chat_line("Hel"), chat_line("lo, wor")]
                        if path == "/api/chat"
                        else PULL_LINES
                    )
                    head = (
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n"
                    )
                    connection.sendall(
                        head + b"".join(b"%x\r\n%s\r\n" % (len(line), line) for line in lines)
                    )
                    self._stop.wait()  # and then nothing, ever
                    return
                body = json.dumps(PLAIN_ANSWERS.get(path, {})).encode()
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
        except OSError:
            return

    @staticmethod
    def _read_request(connection: socket.socket) -> str | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(
            (
                int(v)
                for k, _, v in (h.partition(":") for h in lines[1:])
                if k.lower() == "content-length"
            ),
            0,
        )
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            body += chunk
        return lines[0].split(" ")[1].split("?")[0]


@pytest.fixture
def silent() -> Iterator[HostileServer]:
    with HostileServer("silent") as server:
        yield server


@pytest.fixture
def stalls() -> Iterator[HostileServer]:
    with HostileServer("stalls") as server:
        yield server


def phidesk(data: Path, host: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), "--host", host, *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def start(data: Path, host: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "--data-dir", str(data), "--host", host, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_error(stderr: str, *, progress: bool = False) -> str:
    """The one `phidesk: error:` line; notes may come before it (and, for a pull, the progress
    lines), nothing else."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if not progress or line.startswith("phidesk:")]
    errors = [line for line in lines if line.startswith("phidesk: error: ")]
    assert len(errors) == 1, stderr
    assert all(line.startswith("phidesk: note: ") for line in lines if line not in errors), stderr
    return errors[0]


def notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("phidesk: note: ")]


def wait_for_request(double: OllamaDouble, path: str) -> None:
    deadline = time.monotonic() + 30
    while not double.requests_to(path):
        assert time.monotonic() < deadline, f"no request to {path}"
        time.sleep(0.01)


# --- item 5: nothing waits forever ----------------------------------------------------------


def test_ask_gives_up_on_a_server_that_never_answers(silent: HostileServer, tmp_path: Path) -> None:
    data = tmp_path / "d"
    result = phidesk(data, silent.url, "ask", "-m", "phi4-mini", "--stall-timeout", STALL, "hello?")
    assert result.returncode == 1
    error = one_error(result.stderr)
    assert "3 s" in error
    assert notes(result.stderr)  # said before giving up
    assert "/api/chat" in silent.paths
    with Database.open(data / "phidesk.sqlite3") as db:
        (chat,) = db.list_chats()
        user, answer = db.messages(chat.id)
    assert user.content == "hello?"
    assert (answer.status, answer.content) == ("interrupted", "")
    assert answer.error and "3 s" in answer.error


def test_ask_gives_up_on_a_stream_that_stalls_and_keeps_what_arrived(
    stalls: HostileServer, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    result = phidesk(data, stalls.url, "ask", "-m", "phi4-mini", "--stall-timeout", STALL, "hi")
    assert result.returncode == 1
    assert result.stdout == "Hello, wor\n"
    assert "3 s" in one_error(result.stderr)
    (note,) = notes(result.stderr)
    assert "nothing" in note and "still waiting" in note
    with Database.open(data / "phidesk.sqlite3") as db:
        (chat,) = db.list_chats()
        user, answer = db.messages(chat.id)
    assert user.content == "hi"
    assert (answer.status, answer.content) == ("interrupted", "Hello, wor")


def test_pull_gives_up_on_a_server_that_never_answers(
    silent: HostileServer, tmp_path: Path
) -> None:
    result = phidesk(tmp_path / "d", silent.url, "pull", "phi4-mini", "--stall-timeout", STALL)
    assert result.returncode == 1
    assert "3 s" in one_error(result.stderr, progress=True)
    assert notes(result.stderr)
    assert silent.paths == ["/api/pull"]


def test_pull_gives_up_when_progress_stops(stalls: HostileServer, tmp_path: Path) -> None:
    result = phidesk(tmp_path / "d", stalls.url, "pull", "phi4-mini", "--stall-timeout", STALL)
    assert result.returncode == 1
    error = one_error(result.stderr, progress=True)
    assert "3 s" in error and "pull again" in error
    assert notes(result.stderr)
    assert result.stdout == ""


def test_the_stall_timeout_must_be_a_positive_number(tmp_path: Path) -> None:
    for command in (["ask", "-m", "phi4-mini", "hi"], ["pull", "phi4-mini"]):
        result = phidesk(tmp_path / "d", "http://127.0.0.1:9", *command, "--stall-timeout", "0")
        assert result.returncode == 2
        assert "Traceback" not in result.stderr


# --- item 8: SIGTERM is a stop, not a kill --------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM is POSIX")
def test_sigterm_mid_stream_saves_the_answer_as_stopped_and_exits_143(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    ollama_double.script_reply("word " * 400, chunk_size=5)
    ollama_double.set_fault("slow", delay=0.02, path="/api/chat")
    process = start(data, ollama_double.url, "ask", "-m", "phi4-mini", "talk a lot")
    assert process.stdout is not None
    streamed = process.stdout.read(20)  # a few chunks have reached the terminal
    assert streamed.startswith("word")
    process.send_signal(signal.SIGTERM)
    rest, err = process.communicate(timeout=30)
    assert process.returncode == 143
    assert "Traceback" not in err
    with Database.open(data / "phidesk.sqlite3") as db:
        user, answer = db.messages(1)
    assert user.content == "talk a lot"
    assert answer.status == "stopped"
    # Everything that streamed is kept, up to the signal: what the terminal showed is stored.
    assert answer.content == streamed + rest
    assert len(answer.content) < len("word " * 400)


# --- items 1 and 19: nothing typed is lost, nothing is left as junk -------------------------


@pytest.mark.skipif(os.name != "posix", reason="signals to a subprocess are POSIX")
@pytest.mark.parametrize(("stop", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stopped_while_the_server_is_asked_the_chat_holds_the_question(
    ollama_double: OllamaDouble, tmp_path: Path, stop: signal.Signals, status: int
) -> None:
    data = tmp_path / "d"
    ollama_double.set_fault("stall", seconds=5.0, path="/api/show")
    process = start(data, ollama_double.url, "ask", "-m", "phi4-mini", "the question")
    wait_for_request(ollama_double, "/api/show")
    process.send_signal(stop)
    _, err = process.communicate(timeout=30)
    assert process.returncode == status
    assert "Traceback" not in err
    with Database.open(data / "phidesk.sqlite3") as db:
        (chat,) = db.list_chats()
        (question,) = db.messages(chat.id)
    assert (chat.title, question.role, question.content) == (
        "the question",
        "user",
        "the question",
    )
    assert ollama_double.requests_to("/api/chat") == []


def test_ask_with_an_invalid_model_name_is_a_usage_error_and_stores_nothing(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    result = phidesk(data, ollama_double.url, "ask", "-m", "no such/model/name/at/all", "hi")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("phidesk: error: ") and "not a valid model name" in line
    listed = phidesk(data, ollama_double.url, "chats", "--json")
    assert json.loads(listed.stdout) == []
    assert ollama_double.requests == []
