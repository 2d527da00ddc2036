"""Reading an export back: the parser that checks a PhiDesk export line by line and turns it
into store records, and the import of one text into the database."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import MAXYEAR, MINYEAR, UTC, datetime
from typing import Any, Final, cast, get_args

from app.backend.events import ChatStats
from app.chat.transfer.attached import AttachedFile, read_attachments
from app.chat.transfer.errors import DamagedExport, NotAnExport, TransferError
from app.chat.transfer.lines import (
    _OPT_BOOL,
    _OPT_FLOAT,
    _OPT_INT,
    _OPT_STR,
    _damaged,
    _get,
    _json,
    _Lines,
    _meta,
    _TooDeep,
)
from app.chat.transfer.markers import (
    FORMAT_VERSION,
    MARKER_KEY,
    NEWEST_FORMAT,
    TREE_FORMAT_VERSION,
)
from app.chat.transfer.tree import active_path, tree_problem
from app.store import (
    Chat,
    ChatSettings,
    ContextUsage,
    Database,
    Message,
    Provenance,
    Role,
    Status,
)
from app.store.attachments import ImportedAttachment
from app.store.sent import sent_documents


@dataclass(frozen=True, slots=True)
class ParsedExport:
    """A PhiDesk export read back: the chat and its messages as store records.

    Message ids are their positions (1 = first) and `chat.id` is the id the chat had; the
    store assigns real ids on import. A format 2 file (every version) gives each message's
    `parent_id` and the chat's `active_leaf_id`, as positions; format 1 leaves them None (the
    messages are one path, in order). `heading_offsets[i]` is where message i's heading starts
    in the parsed text, `content_offsets[i]` where its content starts and ends.
    """

    chat: Chat
    messages: tuple[Message, ...]
    quantization: str | None
    heading_offsets: tuple[int, ...]
    content_offsets: tuple[tuple[int, int], ...]
    attachments: Mapping[int, tuple[AttachedFile, ...]] = field(default_factory=dict)
    """The files attached to messages, by message position; each file's `id` is its number
    in the file (1 = first), by which the provenances' documents name it."""

    def files_to_import(self) -> dict[int, list[ImportedAttachment]]:
        """The attached files to store, by message position, with no original (a Markdown
        file holds only their text)."""
        return {
            position: [to_import(file, None) for file in files]
            for position, files in self.attachments.items()
        }

    def messages_to_import(self) -> tuple[Message, ...]:
        """The messages to store. When the file carried no per-answer provenance, the chat's
        quantization goes on the last answer, from where the next export reads it again."""
        messages = self.messages
        if (
            self.quantization is None
            or not messages
            or any(m.provenance is not None for m in messages)
        ):
            return messages
        if self.chat.active_leaf_id is None:
            path = list(range(len(messages)))
        else:
            parents = [m.parent_id for m in messages]
            path = [n - 1 for n in active_path(self.chat.active_leaf_id, parents)]
        answers = [i for i in path if messages[i].role == "assistant"]
        target = answers[-1] if answers else path[-1]
        provenance = Provenance(model=self.chat.model, quantization=self.quantization)
        return (
            *messages[:target],
            replace(messages[target], provenance=provenance),
            *messages[target + 1 :],
        )


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _time(value: str, what: str, damaged: Callable[[str], DamagedExport]) -> datetime:
    """The time `value` names, in UTC; `damaged` makes the error for one that is not a time."""
    out_of_range = damaged(f"the {what} {_shown(value)} is out of range")
    try:
        moment = datetime.fromisoformat(value)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError:
        raise damaged(f"the {what} {_shown(value)} is not a time") from None
    except OverflowError:
        raise out_of_range from None
    # A day's margin either way, so that the time is a date in every time zone.
    if not MINYEAR < moment.year < MAXYEAR:
        raise out_of_range
    return moment


def _front_matter(lines: _Lines) -> dict[str, Any]:
    """Read the front matter, or raise NotAnExport if this is not PhiDesk's."""
    not_ours = NotAnExport(
        f"{lines.source} is not a PhiDesk export: PhiDesk can only import the Markdown files it "
        f"exports, which start with front matter holding '{MARKER_KEY}: {FORMAT_VERSION}'"
    )
    text = lines.text
    if not text.startswith("---\n"):
        raise not_ours
    # `close` is the line break before the "---" that ends the front matter.
    close = text.find("\n---\n", 3)
    if close < 0 and text.endswith("\n---") and len(text) > 7:
        close = len(text) - 4
    if close < 0 or text.find(f"\n{MARKER_KEY}:", 3, close) < 0:
        raise not_ours
    lines.take()
    facts: dict[str, Any] = {}
    while lines.offset <= close:
        line = lines.take()
        key, sep, value = line.partition(": ")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            lines.index -= 1
            raise lines.damaged("a front matter line is not 'key: value'")
        try:
            facts[key] = _json(value)
        except ValueError as exc:
            lines.index -= 1
            why = "is nested too deeply" if isinstance(exc, _TooDeep) else "is not readable"
            raise lines.damaged(f"the front matter value of {key!r} {why}") from None
    lines.take()
    version = facts.get(MARKER_KEY)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise lines.damaged(f"'{MARKER_KEY}' is not a format number")
    if version > NEWEST_FORMAT:
        raise TransferError(
            f"{lines.source} was exported by a newer PhiDesk (format {version}); update PhiDesk "
            "to import it"
        )
    return facts


