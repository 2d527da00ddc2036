"""A comparison as one Markdown file: the prompt and the settings every target shared in the
front matter, a table of the figures for people, then each target's answer in its own section.

    ---
    phidesk_export: 2
    comparison: true
    title: "…"  id, created, updated, prompt, system_prompt, options, targets, …
    ---

    # Title

    | target | TTFT | load | prompt tok/s | gen tok/s | GPU % | memory | context | tokens |
    …

    ## Target 1 · phi4
    <!-- phidesk {"target": 1, "model": "phi4", …, "figures": {…}, "chat": {…}, "lines": 9} -->

    the target's chat as its export writes it after the title heading (message headings,
    comments, content verbatim), over exactly `lines` lines

The table is not read back: the figures are in each target's comment, and `chat` holds the
front matter of the target's chat export, so that its sections read back as that chat.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from app import __version__
from app.chat.compare_figures import Figures, marks
from app.chat.transfer.errors import NotAnExport, TransferError
from app.chat.transfer.files import _failure, _write_atomically, decode
from app.chat.transfer.lines import _damaged, _get, _json, _Lines, _meta
from app.chat.transfer.markers import MARKER_KEY, META_PREFIX, META_SUFFIX, TREE_FORMAT_VERSION
from app.chat.transfer.reader import ParsedExport, parse_markdown
from app.chat.transfer.scalars import flow
from app.chat.transfer.sources import MAX_FILE_BYTES
from app.chat.transfer.writer import UNTITLED, chat_to_markdown, stored_attachments
from app.store import Database
from app.store.comparisons import Comparison, ComparisonTarget
from app.store.errors import NotFound

COMPARISON_KEY: Final = "comparison"
"""The front matter key (`comparison: true`) that makes an export a comparison."""
_COLUMNS: Final = (
    "target",
    "TTFT",
    "load",
    "prompt tok/s",
    "gen tok/s",
    "GPU %",
    "memory",
    "context",
    "tokens",
)
_GIB: Final = 1024**3


def is_comparison(text: str) -> bool:
    """Whether `text` starts like a comparison export (its front matter says so)."""
    end = text.find("\n---\n", 3)
    head = text[: end if end > 0 else 4096]
    return head.startswith(("---\n", "\ufeff---\n")) and f"\n{COMPARISON_KEY}: true\n" in head


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _number(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}{unit}"


def _row(target: ComparisonTarget, figures: Figures, marked: tuple[str, ...]) -> str:
    label = target.model if target.engine == "ollama" else f"{target.model}@{target.engine}"
    if figures.quantization:
        label += f" ({figures.quantization})"
    label = _cell(label) + "".join(f" **{m}**" for m in marked)
    if target.status != "complete":
        label += f" · {target.status}"
    context = _number(figures.context_used)
    if figures.context_length:
        context += f" / {figures.context_length:,}"
    cells = [
        label,
        _number(figures.ttft_ms, " ms"),
        _number(figures.load_ms, " ms"),
        _number(figures.prompt_tokens_per_s, "", 1),
        _number(figures.tokens_per_s, "", 1),
        _number(figures.gpu_percent, " %"),
        "–" if figures.memory_bytes is None else f"{figures.memory_bytes / _GIB:.1f} GiB",
        context,
        _number(figures.eval_count),
    ]
    return "| " + " | ".join(cells) + " |\n"


def _meta_line(meta: dict[str, Any]) -> str:
    # As the chat export's: ASCII JSON with ">" escaped, so the comment cannot end early.
    return META_PREFIX + json.dumps(meta, ensure_ascii=True).replace(">", "\\u003e") + META_SUFFIX


def _split_chat(text: str) -> tuple[dict[str, Any], str]:
    """A chat export's front matter (in order) and its sections after the title heading."""
    end = text.index("\n---\n\n", 3)
    facts: dict[str, Any] = {}
    for line in text[4:end].split("\n"):
        key, _, value = line.partition(": ")
        facts[key] = json.loads(value)
    body = text[end + 5 :]
    heading_end = body.index("\n\n") + 2  # "# Title" and its empty line
    return facts, body[heading_end:]


