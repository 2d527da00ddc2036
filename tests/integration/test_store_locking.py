"""Another process holding the write lock: a read-only open never writes (so it neither waits
nor recovers anything), and a writer waits for the lock for a while, says so after two seconds,
and reports "busy" as busy when it gives up. Real processes on real SQLite files."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from app.store import Database, StoreError

REPO = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time

    path, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    connection = sqlite3.connect(path, isolation_level=None)
    if mode == "exclusive-mode":  # readers are shut out too
        connection.execute("PRAGMA locking_mode = EXCLUSIVE")
    connection.execute("BEGIN IMMEDIATE" if mode == "immediate" else "BEGIN EXCLUSIVE")
    connection.execute("UPDATE chats SET title = title")
    print("locked", flush=True)
    if seconds < 0:
        sys.stdin.readline()
    else:
        time.sleep(seconds)
    connection.execute("ROLLBACK")
    connection.close()
    """
)


@contextmanager
def lock_held(path: Path, mode: str = "immediate", seconds: float = -1) -> Iterator[None]:
    """Another process holds the lock of `path` (until the block ends, or for `seconds`)."""
    script = path.with_name("holder.py")
    script.write_text(HOLDER)
    process = subprocess.Popen(
        [sys.executable, str(script), str(path), mode, str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "locked\n"
        yield
    finally:
        process.communicate("release\n", timeout=60)
    assert process.returncode == 0


def fingerprint(path: Path) -> tuple[str, ...]:
    """The bytes of the database and its write-ahead log (the -shm index is shared memory that
    readers write too, and is no part of the data)."""
    files = (path, path.with_name(path.name + "-wal"))
    return tuple(hashlib.sha256(f.read_bytes()).hexdigest() if f.exists() else "" for f in files)


def raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A database with a chat, plus what crashed writers left: an answer still `streaming`
    (written by a PhiDesk without owner locks) and a chat an import had staged."""
    path = tmp_path / "phidesk.sqlite3"
    with Database.open(path) as db:
        chat = db.create_chat(title="kept")
        db.add_message(chat.id, "user", "ocelot question")
        answer = db.add_message(chat.id, "assistant", "half an ans", status="streaming")
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("UPDATE messages SET stream_owner = NULL WHERE id = ?", (answer.id,))
        connection.execute(
            "INSERT INTO chats (title, kind, model, system_prompt, extra_options, pinned,"
            " created_at, updated_at, import_batch) VALUES ('staged', 'normal', '', '', '{}',"
            " 0, '2026-01-01', '2026-01-01', '4242-0123456789ab 00ff')"
        )
        connection.commit()
    return path


def test_a_read_only_open_writes_nothing_while_another_process_holds_the_lock(
    path: Path,
) -> None:
    notes: list[str] = []
    with lock_held(path):
        before = fingerprint(path)
        with Database.open(path, readonly=True, on_wait=notes.append) as db:
            (chat,) = db.list_chats()
            assert chat.title == "kept"
            assert [m.status for m in db.messages(chat.id)] == ["complete", "streaming"]
            assert [h.chat_id for h in db.search("ocelot")] == [chat.id]
            assert db.interrupted_on_open == ()
            db.data_version()
            with pytest.raises(StoreError, match="read-only"):
                db.create_chat(title="not now")
        assert fingerprint(path) == before
    assert notes == []
    assert raw(path, "SELECT count(*) FROM chats WHERE import_batch IS NOT NULL") == [(1,)]

    # The next process that writes recovers both.
    with Database.open(path) as db:
        assert len(db.interrupted_on_open) == 1
        assert raw(path, "SELECT title FROM chats") == [("kept",)]


def test_a_writer_waits_for_the_lock_and_says_so_after_two_seconds(path: Path) -> None:
    notes: list[str] = []
    with lock_held(path, seconds=3.5):
        db = Database.open(path, on_wait=notes.append)
    try:
        assert len(db.interrupted_on_open) == 1
        assert len(notes) == 1
        assert "busy" in notes[0] and str(path) in notes[0] and "\n" not in notes[0]
        with lock_held(path, seconds=3.5):
            db.create_chat(title="after the wait")
        assert len(notes) == 2
        assert "after the wait" in [c.title for c in db.list_chats()]
    finally:
        db.close()


def test_a_writer_that_waited_in_vain_says_busy(path: Path) -> None:
    notes: list[str] = []
    with lock_held(path), pytest.raises(StoreError) as caught:
        Database.open(path, on_wait=notes.append, busy_wait=4)
    message = str(caught.value)
    assert "busy" in message and str(path) in message
    assert "usable" not in message and "move it aside" not in message
    assert len(notes) == 1

    with (
        Database.open(path, busy_wait=4) as db,
        lock_held(path),
        pytest.raises(StoreError, match="busy"),
    ):
        db.create_chat(title="never")


READER = textwrap.dedent(
    """
    import sys
    from app.store import Database

    with Database.open(sys.argv[1], readonly=True) as db:
        print([c.title for c in db.list_chats()], [h.chat_id for h in db.search("ocelot")])
    """
)


def test_a_read_only_open_works_in_a_folder_that_cannot_be_written(
    path: Path, tmp_path: Path
) -> None:
    """A read-only data dir (or file system): no -wal or -shm file can be created there, yet
    the commands that only read keep working."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        pytest.skip("needs unshare to mount the folder read-only")
    with Database.open(path):
        pass  # a clean close: the -wal and -shm files are gone
    folder = path.parent
    script = tmp_path / "reader.py"
    script.write_text(READER)
    read_only = (
        f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}'"
        ' && exec "$0" "$@"'
    )
    namespace = [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", read_only]
    done = subprocess.run(
        [*namespace, sys.executable, str(script), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    if "mount" in done.stderr and done.returncode != 0 and "Traceback" not in done.stderr:
        pytest.skip(f"cannot mount read-only here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['kept'] [1]"
