"""Writing the export: one chat and its messages as the Markdown text of a PhiDesk export."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from app import __version__
from app.backend.events import ChatStats
from app.chat.transfer.attached import AttachedFile, write_attachments
from app.chat.transfer.fences import closing_lines
from app.chat.transfer.markers import (
    FORMAT_VERSION,
    MARKER_KEY,
    META_PREFIX,
    META_SUFFIX,
    TREE_FORMAT_VERSION,
)
from app.chat.transfer.scalars import flow
from app.chat.transfer.tree import Numbering, numbering
from app.store import Chat, Database, Message, Provenance
from app.store.records import SentDocuments
from app.store.sent import documents_json

ROLE_LABELS: Final[dict[str, str]] = {"user": "User", "assistant": "Assistant", "system": "System"}
UNTITLED: Final = "Untitled chat"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _shown_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def chat_quantization(messages: Sequence[Message]) -> str | None:
    """The quantization of the newest answer that recorded one."""
    for message in reversed(messages):
        if message.provenance is not None and message.provenance.quantization:
            return message.provenance.quantization
    return None


@dataclass(frozen=True, slots=True)
class _Block:
    """A piece of verbatim text as it goes into the file."""

    lines: int
    eol: bool
    text: str
    closers: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> _Block:
        if not text:
            return cls(0, True, "", ())
        eol = text.endswith("\n")
        body = text if eol else text + "\n"
        return cls(body.count("\n"), eol, body, closing_lines(body).lines)

    def meta(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"lines": self.lines}
        if not self.eol:
            facts["eol"] = False
        if self.closers:
            facts["close"] = len(self.closers)
        return facts

    def write(self, out: list[str]) -> None:
        if self.lines:
            out.append(self.text)
            out.extend(line + "\n" for line in self.closers)
            out.append("\n")


def _stats_meta(stats: ChatStats) -> dict[str, Any]:
    return {
        "prompt_eval_count": stats.prompt_eval_count,
        "eval_count": stats.eval_count,
        "total_duration_ns": stats.total_duration_ns,
        "load_duration_ns": stats.load_duration_ns,
        "prompt_eval_duration_ns": stats.prompt_eval_duration_ns,
        "eval_duration_ns": stats.eval_duration_ns,
        "done_reason": stats.done_reason,
    }


def _documents_meta(sent: SentDocuments, numbers: Mapping[int, int]) -> dict[str, Any]:
    facts = documents_json(sent)
    # Attachment ids mean nothing in another database: refer to files by their place in the
    # file (1 = first attached file), None for one not in it.
    for part, raw in zip(sent.parts, facts["parts"], strict=True):
        raw["attachment"] = numbers.get(part.attachment_id)
    return facts


def _provenance_meta(
    provenance: Provenance, positions: dict[int, int], numbers: Mapping[int, int]
) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "model": provenance.model,
        "model_digest": provenance.model_digest,
        "quantization": provenance.quantization,
        "requested_num_ctx": provenance.requested_num_ctx,
        "effective_num_ctx": provenance.effective_num_ctx,
        "gpu_percent": provenance.gpu_percent,
        "options": dict(provenance.options),
        "ollama_version": provenance.ollama_version,
        "tokens_per_second": provenance.tokens_per_second,
        # Message ids mean nothing in another database: refer to messages by position (1 = first).
        "excluded_messages": [
            positions[i] for i in provenance.excluded_message_ids if i in positions
        ],
        "warning": provenance.warning,
    }
    if provenance.documents is not None:
        facts["documents"] = _documents_meta(provenance.documents, numbers)
    return facts


def _provenance_note(provenance: Provenance | None, stats: ChatStats | None) -> str:
    parts: list[str] = []
    if provenance is not None:
        parts.append(provenance.model or "unknown model")
        if provenance.quantization:
            parts.append(provenance.quantization)
        if provenance.effective_num_ctx is not None:
            parts.append(f"num_ctx {provenance.effective_num_ctx}")
        elif provenance.requested_num_ctx is not None:
            parts.append(f"num_ctx {provenance.requested_num_ctx}")
        if provenance.gpu_percent is not None:
            parts.append(f"{provenance.gpu_percent:g}% GPU")
    tokens_per_second = provenance.tokens_per_second if provenance else None
    if tokens_per_second is None and stats is not None:
        tokens_per_second = stats.tokens_per_second
    if tokens_per_second is not None:
        parts.append(f"{tokens_per_second:.1f} tokens/s")
    if stats is not None and stats.context_used is not None:
        parts.append(f"{stats.context_used} tokens in context")
    if provenance is not None and provenance.ollama_version:
        parts.append(f"Ollama {provenance.ollama_version}")
    if provenance is not None and provenance.warning:
        parts.append(f"warning: {provenance.warning}")
    shown = _one_line(" · ".join(parts)).replace("\\", "\\\\").replace("*", "\\*")
    return "> *" + shown + "*"


def _meta_line(meta: dict[str, Any]) -> str:
    # ASCII JSON with every ">" escaped: the comment cannot end early or hold a line break.
    text = json.dumps(meta, ensure_ascii=True).replace(">", "\\u003e")
    return META_PREFIX + text + META_SUFFIX


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a message sits in the tree of a format 2 file."""

    number: int
    parent: int | None
    version: int
    versions: int

    def meta(self) -> dict[str, Any]:
        return (
            {"n": self.number} if self.parent is None else {"n": self.number, "parent": self.parent}
        )

    def shown(self) -> str:
        """For people reading the heading: "#3 after #1 · version 2 of 2"."""
        text = f" · #{self.number}" + ("" if self.parent is None else f" after #{self.parent}")
        return text + (f" · version {self.version} of {self.versions}" if self.versions > 1 else "")


