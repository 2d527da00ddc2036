"""Conversations as trees (migration 0005).

Each message has a parent (None for a first message); messages with the same parent are
versions of each other (a regenerated answer, an edited question). A chat shows one path: from
its `active_leaf_id` up through the parents. Everything that reads "the chat" reads that path;
`chats.message_count` is its length and `chats.context_used` comes from its last measured
answer, both kept here whenever the path changes.

Deleting hides a message and its subtree (`deleted_at`, one stamp per deletion, so an undo
restores exactly what it hid) until the chat trash is purged.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.store.chats import chat_row
from app.store.errors import NotFound
from app.store.models import ChatRow, MessageRow, utcnow
from app.store.records import DeletedMessages, Versions
from app.store.transactions import Transactions

_PATH = (
    "WITH RECURSIVE path(id, parent_id, depth) AS ("
    " SELECT id, parent_id, 0 FROM messages WHERE id = :leaf AND deleted_at IS NULL"
    " UNION ALL SELECT m.id, m.parent_id, path.depth + 1 FROM messages AS m"
    " JOIN path ON m.id = path.parent_id)"
)

_PATH_FACTS = sa.text(
    _PATH + " SELECT count(*), (SELECT coalesce(m.prompt_eval_count, 0)"
    " + coalesce(m.eval_count, 0) FROM path AS p JOIN messages AS m ON m.id = p.id"
    " WHERE m.role = 'assistant' AND (m.prompt_eval_count IS NOT NULL OR m.eval_count IS NOT NULL)"
    " ORDER BY p.depth LIMIT 1) FROM path"
)
"""The length of the path ending at :leaf, and its last measured context (used tokens)."""

_DEEPEST = sa.text(
    "WITH RECURSIVE down(id, depth) AS (SELECT :start, 0 UNION ALL"
    " SELECT (SELECT max(c.id) FROM messages AS c WHERE c.parent_id = down.id"
    " AND c.deleted_at IS NULL), depth + 1 FROM down WHERE down.id IS NOT NULL)"
    " SELECT id FROM down WHERE id IS NOT NULL ORDER BY depth DESC LIMIT 1"
)
"""The leaf reached from :start by following the newest child at every step."""

_SUBTREE = sa.text(
    "WITH RECURSIVE sub(id) AS (SELECT :root UNION ALL"
    " SELECT m.id FROM messages AS m JOIN sub ON m.parent_id = sub.id"
    " WHERE m.deleted_at IS NULL) SELECT id FROM sub"
)

_GROUPS = (
    "SELECT parent_id, id FROM messages WHERE chat_id = :chat AND deleted_at IS NULL"
    " AND (parent_id IN (SELECT parent_id FROM messages WHERE chat_id = :chat"
    " AND deleted_at IS NULL GROUP BY parent_id HAVING count(*) > 1)"
    " OR (parent_id IS NULL AND (SELECT count(*) FROM messages WHERE chat_id = :chat"
    " AND deleted_at IS NULL AND parent_id IS NULL) > 1)) ORDER BY id"
)

_BRANCH_POINTS = (
    "SELECT chat_id, count(*) FROM (SELECT chat_id, parent_id FROM messages"
    " WHERE deleted_at IS NULL {chats} GROUP BY chat_id, parent_id HAVING count(*) > 1)"
    " GROUP BY chat_id"
)


def path_ids(session: Session, leaf_id: int | None) -> list[int]:
    """The ids of the path ending at `leaf_id`, first message first."""
    if leaf_id is None:
        return []
    rows = session.execute(
        sa.text(_PATH + " SELECT id FROM path ORDER BY depth DESC"), {"leaf": leaf_id}
    )
    return [int(r[0]) for r in rows]


def deepest_leaf(session: Session, message_id: int) -> int:
    """The leaf below `message_id` on its newest versions (the message itself if it has no
    visible child)."""
    return int(session.execute(_DEEPEST, {"start": message_id}).scalar_one())


def set_active_leaf(session: Session, chat: ChatRow, leaf_id: int | None) -> None:
    """Show the path ending at `leaf_id`: the chat's count and context meter follow it."""
    chat.active_leaf_id = leaf_id
    if leaf_id is None:
        chat.message_count = 0
        chat.context_used = None
        return
    count, used = session.execute(_PATH_FACTS, {"leaf": leaf_id}).one()
    chat.message_count = int(count)
    chat.context_used = None if used is None else int(used)


def extend_active_path(session: Session, chat: ChatRow, parent_id: int | None, new_id: int) -> None:
    """A message `new_id` was added under `parent_id`: it becomes the active leaf."""
    if parent_id is not None and parent_id == chat.active_leaf_id:
        chat.active_leaf_id = new_id
        chat.message_count = (chat.message_count or 0) + 1
    else:
        session.flush()
        set_active_leaf(session, chat, new_id)


def live_row(session: Session, message_id: int) -> MessageRow:
    row = session.get(MessageRow, message_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"message {message_id} does not exist (it may have been deleted)")
    return row


