"""The SQLAlchemy engine for one database file, with PhiDesk's pragmas on every connection.

Transactions are begun by hand (the driver runs in autocommit mode) so that writes take the
write lock up front with `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes can
fail at once with "database is locked" when another process wrote in between, whatever the busy
timeout. Reads use a plain deferred `BEGIN` and read the schema version right away, so that a
read waits for a lock (rare under WAL: only a process holding the file exclusively) where it can
be tried again. Both go through `Waiting.run`: busy is waited for, with a note, before it is an
error.

A read-only engine opens the file with `mode=ro` (see `readonly_uri`): it never writes, so it
never waits for the write lock and never changes the file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from app.store.waiting import BUSY_TIMEOUT_MS as BUSY_TIMEOUT_MS
from app.store.waiting import Waiting

WRITE_OPTION = "phidesk_write"


def _begin(connection: sa.Connection, waiting: Waiting) -> None:
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)

    def attempt() -> None:
        if write:
            driver.execute("BEGIN IMMEDIATE")
            return
        driver.execute("BEGIN")
        try:
            driver.execute("PRAGMA schema_version").fetchone()  # the snapshot starts here
        except BaseException:
            driver.execute("ROLLBACK")
            raise

    waiting.run(attempt)


def create_engine(
    path: Path, *, readonly: bool = False, waiting: Waiting | None = None
) -> sa.Engine:
    """The engine of the file at `path` (an absolute path)."""
    waiting = waiting or Waiting(path)

    def creator() -> sqlite3.Connection:
        return connect(path, readonly=readonly, waiting=waiting)

    engine = sa.create_engine(
        f"sqlite+pysqlite:///{path}", creator=creator, pool_size=4, max_overflow=8
    )
    event.listen(engine, "begin", lambda connection: _begin(connection, waiting))
    return engine


def writer(engine: sa.Engine) -> sa.Engine:
    """The same engine (same pool), but its transactions begin with BEGIN IMMEDIATE."""
    return engine.execution_options(**{WRITE_OPTION: True})


def readonly_uri(path: Path) -> str:
    """The URI that opens `path` read-only. In a folder nobody can write to (a read-only data
    dir or file system) SQLite cannot create the -wal and -shm files a WAL database needs even
    for reading; then, if there is no write-ahead log with data to read, the file is opened as
    immutable: no process can change it there anyway, since none can create the log."""
    uri = f"{path.absolute().as_uri()}?mode=ro"
    wal = path.with_name(path.name + "-wal")
    try:
        log_empty = not wal.exists() or wal.stat().st_size == 0
    except OSError:
        log_empty = False
    if log_empty and not os.access(path.parent, os.W_OK):
        uri += "&immutable=1"
    return uri


def connect(
    path: Path, *, readonly: bool = False, waiting: Waiting | None = None
) -> sqlite3.Connection:
    """One driver connection with PhiDesk's pragmas, in autocommit mode (transactions are
    begun by hand). It may be used from any thread, one at a time (the caller serialises its
    use)."""
    timeout = BUSY_TIMEOUT_MS / 1000
    if readonly:
        connection = sqlite3.connect(
            readonly_uri(path),
            uri=True,
            timeout=timeout,
            check_same_thread=False,
        )
    else:
        connection = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
    try:
        # The driver must not open transactions on its own; `_begin` does it.
        connection.isolation_level = None
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            # Switching a new file to WAL needs the whole file, and SQLite may refuse it at
            # once while another PhiDesk creates the same file: that is waited for too.
            switch = lambda: connection.execute("PRAGMA journal_mode = WAL").fetchone()  # noqa: E731
            (waiting or Waiting(path)).run(switch)
            connection.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        connection.close()
        raise
    return connection
