"""Bring a database file to the newest schema: inspect it without touching it, refuse files from
a newer PhiDesk or that are not PhiDesk's, back it up with SQLite's online backup API, then run the
Alembic migrations in one IMMEDIATE transaction with foreign keys off (SQLite's recipe for schema
changes, so no table rebuild can fire an ON DELETE CASCADE)."""

from __future__ import annotations

import functools
import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.resources import migrations_dir
from app.store import failures
from app.store.engine import connect, writer
from app.store.errors import DatabaseCorrupt, DatabaseTooNew, MigrationFailed, StoreError
from app.store.waiting import Waiting

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)
BACKUPS_KEPT = 5
_REVISION = re.compile(r"""^revision(?:\s*:\s*str)?\s*=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN = re.compile(
    r"""^down_revision(?:\s*:[^=]+)?\s*=\s*(?:None|["']([^"']+)["'])\s*$""", re.MULTILINE
)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration, built in code (PhiDesk ships no alembic.ini)."""
    from alembic.config import Config  # alembic loads only when a database needs it

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


@functools.cache
def _history(versions: Path) -> tuple[str, ...]:
    """The revisions in `versions`, oldest first, read from the scripts' `revision` and
    `down_revision` lines without importing alembic (which costs a start a third of a second).
    A history that is not one plain line (a merge, a branch, a line this reader does not
    understand) is left to alembic itself."""
    parents: dict[str, str | None] = {}
    for script in sorted(versions.glob("*.py")):
        text = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN.search(text)
        if revision is None or down is None or revision.group(1) in parents:
            return _alembic_history()
        parents[revision.group(1)] = down.group(1)
    children = {down for down in parents.values() if down is not None}
    heads = [revision for revision in parents if revision not in children]
    if len(heads) != 1:
        return _alembic_history()
    order: list[str] = []
    current: str | None = heads[0]
    while current is not None:
        if current not in parents or current in order:
            return _alembic_history()
        order.append(current)
        current = parents[current]
    if len(order) != len(parents):
        return _alembic_history()
    return tuple(reversed(order))


def _alembic_history() -> tuple[str, ...]:
    return tuple(script.revision for script in reversed(list(script_directory().walk_revisions())))


def head_revision() -> str:
    history = _history(migrations_dir() / "versions")
    if not history:
        raise MigrationFailed("PhiDesk's database migrations are missing; reinstall PhiDesk")
    return history[-1]


def known_revisions() -> list[str]:
    """All revisions, oldest first."""
    return list(_history(migrations_dir() / "versions"))


@dataclass(frozen=True)
class FileState:
    """What is in a database file before PhiDesk opens it for writing."""

    revision: str | None
    """The schema revision, or None for a new (missing or empty) database."""


def _read_schema(path: Path, waiting: Waiting) -> tuple[set[str], list[tuple[object, ...]]]:
    """The tables of the file and the rows of its alembic_version table (if it has one)."""
    connection = connect(path, readonly=True, waiting=waiting)
    try:

        def read() -> tuple[set[str], list[tuple[object, ...]]]:
            connection.execute("BEGIN")
            try:
                tables = {
                    str(row[0])
                    for row in connection.execute(
                        "SELECT name FROM sqlite_master"
                        " WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
                    )
                }
                rows: list[tuple[object, ...]] = []
                if "alembic_version" in tables:
                    rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
                return tables, rows
            finally:
                connection.execute("ROLLBACK")

        return waiting.run(read)
    finally:
        connection.close()


def inspect_file(path: Path, waiting: Waiting | None = None) -> FileState:
    """Read the schema revision through a read-only connection, so a file PhiDesk refuses stays
    byte-for-byte untouched. A lock held by another process is waited for (`waiting`)."""
    waiting = waiting or Waiting(path)
    if not path.exists() or path.stat().st_size == 0:
        return FileState(revision=None)
    try:
        tables, rows = _read_schema(path, waiting)
    except sqlite3.Error as exc:
        described = failures.describe(exc, path, waited=waiting.seconds)
        raise (described or failures.damaged(path, str(exc))) from exc
    if not tables:
        return FileState(revision=None)
    if "alembic_version" not in tables:
        raise failures.damaged(path, "it holds tables of another program")
    if not rows and tables == {"alembic_version"}:
        return FileState(revision=None)  # every migration was undone: as good as new
    if len(rows) != 1:
        raise failures.damaged(path, "its schema version is missing")
    revision = str(rows[0][0])
    if revision not in known_revisions():
        raise DatabaseTooNew(
            f"the database {path} was written by a newer version of PhiDesk (schema {revision}); "
            "it was left untouched: install that PhiDesk version or newer to open it"
        )
    return FileState(revision=revision)


def backup(path: Path, revision: str, *, keep: int = BACKUPS_KEPT) -> Path:
    """Copy the database next to itself as `<stem>.backup-<rev>-<UTC timestamp>.sqlite3` with
    SQLite's online backup API (consistent under WAL), and keep only the newest `keep` backups."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.stem}.backup-{revision}-{stamp}.sqlite3")
    try:
        # Read-write when the file allows it: a read-only connection to a WAL database leaves
        # its -wal and -shm files behind when it closes; the last writer removes them.
        source = connect(path, readonly=not os.access(path, os.W_OK))
        try:
            destination = sqlite3.connect(target)
            try:
                source.backup(destination)
            finally:
                destination.close()
        finally:
            source.close()
    except (sqlite3.Error, OSError) as exc:
        target.unlink(missing_ok=True)  # a part of a backup is no backup
        described = failures.describe(exc, path, waited=0)
        if described is None:
            raise
        raise StoreError(
            f"PhiDesk could not back up the database {path} before upgrading it, so it left "
            f"it as it was: {described}"
        ) from exc
    backups = sorted(
        path.parent.glob(f"{path.stem}.backup-*.sqlite3"),
        key=lambda p: (p.stat().st_mtime_ns, p.name),
    )
    for old in backups[:-keep] if keep > 0 else []:
        if old != target:
            old.unlink(missing_ok=True)
    log.info("backed up %s (schema %s) to %s", path, revision, target)
    return target


def upgrade(
    engine: sa.Engine, path: Path, state: FileState, waiting: Waiting | None = None
) -> Path | None:
    """Migrate to the newest schema. Returns the backup taken, if an upgrade was needed."""
    waiting = waiting or Waiting(path)
    head = head_revision()
    if state.revision == head:
        return None
    from alembic import command  # alembic loads only when a database needs migrating
    from alembic.runtime.migration import MigrationContext
    from alembic.util.exc import CommandError

    backup_path = backup(path, state.revision) if state.revision is not None else None
    try:
        # BEGIN IMMEDIATE: take the write lock before reading the revision, so a second process
        # opening the same file waits here instead of failing on a read-to-write upgrade.
        with writer(engine).connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA foreign_keys = OFF")
            try:
                with connection.begin():
                    # Another PhiDesk process may have migrated while we waited for the lock.
                    current = MigrationContext.configure(connection).get_current_revision()
                    if current != head:
                        command.upgrade(alembic_config(connection), "head")
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise MigrationFailed(f"the upgrade left {len(broken)} dangling rows")
            finally:
                raw.execute("PRAGMA foreign_keys = ON")
    except (sa.exc.SQLAlchemyError, sqlite3.Error, CommandError, MigrationFailed) as exc:
        log.exception("migration of %s failed", path)
        where = f"; the backup taken before it is {backup_path}" if backup_path else ""
        described = failures.describe(exc, path, waited=waiting.seconds)
        if described is not None and not isinstance(described, DatabaseCorrupt):
            raise MigrationFailed(
                f"upgrading the database {path} to schema {head} failed and changed nothing"
                f"{where}: {described}"
            ) from exc
        detail = failures.sqlite_error(exc) or exc
        raise MigrationFailed(
            f"upgrading the database {path} to schema {head} failed ({detail}); nothing was "
            f"changed{where}"
        ) from exc
    log.info("database %s is now at schema %s", path, head)
    return backup_path
