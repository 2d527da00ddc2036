"""Conversations become trees: regenerate and edit keep every version, and deleting is undoable.

- `messages.parent_id`: the message each one follows; siblings are versions of each other.
  Every existing chat becomes one path (each message's parent is the one before it).
- `messages.deleted_at`: a deleted message and its subtree are hidden, not removed, until the
  chat trash is purged.
- `chats.active_leaf_id`: the last message of the version on show (the newest message here).
- `chats.message_count` now counts the active path, so the triggers that counted every row
  are dropped: SQLite triggers cannot walk a path (no WITH inside a trigger), and the store
  keeps the count whenever the path changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild, which would drop the FTS triggers of messages).
    op.add_column("messages", sa.Column("parent_id", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("deleted_at", sa.DateTime(), nullable=True))
    op.add_column("chats", sa.Column("active_leaf_id", sa.Integer(), nullable=True))
    op.create_index("ix_messages_parent_id", "messages", ["parent_id"])
    # ix_messages_chat_id_id serves the lookup of each message's predecessor.
    op.execute(
        "UPDATE messages SET parent_id = (SELECT max(p.id) FROM messages AS p"
        " WHERE p.chat_id = messages.chat_id AND p.id < messages.id)"
    )
    op.execute(
        "UPDATE chats SET active_leaf_id ="
        " (SELECT max(m.id) FROM messages AS m WHERE m.chat_id = chats.id)"
    )
    op.execute("DROP TRIGGER IF EXISTS messages_count_insert")
    op.execute("DROP TRIGGER IF EXISTS messages_count_delete")


_OFF_PATH = (
    "WITH RECURSIVE path(id, parent_id) AS ("
    " SELECT m.id, m.parent_id FROM messages AS m JOIN chats AS c ON m.id = c.active_leaf_id"
    " WHERE m.deleted_at IS NULL"
    " UNION ALL SELECT m.id, m.parent_id FROM messages AS m JOIN path ON m.id = path.parent_id)"
    " SELECT id FROM messages WHERE id NOT IN (SELECT id FROM path)"
)


def downgrade() -> None:
    # An older PhiDesk reads a chat as a list: only the version on show is kept.
    # Spelled out, since migrations may run with foreign keys (and so cascades) off.
    op.execute(f"DELETE FROM message_provenance WHERE message_id IN ({_OFF_PATH})")
    op.execute(f"DELETE FROM messages WHERE id IN ({_OFF_PATH})")
    op.execute(
        "CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN "
        "UPDATE chats SET message_count = message_count + 1 WHERE id = new.chat_id; END"
    )
    op.execute(
        "CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN "
        "UPDATE chats SET message_count = message_count - 1 WHERE id = old.chat_id; END"
    )
    op.execute(
        "UPDATE chats SET message_count = "
        "(SELECT count(*) FROM messages WHERE messages.chat_id = chats.id)"
    )
    op.drop_index("ix_messages_parent_id", table_name="messages")
    op.drop_column("chats", "active_leaf_id")
    op.drop_column("messages", "deleted_at")
    op.drop_column("messages", "parent_id")
