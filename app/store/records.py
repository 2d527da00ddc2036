"""The plain, immutable objects the store returns. Safe to hand between threads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

# Shared with the backend and the chat layer; defined in the leaf module `app.values`.
from app.values import ChatStats as ChatStats
from app.values import Role as Role
from app.values import Status as Status


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
"""Marks an argument of an update that was not given (None is a real value for some fields)."""


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """Per-chat generation options. None means "leave it to the model / Ollama default"."""

    num_ctx: int | None = None
    temperature: float | None = None
    seed: int | None = None
    think: bool | None = None
    keep_alive: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Any other Ollama option (top_p, min_p, …), sent as given."""


@dataclass(frozen=True, slots=True)
class ContextUsage:
    """The last known fill of a chat's context window (from the last finished answer)."""

    used: int | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Chat:
    id: int
    title: str
    kind: str
    model: str
    system_prompt: str
    settings: ChatSettings
    pinned: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    context: ContextUsage
    message_count: int
    """The number of messages on the active path (the version of the chat on show)."""
    active_leaf_id: int | None = None
    """The last message of the active path; None when the chat has no messages."""
    engine: str = "ollama"
    """The name of the engine profile that answers the chat (`ollama`: the default host)."""


@dataclass(frozen=True, slots=True)
class SentPart:
    """A part of an attached document sent with a question (`seq` None: the whole document)."""

    attachment_id: int
    name: str
    sha256: str
    seq: int | None
    parts: int
    """How many parts the document has."""
    pages: tuple[int, ...] = ()
    headings: tuple[str, ...] = ()
    tokens: int = 0

    def location(self) -> str:
        """Where it is: "whole", "page 212 (part 141 of 300)", "Setup › Linux (part 3 of 9)"."""
        if self.seq is None:
            return "whole"
        where = ""
        if self.pages:
            first, last = self.pages[0], self.pages[-1]
            where = f"page {first}" if first == last else f"pages {first}–{last}"
        elif self.headings:
            where = " › ".join(self.headings)
        part = f"part {self.seq + 1} of {self.parts}"
        return f"{where} ({part})" if where else part


@dataclass(frozen=True, slots=True)
class SentDocuments:
    """What of the attached documents went into a request, in reading order."""

    method: str
    """"bm25", or "embeddings:<model>"."""
    tokens: int
    """Their estimated tokens: the context meter's "documents" share."""
    parts: tuple[SentPart, ...]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message, without its contents (see `Database.attachments`)."""

    id: int
    message_id: int
    name: str
    sha256: str
    kind: str
    size: int
    pages: int | None
    parts: int


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an answer came from. Every field may be unknown except the model name."""

    model: str
    model_digest: str | None = None
    quantization: str | None = None
    requested_num_ctx: int | None = None
    effective_num_ctx: int | None = None
    gpu_percent: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    ollama_version: str | None = None
    tokens_per_second: float | None = None
    excluded_message_ids: tuple[int, ...] = ()
    """Older messages of the chat PhiDesk left out of this request because they did not fit."""
    warning: str | None = None
    """E.g. "Ollama dropped more of the prompt than planned"."""
    engine: str | None = None
    """The engine profile that answered (None in answers from before engines existed)."""
    system_fingerprint: str | None = None
    cached_tokens: int | None = None
    """Prompt tokens an OpenAI-compatible server took from its cache."""
    reasoning_tokens: int | None = None
    """Tokens of the answer spent on reasoning (part of the stats' eval_count)."""
    usage_estimated: bool = False
    """The server reported no token counts for this answer; the meter showed an estimate."""
    documents: SentDocuments | None = None
    """The parts of attached documents sent with the question (None: no documents)."""
    thinking_seconds: float | None = None
    """How long the model reasoned before it began to answer ("Thought for 2.9 s")."""


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    chat_id: int
    role: Role
    content: str
    thinking: str
    status: Status
    error: str | None
    created_at: datetime
    updated_at: datetime
    stats: ChatStats | None
    provenance: Provenance | None
    parent_id: int | None = None
    """The message this one follows; messages with the same parent are its versions."""


@dataclass(frozen=True, slots=True)
class Versions:
    """The versions of one message: it and its siblings (same parent), oldest first."""

    ids: tuple[int, ...]
    index: int
    """0-based position of the message among `ids`."""

    @property
    def count(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class DeletedMessages:
    """What `Database.delete_message` hid, so that `restore_messages` can undo it exactly."""

    chat_id: int
    ids: tuple[int, ...]
    stamp: datetime
    previous_leaf: int | None


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What `Database.import_chats` did, each list in the order the chats were given."""

    added: list[Chat] = field(default_factory=list)
    """The chats added, as now stored (with their new ids)."""
    skipped: list[Chat] = field(default_factory=list)
    """For each chat given that was imported already (same exported id and creation time),
    the chat that holds it in this database, as stored."""


@dataclass(frozen=True, slots=True)
class Preset:
    id: int
    name: str
    text: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One message matching a search. `snippet` is plain text; `highlights` are (start, end)
    offsets of the matched terms inside it; `snippet_html` is the same snippet HTML-escaped with
    each match wrapped in <mark>…</mark>, safe to put into a page as it is."""

    chat_id: int
    message_id: int
    chat_title: str
    role: Role
    created_at: datetime
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    snippet_html: str
