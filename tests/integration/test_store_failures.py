"""The store's failure sentences from real SQLite errors, waiting for a real lock, owner locks
on real files, and the ways an open can go short of the usual: read-only opens that must create
or upgrade the file first, and a writer that cannot make its lock file."""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command

from app.store import (
    Chat,
    ChatSettings,
    ContextUsage,
    Database,
    DatabaseCorrupt,
    StoreError,
    failures,
    owners,
)
from app.store.engine import create_engine
from app.store.migrate import alembic_config, backup, head_revision
from app.store.waiting import Waiting

MADE = datetime(2026, 5, 6, tzinfo=UTC)


def sqlite_failure(path: Path, *statements: str) -> sqlite3.Error:
    """The error SQLite raises running `statements` on `path`."""
    with closing(sqlite3.connect(path, isolation_level=None, timeout=0.1)) as connection:
        *before, last = statements
        for statement in before:
            connection.execute(statement)
        with pytest.raises(sqlite3.Error) as caught:
            connection.execute(last)
    return caught.value


def test_a_full_database_is_full(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    error = sqlite_failure(
        path,
        "PRAGMA max_page_count = 2",
        "CREATE TABLE t (x TEXT)",
        "INSERT INTO t VALUES (zeroblob(100000))",
    )
    described = failures.describe(error, path, waited=30)
    assert type(described) is StoreError
    assert "full" in str(described) and str(path) in str(described)


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EFBIG])
def test_no_space_and_a_file_size_limit_are_both_full(tmp_path: Path, number: int) -> None:
    path = tmp_path / "phidesk.sqlite3"
    described = failures.describe(OSError(number, os.strerror(number)), path, waited=30)
    assert described is not None and "full" in str(described)
    assert failures.describe(OSError(errno.EACCES, "denied"), path, waited=30) is None


def test_a_lock_held_elsewhere_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN IMMEDIATE")
        error = sqlite_failure(path, "BEGIN IMMEDIATE")
        holder.execute("ROLLBACK")
    assert failures.is_busy(error)
    described = failures.describe(error, path, waited=30)
    assert described is not None and "busy" in str(described) and "30 seconds" in str(described)


def test_a_file_that_is_not_a_database_is_damaged_and_other_errors_are_not_described(
    tmp_path: Path,
) -> None:
    path = tmp_path / "phidesk.sqlite3"
    path.write_bytes(b"plain text, " * 1000)
    error = sqlite_failure(path, "SELECT * FROM sqlite_master")
    assert isinstance(failures.describe(error, path, waited=30), DatabaseCorrupt)

    other = tmp_path / "other.sqlite3"
    constraint = sqlite_failure(
        other, "CREATE TABLE t (x UNIQUE)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)"
    )
    assert failures.describe(constraint, other, waited=30) is None
    assert failures.describe(ValueError("a bug"), other, waited=30) is None


def test_a_file_that_cannot_be_opened_names_the_permissions(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "phidesk.sqlite3"
    with pytest.raises(sqlite3.Error) as caught:
        sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True).execute("SELECT 1 FROM x")
    described = failures.describe(caught.value, path, waited=30)
    assert described is not None and "permissions" in str(described)


def test_the_newest_backup_is_the_one_named(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    assert failures.newest_backup(path) is None
    Database.open(path).close()
    backup(path, "0001")
    time.sleep(0.01)
    newest = backup(path, "0002")
    assert failures.newest_backup(path) == newest
    assert newest.name in str(failures.damaged(path, "test"))


def test_waiting_tells_once_then_gives_up_and_never_retries_other_errors(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    notes: list[str] = []
    waiting = Waiting(path, seconds=2.5, on_wait=notes.append)
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN IMMEDIATE")
        with (
            closing(sqlite3.connect(path, isolation_level=None, timeout=2)) as other,
            pytest.raises(sqlite3.OperationalError),
        ):
            waiting.run(lambda: other.execute("BEGIN IMMEDIATE"))
        holder.execute("ROLLBACK")
    assert len(notes) == 1 and str(path) in notes[0]

    tries: list[int] = []

    def failing() -> None:
        tries.append(1)
        raise ValueError("not a lock")

    with pytest.raises(ValueError, match="not a lock"):
        waiting.run(failing)
    assert tries == [1]


def test_a_note_that_fails_does_not_stop_the_wait(tmp_path: Path) -> None:
    def broken(_: str) -> None:
        raise RuntimeError("the terminal is gone")

    Waiting(tmp_path / "x.sqlite3", on_wait=broken).note()  # logged, not raised


def test_owner_locks_tell_the_living_from_the_dead(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    live = owners.OwnerLock.acquire(path)
    dead = owners.OwnerLock.acquire(path)
    dead_file = dead.path
    os.close(dead._fd or -1)  # as if its process had been killed: the file stays, unlocked
    dead._fd = None
    assert owners.is_alive(path, live.token)
    assert not owners.is_alive(path, dead.token)
    assert not owners.is_alive(path, "../../etc/passwd")
    assert not owners.is_alive(path, "1-000000000000")  # no such file

    owners.sweep(path)

    assert not dead_file.exists() and live.path.exists()
    live.release()
    live.release()  # twice is harmless
    assert not live.path.exists()


def test_a_read_only_open_creates_a_missing_file_and_upgrades_an_old_one(tmp_path: Path) -> None:
    fresh = tmp_path / "new" / "phidesk.sqlite3"
    with Database.open(fresh, readonly=True) as db:
        assert db.list_chats() == [] and db.schema_revision() == head_revision()
        assert db.backup_path is None

    old = tmp_path / "old.sqlite3"
    engine = create_engine(old)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
    engine.dispose()
    with Database.open(old, readonly=True) as db:
        assert db.schema_revision() == head_revision()
        assert db.backup_path is not None and db.backup_path.exists()
        with pytest.raises(StoreError, match="read-only"):
            db.import_chats([])


def test_a_folder_in_the_way_of_the_database_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(StoreError, match="cannot create the folder"):
        Database.open(blocker / "phidesk.sqlite3")


def test_a_writer_without_its_lock_file_still_works_but_cannot_import(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    owners.owners_dir(path).write_text("a file where the lock folder should be")
    with Database.open(path) as db:
        chat = db.create_chat(title="still works")
        db.add_message(chat.id, "assistant", "partial", status="streaming")
        with pytest.raises(StoreError, match="lock file"):
            db.import_chats([])
    with Database.open(path) as db:  # an answer without an owner is taken for a crashed one
        assert len(db.interrupted_on_open) == 1


def test_import_refuses_bad_arguments_and_ids_sqlite_cannot_hold(tmp_path: Path) -> None:
    huge = Chat(
        2**64, "huge", "normal", "", "", ChatSettings(), False, MADE, MADE, None,
        ContextUsage(), 0,
    )  # fmt: skip
    with Database.open(tmp_path / "phidesk.sqlite3") as db:
        with pytest.raises(ValueError, match="batch_size"):
            db.import_chats([], batch_size=0)
        with pytest.raises(StoreError, match="too large"):
            db.import_chats([(huge, [])])
        assert db.list_chats() == []
