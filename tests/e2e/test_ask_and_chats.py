"""`phidesk ask` and `phidesk chats` as real subprocesses against the Ollama double."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from app.store import Database
from tests.ollama_double.server import OllamaDouble


def phidesk(
    data: Path, double: OllamaDouble | str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    url = double if isinstance(double, str) else double.url
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), "--host", url, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_streaming(data: Path, double: OllamaDouble, prompt: str) -> subprocess.Popen[str]:
    """Start `phidesk ask` and return once the first part of the answer reached stdout."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "--data-dir",
            str(data),
            "--host",
            double.url,
            "ask",
            "-m",
            "phi4-mini",
            prompt,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.read(1) != ""
    return process


def test_ask_streams_the_answer_and_chats_json_shows_the_turn(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    ollama_double.script_reply("Euler: $e^{i\\pi} + 1 = 0$")
    result = phidesk(
        data,
        ollama_double,
        "ask",
        "-m",
        "phi4-mini",
        "--num-ctx",
        "4096",
        "Tell me Euler's identity",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Euler: $e^{i\\pi} + 1 = 0$\n"
    assert result.stderr.strip() == "chat: 1"

    listed = phidesk(data, ollama_double, "chats", "--json")
    assert listed.returncode == 0
    (chat,) = json.loads(listed.stdout)
    assert chat["id"] == 1
    assert chat["title"] == "Tell me Euler's identity"
    assert chat["model"] == "phi4-mini"
    assert chat["message_count"] == 2
    with Database.open(data / "phidesk.sqlite3") as db:
        answer = db.messages(1)[-1]
    assert answer.stats is not None
    assert chat["context"] == {
        "used": (answer.stats.prompt_eval_count or 0) + (answer.stats.eval_count or 0),
        "limit": 4096,
    }
    assert set(chat) >= {"id", "title", "model", "created_at", "updated_at", "message_count"}


def test_ask_continues_a_chat_and_reads_the_prompt_from_stdin(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    ollama_double.script_reply("first answer")
    assert phidesk(data, ollama_double, "ask", "-m", "phi4-mini", "hello").returncode == 0
    ollama_double.script_reply("second answer")
    result = phidesk(data, ollama_double, "ask", "--chat", "1", "-", stdin="and again\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "second answer\n"
    sent = ollama_double.requests_to("/api/chat")[-1].body
    assert sent is not None
    assert [m["content"] for m in sent["messages"]] == ["hello", "first answer", "and again\n"]
    text = phidesk(data, ollama_double, "chats").stdout
    assert "phi4-mini" in text
    assert "4 msgs" in text


def test_dropped_connection_exits_1_with_one_line_and_keeps_the_partial_answer(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    ollama_double.script_reply("partial answer that never ends", chunk_size=4)
    ollama_double.set_fault("disconnect", after=3, path="/api/chat")
    result = phidesk(data, ollama_double, "ask", "-m", "phi4-mini", "go")
    assert result.returncode == 1
    assert result.stdout == "partial answ\n"  # three chunks of four characters
    (line,) = result.stderr.splitlines()
    assert line.startswith("phidesk: error: the connection to")
    with Database.open(data / "phidesk.sqlite3") as db:
        user, answer = db.messages(1)
    assert user.content == "go"
    assert (answer.status, answer.content) == ("interrupted", "partial answ")


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    result = phidesk(tmp_path / "d", "http://127.0.0.1:9", "ask", "-m", "phi4-mini", "hi")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("phidesk: error: ")
    assert "Traceback" not in result.stderr


def test_missing_model_and_empty_prompt_are_usage_errors(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    result = phidesk(tmp_path / "d", ollama_double, "ask", "hi")
    assert result.returncode == 2
    assert result.stderr.startswith("phidesk: error: no model given")
    result = phidesk(tmp_path / "d", ollama_double, "ask", "-m", "phi4", "  ")
    assert result.returncode == 2


def test_ctrl_c_stops_the_stream_keeps_the_answer_as_stopped_and_exits_130(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    ollama_double.script_reply("word " * 400, chunk_size=5)
    ollama_double.set_fault("slow", delay=0.02, path="/api/chat")
    process = start_streaming(data, ollama_double, "talk a lot")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in err
    with Database.open(data / "phidesk.sqlite3") as db:
        answer = db.messages(1)[-1]
    assert answer.status == "stopped"
    assert answer.content.startswith("word")
    assert len(answer.content) < len("word " * 400)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_killed_mid_stream_the_answer_is_interrupted_and_the_database_intact(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    ollama_double.script_reply("token " * 2000, chunk_size=6)
    ollama_double.set_fault("slow", delay=0.005, path="/api/chat")
    process = start_streaming(data, ollama_double, "never finish")
    time.sleep(1.2)  # let at least one periodic save (every 0.5 s) happen
    process.kill()
    process.communicate(timeout=10)
    database = data / "phidesk.sqlite3"
    with Database.open(database) as db:
        user, answer = db.messages(1)
        assert answer.id in db.interrupted_on_open
    assert user.content == "never finish"
    assert answer.status == "interrupted"
    assert answer.content.startswith("token token")
    with closing(sqlite3.connect(database)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_search_with_hostile_queries_never_errors(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    ollama_double.script_reply("Use C++ templates for this.")
    assert phidesk(data, ollama_double, "ask", "-m", "phi4-mini", "templates?").returncode == 0
    found = phidesk(data, ollama_double, "chats", "--search", "templates", "--json")
    hits = json.loads(found.stdout)
    assert sorted(h["role"] for h in hits) == ["assistant", "user"]
    assert {h["chat_id"] for h in hits} == {1}
    assert all("templates" in h["snippet"] for h in hits)
    for query in ("C++", '"', "AND", "*", "NEAR(", "a OR"):
        result = phidesk(data, ollama_double, "chats", "--search", query)
        assert result.returncode == 0, (query, result.stderr)


def test_offload_choice_from_the_model_manager_reaches_the_request(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    from app.backend.offload import GpuLayers, ModelOffload, OffloadPreferences
    from app.config import Paths

    data = tmp_path / "d"
    prefs = OffloadPreferences.load(Paths.resolve(data).ensure())
    prefs.set_model("phi4-mini", ModelOffload(GpuLayers.SOME, count=12))
    prefs.save()
    ollama_double.script_reply("ok")
    assert phidesk(data, ollama_double, "ask", "-m", "phi4-mini", "hi").returncode == 0
    sent = ollama_double.requests_to("/api/chat")[-1].body
    assert sent is not None
    assert sent["options"]["num_gpu"] == 12


def test_a_refused_ask_leaves_no_empty_chat_and_a_deleted_chat_is_not_continued(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    refused = phidesk(data, ollama_double, "ask", "-m", "phi4-mini", "--num-ctx", "64", "x" * 2000)
    assert refused.returncode == 1
    assert refused.stderr.startswith("phidesk: error: this message is too long")
    assert json.loads(phidesk(data, ollama_double, "chats", "--json").stdout) == []
    ollama_double.script_reply("ok")
    assert phidesk(data, ollama_double, "ask", "-m", "phi4-mini", "hello").returncode == 0
    with Database.open(data / "phidesk.sqlite3") as db:
        (chat,) = db.list_chats()
        db.delete_chat(chat.id)
    again = phidesk(data, ollama_double, "ask", "--chat", str(chat.id), "more")
    assert again.returncode == 1
    assert "was deleted" in again.stderr