def _parse_stats(facts: dict[str, Any], lines: _Lines) -> ChatStats:
    what = "message's stats"
    return ChatStats(
        prompt_eval_count=_get(facts, "prompt_eval_count", _OPT_INT, what, lines, default=None),
        eval_count=_get(facts, "eval_count", _OPT_INT, what, lines, default=None),
        total_duration_ns=_get(facts, "total_duration_ns", _OPT_INT, what, lines, default=None),
        load_duration_ns=_get(facts, "load_duration_ns", _OPT_INT, what, lines, default=None),
        prompt_eval_duration_ns=_get(
            facts, "prompt_eval_duration_ns", _OPT_INT, what, lines, default=None
        ),
        eval_duration_ns=_get(facts, "eval_duration_ns", _OPT_INT, what, lines, default=None),
        done_reason=_get(facts, "done_reason", _OPT_STR, what, lines, default=None),
    )


def _parse_provenance(facts: dict[str, Any], lines: _Lines, count: int) -> Provenance:
    what = "message's provenance"
    excluded = _get(facts, "excluded_messages", list, what, lines, default=[])
    if not all(isinstance(i, int) and 1 <= i <= count for i in excluded):
        raise lines.damaged("a provenance names messages that are not in the file")
    return Provenance(
        model=_get(facts, "model", str, what, lines, default=""),
        model_digest=_get(facts, "model_digest", _OPT_STR, what, lines, default=None),
        quantization=_get(facts, "quantization", _OPT_STR, what, lines, default=None),
        requested_num_ctx=_get(facts, "requested_num_ctx", _OPT_INT, what, lines, default=None),
        effective_num_ctx=_get(facts, "effective_num_ctx", _OPT_INT, what, lines, default=None),
        gpu_percent=_get(facts, "gpu_percent", _OPT_FLOAT, what, lines, default=None),
        options=_get(facts, "options", dict, what, lines, default={}),
        ollama_version=_get(facts, "ollama_version", _OPT_STR, what, lines, default=None),
        tokens_per_second=_get(facts, "tokens_per_second", _OPT_FLOAT, what, lines, default=None),
        excluded_message_ids=tuple(excluded),
        warning=_get(facts, "warning", _OPT_STR, what, lines, default=None),
        documents=sent_documents(facts.get("documents")),
    )


def _place(meta: dict[str, Any], position: int, count: int, lines: _Lines) -> int | None:
    """The parent of message `position` in a format 2 file (None for a first message), after
    checking that the message is numbered by its place and its parent is in the file."""
    label = f"message {position}"
    number = _get(meta, "n", int, label, lines)
    if number != position:
        raise lines.damaged(f"{label} is numbered {number}")
    parent: int | None = _get(meta, "parent", _OPT_INT, label, lines, default=None)
    if parent is not None and not 1 <= parent <= count:
        raise lines.damaged(f"{label} follows message {parent}, which is not in the file")
    return parent


_ROLES: Final = frozenset(get_args(Role))
_STATUSES: Final = frozenset(get_args(Status))


def to_import(
    file: AttachedFile, original: Callable[[], Iterator[bytes]] | None
) -> ImportedAttachment:
    return ImportedAttachment(
        file.id,
        file.name,
        file.sha256,
        file.kind,
        file.size,
        file.pages,
        file.text,
        file.chunks,
        original,
    )


