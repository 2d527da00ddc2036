"""Messages of a chat: append (to the active path, or as a new version of a message), write an
answer through while it streams, finish it with its stats and provenance, and read back the
active path in pages or the whole tree. Versions, deletion and undo: `app.store.tree`."""

from __future__ import annotations

from typing import Any, Final, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.store.chats import chat_row
from app.store.convert import check_role, check_status, to_message
from app.store.errors import NotFound
from app.store.models import ChatRow, MessageRow, ProvenanceRow, utcnow
from app.store.records import ChatStats, Message, Provenance, Role, Status, _Unset
from app.store.transactions import Transactions
from app.store.tree import extend_active_path, live_row, path_ids

TIP: Final = _Unset()
"""`add_message`'s default parent: the chat's active leaf (continue the version on show)."""


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
    target.engine = provenance.engine
    target.system_fingerprint = provenance.system_fingerprint
    target.cached_tokens = provenance.cached_tokens
    target.reasoning_tokens = provenance.reasoning_tokens
    target.usage_estimated = provenance.usage_estimated
    target.thinking_seconds = provenance.thinking_seconds


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
        parent_id: int | _Unset | None = TIP,
    ) -> Message:
        """Add a message, committed when this returns, and show it: it becomes the chat's active
        leaf. By default it follows the active leaf; `parent_id` (None for a first message)
        makes it a new version of that parent's other children. Start an answer with
        `status="streaming"`, then call `update_streaming` and finally `finish_message`."""
        check_role(role)
        check_status(status)
        with self._writing() as session:
            chat = chat_row(session, chat_id)
            if isinstance(parent_id, _Unset):
                parent = chat.active_leaf_id
            else:
                parent = parent_id
                if parent is not None and live_row(session, parent).chat_id != chat_id:
                    raise NotFound(f"message {parent} is not in chat {chat_id}")
            return self._append(session, chat, parent, role, content, thinking, status, error)

    def add_turn(
        self, chat_id: int, question: str, *, title: str | None = None, answer: bool = True
    ) -> tuple[Message, Message | None]:
        """The user's `question` after the active leaf, the chat's new `title` if given, and
        (with `answer`) the answer's streaming row under the question: one transaction, committed
        when this returns (a send's one writer round trip before its request goes out)."""
        with self._writing() as session:
            chat = chat_row(session, chat_id)
            user = self._append(
                session, chat, chat.active_leaf_id, "user", question, "", "complete", None
            )
            if title is not None:
                chat.title = title
            if not answer:
                return user, None
            reply = self._append(session, chat, user.id, "assistant", "", "", "streaming", None)
            return user, reply

    def _append(
        self,
        session: Session,
        chat: ChatRow,
        parent: int | None,
        role: Role,
        content: str,
        thinking: str,
        status: Status,
        error: str | None,
    ) -> Message:
        now = utcnow()
        row = MessageRow(
            chat_id=chat.id,
            parent_id=parent,
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
        extend_active_path(session, chat, parent, row.id)
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
            if chat.active_leaf_id != row.id:
                pass  # another version is on show: its own meter stays
            elif stats is not None and stats.context_used is not None:
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

    def _path_query(self, session: Session, chat_id: int) -> list[int]:
        chat = session.get(ChatRow, chat_id)
        return path_ids(session, None if chat is None else chat.active_leaf_id)

    def latest_messages(
        self, chat_id: int, limit: int = 200, *, before: int | None = None
    ) -> list[Message]:
        """The newest `limit` messages of the chat's active path (older than message id
        `before`, for scrolling back), oldest first."""
        with self._reading() as session:
            ids = self._path_query(session, chat_id)
            if before is not None:
                ids = [i for i in ids if i < before]
            return self._rows(session, ids[-limit:] if limit else [])

    def path_to(self, message_id: int) -> list[Message]:
        """The conversation up to and including `message_id`, first message first."""
        with self._reading() as session:
            live_row(session, message_id)
            return self._rows(session, path_ids(session, message_id))

    def messages(self, chat_id: int) -> list[Message]:
        """The chat as shown: every message of its active path, first message first."""
        with self._reading() as session:
            return self._rows(session, self._path_query(session, chat_id))

    def all_messages(self, chat_id: int) -> list[Message]:
        """Every visible message of the chat, in every version, oldest first (a parent always
        comes before its children)."""
        query = (
            sa.select(MessageRow)
            .where(MessageRow.chat_id == chat_id, MessageRow.deleted_at.is_(None))
            .order_by(MessageRow.id)
        )
        with self._reading() as session:
            return [to_message(row) for row in session.scalars(query).all()]

    @staticmethod
    def _rows(session: Session, ids: list[int]) -> list[Message]:
        rows: list[Message] = []
        for start in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
            part = ids[start : start + 500]
            query = sa.select(MessageRow).where(MessageRow.id.in_(part)).order_by(MessageRow.id)
            rows += [to_message(row) for row in session.scalars(query).all()]
        return rows
