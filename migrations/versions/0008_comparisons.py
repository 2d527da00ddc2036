"""Comparisons: one prompt sent to several models (or quantizations, or engines), side by side.

- `comparisons`: the prompt, its system prompt and the options every target got (the same seed
  and temperature), soft-deleted like chats.
- `comparison_targets`: one row per target in its column order: the model and engine, the chat
  that holds its answer (a normal chat of kind `compare`, hidden from the chat list until the
  user continues it), how it ended and the figures measured for it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparisons")),
    )
    op.create_table(
        "comparison_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("engine", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("fit_warning", sa.Text(), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_comparison_targets_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_comparison_targets_chat_id_chats"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparison_targets")),
        sa.UniqueConstraint(
            "comparison_id", "position", name=op.f("uq_comparison_targets_comparison_id")
        ),
    )
    op.create_index("ix_comparison_targets_chat_id", "comparison_targets", ["chat_id"])


def downgrade() -> None:
    op.drop_index("ix_comparison_targets_chat_id", table_name="comparison_targets")
    op.drop_table("comparison_targets")
    op.drop_table("comparisons")