def parse_markdown(text: str, *, source: str = "the text") -> ParsedExport:
    """Read a PhiDesk export. Raises `NotAnExport` for any other Markdown and `DamagedExport`
    for an export whose structure was broken (e.g. lines added or removed by hand)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.startswith("---\r\n"):
        # An editor or a checkout turned every line ending into CRLF; read it as LF.
        text = text.replace("\r\n", "\n")
    lines = _Lines(text, source)
    facts = _front_matter(lines)
    if facts.get("comparison") is True:
        raise TransferError(
            f"{source} is a comparison export, which is imported on its own "
            "(phidesk import FILE), not with chats"
        )
    what = "front matter"

    def field(key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        return _get(facts, key, kind, what, None, default=default, source=source)

    count = field("messages", int)
    chat_id = field("id", int, 0)
    tree = facts[MARKER_KEY] >= TREE_FORMAT_VERSION

    def front_damaged(why: str) -> DamagedExport:
        return _damaged(source, why)

    active = field("active_leaf", _OPT_INT) if tree else None
    if tree and not (count == 0 if active is None else 1 <= active <= count):
        raise front_damaged(f"the active message, {active}, is not in the file")

    created = _time(field("created", str), "chat's creation time", front_damaged)
    chat = Chat(
        id=chat_id if chat_id > 0 else 0,
        title=field("title", str, ""),
        kind=field("kind", str, "normal"),
        model=field("model", str, ""),
        system_prompt=field("system_prompt", str, ""),
        settings=ChatSettings(
            num_ctx=field("num_ctx", _OPT_INT, None),
            temperature=field("temperature", _OPT_FLOAT, None),
            seed=field("seed", _OPT_INT, None),
            think=field("think", _OPT_BOOL, None),
            keep_alive=field("keep_alive", _OPT_STR, None),
            extra=field("options", dict, {}),
        ),
        pinned=field("pinned", bool, False),
        created_at=created,
        updated_at=_time(field("updated", str, created.isoformat()), "chat's time", front_damaged),
        deleted_at=None,
        context=ContextUsage(
            used=field("context_used", _OPT_INT, None),
            limit=field("context_limit", _OPT_INT, None),
        ),
        message_count=count,
        active_leaf_id=active,
        engine=field("engine", str, "ollama") or "ollama",
    )
    lines.expect("")
    if not lines.take().startswith("# "):
        lines.index -= 1
        raise lines.damaged("expected the title heading")
    lines.expect("")

    messages: list[Message] = []
    attachments: dict[int, tuple[AttachedFile, ...]] = {}
    numbered = 0
    headings: list[int] = []
    spans: list[tuple[int, int]] = []
    for position in range(1, count + 1):
        headings.append(lines.offset)
        if not lines.take().startswith("## "):
            lines.index -= 1
            raise lines.damaged(f"expected the heading of message {position}")
        meta = _meta(lines.take(), lines)
        lines.expect("")
        label = f"message {position}"
        parent = _place(meta, position, count, lines) if tree else None
        role = _get(meta, "role", str, label, lines)
        status = _get(meta, "status", str, label, lines, default="complete")
        if role not in _ROLES or status not in _STATUSES:
            raise lines.damaged(f"message {position} has an unknown role or status")
        thinking = ""
        if "thinking" in meta:
            for exact in ("<details>", "<summary>Reasoning</summary>", ""):
                lines.expect(exact)
            thinking, _ = lines.block(
                _get(meta, "thinking", dict, label, lines), f"reasoning of {label}"
            )
            lines.expect("</details>")
            lines.expect("")
        content, span = lines.block(meta, label)
        spans.append(span)
        attached = _get(meta, "attachments", int, label, lines, default=0)
        if attached < 0:
            raise lines.damaged(f"{label} has a negative number of files")
        if attached:
            attachments[position] = tuple(read_attachments(lines, attached, label, numbered))
            numbered += attached
        error = _get(meta, "error", _OPT_STR, label, lines, default=None)
        if error:
            if not lines.take().startswith("> "):
                lines.index -= 1
                raise lines.damaged(f"expected the error note of {label}")
            lines.expect("")
        created_at = _get(meta, "created", str, label, lines)
        updated_at = _get(meta, "updated", str, label, lines)
        stats_facts = _get(meta, "stats", (dict, type(None)), label, lines, default=None)
        provenance_facts = _get(meta, "provenance", (dict, type(None)), label, lines, default=None)
        if stats_facts is not None or provenance_facts is not None:
            if not lines.take().startswith("> "):
                lines.index -= 1
                raise lines.damaged(f"expected the provenance note of {label}")
            lines.expect("")
        messages.append(
            Message(
                id=position,
                chat_id=chat.id,
                role=cast(Role, role),
                content=content,
                thinking=thinking,
                status=cast(Status, status),
                error=error,
                created_at=_time(created_at, "message time", lines.damaged),
                updated_at=_time(updated_at, "message time", lines.damaged),
                stats=None if stats_facts is None else _parse_stats(stats_facts, lines),
                provenance=None
                if provenance_facts is None
                else _parse_provenance(provenance_facts, lines, count),
                parent_id=parent,
            )
        )
    if not lines.at_end:
        raise lines.damaged("there is more text after the last message")
    problem = tree_problem([m.parent_id for m in messages]) if tree else None
    if problem is not None:
        raise front_damaged(problem)
    quantization = field("quantization", _OPT_STR, None)
    return ParsedExport(
        chat, tuple(messages), quantization, tuple(headings), tuple(spans), attachments
    )


def import_markdown(db: Database, text: str, *, source: str = "the text") -> Chat:
    """Add the chat exported in `text` to `db` with its messages, roles, times and settings,
    or return the chat that holds it already (imported before: same exported id and creation
    time). Raises `NotAnExport` / `DamagedExport`."""
    parsed = parse_markdown(text, source=source)
    result = db.import_chats([(parsed.chat, parsed.messages_to_import(), parsed.files_to_import())])
    return (result.added or result.skipped)[0]
