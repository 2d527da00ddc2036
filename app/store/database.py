"""`Database`: PhiDesk's chats, messages, presets and search over one SQLite file.

This module holds the class itself: opening (create, migrate, recover from a crash), closing,
the connection pragmas and `data_version`. Its queries come from one module per subject, each
a part of the class: `chats`, `messages`, `importing`, `presets`, `search` and `speed`; they
share the transactions of `transactions`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from app.store import failures, migrate, owners
from app.store.attachments import AttachmentQueries
from app.store.chats import ChatQueries
from app.store.comparisons import ComparisonQueries
from app.store.engine import connect, create_engine
from app.store.errors import StoreError
from app.store.importing import ImportQueries
from app.store.messages import MessageQueries
from app.store.models import MessageRow, utcnow
from app.store.owners import OwnerLock
from app.store.presets import PresetQueries
from app.store.records import UNSET as UNSET
from app.store.search import SearchQueries
from app.store.speed import SpeedQueries
from app.store.tree import TreeQueries
from app.store.waiting import BUSY_WAIT, Waiting

log = logging.getLogger(__name__)


class Database(
    ComparisonQueries,
    ImportQueries,
    ChatQueries,
    MessageQueries,
    TreeQueries,
    PresetQueries,
    SearchQueries,
    SpeedQueries,
    AttachmentQueries,
):
    """One PhiDesk database file. Thread-safe: one engine, a short session per call, so the
    asyncio loop thread and worker threads may use one Database at the same time.

    Open it with `Database.open(path)`; see `app.store` for the whole API.
    """

    def __init__(
        self,
        path: Path,
        engine: sa.Engine,
        *,
        readonly: bool = False,
        waiting: Waiting | None = None,
    ) -> None:
        super().__init__(path, engine, readonly=readonly, waiting=waiting)
        self.backup_path: Path | None = None
        """The backup taken by `open` before an upgrade, if there was one."""
        self.interrupted_on_open: tuple[int, ...] = ()
        """Ids of answers found `streaming` at open (left by a crash) and marked `interrupted`."""
        self._version_lock = threading.Lock()
        self._version_connection: sqlite3.Connection | None = None

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        readonly: bool = False,
        on_wait: Callable[[str], None] | None = None,
        busy_wait: float = BUSY_WAIT,
    ) -> Database:
        """Create or migrate the database at `path` and recover from a crash of the last run.

        `readonly=True` is for commands that only read (listing, searching, exporting): such a
        Database never writes, so it neither waits for another process's write lock nor
        recovers anything (answers left `streaming` stay so, and chats staged by a dead import
        stay hidden, until a process opens the file for writing). Only a missing file or one
        of an older schema is created or upgraded first, which is a write.

        When another process holds a lock this Database needs, it waits up to `busy_wait`
        seconds (at open and at every later call) before raising a StoreError that says busy;
        after about two seconds of waiting it calls `on_wait` with one sentence saying so
        (from the waiting thread; without `on_wait` the sentence is logged as a warning).

        Raises `DatabaseTooNew` for a file of a newer PhiDesk and `DatabaseCorrupt` for a file
        that is not a readable PhiDesk database (both leave the file untouched),
        `MigrationFailed` if an upgrade failed (rolled back; a backup is named if one was
        taken), and `StoreError` when the file is busy, the disk is full or the folder cannot
        be written (each one sentence that says which).
        """
        path = Path(path).absolute()
        waiting = Waiting(path, seconds=busy_wait, on_wait=on_wait)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise failures.describe(exc, path, waited=busy_wait) or StoreError(
                f"cannot create the folder {path.parent} for the database ({exc.strerror}); "
                "choose another data directory with --data-dir"
            ) from exc
        state = migrate.inspect_file(path, waiting)
        backup_path: Path | None = None
        if readonly and state.revision != migrate.head_revision():
            # Nothing to read yet, or tables this PhiDesk does not know: create or upgrade
            # the file first (no crash recovery: that is left to the next writer).
            engine = create_engine(path, waiting=waiting)
            try:
                backup_path = migrate.upgrade(engine, path, state, waiting)
            finally:
                engine.dispose()
        database = cls(
            path,
            create_engine(path, readonly=readonly, waiting=waiting),
            readonly=readonly,
            waiting=waiting,
        )
        try:
            if readonly:
                database.backup_path = backup_path
            else:
                database.backup_path = migrate.upgrade(database._engine, path, state, waiting)
                database._owner = _owner_lock(path)
                database.interrupted_on_open = database._recover_streaming()
                database.clean_dead_imports()
                owners.sweep(path)  # the lock files of writers that were killed
            database.data_version()  # the baseline: later commits elsewhere change it
        except BaseException:
            database._release()
            raise
        return database

    def close(self) -> None:
        """Close every connection. The Database must not be used afterwards."""
        if not self.readonly:
            try:
                with self._engine.connect() as connection:
                    # Refresh the planner's statistics where SQLite thinks it helps (cheap).
                    driver = connection.connection.driver_connection
                    if driver is not None:
                        driver.execute("PRAGMA optimize")  # autocommit: its ANALYZE is kept
            except (sa.exc.SQLAlchemyError, sqlite3.Error):
                log.warning("PRAGMA optimize failed on close", exc_info=True)
        self._release()

    def _release(self) -> None:
        self._close_version_connection()
        self._engine.dispose()
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.release()

    def _close_version_connection(self) -> None:
        with self._version_lock:
            connection, self._version_connection = self._version_connection, None
        if connection is not None:
            connection.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- the file

    def schema_revision(self) -> str | None:
        with self._engine.connect() as connection:
            value = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            connection.rollback()
        return None if value is None else str(value)

    def connection_settings(self) -> dict[str, int | str]:
        """The pragmas in force on a pooled connection (for diagnostics and tests)."""
        names = ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        with self._engine.connect() as connection:
            values: dict[str, int | str] = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar_one() for name in names
            }
            connection.rollback()
        return values

    def data_version(self) -> int:
        """SQLite's `PRAGMA data_version`, read on one connection kept for this alone.

        For noticing writes of other processes (another PhiDesk window, `phidesk ask`) without
        reading any data: poll it, and reload what is shown when it differs from the value seen
        last. The value is per connection and changes when anything is committed to the file
        through any other connection: another process, another `Database` on the same file, and
        also this Database's own writes, which go through its pooled connections, not this one
        (so a poller may reload once after its own writes too). Reads never change it. The
        number itself means nothing; only whether it changed. `open` reads it once, so the
        first poll already notices what other processes committed after the open.
        """
        with self._version_lock, self._translated():
            if self._version_connection is None:
                self._version_connection = connect(
                    self.path, readonly=self.readonly, waiting=self._waiting
                )
            connection = self._version_connection
            row = self._waiting.run(lambda: connection.execute("PRAGMA data_version").fetchone())
        return int(row[0])

    def _recover_streaming(self) -> tuple[int, ...]:
        """Mark `interrupted` the answers left `streaming` by a writer that is gone: its
        `OwnerLock` can be taken, or it had none (a PhiDesk before schema 0004)."""
        with self._writing() as session:
            rows = session.execute(
                sa.select(MessageRow.id, MessageRow.stream_owner).where(
                    MessageRow.status == "streaming"
                )
            ).all()
            alive: dict[str, bool] = {}
            ids = []
            for message_id, owner in rows:
                if owner is not None and owner not in alive:
                    alive[owner] = owners.is_alive(self.path, owner)
                if owner is None or not alive[owner]:
                    ids.append(message_id)
            if ids:
                session.execute(
                    sa.update(MessageRow)
                    .where(MessageRow.id.in_(ids))
                    .values(status="interrupted", stream_owner=None, updated_at=utcnow())
                )
                log.info("marked %d answers left streaming as interrupted", len(ids))
        return tuple(ids)


def _owner_lock(path: Path) -> OwnerLock | None:
    try:
        return OwnerLock.acquire(path)
    except OSError:
        log.warning(
            "cannot create a lock file beside %s: other processes will take this "
            "one's answers in progress for crashed ones",
            path,
            exc_info=True,
        )
        return None
