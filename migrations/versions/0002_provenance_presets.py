"""Provenance of answers, system-prompt presets, chat kinds, soft delete and the context meter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_CHAT_COLUMNS = ("kind", "deleted_at", "context_used", "context_limit")


def upgrade() -> None:
    # Plain ADD COLUMN: no table rebuild, so no ON DELETE CASCADE can fire while copying.
    op.add_column("chats", sa.Column("kind", sa.Text(), server_default="normal", nullable=False))
    op.add_column("chats", sa.Column("deleted_at", sa.DateTime(), nullable=True))
    op.add_column("chats", sa.Column("context_used", sa.Integer(), nullable=True))
    op.add_column("chats", sa.Column("context_limit", sa.Integer(), nullable=True))
    op.create_index("ix_chats_list", "chats", ["deleted_at", "pinned", "updated_at"])
    op.create_index("ix_messages_status", "messages", ["status"])

    op.create_table(
        "message_provenance",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("model_digest", sa.Text(), nullable=True),
        sa.Column("quantization", sa.Text(), nullable=True),
        sa.Column("requested_num_ctx", sa.Integer(), nullable=True),
        sa.Column("effective_num_ctx", sa.Integer(), nullable=True),
        sa.Column("gpu_percent", sa.Float(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("ollama_version", sa.Text(), nullable=True),
        sa.Column("tokens_per_second", sa.Float(), nullable=True),
        sa.Column("excluded_message_ids", sa.JSON(), nullable=False),
        sa.Column("warning", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_message_provenance_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name="pk_message_provenance"),
    )
    op.create_table(
        "presets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_presets"),
        sa.UniqueConstraint("name", name="uq_presets_name"),
    )

    # Answers that finished before this revision: fill the context meter of their chats from the
    # last assistant message that has token counts.
    op.execute(
        "UPDATE chats SET context_used = ("
        " SELECT coalesce(m.prompt_eval_count, 0) + coalesce(m.eval_count, 0) FROM messages m"
        " WHERE m.chat_id = chats.id AND m.role = 'assistant'"
        " AND (m.prompt_eval_count IS NOT NULL OR m.eval_count IS NOT NULL)"
        " ORDER BY m.id DESC LIMIT 1)"
    )
    op.execute("UPDATE chats SET context_limit = num_ctx WHERE context_used IS NOT NULL")


def downgrade() -> None:
    op.drop_table("presets")
    op.drop_table("message_provenance")
    op.drop_index("ix_messages_status", table_name="messages")
    op.drop_index("ix_chats_list", table_name="chats")
    for column in reversed(_NEW_CHAT_COLUMNS):
        op.drop_column("chats", column)
