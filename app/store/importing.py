"""Import: a whole chat with its messages added as they were, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from app.store.chats import ChatQueries, apply_settings
from app.store.convert import check_role, check_status
from app.store.messages import store_provenance
from app.store.models import ChatRow, MessageRow
from app.store.records import Chat, ChatStats, Message


class ImportQueries(ChatQueries):
    """The import part of `Database` (it reads the new chat back with `get_chat`)."""

    def import_chat(self, chat: Chat, messages: Sequence[Message], *, keep_id: bool = True) -> Chat:
        """Add a chat with its messages as they were, in one transaction: times, statuses,
        stats and provenance are kept (not set to now). The chat keeps `chat.id` when
        `keep_id` and no chat has that id yet, else it gets a new one; `deleted_at` and
        `message_count` are ignored. Message ids are assigned anew, and each provenance's
        `excluded_message_ids`, which name messages by their ids in `messages`, are mapped to
        the new ids (ids not in `messages` are dropped)."""
        for message in messages:
            check_role(message.role)
            check_status(message.status)
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
            apply_settings(row, chat.settings)
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
                    store_provenance(
                        session,
                        message_row,
                        replace(message.provenance, excluded_message_ids=excluded),
                    )
        return self.get_chat(chat_id)