def _siblings(session: Session, row: MessageRow) -> list[int]:
    parent = (
        MessageRow.parent_id.is_(None)
        if row.parent_id is None
        else MessageRow.parent_id == row.parent_id
    )
    query = sa.select(MessageRow.id).where(
        MessageRow.chat_id == row.chat_id, parent, MessageRow.deleted_at.is_(None)
    )
    return list(session.scalars(query.order_by(MessageRow.id)).all())


class TreeQueries(Transactions):
    """The versions part of `Database`: switch, delete and restore, and who has siblings."""

    def versions(self, chat_id: int) -> dict[int, Versions]:
        """For every visible message of the chat that has siblings: its versions."""
        with self._reading() as session:
            rows = session.execute(sa.text(_GROUPS), {"chat": chat_id}).all()
        groups: dict[int | None, list[int]] = {}
        for parent, id_ in rows:
            groups.setdefault(parent, []).append(int(id_))
        result: dict[int, Versions] = {}
        for ids in groups.values():
            for index, id_ in enumerate(ids):
                result[id_] = Versions(tuple(ids), index)
        return result

    def branch_points(self, chat_ids: list[int] | None = None) -> dict[int, int]:
        """Per chat: how many groups of versions (messages with siblings) it has; chats with
        none are left out."""
        chats = ""
        params: dict[str, Any] = {}
        if chat_ids is not None:
            if not chat_ids:
                return {}
            chats = "AND chat_id IN ({})".format(", ".join(f":c{i}" for i in range(len(chat_ids))))
            params = {f"c{i}": id_ for i, id_ in enumerate(chat_ids)}
        with self._reading() as session:
            rows = session.execute(sa.text(_BRANCH_POINTS.format(chats=chats)), params).all()
        return {int(chat): int(count) for chat, count in rows}

    def show_version(self, message_id: int) -> int:
        """Make the path through `message_id` (down its newest versions) the chat's active path.
        Returns the new active leaf."""
        with self._writing() as session:
            row = live_row(session, message_id)
            chat = chat_row(session, row.chat_id)
            leaf = deepest_leaf(session, message_id)
            if chat.active_leaf_id != leaf:
                set_active_leaf(session, chat, leaf)
            return leaf

    def show_message(self, message_id: int) -> int:
        """Make sure `message_id` is on its chat's active path (for a search hit): the path is
        left as it is when it already holds the message. Returns the active leaf."""
        with self._writing() as session:
            row = live_row(session, message_id)
            chat = chat_row(session, row.chat_id)
            if message_id in path_ids(session, chat.active_leaf_id):
                return cast(int, chat.active_leaf_id)
            leaf = deepest_leaf(session, message_id)
            set_active_leaf(session, chat, leaf)
            return leaf

    def delete_message(self, message_id: int) -> DeletedMessages:
        """Hide the message and everything that follows it (undo with `restore_messages`).
        When it was on the active path, the nearest version's path becomes active (the older
        one first), else the path ending at its parent."""
        stamp = utcnow()
        with self._writing() as session:
            row = live_row(session, message_id)
            chat = chat_row(session, row.chat_id)
            previous = chat.active_leaf_id
            on_path = message_id in path_ids(session, previous)
            siblings = _siblings(session, row)
            ids = [int(r[0]) for r in session.execute(_SUBTREE, {"root": message_id})]
            session.execute(
                sa.update(MessageRow).where(MessageRow.id.in_(ids)).values(deleted_at=stamp)
            )
            if on_path:
                at = siblings.index(message_id)
                others = siblings[:at][-1:] or siblings[at + 1 :][:1]
                leaf = deepest_leaf(session, others[0]) if others else row.parent_id
                set_active_leaf(session, chat, leaf)
            chat.updated_at = stamp
            return DeletedMessages(row.chat_id, tuple(ids), stamp, previous)

    def restore_messages(self, deleted: DeletedMessages) -> None:
        """Undo `delete_message`: the messages come back, and so does the path that was shown."""
        with self._writing() as session:
            chat = chat_row(session, deleted.chat_id)
            session.execute(
                sa.update(MessageRow)
                .where(MessageRow.id.in_(deleted.ids), MessageRow.deleted_at == deleted.stamp)
                .values(deleted_at=None)
            )
            session.flush()
            leaf = deleted.previous_leaf
            if leaf is not None and session.get(MessageRow, leaf) is None:
                leaf = chat.active_leaf_id
            set_active_leaf(session, chat, leaf)

    def discard_message(self, message_id: int) -> None:
        """Remove a message that never became part of the chat (a turn refused after its
        question was stored): gone for good, and its parent's path is shown again."""
        with self._writing() as session:
            row = session.get(MessageRow, message_id)
            if row is None:
                raise NotFound(f"message {message_id} does not exist (it may have been deleted)")
            chat = chat_row(session, row.chat_id)
            parent, was_active = row.parent_id, chat.active_leaf_id == message_id
            session.execute(sa.delete(MessageRow).where(MessageRow.id == message_id))
            session.execute(
                sa.update(MessageRow)
                .where(MessageRow.parent_id == message_id)
                .values(parent_id=parent)
            )
            if was_active:
                set_active_leaf(session, chat, parent)
