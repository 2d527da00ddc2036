"""The base every part of `Database` builds on: the engine, short read and write transactions,
and driver errors turned into one clear sentence.

Thread-safe: each call takes its own `Session` and pooled connection for the length of one
transaction, so a worker thread and the asyncio loop thread can use one `Database` at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.store.engine import writer
from app.store.errors import DatabaseCorrupt, StoreError
from app.store.owners import OwnerLock


class Transactions:
    """Holds the engine of one database file and hands out transactions on it."""

    def __init__(self, path: Path, engine: sa.Engine) -> None:
        self.path = path
        self._engine = engine
        self._writer = writer(engine)
        self._owner: OwnerLock | None = None
        """This Database's claim on the rows it has in progress (None when read-only, or when
        its lock file could not be made)."""
        self._active_imports: set[str] = set()
        """The import batches this Database is writing now (see `app.store.importing`)."""

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.OperationalError as exc:
            text = str(exc.orig)
            if "locked" in text or "busy" in text:
                raise StoreError(
                    "the database is busy in another PhiDesk process; try again in a moment"
                ) from exc
            if "full" in text:  # "database or disk is full"
                raise StoreError(
                    f"the disk holding {self.path} is full; free some space and try again"
                ) from exc
            if "readonly" in text or "unable to open" in text:
                raise StoreError(
                    f"PhiDesk cannot write its database {self.path} ({text}); check the "
                    "permissions of that folder or choose another one with --data-dir"
                ) from exc
            raise
        except sa.exc.DatabaseError as exc:
            if isinstance(exc.orig, sqlite3.DatabaseError) and "malformed" in str(exc.orig):
                raise DatabaseCorrupt(
                    f"the database {self.path} is damaged ({exc.orig}); restore one of its "
                    "backups next to it"
                ) from exc
            raise

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A read transaction (deferred BEGIN): one consistent snapshot."""
        with (
            self._translated(),
            Session(self._engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A write transaction (BEGIN IMMEDIATE), committed when the block ends."""
        with (
            self._translated(),
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session
