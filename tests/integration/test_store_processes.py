"""Real processes on one database file: a writer killed with SIGKILL mid-stream, two
PhiDesk processes writing at the same time, and one noticing another's commit."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.store import Database
from tests.ollama_double.server import OllamaDouble

REPO = Path(__file__).resolve().parents[2]

STREAMER = textwrap.dedent(
    """
    import sys, time
    from app.store import Database

    db = Database.open(sys.argv[1])
    chat = db.create_chat(title="crash test", model="phi4")
    user = db.add_message(chat.id, "user", "Tell me a long story")
    answer = db.add_message(chat.id, "assistant", status="streaming")
    text = ""
    for i in range(1_000_000):
        text += f"word{i} "
        db.update_streaming(answer.id, text, thinking="pondering")
        if i == 25:
            print(chat.id, user.id, answer.id, flush=True)
        time.sleep(0.003)
    """
)

WRITER = textwrap.dedent(
    """
    import sys
    from app.store import Database

    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    db = Database.open(path)
    chat = db.create_chat(title=name)
    for i in range(count):
        db.add_message(chat.id, "user", f"{name} question {i}")
        answer = db.add_message(chat.id, "assistant", status="streaming")
        db.update_streaming(answer.id, f"{name} partial {i}")
        db.finish_message(answer.id, content=f"{name} answer {i} ocelot")
        db.list_chats()
        db.search("ocelot", limit=5)
    db.close()
    print("done", chat.id, flush=True)
    """
)


def _python(script: Path, *args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        stdin=stdin,
    )


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_answer_survives_sigkill_mid_stream_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    script = tmp_path / "streamer.py"
    script.write_text(STREAMER)
    process = _python(script, str(path))
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, "the streaming script died before it started streaming"
    chat_id, user_id, answer_id = (int(x) for x in line.split())
    time.sleep(0.2)  # keep writing for a while, then die without any clean-up
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL

    with Database.open(path) as db:
        assert db.interrupted_on_open == (answer_id,)
        user, answer = db.messages(chat_id)
        assert (user.id, user.content, user.status) == (user_id, "Tell me a long story", "complete")
        assert answer.id == answer_id and answer.status == "interrupted"
        words = answer.content.split()
        assert len(words) > 26 and words == [f"word{i}" for i in range(len(words))]
        assert answer.thinking == "pondering"
        assert [h.message_id for h in db.search("word0")] == [answer_id]
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert (
            raw.execute(
                "INSERT INTO message_fts(message_fts, rank) VALUES ('integrity-check', 1)"
            ).fetchall()
            == []
        )
    raw.close()


def test_two_processes_write_the_same_new_file(tmp_path: Path) -> None:
    """Both create the database at once, then write and read in turns; nothing fails or is lost."""
    path = tmp_path / "phidesk.sqlite3"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    count = 60
    processes = [
        _python(script, str(path), name, str(count), stdin=subprocess.PIPE)
        for name in ("alpha", "beta")
    ]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.close()
    outputs = []
    for process in processes:
        assert process.stdout is not None
        outputs.append(process.stdout.read())
        process.stdout.close()
        process.wait(timeout=120)
    assert [process.returncode for process in processes] == [0, 0], outputs

    with Database.open(path) as db:
        chats = {chat.title: chat for chat in db.list_chats()}
        assert set(chats) == {"alpha", "beta"}
        for name, chat in chats.items():
            messages = db.messages(chat.id)
            assert len(messages) == 2 * count
            assert [m.content for m in messages[1::2]] == [
                f"{name} answer {i} ocelot" for i in range(count)
            ]
            assert {m.status for m in messages} == {"complete"}
        assert len(db.search("ocelot", limit=10 * count)) == 2 * count
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    raw.close()


ONE_CHAT = textwrap.dedent(
    """
    import sys
    from app.store import Database

    with Database.open(sys.argv[1]) as db:
        db.create_chat(title="from another process")
    print("written", flush=True)
    """
)


def test_data_version_notices_a_commit_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    script = tmp_path / "one_chat.py"
    script.write_text(ONE_CHAT)
    with Database.open(path) as db:
        before = db.data_version()
        # A commit that changes nothing is not a change.
        with sqlite3.connect(path) as other:
            other.execute("UPDATE chats SET title = 'x' WHERE id = -1")
        other.close()
        assert db.data_version() == before
        writer = _python(script, str(path))
        out, _ = writer.communicate(timeout=60)
        assert (writer.returncode, out.strip()) == (0, "written")
        assert db.data_version() != before
        assert [c.title for c in db.list_chats()] == ["from another process"]


# ---------------------------------------------------------------- live answers of `phidesk ask`

OPENER = textwrap.dedent(
    """
    import sys
    from app.store import Database

    with Database.open(sys.argv[1]) as db:  # for writing: it recovers what crashed writers left
        (chat,) = db.list_chats()
        answer = db.messages(chat.id)[-1]
        print(list(db.interrupted_on_open), answer.status, flush=True)
    """
)


def _start_asking(data: Path, double: OllamaDouble) -> subprocess.Popen[str]:
    """`phidesk ask` streaming a long answer slowly; returns once the answer has begun."""
    double.script_reply("word " * 600, chunk_size=5)
    double.set_fault("slow", delay=0.01, path="/api/chat")
    command = [sys.executable, "-m", "app", "--data-dir", str(data), "--host", double.url]
    process = subprocess.Popen(
        [*command, "ask", "-m", "phi4-mini", "Tell me a long story"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    assert process.stdout.read(1) == "w", "phidesk ask did not start streaming"
    return process


def _open_for_writing_elsewhere(tmp_path: Path, database: Path) -> str:
    script = tmp_path / "opener.py"
    script.write_text(OPENER)
    opener = _python(script, str(database))
    out, _ = opener.communicate(timeout=60)
    assert opener.returncode == 0
    return out.strip()


@contextmanager
def _asking(data: Path, double: OllamaDouble) -> Iterator[subprocess.Popen[str]]:
    process = _start_asking(data, double)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_another_writer_leaves_a_live_answer_streaming(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    database = data / "phidesk.sqlite3"
    with _asking(data, ollama_double) as asking:
        seen = _open_for_writing_elsewhere(tmp_path, database)
        _, err = asking.communicate(timeout=60)

    assert seen == "[] streaming"
    assert asking.returncode == 0, err
    with Database.open(database) as db:
        (chat,) = db.list_chats()
        answer = db.messages(chat.id)[-1]
    assert answer.status == "complete"
    assert answer.content.split() == ["word"] * 600


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_next_writer_recovers_the_answer_of_a_killed_ask(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    database = data / "phidesk.sqlite3"
    with _asking(data, ollama_double) as asking:
        assert _open_for_writing_elsewhere(tmp_path, database) == "[] streaming"
        time.sleep(0.6)  # let a periodic save (every 0.5 s) happen
        asking.kill()

    seen = _open_for_writing_elsewhere(tmp_path, database)
    ids, status = seen.rsplit(" ", 1)
    assert status == "interrupted" and len(ids.strip("[]").split(",")) == 1
    with Database.open(database) as db:
        assert db.interrupted_on_open == ()
        (chat,) = db.list_chats()
        answer = db.messages(chat.id)[-1]
    assert answer.status == "interrupted" and answer.content.startswith("word word")
