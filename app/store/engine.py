"""The SQLAlchemy engine for one database file, with PhiDesk's pragmas on every connection.

Transactions are begun by hand (the driver runs in autocommit mode) so that writes take the
write lock up front with `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes can
fail at once with "database is locked" when another process wrote in between, whatever the busy
timeout. Reads use a plain deferred `BEGIN`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

BUSY_TIMEOUT_MS = 10_000
WRITE_OPTION = "phidesk_write"


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    connection: sqlite3.Connection = dbapi_connection
    # The driver must not open transactions on its own; `_on_begin` does it.
    connection.isolation_level = None
    cursor = connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_begin(connection: sa.Connection) -> None:
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_engine(path: Path) -> sa.Engine:
    engine = sa.create_engine(
        f"sqlite+pysqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        pool_size=4,
        max_overflow=8,
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def writer(engine: sa.Engine) -> sa.Engine:
    """The same engine (same pool), but its transactions begin with BEGIN IMMEDIATE."""
    return engine.execution_options(**{WRITE_OPTION: True})


def connect(path: Path) -> sqlite3.Connection:
    """One driver connection outside the engine's pool, with the same pragmas. It may be used
    from any thread, one at a time (the caller serialises its use)."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    try:
        _on_connect(connection, None)
    except BaseException:
        connection.close()
        raise
    return connection