def comparison_to_markdown(
    db: Database, comparison_id: int, *, exported_at: datetime | None = None
) -> str:
    """The comparison as one Markdown file (every version and the reasoning of each target's
    chat included). Raises `NotFound`."""
    comparison = db.get_comparison(comparison_id)
    if comparison.deleted_at is not None:
        raise NotFound(f"comparison {comparison_id} is in the trash")
    moment = exported_at or datetime.now(UTC)
    fields: list[tuple[str, Any]] = [
        (MARKER_KEY, TREE_FORMAT_VERSION),
        (COMPARISON_KEY, True),
        ("title", comparison.title),
        ("id", comparison.id),
        ("created", _iso(comparison.created_at)),
        ("updated", _iso(comparison.updated_at)),
        ("prompt", comparison.prompt),
        ("system_prompt", comparison.system_prompt),
        ("options", dict(comparison.options)),
        ("targets", len(comparison.targets)),
        ("phidesk_version", __version__),
        ("exported_at", _iso(moment)),
    ]
    out = ["---\n", *(f"{key}: {flow(value)}\n" for key, value in fields), "---\n\n"]
    out.append("# " + (" ".join(comparison.title.split()) or UNTITLED) + "\n\n")
    figures = [Figures.from_json(t.figures) for t in comparison.targets]
    marked = marks(figures)
    out.append("| " + " | ".join(_COLUMNS) + " |\n")
    out.append("| --- |" + " ---: |" * (len(_COLUMNS) - 1) + "\n")
    for i, (target, measured) in enumerate(zip(comparison.targets, figures, strict=True)):
        out.append(_row(target, measured, marked.get(i, ())))
    out.append("\n")
    for number, target in enumerate(comparison.targets, start=1):
        chat_facts: dict[str, Any] | None = None
        body = ""
        if target.chat_id is not None:
            try:
                chat = db.get_chat(target.chat_id)
            except NotFound:
                chat = None
            if chat is not None and chat.deleted_at is None:
                messages = db.all_messages(chat.id)
                text = chat_to_markdown(
                    chat,
                    messages,
                    exported_at=moment,
                    all_branches=True,
                    attachments=stored_attachments(db, messages)[0],
                )
                chat_facts, body = _split_chat(text)
        meta: dict[str, Any] = {
            "target": number,
            "model": target.model,
            "engine": target.engine,
            "status": target.status,
            "error": target.error,
            "fit_warning": target.fit_warning,
            "figures": dict(target.figures),
            "chat": chat_facts,
            "lines": body.count("\n"),
        }
        out.append(f"## Target {number} · {_cell(target.model)}\n")
        out.append(_meta_line(meta) + "\n\n")
        out.append(body)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ParsedComparison:
    """A comparison export read back: the comparison (its id as exported) and, per target,
    its chat as a chat export reads (None for a target whose chat was gone)."""

    comparison: Comparison
    chats: tuple[ParsedExport | None, ...]