def _places(tree: Numbering) -> list[_Place]:
    return [
        _Place(number, parent, version, versions)
        for number, (parent, (version, versions)) in enumerate(
            zip(tree.parents, tree.versions(), strict=True), start=1
        )
    ]


def _message_section(
    message: Message,
    positions: dict[int, int],
    *,
    include_thinking: bool,
    include_provenance: bool,
    place: _Place | None = None,
    files: Sequence[AttachedFile] = (),
    numbers: Mapping[int, int] | None = None,
) -> list[str]:
    content = _Block.of(message.content)
    thinking = _Block.of(message.thinking if include_thinking else "")
    meta: dict[str, Any] = {} if place is None else place.meta()
    meta.update(
        role=message.role,
        created=_iso(message.created_at),
        updated=_iso(message.updated_at),
    )
    if message.status != "complete":
        meta["status"] = message.status
    if message.error is not None:
        meta["error"] = message.error
    meta.update(content.meta())
    if files:
        meta["attachments"] = len(files)
    if thinking.lines:
        meta["thinking"] = thinking.meta()
    stats = message.stats if include_provenance else None
    provenance = message.provenance if include_provenance else None
    if stats is not None:
        meta["stats"] = _stats_meta(stats)
    if provenance is not None:
        meta["provenance"] = _provenance_meta(provenance, positions, numbers or {})

    heading = f"## {ROLE_LABELS[message.role]} · {_shown_time(message.created_at)}"
    if message.status != "complete":
        heading += f" · {message.status}"
    if place is not None:
        heading += place.shown()
    out = [heading + "\n", _meta_line(meta) + "\n", "\n"]
    if thinking.lines:
        out.append("<details>\n<summary>Reasoning</summary>\n\n")
        thinking.write(out)
        out.append("</details>\n\n")
    content.write(out)
    write_attachments(files, out)
    if message.error:
        out.append("> **Error:** " + _one_line(message.error) + "\n\n")
    if stats is not None or provenance is not None:
        out.append(_provenance_note(provenance, stats) + "\n\n")
    return out


