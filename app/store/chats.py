"""Chats: create, read, list, change, move to the trash and back, and delete for good."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.store.convert import chat_from_list_row, to_chat
from app.store.errors import NotFound
from app.store.models import ChatRow, MessageRow, utcnow
from app.store.records import UNSET, Chat, ChatSettings, ContextUsage, _Unset
from app.store.transactions import Transactions

LIST_CHATS_SQL = (
    "SELECT id, title, kind, model, system_prompt, num_ctx, temperature, seed, think, keep_alive,"
    " extra_options, pinned, created_at, updated_at, deleted_at, context_used, context_limit,"
    " message_count, active_leaf_id, engine FROM chats"
    " WHERE deleted_at IS {deleted} AND import_batch IS NULL {kind}"
    " ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?"
)


def apply_settings(row: ChatRow, settings: ChatSettings) -> None:
    row.num_ctx = settings.num_ctx
    row.temperature = settings.temperature
    row.seed = settings.seed
    row.think = settings.think
    row.keep_alive = settings.keep_alive
    row.extra_options = dict(settings.extra)


def chat_row(session: Session, chat_id: int) -> ChatRow:
    row = session.get(ChatRow, chat_id)
    if row is None or row.import_batch is not None:  # a chat an import is staging: not yet
        raise NotFound(f"chat {chat_id} does not exist (it may have been deleted)")
    return row


class ChatQueries(Transactions):
    """The chat part of `Database`."""

    def create_chat(
        self,
        *,
        title: str = "",
        model: str = "",
        system_prompt: str = "",
        settings: ChatSettings | None = None,
        kind: str = "normal",
        pinned: bool = False,
        engine: str = "ollama",
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
                engine=engine,
            )
            apply_settings(row, settings)
            session.add(row)
            session.flush()
            return to_chat(row)

    def get_chat(self, chat_id: int) -> Chat:
        """The chat, also when it is in the trash (then `deleted_at` is set)."""
        with self._reading() as session:
            return to_chat(chat_row(session, chat_id))

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
        engine: str | _Unset = UNSET,
        touch: bool = False,
    ) -> Chat:
        """Change what is given. `touch=True` also moves the chat to the top of the list."""
        with self._writing() as session:
            row = chat_row(session, chat_id)
            if not isinstance(title, _Unset):
                row.title = title
            if not isinstance(pinned, _Unset):
                row.pinned = pinned
            if not isinstance(model, _Unset):
                row.model = model
            if not isinstance(system_prompt, _Unset):
                row.system_prompt = system_prompt
            if not isinstance(settings, _Unset):
                apply_settings(row, settings)
            if not isinstance(kind, _Unset):
                row.kind = kind
            if not isinstance(context, _Unset):
                row.context_used = context.used
                row.context_limit = context.limit
            if not isinstance(engine, _Unset):
                row.engine = engine
            if touch:
                row.updated_at = utcnow()
            session.flush()
            return to_chat(row)

    def list_chats(
        self, *, kind: str | None = None, deleted: bool = False, limit: int | None = None
    ) -> list[Chat]:
        """Chats, pinned first, then the most recently active. `deleted=True` lists the trash."""
        sql = LIST_CHATS_SQL.format(
            deleted="NOT NULL" if deleted else "NULL", kind="" if kind is None else "AND kind = ?"
        )
        params = (*(() if kind is None else (kind,)), -1 if limit is None else limit)
        with self._translated(), self._engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            # One statement in autocommit mode: a consistent snapshot of its own.
            rows = self._waiting.run(lambda: driver.execute(sql, params).fetchall())
        return [chat_from_list_row(row) for row in rows]

    def delete_chat(self, chat_id: int) -> None:
        """Move the chat to the trash (undo with `restore_chat`; `purge_deleted_chats` empties
        the trash). Trashed chats are left out of `list_chats` and `search`."""
        with self._writing() as session:
            chat_row(session, chat_id).deleted_at = utcnow()

    def restore_chat(self, chat_id: int) -> Chat:
        with self._writing() as session:
            chat_row(session, chat_id).deleted_at = None
        return self.get_chat(chat_id)

    def delete_chat_permanently(self, chat_id: int) -> None:
        """Remove the chat with its messages and their provenance (ON DELETE CASCADE)."""
        with self._writing() as session:
            result = session.execute(
                sa.delete(ChatRow).where(ChatRow.id == chat_id, ChatRow.import_batch.is_(None))
            )
            if cast(sa.CursorResult[Any], result).rowcount == 0:
                raise NotFound(f"chat {chat_id} does not exist (it may have been deleted)")

    def purge_deleted_chats(self, older_than: timedelta = timedelta(0)) -> int:
        """Permanently remove chats trashed at least `older_than` ago, and the messages deleted
        that long ago in other chats. Returns how many chats."""
        cutoff = utcnow() - older_than
        with self._writing() as session:
            session.execute(
                sa.delete(MessageRow).where(
                    MessageRow.deleted_at.is_not(None), MessageRow.deleted_at <= cutoff
                )
            )
            result = session.execute(
                sa.delete(ChatRow).where(
                    ChatRow.deleted_at.is_not(None), ChatRow.deleted_at <= cutoff
                )
            )
            return int(cast(sa.CursorResult[Any], result).rowcount)
