"""How long an answer reasoned: `message_provenance.thinking_seconds`, so that "Thought for
2.9 s" survives a restart (it was known only to the run that streamed the answer).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-13
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN: nullable, earlier answers keep NULL ("Reasoning" without a time).
    op.add_column("message_provenance", sa.Column("thinking_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("message_provenance", "thinking_seconds")
