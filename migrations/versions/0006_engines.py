"""Engines: a chat remembers which engine answers it, and an answer where it came from.

- `chats.engine`: the name of the chat's engine profile; `ollama` (the default Ollama host) for
  every chat that existed before.
- `message_provenance`: `engine`, and what an OpenAI-compatible server reports beside the
  counts: `system_fingerprint`, `cached_tokens`, `reasoning_tokens`, and `usage_estimated` when
  it reported none (the meter then showed an estimate).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild, which would drop the FTS triggers of messages).
    op.add_column("chats", sa.Column("engine", sa.Text(), nullable=False, server_default="ollama"))
    op.add_column("message_provenance", sa.Column("engine", sa.Text(), nullable=True))
    op.add_column("message_provenance", sa.Column("system_fingerprint", sa.Text(), nullable=True))
    op.add_column("message_provenance", sa.Column("cached_tokens", sa.Integer(), nullable=True))
    op.add_column("message_provenance", sa.Column("reasoning_tokens", sa.Integer(), nullable=True))
    op.add_column(
        "message_provenance",
        sa.Column("usage_estimated", sa.Boolean(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    for column in (
        "usage_estimated",
        "reasoning_tokens",
        "cached_tokens",
        "system_fingerprint",
        "engine",
    ):
        op.drop_column("message_provenance", column)
    op.drop_column("chats", "engine")
