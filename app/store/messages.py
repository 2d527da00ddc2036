"""Messages of a chat: append, write an answer through while it streams, finish it with its
stats and provenance, read back in pages, and delete (for regenerate and edit-and-resend)."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.store.chats import chat_row
from app.store.convert import check_role, check_status, to_message
from app.store.errors import NotFound
from app.store.models import MessageRow, ProvenanceRow, utcnow
from app.store.records import ChatStats, Message, Provenance, Role, Status
from app.store.transactions import Transactions

LAST_MEASURED_CONTEXT = (
    "UPDATE chats SET context_used = ("
    " SELECT coalesce(m.prompt_eval_count, 0) + coalesce(m.eval_count, 0) FROM messages m"
    " WHERE m.chat_id = chats.id AND m.role = 'assistant'"
    " AND (m.prompt_eval_count IS NOT NULL OR m.eval_count IS NOT NULL)"
    " ORDER BY m.id DESC LIMIT 1) WHERE id = :chat_id"
)
"""Set a chat's context meter back to its last measured answer (after messages were deleted)."""


def store_provenance(session: Session, row: MessageRow, provenance: Provenance) -> None:
    target = row.provenance
    if target is None:
        target = ProvenanceRow(message_id=row.id)
        session.add(target)
        row.provenance = target
    fill_provenance(target, provenance)


def fill_provenance(target: ProvenanceRow, provenance: Provenance) -> None:
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


class MessageQueries(Transactions):
    """The message part of `Database`."""

    def _stream_owner(self, status: str) -> str | None:
        """The owner written on an answer in progress: another process recovers the answer
        only once this Database's lock is gone (see `app.store.owners`)."""
        if status != "streaming" or self._owner is None:
            return None
        return self._owner.token

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
        check_role(role)
        check_status(status)
        with self._writing() as session:
            return self._append(session, chat_id, role, content, thinking, status, error)

    def _append(
        self,
        session: Session,
        chat_id: int,
        role: Role,
        content: str,
        thinking: str,
        status: Status,
        error: str | None,
    ) -> Message:
        now = utcnow()
        chat = chat_row(session, chat_id)
        row = MessageRow(
            chat_id=chat_id,
            role=role,
            content=content,
            thinking=thinking,
            status=status,
            error=error,
            created_at=now,
            updated_at=now,
            stream_owner=self._stream_owner(status),
        )
        session.add(row)
        chat.updated_at = now
        session.flush()
        return to_message(row)

    def update_streaming(self, message_id: int, content: str, thinking: str = "") -> None:
        """Save the answer so far (one UPDATE; meant to be called every ~0.5 s while streaming);
        the answer is now this Database's to finish. Raises NotFound if the message was deleted
        meanwhile."""
        with self._writing() as session:
            result = session.execute(
                sa.update(MessageRow)
                .where(MessageRow.id == message_id)
                .values(
                    content=content,
                    thinking=thinking,
                    status="streaming",
                    updated_at=utcnow(),
                    stream_owner=self._stream_owner("streaming"),
                )
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
        check_status(status)
        now = utcnow()
        with self._writing() as session:
            row = session.get(MessageRow, message_id)
            if row is None:
                raise NotFound(f"message {message_id} does not exist (it may have been deleted)")
            row.status = status
            row.stream_owner = self._stream_owner(status)
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
                store_provenance(session, row, provenance)
            chat = chat_row(session, row.chat_id)
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
            return to_message(row)

    def get_message(self, message_id: int) -> Message:
        with self._reading() as session:
            row = session.get(MessageRow, message_id)
            if row is None:
                raise NotFound(f"message {message_id} does not exist (it may have been deleted)")
            return to_message(row)

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
            return [to_message(row) for row in reversed(rows)]

    def messages(self, chat_id: int) -> list[Message]:
        """Every message of the chat, oldest first."""
        query = sa.select(MessageRow).where(MessageRow.chat_id == chat_id).order_by(MessageRow.id)
        with self._reading() as session:
            return [to_message(row) for row in session.scalars(query).all()]

    def delete_message(self, message_id: int) -> None:
        with self._writing() as session:
            row = session.get(MessageRow, message_id)
            if row is None:
                raise NotFound(f"message {message_id} does not exist (it may have been deleted)")
            chat_id = row.chat_id
            session.execute(sa.delete(MessageRow).where(MessageRow.id == message_id))
            session.execute(sa.text(LAST_MEASURED_CONTEXT), {"chat_id": chat_id})

    def delete_messages_after(self, message_id: int, *, inclusive: bool = False) -> list[int]:
        """Delete every later message of the same chat (and this one too with `inclusive`).
        For regenerate and edit-and-resend. The chat's context meter falls back to the last
        remaining measured answer. Returns the deleted ids."""
        with self._writing() as session:
            _chat_id, ids = self._cut(session, message_id, inclusive)
            session.expunge_all()
            return ids

    def replace_after(
        self,
        message_id: int,
        role: Role,
        content: str = "",
        *,
        inclusive: bool = False,
        status: Status = "complete",
    ) -> Message:
        """`delete_messages_after` and `add_message` in ONE transaction: a regenerate or an
        edit killed at any moment leaves the old messages or the new one, never neither."""
        check_role(role)
        check_status(status)
        with self._writing() as session:
            chat_id, _ids = self._cut(session, message_id, inclusive)
            return self._append(session, chat_id, role, content, "", status, None)

    def _cut(self, session: Session, message_id: int, inclusive: bool) -> tuple[int, list[int]]:
        row = session.get(MessageRow, message_id)
        if row is None:
            raise NotFound(f"message {message_id} does not exist (it may have been deleted)")
        chat_id = row.chat_id
        bound = MessageRow.id >= message_id if inclusive else MessageRow.id > message_id
        condition = sa.and_(MessageRow.chat_id == chat_id, bound)
        ids = list(session.scalars(sa.select(MessageRow.id).where(condition)).all())
        session.execute(sa.delete(MessageRow).where(condition))
        session.execute(sa.text(LAST_MEASURED_CONTEXT), {"chat_id": chat_id})
        return chat_id, ids
