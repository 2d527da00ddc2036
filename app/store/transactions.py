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

from app.store import failures
from app.store.engine import writer
from app.store.errors import StoreError
from app.store.owners import OwnerLock
from app.store.waiting import Waiting


class Transactions:
    """Holds the engine of one database file and hands out transactions on it."""

    def __init__(
        self,
        path: Path,
        engine: sa.Engine,
        *,
        readonly: bool = False,
        waiting: Waiting | None = None,
    ) -> None:
        self.path = path
        self.readonly = readonly
        """Opened read-only: every write raises StoreError, and nothing is ever written."""
        self._engine = engine
        self._writer = writer(engine)
        self._waiting = waiting or Waiting(path)
        self._owner: OwnerLock | None = None
        """This Database's claim on the rows it has in progress (None when read-only, or when
        its lock file could not be made)."""
        self._active_imports: set[str] = set()
        """The import batches this Database is writing now (see `app.store.importing`)."""

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Errors of the file, the disk or the lock become one sentence (`app.store.failures`)."""
        try:
            yield
        except (sa.exc.DBAPIError, sqlite3.Error) as exc:
            described = failures.describe(exc, self.path, waited=self._waiting.seconds)
            if described is None:
                raise
            raise described from exc

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
        if self.readonly:
            raise StoreError(
                f"the database {self.path} was opened read-only, so this cannot be changed now"
            )
        with (
            self._translated(),
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session
