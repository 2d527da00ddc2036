"""Keep each chat's message count in the chat row, and list chats without an index walk.

Counting 200,000 messages per chat list and walking ix_chats_list row by row took ~110 ms with
2,000 chats (budget 30 ms, bench/db_scale.py). A trigger-maintained count makes the list a read
of the small chats table, which a plain scan and sort serve faster than the index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "chats", sa.Column("message_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.drop_index("ix_chats_list", table_name="chats")
    # A message never moves to another chat, so inserts and deletes are all there is to count.
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


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS messages_count_delete")
    op.execute("DROP TRIGGER IF EXISTS messages_count_insert")
    op.create_index("ix_chats_list", "chats", ["deleted_at", "pinned", "updated_at"])
    op.drop_column("chats", "message_count")
