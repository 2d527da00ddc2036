"""Imports keep each chat's origin and stage their chats; streaming answers name their writer.

- `chats.origin_id`, `chats.origin_created_at`: an imported chat's exported id and creation
  time, so that importing the same file again adds only what is missing. Imported chats get new
  ids (a kept id of 2**63 - 1 made SQLite pick random ids for every later chat).
- `chats.import_batch`: set on the chats an import has committed but not yet finished; such
  chats are shown nowhere, and those of an import whose process died are removed by the next
  process that writes.
- `messages.stream_owner`: the owner token of the process writing a `streaming` answer, so that
  another process marks it `interrupted` only once that process is gone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild): nullable columns, existing rows keep NULL.
    op.add_column("chats", sa.Column("origin_id", sa.Integer(), nullable=True))
    op.add_column("chats", sa.Column("origin_created_at", sa.DateTime(), nullable=True))
    op.add_column("chats", sa.Column("import_batch", sa.Text(), nullable=True))
    op.create_index("ix_chats_origin", "chats", ["origin_id", "origin_created_at"])
    op.add_column("messages", sa.Column("stream_owner", sa.Text(), nullable=True))


def downgrade() -> None:
    # Staged chats of an unfinished import were never shown: they go with their column.
    # Spelled out, since migrations may run with foreign keys (and so cascades) off.
    staged = "SELECT id FROM chats WHERE import_batch IS NOT NULL"
    op.execute(
        "DELETE FROM message_provenance WHERE message_id IN"
        f" (SELECT id FROM messages WHERE chat_id IN ({staged}))"
    )
    op.execute(f"DELETE FROM messages WHERE chat_id IN ({staged})")
    op.execute("DELETE FROM chats WHERE import_batch IS NOT NULL")
    # Plain DROP COLUMN: a table rebuild would drop the FTS and count triggers of messages.
    op.drop_column("messages", "stream_owner")
    op.drop_index("ix_chats_origin", table_name="chats")
    for column in ("import_batch", "origin_created_at", "origin_id"):
        op.drop_column("chats", column)
