"""Attachments: files attached to messages, kept once per content, with their text and parts.

- `attachment_files`: the original bytes of each file once per SHA-256, its extracted text, its
  kind, size and page count.
- `attachment_chunks`: the parts its text was cut into, with their pages and heading path.
- `message_attachments`: which message carries which file, under which name, in which order.
  A trigger deletes a file (and its parts) when the last message carrying it is deleted, so
  purging the trash removes the files no chat uses any more.
- `message_provenance.documents`: which parts of which documents an answer's question carried.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORPHANS = """
CREATE TRIGGER message_attachments_orphans AFTER DELETE ON message_attachments
BEGIN
    DELETE FROM attachment_files WHERE id = OLD.file_id
        AND NOT EXISTS (SELECT 1 FROM message_attachments WHERE file_id = OLD.file_id);
END
"""


def upgrade() -> None:
    op.create_table(
        "attachment_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment_files")),
        sa.UniqueConstraint("sha256", name=op.f("uq_attachment_files_sha256")),
    )
    op.create_table(
        "attachment_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_page", sa.Integer(), nullable=True),
        sa.Column("last_page", sa.Integer(), nullable=True),
        sa.Column("headings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["attachment_files.id"],
            name=op.f("fk_attachment_chunks_file_id_attachment_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment_chunks")),
        sa.UniqueConstraint("file_id", "seq", name=op.f("uq_attachment_chunks_file_id")),
    )
    op.create_table(
        "message_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_attachments_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["attachment_files.id"],
            name=op.f("fk_message_attachments_file_id_attachment_files"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_attachments")),
    )
    op.create_index(
        "ix_message_attachments_message_id", "message_attachments", ["message_id", "position"]
    )
    op.create_index("ix_message_attachments_file_id", "message_attachments", ["file_id"])
    op.execute(_ORPHANS)
    # Plain ADD COLUMN (no table rebuild).
    op.add_column("message_provenance", sa.Column("documents", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("message_provenance", "documents")
    op.execute("DROP TRIGGER IF EXISTS message_attachments_orphans")
    op.drop_index("ix_message_attachments_file_id", table_name="message_attachments")
    op.drop_index("ix_message_attachments_message_id", table_name="message_attachments")
    op.drop_table("message_attachments")
    op.drop_table("attachment_chunks")
    op.drop_table("attachment_files")
