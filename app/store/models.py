"""ORM models of PhiDesk's database. The Alembic migrations in `migrations/` build exactly this
schema (a test compares them); the FTS5 table `message_fts` and its triggers exist only in the
migrations, since autogenerate cannot describe virtual tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The allowed values of messages.role and messages.status (the CHECK constraints below).
from app.values import ROLES as ROLES
from app.values import STATUSES as STATUSES

FTS_TABLE = "message_fts"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime stored as SQLite's naive ISO text."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _empty_dict() -> dict[str, Any]:
    return {}


def _empty_list() -> list[int]:
    return []


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class ChatRow(Base):
    __tablename__ = "chats"
    __table_args__ = (sa.Index("ix_chats_origin", "origin_id", "origin_created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text, default="")
    kind: Mapped[str] = mapped_column(sa.Text, default="normal", server_default="normal")
    model: Mapped[str] = mapped_column(sa.Text, default="")
    system_prompt: Mapped[str] = mapped_column(sa.Text, default="")
    num_ctx: Mapped[int | None] = mapped_column(sa.Integer)
    temperature: Mapped[float | None] = mapped_column(sa.Float)
    seed: Mapped[int | None] = mapped_column(sa.Integer)
    think: Mapped[bool | None] = mapped_column(sa.Boolean)
    keep_alive: Mapped[str | None] = mapped_column(sa.Text)
    extra_options: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=_empty_dict)
    pinned: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    context_used: Mapped[int | None] = mapped_column(sa.Integer)
    context_limit: Mapped[int | None] = mapped_column(sa.Integer)
    message_count: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    """Kept by triggers on messages (migration 0003); read-only for the ORM."""
    origin_id: Mapped[int | None] = mapped_column(sa.Integer)
    """For an imported chat: its id where it was exported from (matched, never reused)."""
    origin_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """For an imported chat: its creation time as exported (with `origin_id`, its origin)."""
    active_leaf_id: Mapped[int | None] = mapped_column(sa.Integer)
    """The last message of the version of the conversation on show: the chat is the path from
    it up through its parents (migration 0005). None for a chat with no messages."""
    engine: Mapped[str] = mapped_column(sa.Text, default="ollama", server_default="ollama")
    """The name of the engine profile that answers the chat (migration 0006); `ollama` is the
    default Ollama host."""
    import_batch: Mapped[str | None] = mapped_column(sa.Text)
    """Set while an import stages the chat: `<owner token> <batch>`. A staged chat is shown
    nowhere; the import's last transaction clears this (see `app.store.importing`)."""

    messages: Mapped[list[MessageRow]] = relationship(
        back_populates="chat", passive_deletes=True, order_by="MessageRow.id"
    )


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        sa.CheckConstraint("role IN ('system', 'user', 'assistant')", name="role"),
        sa.CheckConstraint(
            "status IN ('complete', 'streaming', 'interrupted', 'error', 'stopped')", name="status"
        ),
        sa.Index("ix_messages_chat_id_id", "chat_id", "id"),
        sa.Index("ix_messages_status", "status"),
        sa.Index("ix_messages_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(sa.ForeignKey("chats.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(sa.Integer)
    """The message this one follows (None for a first message). Messages with the same parent
    are versions of each other: a regenerated answer, an edited question."""
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set on a deleted message and its whole subtree (undoable); purged with the chat trash."""
    role: Mapped[str] = mapped_column(sa.Text)
    content: Mapped[str] = mapped_column(sa.Text, default="")
    thinking: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.Text, default="complete")
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prompt_eval_count: Mapped[int | None] = mapped_column(sa.Integer)
    eval_count: Mapped[int | None] = mapped_column(sa.Integer)
    total_duration_ns: Mapped[int | None] = mapped_column(sa.BigInteger)
    load_duration_ns: Mapped[int | None] = mapped_column(sa.BigInteger)
    prompt_eval_duration_ns: Mapped[int | None] = mapped_column(sa.BigInteger)
    eval_duration_ns: Mapped[int | None] = mapped_column(sa.BigInteger)
    done_reason: Mapped[str | None] = mapped_column(sa.Text)
    stream_owner: Mapped[str | None] = mapped_column(sa.Text)
    """While `streaming`: the token of the writer's `app.store.owners.OwnerLock`."""

    chat: Mapped[ChatRow] = relationship(back_populates="messages")
    provenance: Mapped[ProvenanceRow | None] = relationship(
        back_populates="message", lazy="joined", passive_deletes=True
    )


class ProvenanceRow(Base):
    """Where an answer came from: which model build, with which settings, on which server."""

    __tablename__ = "message_provenance"

    message_id: Mapped[int] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(sa.Text, default="")
    model_digest: Mapped[str | None] = mapped_column(sa.Text)
    quantization: Mapped[str | None] = mapped_column(sa.Text)
    requested_num_ctx: Mapped[int | None] = mapped_column(sa.Integer)
    effective_num_ctx: Mapped[int | None] = mapped_column(sa.Integer)
    gpu_percent: Mapped[float | None] = mapped_column(sa.Float)
    options: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=_empty_dict)
    ollama_version: Mapped[str | None] = mapped_column(sa.Text)
    tokens_per_second: Mapped[float | None] = mapped_column(sa.Float)
    excluded_message_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=_empty_list)
    warning: Mapped[str | None] = mapped_column(sa.Text)
    engine: Mapped[str | None] = mapped_column(sa.Text)
    system_fingerprint: Mapped[str | None] = mapped_column(sa.Text)
    cached_tokens: Mapped[int | None] = mapped_column(sa.Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(sa.Integer)
    usage_estimated: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default="0")
    documents: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    """The parts of attached documents sent with the question (migration 0007): `method`,
    `tokens` and `parts` (see `app.store.attachments`); None when none were."""
    thinking_seconds: Mapped[float | None] = mapped_column(sa.Float)
    """Seconds from the first token of reasoning to the first of the answer (migration 0009)."""

    message: Mapped[MessageRow] = relationship(back_populates="provenance")


