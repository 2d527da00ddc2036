"""`Database`: PhiDesk's chats, messages, presets and search over one SQLite file."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.backend.events import ChatStats
from app.store import migrate
from app.store.engine import create_engine, writer
from app.store.errors import (
    DatabaseCorrupt,
    DuplicateName,
    MigrationFailed,
    NotFound,
    StoreError,
)
from app.store.models import ROLES, STATUSES, ChatRow, MessageRow, PresetRow, ProvenanceRow, utcnow
from app.store.records import (
    Chat,
    ChatSettings,
    ContextUsage,
    Message,
    Preset,
    Provenance,
    Role,
    SearchHit,
    Status,
)
from app.store.search import END, START, fts_query, parse_snippet

log = logging.getLogger(__name__)
OPEN_ATTEMPTS = 5
"""How often `Database.open` tries again when another process holds the new file's lock."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
"""Marks an argument of an update that was not given (None is a real value for some fields)."""

_SEARCH_SQL = sa.text(
    "SELECT m.id, m.chat_id, c.title, m.role, m.created_at, "
    "snippet(message_fts, 0, :start, :end, '…', :tokens) "
    "FROM message_fts JOIN messages AS m ON m.id = message_fts.rowid "
    "JOIN chats AS c ON c.id = m.chat_id "
    "WHERE message_fts MATCH :query AND c.deleted_at IS NULL "
    "AND (:chat_id IS NULL OR m.chat_id = :chat_id) "
    "ORDER BY message_fts.rowid DESC LIMIT :limit"
)

_LAST_MEASURED_CONTEXT = (
    "UPDATE chats SET context_used = ("
    " SELECT coalesce(m.prompt_eval_count, 0) + coalesce(m.eval_count, 0) FROM messages m"
    " WHERE m.chat_id = chats.id AND m.role = 'assistant'"
    " AND (m.prompt_eval_count IS NOT NULL OR m.eval_count IS NOT NULL)"
    " ORDER BY m.id DESC LIMIT 1) WHERE id = :chat_id"
)


_LIST_CHATS_SQL = (
    "SELECT id, title, kind, model, system_prompt, num_ctx, temperature, seed, think, keep_alive,"
    " extra_options, pinned, created_at, updated_at, deleted_at, context_used, context_limit,"
    " message_count FROM chats WHERE deleted_at IS {deleted} {kind}"
    " ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?"
)


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _chat_from_raw(values: tuple[Any, ...]) -> Chat:
    """From a driver row of `_LIST_CHATS_SQL`: the chat list's fast path. SQLAlchemy's type
    processing of 2,000 rows (datetime regexes, JSON) cost several times the query itself."""
    (id_, title, kind, model, system_prompt, num_ctx, temperature, seed, think, keep_alive) = (
        values[:10]
    )
    extra, pinned, created, updated, deleted, used, limit, count = values[10:]
    return Chat(
        id=id_,
        title=title,
        kind=kind,
        model=model,
        system_prompt=system_prompt,
        settings=ChatSettings(
            num_ctx,
            temperature,
            seed,
            None if think is None else bool(think),
            keep_alive,
            json.loads(extra) if extra and extra != "{}" else {},
        ),
        pinned=bool(pinned),
        created_at=cast(datetime, _time(created)),
        updated_at=cast(datetime, _time(updated)),
        deleted_at=_time(deleted),
        context=ContextUsage(used=used, limit=limit),
        message_count=count,
    )


def _chat(row: ChatRow) -> Chat:
    return Chat(
        id=row.id,
        title=row.title,
        kind=row.kind,
        model=row.model,
        system_prompt=row.system_prompt,
        settings=ChatSettings(
            num_ctx=row.num_ctx,
            temperature=row.temperature,
            seed=row.seed,
            think=row.think,
            keep_alive=row.keep_alive,
            extra=dict(row.extra_options or {}),
        ),
        pinned=bool(row.pinned),
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        context=ContextUsage(used=row.context_used, limit=row.context_limit),
        message_count=row.message_count,
    )


def _stats(row: MessageRow) -> ChatStats | None:
    values = (
        row.prompt_eval_count,
        row.eval_count,
        row.total_duration_ns,
        row.load_duration_ns,
        row.prompt_eval_duration_ns,
        row.eval_duration_ns,
        row.done_reason,
    )
    if all(v is None for v in values):
        return None
    return ChatStats(*values)