def parse_comparison(text: str, *, source: str = "the text") -> ParsedComparison:
    """Read a comparison export. Raises `NotAnExport` for a file that is not one and
    `DamagedExport` for one whose structure was broken."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.startswith("---\r\n"):
        text = text.replace("\r\n", "\n")
    if not is_comparison(text):
        raise NotAnExport(f"{source} is not a PhiDesk comparison export")
    lines = _Lines(text, source)
    lines.take()
    facts: dict[str, Any] = {}
    while (line := lines.take()) != "---":
        key, sep, value = line.partition(": ")
        try:
            facts[key] = _json(value) if sep else None
        except ValueError:
            raise lines.damaged(f"the front matter value of {key!r} is not readable") from None
    what = "front matter"

    def field(key: str, kind: type | tuple[type, ...]) -> Any:
        return _get(facts, key, kind, what, None, source=source)

    version = field(MARKER_KEY, int)
    if version > TREE_FORMAT_VERSION:
        raise TransferError(
            f"{source} was exported by a newer PhiDesk (format {version}); update PhiDesk to "
            "import it"
        )
    count = field("targets", int)
    created = _when(field("created", str), source)
    lines.expect("")
    if not lines.take().startswith("# "):
        lines.index -= 1
        raise lines.damaged("expected the title heading")
    lines.expect("")
    while lines.take() != "":  # the table, for people
        pass
    targets: list[ComparisonTarget] = []
    chats: list[ParsedExport | None] = []
    for number in range(1, count + 1):
        if not lines.take().startswith("## "):
            lines.index -= 1
            raise lines.damaged(f"expected the heading of target {number}")
        meta = _meta(lines.take(), lines)
        lines.expect("")
        label = f"target {number}"
        count_lines = _get(meta, "lines", int, label, lines)
        if count_lines < 0:
            raise lines.damaged(f"the {label} has an impossible line count")
        start = lines.offset
        for _ in range(count_lines):
            lines.skip()
        body = text[start : lines.offset]
        chat_facts = _get(meta, "chat", (dict, type(None)), label, lines)
        figures = _get(meta, "figures", dict, label, lines)
        targets.append(
            ComparisonTarget(
                position=number - 1,
                model=_get(meta, "model", str, label, lines),
                engine=_get(meta, "engine", str, label, lines),
                chat_id=None if chat_facts is None else _get(chat_facts, "id", int, label, lines),
                status=_get(meta, "status", str, label, lines),
                error=_get(meta, "error", (str, type(None)), label, lines),
                fit_warning=_get(meta, "fit_warning", (str, type(None)), label, lines),
                figures=figures,
            )
        )
        if chat_facts is None:
            chats.append(None)
            continue
        rebuilt = "".join(
            ["---\n", *(f"{k}: {flow(v)}\n" for k, v in chat_facts.items()), "---\n\n"]
        )
        title = " ".join(str(chat_facts.get("title", "")).split()) or UNTITLED
        chats.append(parse_markdown(f"{rebuilt}# {title}\n\n{body}", source=f"{label} of {source}"))
    if not lines.at_end:
        raise lines.damaged("there is more text after the last target")
    comparison = Comparison(
        id=field("id", int),
        title=field("title", str),
        prompt=field("prompt", str),
        system_prompt=field("system_prompt", str),
        options=field("options", dict),
        created_at=created,
        updated_at=_when(field("updated", str), source),
        deleted_at=None,
        targets=tuple(targets),
    )
    return ParsedComparison(comparison, tuple(chats))


def _when(value: str, source: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _damaged(source, f"{value!r} is not a time") from None
    if moment.tzinfo is None:
        raise _damaged(source, f"the time {value!r} has no time zone")
    return moment.astimezone(UTC)


def import_comparison(db: Database, text: str, *, source: str = "the text") -> Comparison:
    """Add the comparison exported in `text` with its chats (new ids), all or nothing, or
    return the comparison that holds them already (imported before). Raises `NotAnExport` /
    `DamagedExport`."""
    parsed = parse_comparison(text, source=source)
    items = [
        (p.chat, p.messages_to_import(), p.files_to_import()) for p in parsed.chats if p is not None
    ]
    origins: list[tuple[int, datetime] | None] = [
        None if p is None else (p.chat.id, p.chat.created_at) for p in parsed.chats
    ]
    c = parsed.comparison
    added: list[Comparison] = []

    def add(session: Session) -> None:
        # In the import's last transaction: the comparison and its chats land together.
        added.append(
            db.imported_comparison_in(
                session,
                title=c.title,
                prompt=c.prompt,
                system_prompt=c.system_prompt,
                options=c.options,
                created_at=c.created_at,
                updated_at=c.updated_at,
                targets=list(zip(c.targets, origins, strict=True)),
            )
        )

    db.import_chats(items, on_commit=add)
    return added[0]


def write_text_export(text: str, path: Path) -> Path:
    """Write one export file whole or not at all (readable by its owner alone)."""
    try:
        data = text.encode("utf-8")

        def write(out: io.BufferedWriter) -> None:
            out.write(data)

        _write_atomically(path, write)
    except OSError as exc:
        raise _failure(path, exc, "nothing was written") from None
    return path


def import_comparison_file(db: Database, path: Path) -> Comparison:
    """`import_comparison` of the file at `path`."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise TransferError(f"cannot read {path} ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise TransferError(
            f"{path} is too large to import (over {MAX_FILE_BYTES // 2**20} MiB); nothing was "
            "imported"
        )
    return import_comparison(db, decode(data, str(path)), source=str(path))


__all__: Sequence[str] = (
    "COMPARISON_KEY",
    "ParsedComparison",
    "comparison_to_markdown",
    "import_comparison",
    "import_comparison_file",
    "is_comparison",
    "parse_comparison",
    "write_text_export",
)
