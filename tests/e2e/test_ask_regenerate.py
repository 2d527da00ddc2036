"""`phidesk ask --regenerate` and versions in `phidesk chats --json`, as real subprocesses
against the Ollama double; and SIGKILL at random points of a regenerate."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from app.store import Database
from tests.e2e.test_ask_and_chats import phidesk
from tests.ollama_double.server import OllamaDouble


def test_regenerate_prints_the_new_version_and_keeps_the_old(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    ollama_double.script_reply("first answer")
    assert phidesk(data, ollama_double, "ask", "-m", "phi4-mini", "hello").returncode == 0
    ollama_double.script_reply("second answer")
    result = phidesk(data, ollama_double, "ask", "--chat", "1", "--regenerate")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "second answer\n"
    assert result.stderr.strip() == "chat: 1"
    sent = ollama_double.requests_to("/api/chat")[-1].body
    assert sent is not None
    assert [m["content"] for m in sent["messages"]] == ["hello"]

    (chat,) = json.loads(phidesk(data, ollama_double, "chats", "--json").stdout)
    assert (chat["message_count"], chat["versions"]) == (2, 1)
    with Database.open(data / "phidesk.sqlite3") as db:
        assert [m.content for m in db.messages(1)] == ["hello", "second answer"]
        assert [m.content for m in db.all_messages(1)] == [
            "hello",
            "first answer",
            "second answer",
        ]

    # `ask --chat` goes on from the version on show.
    ollama_double.script_reply("third answer")
    assert phidesk(data, ollama_double, "ask", "--chat", "1", "more").returncode == 0
    sent = ollama_double.requests_to("/api/chat")[-1].body
    assert sent is not None
    assert [m["content"] for m in sent["messages"]] == ["hello", "second answer", "more"]


def test_regenerate_usage_errors(ollama_double: OllamaDouble, tmp_path: Path) -> None:
    data = tmp_path / "d"
    for args, says in (
        (("ask", "--regenerate"), "--regenerate needs --chat"),
        (("ask", "--chat", "1", "--regenerate", "hi"), "--regenerate takes no PROMPT"),
        (("ask", "-m", "phi4-mini"), "what to ask is missing"),
    ):
        result = phidesk(data, ollama_double, *args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"phidesk: error: {says}"), result.stderr
    empty = phidesk(data, ollama_double, "chats", "--json")
    assert json.loads(empty.stdout) == []


def _start_regenerate(data: Path, double: OllamaDouble) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "app", "--data-dir", str(data), "--host", double.url]
    return subprocess.Popen(
        [*command, "ask", "--chat", "1", "--regenerate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sigkill_at_random_points_of_a_regenerate_keeps_the_old_answer(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    ollama_double.script_reply("the original answer")
    assert phidesk(data, ollama_double, "ask", "-m", "phi4-mini", "a question").returncode == 0
    database = data / "phidesk.sqlite3"
    with Database.open(database) as db:
        question, original = db.messages(1)
    reply = "".join(f"w{i} " for i in range(150))  # 150 chunks of ~4 characters
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    seen: list[str] = []
    for attempt in range(21):
        ollama_double.script_reply(reply, chunk_size=4)
        ollama_double.set_fault("slow", delay=0.01, path="/api/chat")
        process = _start_regenerate(data, ollama_double)
        phase = attempt % 3
        if phase == 0:  # anywhere from start-up to the first token
            time.sleep(rng.uniform(0.0, 1.0))
        else:
            assert process.stdout is not None
            process.stdout.read(1)  # the answer is streaming
            # mid-stream, or around the end of the stream (~1.5 s) and the final save
            time.sleep(rng.uniform(0.0, 1.2) if phase == 1 else rng.uniform(1.2, 2.0))
        process.kill()
        process.communicate(timeout=20)
        with Database.open(database) as db:
            versions = db.versions(1)
            messages = db.all_messages(1)
            kept = {m.id: m for m in messages}
            note = f"seed {seed}, attempt {attempt}"
            assert kept[question.id].content == "a question", note
            assert (kept[original.id].content, kept[original.id].status) == (
                "the original answer",
                "complete",
            ), note
            answers = [m for m in messages if m.role == "assistant"]
            assert all(m.parent_id == question.id for m in answers), note
            for answer in answers[1:]:
                assert answer.status in ("interrupted", "complete"), note
                assert reply.startswith(answer.content), note
                if answer.status == "complete":
                    assert answer.content == reply, note
            if len(answers) > 1:
                assert versions[original.id].count == len(answers), note
            path = db.messages(1)
            assert [m.id for m in path][:1] == [question.id] and len(path) == 2, note
            seen.append(path[-1].status)
        with closing(sqlite3.connect(database)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert "interrupted" in seen, f"seed {seed}: no kill landed mid-stream: {seen}"