def _provenance(row: ProvenanceRow | None) -> Provenance | None:
    if row is None:
        return None
    return Provenance(
        model=row.model,
        model_digest=row.model_digest,
        quantization=row.quantization,
        requested_num_ctx=row.requested_num_ctx,
        effective_num_ctx=row.effective_num_ctx,
        gpu_percent=row.gpu_percent,
        options=dict(row.options or {}),
        ollama_version=row.ollama_version,
        tokens_per_second=row.tokens_per_second,
        excluded_message_ids=tuple(int(i) for i in row.excluded_message_ids or ()),
        warning=row.warning,
    )


def _message(row: MessageRow) -> Message:
    return Message(
        id=row.id,
        chat_id=row.chat_id,
        role=cast(Role, row.role),
        content=row.content,
        thinking=row.thinking,
        status=cast(Status, row.status),
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        stats=_stats(row),
        provenance=_provenance(row.provenance),
    )


def _preset(row: PresetRow) -> Preset:
    return Preset(
        id=row.id,
        name=row.name,
        text=row.text,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")


class Database:
    """One PhiDesk database file. Thread-safe: one engine, a short session per call.

    Open it with `Database.open(path)`; see `app.store` for the whole API.
    """

    def __init__(self, path: Path, engine: sa.Engine) -> None:
        self.path = path
        self._engine = engine
        self._writer = writer(engine)
        self.backup_path: Path | None = None
        """The backup taken by `open` before an upgrade, if there was one."""
        self.interrupted_on_open: tuple[int, ...] = ()
        """Ids of answers found `streaming` at open (left by a crash) and marked `interrupted`."""

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, path: Path | str) -> Database:
        """Create or migrate the database at `path` and recover from a crash of the last run.

        Raises `DatabaseTooNew` for a file of a newer PhiDesk and `DatabaseCorrupt` for a file
        that is not a readable PhiDesk database (both leave the file untouched), and
        `MigrationFailed` if an upgrade failed (rolled back; the backup is named).
        """
        path = Path(path).absolute()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {path.parent} for the database ({exc.strerror}); "
                "choose another data directory with --data-dir"
            ) from exc
        for attempt in range(OPEN_ATTEMPTS):
            state = migrate.inspect_file(path)
            engine = create_engine(path)
            try:
                database = cls(path, engine)
                database.backup_path = migrate.upgrade(engine, path, state)
                database.interrupted_on_open = database._recover_streaming()
            except MigrationFailed as exc:
                engine.dispose()
                # Two PhiDesks creating the same new file race for the switch to WAL, which
                # SQLite may refuse at once instead of waiting: look again and retry.
                if "database is locked" not in str(exc) or attempt == OPEN_ATTEMPTS - 1:
                    raise
                log.info("database %s is busy while opening; trying again", path)
                time.sleep(0.2 * (attempt + 1))
                continue
            except BaseException:
                engine.dispose()
                raise
            return database
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close every connection. The Database must not be used afterwards."""
        try:
            with self._engine.connect() as connection:
                # Refresh the planner's statistics where SQLite thinks it helps (cheap).
                driver = connection.connection.driver_connection
                if driver is not None:
                    driver.execute("PRAGMA optimize")  # autocommit: its ANALYZE is kept
        except (sa.exc.SQLAlchemyError, sqlite3.Error):
            log.warning("PRAGMA optimize failed on close", exc_info=True)
        self._engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

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
        with (
            self._translated(),
            Session(self._engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with (
            self._translated(),
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def _recover_streaming(self) -> tuple[int, ...]:
        with self._writing() as session:
            ids = session.scalars(
                sa.select(MessageRow.id).where(MessageRow.status == "streaming")
            ).all()
            if ids:
                session.execute(
                    sa.update(MessageRow)
                    .where(MessageRow.id.in_(ids))
                    .values(status="interrupted", updated_at=utcnow())
                )
                log.info("marked %d answers left streaming as interrupted", len(ids))
        return tuple(ids)

    # ---------------------------------------------------------------- chats

    def create_chat(
        self,
        *,
        title: str = "",
        model: str = "",
        system_prompt: str = "",
        settings: ChatSettings | None = None,
        kind: str = "normal",
        pinned: bool = False,
    ) -> Chat:
        settings = settings or ChatSettings()
        now = utcnow()
        with self._writing() as session:
            row = ChatRow(
                title=title,
                kind=kind,
                model=model,
                system_prompt=system_prompt,
                pinned=pinned,
                created_at=now,
                updated_at=now,
            )
            self._apply_settings(row, settings)
            session.add(row)
            session.flush()
            return _chat(row)

    @staticmethod
    def _apply_settings(row: ChatRow, settings: ChatSettings) -> None:
        row.num_ctx = settings.num_ctx
        row.temperature = settings.temperature
        row.seed = settings.seed
        row.think = settings.think
        row.keep_alive = settings.keep_alive
        row.extra_options = dict(settings.extra)

    def _chat_row(self, session: Session, chat_id: int) -> ChatRow:
        row = session.get(ChatRow, chat_id)
        if row is None:
            raise NotFound(f"chat {chat_id} does not exist (it may have been deleted)")
        return row

    def get_chat(self, chat_id: int) -> Chat:
        """The chat, also when it is in the trash (then `deleted_at` is set)."""
        with self._reading() as session:
            return _chat(self._chat_row(session, chat_id))

    def update_chat(
        self,
        chat_id: int,
        *,
        title: str | _Unset = UNSET,
        pinned: bool | _Unset = UNSET,
        model: str | _Unset = UNSET,
        system_prompt: str | _Unset = UNSET,
        settings: ChatSettings | _Unset = UNSET,
        kind: str | _Unset = UNSET,
        context: ContextUsage | _Unset = UNSET,
        touch: bool = False,
    ) -> Chat:
        """Change what is given. `touch=True` also moves the chat to the top of the list."""
        with self._writing() as session:
            row = self._chat_row(session, chat_id)
            if not isinstance(title, _Unset):
                row.title = title
            if not isinstance(pinned, _Unset):
                row.pinned = pinned
            if not isinstance(model, _Unset):
                row.model = model
            if not isinstance(system_prompt, _Unset):
                row.system_prompt = system_prompt
            if not isinstance(settings, _Unset):
                self._apply_settings(row, settings)
            if not isinstance(kind, _Unset):
                row.kind = kind
            if not isinstance(context, _Unset):
                row.context_used = context.used
                row.context_limit = context.limit
            if touch:
                row.updated_at = utcnow()
            session.flush()
            return _chat(row)

    def list_chats(
        self, *, kind: str | None = None, deleted: bool = False, limit: int | None = None
    ) -> list[Chat]:
        """Chats, pinned first, then the most recently active. `deleted=True` lists the trash."""
        sql = _LIST_CHATS_SQL.format(
            deleted="NOT NULL" if deleted else "NULL", kind="" if kind is None else "AND kind = ?"
        )
        params = (*(() if kind is None else (kind,)), -1 if limit is None else limit)
        with self._translated(), self._engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            try:
                # One statement in autocommit mode: a consistent snapshot of its own.
                rows = driver.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                raise sa.exc.OperationalError(sql, params, exc) from exc
        return [_chat_from_raw(row) for row in rows]

    def delete_chat(self, chat_id: int) -> None:
        """Move the chat to the trash (undo with `restore_chat`; `purge_deleted_chats` empties
        the trash). Trashed chats are left out of `list_chats` and `search`."""
        with self._writing() as session:
            self._chat_row(session, chat_id).deleted_at = utcnow()

    def restore_chat(self, chat_id: int) -> Chat:
        with self._writing() as session:
            self._chat_row(session, chat_id).deleted_at = None
        return self.get_chat(chat_id)

    def delete_chat_permanently(self, chat_id: int) -> None:
        """Remove the chat with its messages and their provenance (ON DELETE CASCADE)."""
        with self._writing() as session:
            result = session.execute(sa.delete(ChatRow).where(ChatRow.id == chat_id))
            if cast(sa.CursorResult[Any], result).rowcount == 0:
                raise NotFound(f"chat {chat_id} does not exist (it may have been deleted)")

    def purge_deleted_chats(self, older_than: timedelta = timedelta(0)) -> int:
        """Permanently remove chats trashed at least `older_than` ago. Returns how many."""
        cutoff = utcnow() - older_than
        with self._writing() as session:
            result = session.execute(
                sa.delete(ChatRow).where(
                    ChatRow.deleted_at.is_not(None), ChatRow.deleted_at <= cutoff
                )
            )
            return int(cast(sa.CursorResult[Any], result).rowcount)

    # ---------------------------------------------------------------- messages

    def add_message(
        self,
        chat_id: int,
        role: Role,
        content: str = "",
        *,
        thinking: str = "",
        status: Status = "complete",
        error: str | None = None,
    ) -> Message:
        """Append a message, committed when this returns. Start an answer with
        `status="streaming"`, then call `update_streaming` and finally `finish_message`."""
        _check_role(role)
        _check_status(status)
        now = utcnow()
        with self._writing() as session:
            chat = self._chat_row(session, chat_id)
            row = MessageRow(
                chat_id=chat_id,
                role=role,
                content=content,
                thinking=thinking,
                status=status,
                error=error,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            chat.updated_at = now
            session.flush()
            return _message(row)

    def update_streaming(self, message_id: int, content: str, thinking: str = "") -> None:
        """Save the answer so far (one UPDATE; meant to be called every ~0.5 s while streaming).
        Raises NotFound if the message was deleted meanwhile."""
        with self._writing() as session:
            result = session.execute(
                sa.update(MessageRow)
                .where(MessageRow.id == message_id)
                .values(content=content, thinking=thinking, status="streaming", updated_at=utcnow())
            )
            if cast(sa.CursorResult[Any], result).rowcount == 0:
                raise NotFound(f"message {message_id} does not exist (it may have been deleted)")

    def finish_message(
        self,
        message_id: int,
        *,
        status: Status = "complete",
        content: str | None = None,
        thinking: str | None = None,
        error: str | None = None,
        stats: ChatStats | None = None,
        provenance: Provenance | None = None,
        context_limit: int | None = None,
    ) -> Message:
        """Store the final state of an answer (or of any message).

        `content`/`thinking` None keep what `update_streaming` stored. With `stats`, the chat's
        context meter becomes used = prompt_eval_count + eval_count, limit = `context_limit` or
        else the provenance's effective (or requested) num_ctx, or else the chat's num_ctx.
        """
        _check_status(status)
        now = utcnow()
        with self._writing() as session:
            row = session.get(MessageRow, message_id)
            if row is None:
                raise NotFound(f"message {message_id} does not exist (it may have been deleted)")
            row.status = status
            row.error = error
            row.updated_at = now
            if content is not None:
                row.content = content
            if thinking is not None:
                row.thinking = thinking
            if stats is not None:
                row.prompt_eval_count = stats.prompt_eval_count
                row.eval_count = stats.eval_count
                row.total_duration_ns = stats.total_duration_ns
                row.load_duration_ns = stats.load_duration_ns
                row.prompt_eval_duration_ns = stats.prompt_eval_duration_ns
                row.eval_duration_ns = stats.eval_duration_ns
                row.done_reason = stats.done_reason
            if provenance is not None:
                self._store_provenance(session, row, provenance)
            chat = self._chat_row(session, row.chat_id)
            chat.updated_at = now
            if stats is not None and stats.context_used is not None:
                chat.context_used = stats.context_used
                limit = context_limit
                if limit is None and provenance is not None:
                    limit = provenance.effective_num_ctx or provenance.requested_num_ctx
                chat.context_limit = limit if limit is not None else chat.num_ctx
            elif context_limit is not None:
                chat.context_limit = context_limit
            session.flush()
            return _message(row)

    @staticmethod
    def _store_provenance(session: Session, row: MessageRow, provenance: Provenance) -> None:
        target = row.provenance
        if target is None:
            target = ProvenanceRow(message_id=row.id)
            session.add(target)
            row.provenance = target
        target.model = provenance.model
        target.model_digest = provenance.model_digest
        target.quantization = provenance.quantization
        target.requested_num_ctx = provenance.requested_num_ctx
        target.effective_num_ctx = provenance.effective_num_ctx
        target.gpu_percent = provenance.gpu_percent
        target.options = dict(provenance.options)
        target.ollama_version = provenance.ollama_version
        target.tokens_per_second = provenance.tokens_per_second
        target.excluded_message_ids = [int(i) for i in provenance.excluded_message_ids]
        target.warning = provenance.warning

    def get_message(self, message_id: int) -> Message:
        with self._reading() as session:
            row = session.get(MessageRow, message_id)
            if row is None:
                raise NotFound(f"message {message_id} does not exist (it may have been deleted)")
            return _message(row)

    def latest_messages(
        self, chat_id: int, limit: int = 200, *, before: int | None = None
    ) -> list[Message]:
        """The newest `limit` messages of the chat (older than message id `before`, for scrolling
        back), oldest first."""
        query = sa.select(MessageRow).where(MessageRow.chat_id == chat_id)
        if before is not None:
            query = query.where(MessageRow.id < before)
        query = query.order_by(MessageRow.id.desc()).limit(limit)
        with self._reading() as session:
            rows = session.scalars(query).all()
            return [_message(row) for row in reversed(rows)]

    def messages(self, chat_id: int) -> list[Message]:
        """Every message of the chat, oldest first."""
        query = sa.select(MessageRow).where(MessageRow.chat_id == chat_id).order_by(MessageRow.id)
        with self._reading() as session:
            return [_message(row) for row in session.scalars(query).all()]

    def delete_message(self, message_id: int) -> None:
        with self._writing() as session:
            row = session.get(MessageRow, message_id)
            if row is None:
                raise NotFound(f"message {message_id} does not exist (it may have been deleted)")
            chat_id = row.chat_id
            session.execute(sa.delete(MessageRow).where(MessageRow.id == message_id))
            session.execute(sa.text(_LAST_MEASURED_CONTEXT), {"chat_id": chat_id})

    def delete_messages_after(self, message_id: int, *, inclusive: bool = False) -> list[int]:
        """Delete every later message of the same chat (and this one too with `inclusive`).
        For regenerate and edit-and-resend. The chat's context meter falls back to the last
        remaining measured answer. Returns the deleted ids."""
        with self._writing() as session:
            row = session.get(MessageRow, message_id)
            if row is None:
                raise NotFound(f"message {message_id} does not exist (it may have been deleted)")
            chat_id = row.chat_id
            bound = MessageRow.id >= message_id if inclusive else MessageRow.id > message_id
            condition = sa.and_(MessageRow.chat_id == chat_id, bound)
            ids = list(session.scalars(sa.select(MessageRow.id).where(condition)).all())
            session.execute(sa.delete(MessageRow).where(condition))
            session.execute(sa.text(_LAST_MEASURED_CONTEXT), {"chat_id": chat_id})
            session.expunge_all()
            return ids

    # ---------------------------------------------------------------- import

    def import_chat(self, chat: Chat, messages: Sequence[Message], *, keep_id: bool = True) -> Chat:
        """Add a chat with its messages as they were, in one transaction: times, statuses,
        stats and provenance are kept (not set to now). The chat keeps `chat.id` when
        `keep_id` and no chat has that id yet, else it gets a new one; `deleted_at` and
        `message_count` are ignored. Message ids are assigned anew, and each provenance's
        `excluded_message_ids`, which name messages by their ids in `messages`, are mapped to
        the new ids (ids not in `messages` are dropped)."""
        for message in messages:
            _check_role(message.role)
            _check_status(message.status)
        with self._writing() as session:
            row = ChatRow(
                title=chat.title,
                kind=chat.kind,
                model=chat.model,
                system_prompt=chat.system_prompt,
                pinned=chat.pinned,
                created_at=chat.created_at,
                updated_at=chat.updated_at,
                context_used=chat.context.used,
                context_limit=chat.context.limit,
            )
            if keep_id and chat.id > 0 and session.get(ChatRow, chat.id) is None:
                row.id = chat.id
            self._apply_settings(row, chat.settings)
            session.add(row)
            session.flush()
            chat_id = row.id
            new_ids: dict[int, int] = {}
            rows: list[tuple[MessageRow, Message]] = []
            for message in messages:
                stats = message.stats or ChatStats()
                message_row = MessageRow(
                    chat_id=chat_id,
                    role=message.role,
                    content=message.content,
                    thinking=message.thinking,
                    status=message.status,
                    error=message.error,
                    created_at=message.created_at,
                    updated_at=message.updated_at,
                    prompt_eval_count=stats.prompt_eval_count,
                    eval_count=stats.eval_count,
                    total_duration_ns=stats.total_duration_ns,
                    load_duration_ns=stats.load_duration_ns,
                    prompt_eval_duration_ns=stats.prompt_eval_duration_ns,
                    eval_duration_ns=stats.eval_duration_ns,
                    done_reason=stats.done_reason,
                )
                session.add(message_row)
                session.flush()
                new_ids[message.id] = message_row.id
                rows.append((message_row, message))
            for message_row, message in rows:
                if message.provenance is not None:
                    excluded = tuple(
                        new_ids[i] for i in message.provenance.excluded_message_ids if i in new_ids
                    )
                    self._store_provenance(
                        session,
                        message_row,
                        replace(message.provenance, excluded_message_ids=excluded),
                    )
        return self.get_chat(chat_id)

    # ---------------------------------------------------------------- presets

    def create_preset(self, name: str, text: str) -> Preset:
        now = utcnow()
        try:
            with self._writing() as session:
                row = PresetRow(name=name, text=text, created_at=now, updated_at=now)
                session.add(row)
                session.flush()
                return _preset(row)
        except sa.exc.IntegrityError as exc:
            raise DuplicateName(
                f"a preset named {name!r} exists already; pick another name"
            ) from exc

    def list_presets(self) -> list[Preset]:
        with self._reading() as session:
            rows = session.scalars(sa.select(PresetRow).order_by(PresetRow.name)).all()
            return [_preset(row) for row in rows]

    def get_preset(self, preset_id: int) -> Preset:
        with self._reading() as session:
            row = session.get(PresetRow, preset_id)
            if row is None:
                raise NotFound(f"preset {preset_id} does not exist")
            return _preset(row)

    def update_preset(
        self, preset_id: int, *, name: str | _Unset = UNSET, text: str | _Unset = UNSET
    ) -> Preset:
        try:
            with self._writing() as session:
                row = session.get(PresetRow, preset_id)
                if row is None:
                    raise NotFound(f"preset {preset_id} does not exist")
                if not isinstance(name, _Unset):
                    row.name = name
                if not isinstance(text, _Unset):
                    row.text = text
                row.updated_at = utcnow()
                session.flush()
                return _preset(row)
        except sa.exc.IntegrityError as exc:
            raise DuplicateName(
                f"a preset named {name!r} exists already; pick another name"
            ) from exc

    def delete_preset(self, preset_id: int) -> None:
        with self._writing() as session:
            result = session.execute(sa.delete(PresetRow).where(PresetRow.id == preset_id))
            if cast(sa.CursorResult[Any], result).rowcount == 0:
                raise NotFound(f"preset {preset_id} does not exist")

    # ---------------------------------------------------------------- search

    def measured_speed(self, model: str, *, recent: int = 20) -> float | None:
        """Median tokens/s of the last `recent` complete answers by `model` on this machine
        (`model` with or without `:latest`), or None before any was measured."""
        names = {model, model + ":latest"} if ":" not in model.rsplit("/", 1)[-1] else {model}
        if model.endswith(":latest"):
            names.add(model.removesuffix(":latest"))
        with self._reading() as session:
            rows = session.scalars(
                sa.select(ProvenanceRow.tokens_per_second)
                .join(MessageRow, MessageRow.id == ProvenanceRow.message_id)
                .where(
                    ProvenanceRow.model.in_(names),
                    ProvenanceRow.tokens_per_second.is_not(None),
                    MessageRow.status == "complete",
                )
                .order_by(MessageRow.id.desc())
                .limit(recent)
            ).all()
        speeds = sorted(float(r) for r in rows if r is not None)
        if not speeds:
            return None
        middle = len(speeds) // 2
        if len(speeds) % 2:
            return speeds[middle]
        return (speeds[middle - 1] + speeds[middle]) / 2

    def search(
        self, query: str, *, limit: int = 50, chat_id: int | None = None, snippet_tokens: int = 12
    ) -> list[SearchHit]:
        """Messages whose text matches every word of `query` (the last word as a prefix), newest
        first, in chats not in the trash. Any input is safe: it is searched for as plain words,
        never parsed as FTS5 syntax; input with no letters or digits finds nothing."""
        expression = fts_query(query)
        if expression is None or limit <= 0:
            return []
        params = {
            "query": expression,
            "start": START,
            "end": END,
            "tokens": max(1, min(snippet_tokens, 64)),
            "chat_id": chat_id,
            "limit": limit,
        }
        with self._reading() as session:
            rows = session.execute(_SEARCH_SQL, params).all()
        hits = []
        for message_id, hit_chat_id, title, role, created_at, marked in rows:
            text, spans, marked_html = parse_snippet(str(marked or ""))
            hits.append(
                SearchHit(
                    chat_id=int(hit_chat_id),
                    message_id=int(message_id),
                    chat_title=str(title),
                    role=cast(Role, role),
                    created_at=_parse_time(created_at),
                    snippet=text,
                    highlights=spans,
                    snippet_html=marked_html,
                )
            )
        return hits


def _parse_time(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