class AttachmentFileRow(Base):
    """The contents of an attached file, once per SHA-256 (migration 0007), with its extracted
    text; deleted by a trigger when no message refers to it any more."""

    __tablename__ = "attachment_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.Text, unique=True)
    kind: Mapped[str] = mapped_column(sa.Text)
    size: Mapped[int] = mapped_column(sa.Integer)
    pages: Mapped[int | None] = mapped_column(sa.Integer)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    text: Mapped[str] = mapped_column(sa.Text, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AttachmentChunkRow(Base):
    """One part of an attached file's text, where it stands (pages, heading path)."""

    __tablename__ = "attachment_chunks"
    __table_args__ = (sa.UniqueConstraint("file_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(sa.ForeignKey("attachment_files.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(sa.Integer)
    text: Mapped[str] = mapped_column(sa.Text)
    first_page: Mapped[int | None] = mapped_column(sa.Integer)
    last_page: Mapped[int | None] = mapped_column(sa.Integer)
    headings: Mapped[list[str]] = mapped_column(sa.JSON, default=list)


class MessageAttachmentRow(Base):
    """A file attached to a (user) message, under the name it had."""

    __tablename__ = "message_attachments"
    __table_args__ = (
        sa.Index("ix_message_attachments_message_id", "message_id", "position"),
        sa.Index("ix_message_attachments_file_id", "file_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("messages.id", ondelete="CASCADE"))
    file_id: Mapped[int] = mapped_column(sa.ForeignKey("attachment_files.id"))
    name: Mapped[str] = mapped_column(sa.Text)
    position: Mapped[int] = mapped_column(sa.Integer, default=0)


class PresetRow(Base):
    """A named system prompt."""

    __tablename__ = "presets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, unique=True)
    text: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComparisonRow(Base):
    """One prompt sent to several targets side by side (migration 0008)."""

    __tablename__ = "comparisons"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text, default="")
    prompt: Mapped[str] = mapped_column(sa.Text, default="")
    system_prompt: Mapped[str] = mapped_column(sa.Text, default="")
    options: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=_empty_dict)
    """What every target got (`temperature`, `seed`, other options) and how it ran
    (`parallel`, `warm_up`)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ComparisonTargetRow(Base):
    """One column of a comparison: a model on an engine, the chat with its answer, its
    figures."""

    __tablename__ = "comparison_targets"
    __table_args__ = (
        sa.UniqueConstraint("comparison_id", "position"),
        sa.Index("ix_comparison_targets_chat_id", "chat_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    comparison_id: Mapped[int] = mapped_column(sa.ForeignKey("comparisons.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(sa.Integer)
    chat_id: Mapped[int | None] = mapped_column(sa.ForeignKey("chats.id", ondelete="SET NULL"))
    model: Mapped[str] = mapped_column(sa.Text)
    engine: Mapped[str] = mapped_column(sa.Text, default="ollama")
    status: Mapped[str] = mapped_column(sa.Text, default="waiting")
    error: Mapped[str | None] = mapped_column(sa.Text)
    fit_warning: Mapped[str | None] = mapped_column(sa.Text)
    figures: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=_empty_dict)