def chat_to_markdown(
    chat: Chat,
    messages: Sequence[Message],
    *,
    include_thinking: bool = True,
    include_provenance: bool = False,
    exported_at: datetime | None = None,
    all_branches: bool = False,
    attachments: Mapping[int, Sequence[AttachedFile]] | None = None,
) -> str:
    """The Markdown export of `chat` with `messages` (oldest first): the chat as shown (its
    active path), or with `all_branches` every version of its messages (as
    `Database.all_messages` lists them, parents before children), in format 2 unless they are
    one path ending at the chat's active leaf and carry no `attachments` (the files attached to
    messages, by message id)."""
    exported_at = exported_at or datetime.now(UTC)
    settings = chat.settings
    files = [list(attachments.get(m.id, ())) if attachments else [] for m in messages]
    tree = numbering(chat, messages) if all_branches else None
    if tree is None and any(files):
        # Format 2, which numbers its messages, even for one path.
        tree = Numbering((None, *range(1, len(messages))), len(messages))
    shown = messages if tree is None else [messages[n - 1] for n in tree.path()]
    fields: list[tuple[str, Any]] = [
        (MARKER_KEY, FORMAT_VERSION if tree is None else TREE_FORMAT_VERSION),
        ("title", chat.title),
        ("id", chat.id),
        ("created", _iso(chat.created_at)),
        ("updated", _iso(chat.updated_at)),
        ("model", chat.model),
        # Left out for the default engine, so a chat on it exports as it always did.
        *([] if chat.engine == "ollama" else [("engine", chat.engine)]),
        ("quantization", chat_quantization(shown)),
        ("num_ctx", settings.num_ctx),
        ("temperature", settings.temperature),
        ("seed", settings.seed),
        ("think", settings.think),
        ("keep_alive", settings.keep_alive),
        ("options", dict(settings.extra)),
        ("kind", chat.kind),
        ("pinned", chat.pinned),
        ("context_used", chat.context.used),
        ("context_limit", chat.context.limit),
        ("system_prompt", chat.system_prompt),
        ("messages", len(messages)),
        *([] if tree is None else [("active_leaf", tree.active)]),
        ("reasoning", include_thinking),
        ("provenance", include_provenance),
        ("phidesk_version", __version__),
        ("exported_at", _iso(exported_at)),
    ]
    out = ["---\n"]
    out.extend(f"{key}: {flow(value)}\n" for key, value in fields)
    out.append("---\n\n")
    out.append("# " + (_one_line(chat.title) or UNTITLED) + "\n\n")
    positions = {message.id: n for n, message in enumerate(messages, start=1)}
    places: list[_Place | None] = [None] * len(messages) if tree is None else [*_places(tree)]
    numbers = {f.id: n for n, f in enumerate((f for m in files for f in m), start=1)}
    for message, place, attached in zip(messages, places, files, strict=True):
        out.extend(
            _message_section(
                message,
                positions,
                include_thinking=include_thinking,
                include_provenance=include_provenance,
                place=place,
                files=attached,
                numbers=numbers,
            )
        )
    return "".join(out)


def stored_attachments(
    db: Database, messages: Sequence[Message]
) -> tuple[dict[int, list[AttachedFile]], frozenset[str]]:
    """The files attached to `messages` as an export writes them, by message id; and the
    SHA-256 of those whose original is kept."""
    listed = db.attachments([m.id for m in messages])
    texts = db.attachment_texts([a.sha256 for found in listed.values() for a in found])
    kept = frozenset(sha for sha, stored in texts.items() if stored.original)
    files = {
        message_id: [
            AttachedFile(
                a.name,
                a.sha256,
                a.kind,
                a.size,
                a.pages,
                texts[a.sha256].text,
                texts[a.sha256].chunks,
                a.id,
            )
            for a in found
        ]
        for message_id, found in listed.items()
        if found
    }
    return files, kept


def export_chat_markdown(
    db: Database,
    chat_id: int,
    *,
    include_thinking: bool = True,
    include_provenance: bool = False,
    exported_at: datetime | None = None,
    all_branches: bool = False,
) -> str:
    """One chat as Markdown (also for "copy chat as Markdown"): its active path, or with
    `all_branches` every version. Raises `NotFound`."""
    chat = db.get_chat(chat_id)
    messages = db.all_messages(chat_id) if all_branches else db.messages(chat_id)
    return chat_to_markdown(
        chat,
        messages,
        include_thinking=include_thinking,
        include_provenance=include_provenance,
        exported_at=exported_at,
        all_branches=all_branches,
        attachments=stored_attachments(db, messages)[0],
    )
