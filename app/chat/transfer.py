"""Chats as Markdown files: export, import, file names. No Qt.

The format is described for users in `docs/export-format.md`. In short:

    ---                                   front matter: one `key: value` a line, every value
    phidesk_export: 1                     written in JSON syntax (which YAML reads the same)
    title: "Primes"
    ...
    ---

    # Primes

    ## User · 2026-11-29 06:33:52 UTC     one section per message, for people
    <!-- phidesk {"role": "user", "created": "…", "lines": 2, …} -->   the exact facts

    the message, verbatim, over exactly `lines` lines

The comment line under each heading is authoritative (role, exact times, status, how many lines
the content spans, whether it ended without a newline, how many closing lines PhiDesk added).
Content is never escaped or re-wrapped; a message that leaves a code fence or an HTML block open
gets one closing line after it (counted in the comment, dropped on import), so it cannot swallow
the sections after it in any Markdown viewer. Because the importer reads by line counts, content
lines that look like front matter, headings or comments are just content.

export → import → export gives the same bytes, for the same options and `exported_at`, when the
chat's id is free in the importing database (the id is kept where possible).

For the window (all blocking: run them off the GUI thread for many chats):
    export_chat_markdown(db, chat_id, include_thinking=True, include_provenance=False) -> str
        one chat as text: "Copy chat as Markdown", or a save dialog offering
        suggested_file_name(chat)
    export_chats(db, chat_ids, destination, include_thinking=, include_provenance=) -> [Path]
        a folder, a .zip, or one .md, chosen by the destination's suffix
    import_markdown(db, text, source=...) -> Chat; import_files(db, paths) -> [Chat]
        (.md files or .zip archives; all checked before any is imported)
Errors are `TransferError`s (`NotAnExport`, `DamagedExport`), `NotFound` for a missing chat:
`PhiDeskError`s whose message is one sentence naming the file.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, cast, get_args

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins import amsmath
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.texmath import texmath_plugin

from app import __version__
from app.backend.events import ChatStats
from app.errors import PhiDeskError
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

FORMAT_VERSION: Final = 1
MARKER_KEY: Final = "phidesk_export"
META_PREFIX: Final = "<!-- phidesk "
META_SUFFIX: Final = " -->"
ROLE_LABELS: Final[dict[str, str]] = {"user": "User", "assistant": "Assistant", "system": "System"}
UNTITLED: Final = "Untitled chat"
MAX_STEM_CHARS: Final = 80
MAX_STEM_BYTES: Final = 160


class TransferError(PhiDeskError):
    """An export or import failed; the message says which file and why."""


class NotAnExport(TransferError):
    """The Markdown file was not written by PhiDesk's export."""


class DamagedExport(TransferError):
    """The file starts like a PhiDesk export but its structure does not hold together."""


# ---------------------------------------------------------------- front matter values


def _yaml_safe(ch: str) -> bool:
    """True if `ch` may stand unescaped inside a double-quoted scalar for YAML 1.1 and 1.2
    readers alike (no line breaks of either version, no characters YAML forbids)."""
    code = ord(ch)
    if code < 0x20 or ch in '"\\':
        return False
    if code < 0x7F:
        return True
    if code <= 0x9F or code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF):
        return False
    return not 0xD800 <= code <= 0xDFFF


_SHORT_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(text: str) -> str:
    """`text` as a double-quoted scalar that JSON and YAML both read back as `text`."""
    parts = ['"']
    for ch in text:
        if _yaml_safe(ch):
            parts.append(ch)
        else:
            parts.append(_SHORT_ESCAPES.get(ch) or f"\\u{ord(ch):04x}")
    parts.append('"')
    return "".join(parts)


def flow(value: Any) -> str:
    """A JSON value written as a one-line YAML flow value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, dict):
        items = ", ".join(f"{quote(str(k))}: {flow(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    raise TypeError(f"cannot export a value of type {type(value).__name__}")


# ---------------------------------------------------------------- keeping sections apart

_MAY_LEAK = re.compile(r"```|~~~|\$\$|\\\[|\\begin\{|(?:^|[\r\n])[ \t>]*<")
_PROBE = "phidesk-section-probe"
_HTML_ENDS: Final = (
    (re.compile(r"<!--"), "-->"),
    (re.compile(r"<\?"), "?>"),
    (re.compile(r"<!\[CDATA\["), "]]>"),
    (re.compile(r"<![A-Za-z]"), ">"),
)
_HTML_RAW = re.compile(r"<(script|pre|style|textarea)(?=[\s>]|$)", re.IGNORECASE)
_ENVIRONMENT = re.compile(r"\\begin\{([A-Za-z]+\*?)\}")
# After the probe heading, for the math parser: a line that would close each kind of math
# block, since a math block only forms (and swallows what lies between) when one follows.
_MATH_BAIT = "\n$$\n\\]\n" + "".join(
    f"\\end{{{name}}}\n\\end{{{name}*}}\n" for name in amsmath.ENVIRONMENTS
)
_LEAKING = frozenset({"fence", "html_block", "math_block", "math_block_label", "amsmath"})
_probe_parsers: list[tuple[MarkdownIt, str]] = []


def _parsers() -> list[tuple[MarkdownIt, str]]:
    if not _probe_parsers:
        # Without raw HTML (PhiDesk's own view) first, then with it (GitHub, most editors);
        # each plain and with the math syntaxes, with what to put after the probe heading.
        for html in (False, True):
            math = (
                MarkdownIt("commonmark", {"html": html})
                .use(amsmath.amsmath_plugin)
                .use(texmath_plugin, delimiters="brackets")
                .use(dollarmath_plugin)
            )
            _probe_parsers.extend(
                [(MarkdownIt("commonmark", {"html": html}), ""), (math, _MATH_BAIT)]
            )
    return _probe_parsers


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _open_block(parser: MarkdownIt, bait: str, text: str) -> tuple[Token, str | None] | None:
    """What `text` leaves open, if anything, with the line that closes it (None if unknown):
    a block that would swallow a heading after a blank line, or a fence inside a list item
    that would take in the blank line after the text."""
    tokens = parser.parse(text + "\n## " + _PROBE + "\n" + bait)
    swallowed = True
    for index, token in enumerate(tokens):
        if (
            token.type == "heading_open"
            and token.level == 0
            and tokens[index + 1].content == _PROBE
        ):
            swallowed = False
    if swallowed:
        leaking = [t for t in tokens if t.level == 0 and t.type in _LEAKING]
        return (leaking[-1], _closer(leaking[-1])) if leaking else None
    lines = _LINE_BREAK.split(text)
    end = len(lines) - 1  # markdown-it's number of lines in `text`
    for token in tokens:
        if token.type == "fence" and token.map is not None and token.map[1] > end:
            source = lines[token.map[0]]
            return token, " " * source.find(token.markup) + token.markup
    return None


def _closer(block: Token) -> str | None:
    if block.type == "fence":
        return block.markup
    if block.type in ("math_block", "math_block_label"):
        return "\\]" if block.markup == "\\[" else "$$"
    if block.type == "amsmath":
        environment = _ENVIRONMENT.search(block.content)
        return f"\\end{{{environment.group(1)}}}" if environment else None
    if block.type == "html_block":
        start = block.content.lstrip(" ")
        for pattern, end in _HTML_ENDS:
            if pattern.match(start):
                return end
        raw = _HTML_RAW.match(start)
        if raw:
            return f"</{raw.group(1)}>"
    return None


@dataclass(frozen=True, slots=True)
class Closing:
    """What goes after a piece of content: `lines`, and whether every renderer asked then sees
    the content closed (`sealed`), or only those without raw HTML (renderers disagree on some
    text, e.g. a fence opened inside a raw-HTML block that ends at a blank line)."""

    lines: tuple[str, ...]
    sealed: bool


def _close_for(block: str, parsers: Sequence[tuple[MarkdownIt, str]]) -> tuple[list[str], bool]:
    added: list[str] = []
    for _ in range(6):
        text = block + "".join(line + "\n" for line in added)
        for parser, bait in parsers:
            found = _open_block(parser, bait, text)
            if found is None:
                continue
            closer = found[1]
            if closer is None:
                return added, False
            if parser.options["html"]:
                # After a blank line, so that a renderer without raw HTML, which saw the
                # content closed, sees a paragraph of its own and not a line of the content's.
                added.append("")
            added.append(closer)
            break
        else:
            return added, True
    return added, False


_FENCE_OPEN = re.compile(r"(`{3,}|~{3,})(.*)")
_QUOTE = re.compile(r" {0,3}>")
_ITEM_MATH = re.compile(r"[ \t]*(?:(?:[-+*]|\d{1,9}[.)])[ \t]+)+\$\$")


def _plainly_closed(block: str) -> bool:
    """True when a quick scan proves that `block` leaves no fence or $$ math block open in any
    renderer; False when it might (then the renderers themselves are asked, which is slower).

    Only simple, common shapes are proven: fences and $$ blocks indented at most three
    spaces, that start after a blank line or another block and end at the same indentation,
    with every line between them indented at least as far (so a list item holding one goes on
    around it), and no quotes, raw HTML or other math syntaxes outside them."""
    fence: str | None = None  # the open fence's marker
    in_math = False
    opened_at = 0  # indentation of the open fence or math block
    after_text = False  # the previous line is paragraph text (a $$ line would continue it)
    for line in _LINE_BREAK.split(block):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        blank = not stripped.strip(" \t")
        if (fence is not None or in_math) and not blank and indent < opened_at:
            return False
        if fence is not None:
            closes = indent <= 3 and re.fullmatch(
                re.escape(fence[0]) + f"{{{len(fence)},}}[ \t]*", stripped
            )
            if closes:
                if indent != opened_at:
                    return False
                fence = None
            continue
        if in_math:
            if "```" in line or "~~~" in line:
                return False
            if line.rstrip(" \t").endswith("$$"):
                in_math = False
            elif "$$" in line:
                return False
            continue
        if blank:
            after_text = False
            continue
        if "\\[" in line or "\\begin{" in line or _QUOTE.match(line) or _ITEM_MATH.match(line):
            return False
        if indent <= 3 and stripped.startswith("<"):
            return False
        opened = _FENCE_OPEN.match(stripped) if indent <= 3 else None
        if opened is not None:
            marker, info = opened.groups()
            if marker[0] == "`" and "`" in info:
                return False
            fence, opened_at, after_text = marker, indent, False
            continue
        if "```" in line or "~~~" in line:
            return False
        if indent <= 3 and stripped.startswith("$$"):
            if after_text:
                return False
            body = stripped.rstrip(" \t")
            if body == "$$":
                in_math, opened_at = True, indent
            elif not (len(body) > 3 and body.endswith("$$")) or "$$" in body[2:-2]:
                return False
            continue
        if indent > 3 and "$$" in line:
            return False
        after_text = True
    return fence is None and not in_math


def closing_lines(block: str) -> Closing:
    """Lines to put after `block` (text ending in a newline) so that nothing it opened, a
    code fence, a raw-HTML block or a math block, runs on into what follows.

    Renderers without raw HTML (PhiDesk's own view) are asked first: a fence or math block they
    see open is closed on the very next line (a blank line first would add one to the code).
    Then renderers with raw HTML: what only they see open (a raw-HTML block, or a fence or
    math block after one) is closed after a blank line. Each is asked again until none sees
    anything open; where they cannot all be satisfied, those without raw HTML win."""
    if not _MAY_LEAK.search(block) or _plainly_closed(block):
        return Closing((), True)
    every = _parsers()
    added, sealed = _close_for(block, every)
    if not sealed:
        added, _ = _close_for(block, [p for p in every if not p[0].options["html"]])
    return Closing(tuple(added), sealed)


# ---------------------------------------------------------------- export


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


def _provenance_meta(provenance: Provenance, positions: dict[int, int]) -> dict[str, Any]:
    return {
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


def _message_section(
    message: Message,
    positions: dict[int, int],
    *,
    include_thinking: bool,
    include_provenance: bool,
) -> list[str]:
    content = _Block.of(message.content)
    thinking = _Block.of(message.thinking if include_thinking else "")
    meta: dict[str, Any] = {
        "role": message.role,
        "created": _iso(message.created_at),
        "updated": _iso(message.updated_at),
    }
    if message.status != "complete":
        meta["status"] = message.status
    if message.error is not None:
        meta["error"] = message.error
    meta.update(content.meta())
    if thinking.lines:
        meta["thinking"] = thinking.meta()
    stats = message.stats if include_provenance else None
    provenance = message.provenance if include_provenance else None
    if stats is not None:
        meta["stats"] = _stats_meta(stats)
    if provenance is not None:
        meta["provenance"] = _provenance_meta(provenance, positions)

    heading = f"## {ROLE_LABELS[message.role]} · {_shown_time(message.created_at)}"
    if message.status != "complete":
        heading += f" · {message.status}"
    out = [heading + "\n", _meta_line(meta) + "\n", "\n"]
    if thinking.lines:
        out.append("<details>\n<summary>Reasoning</summary>\n\n")
        thinking.write(out)
        out.append("</details>\n\n")
    content.write(out)
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
) -> str:
    """The Markdown export of `chat` with `messages` (oldest first)."""
    exported_at = exported_at or datetime.now(UTC)
    settings = chat.settings
    fields: list[tuple[str, Any]] = [
        (MARKER_KEY, FORMAT_VERSION),
        ("title", chat.title),
        ("id", chat.id),
        ("created", _iso(chat.created_at)),
        ("updated", _iso(chat.updated_at)),
        ("model", chat.model),
        ("quantization", chat_quantization(messages)),
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
    for message in messages:
        out.extend(
            _message_section(
                message,
                positions,
                include_thinking=include_thinking,
                include_provenance=include_provenance,
            )
        )
    return "".join(out)


def export_chat_markdown(
    db: Database,
    chat_id: int,
    *,
    include_thinking: bool = True,
    include_provenance: bool = False,
    exported_at: datetime | None = None,
) -> str:
    """One chat as Markdown (also for "copy chat as Markdown"). Raises `NotFound`."""
    chat = db.get_chat(chat_id)
    return chat_to_markdown(
        chat,
        db.messages(chat_id),
        include_thinking=include_thinking,
        include_provenance=include_provenance,
        exported_at=exported_at,
    )


# ---------------------------------------------------------------- import


@dataclass(frozen=True, slots=True)
class ParsedExport:
    """A PhiDesk export read back: the chat and its messages as store records.

    Message ids are their positions (1 = first) and `chat.id` is the id the chat had; the
    store assigns real ids on import. `heading_offsets[i]` is where message i's heading starts
    in the parsed text, `content_offsets[i]` where its content starts and ends.
    """

    chat: Chat
    messages: tuple[Message, ...]
    quantization: str | None
    heading_offsets: tuple[int, ...]
    content_offsets: tuple[tuple[int, int], ...]

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
        answers = [i for i, m in enumerate(messages) if m.role == "assistant"]
        target = answers[-1] if answers else len(messages) - 1
        provenance = Provenance(model=self.chat.model, quantization=self.quantization)
        return (
            *messages[:target],
            replace(messages[target], provenance=provenance),
            *messages[target + 1 :],
        )


class _Lines:
    def __init__(self, text: str, source: str) -> None:
        self.lines = text.split("\n")
        self.index = 0
        self.offset = 0
        self.source = source

    def damaged(self, why: str) -> DamagedExport:
        return DamagedExport(
            f"{self.source} looks like a PhiDesk export but cannot be read: {why} at line "
            f"{self.index + 1} (was it edited by hand? only text inside a message may change)"
        )

    def take(self) -> str:
        if self.index >= len(self.lines) - 1:
            raise self.damaged("the file ends too early")
        line = self.lines[self.index]
        self.index += 1
        self.offset += len(line) + 1
        return line

    def expect(self, exact: str) -> None:
        if self.take() != exact:
            self.index -= 1
            raise self.damaged(f"expected {exact!r}" if exact else "expected an empty line")

    def block(self, facts: dict[str, Any], what: str) -> tuple[str, tuple[int, int]]:
        """A verbatim block, and where it starts and ends in the text (closers excluded)."""
        count = _get(facts, "lines", int, what, self)
        eol = _get(facts, "eol", bool, what, self, default=True)
        close = _get(facts, "close", int, what, self, default=0)
        if count < 0 or close < 0 or (count == 0 and (close or not eol)):
            raise self.damaged(f"the {what} has impossible line counts")
        start = self.offset
        if count == 0:
            return "", (start, start)
        lines = [self.take() for _ in range(count)]
        end = self.offset
        for _ in range(close):
            self.take()
        self.expect("")
        text = "\n".join(lines) + ("\n" if eol else "")
        return text, (start, end)

    @property
    def at_end(self) -> bool:
        return self.index >= len(self.lines) - 1


def _get(
    facts: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    what: str,
    lines: _Lines | None,
    *,
    default: Any = ...,
    source: str = "",
) -> Any:
    if key not in facts:
        if default is not ...:
            return default
        problem = f"the {what} has no {key!r}"
    else:
        value = facts[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if ok:
            return value
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        problem = f"the {what}'s {key!r} is not a {' or '.join(k.__name__ for k in kinds)}"
    if lines is not None:
        raise lines.damaged(problem)
    raise DamagedExport(f"{source} looks like a PhiDesk export but cannot be read: {problem}")


_OPT_INT = (int, type(None))
_OPT_STR = (str, type(None))
_OPT_FLOAT = (float, type(None))
_OPT_BOOL = (bool, type(None))


def _time(value: str, what: str, lines: _Lines) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise lines.damaged(f"the {what} {value!r} is not a time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _front_matter(lines: _Lines) -> dict[str, Any]:
    """Read the front matter, or raise NotAnExport if this is not PhiDesk's."""
    not_ours = NotAnExport(
        f"{lines.source} is not a PhiDesk export: PhiDesk can only import the Markdown files it "
        f"exports, which start with front matter holding '{MARKER_KEY}: {FORMAT_VERSION}'"
    )
    raw = lines.lines
    if not raw or raw[0] != "---":
        raise not_ours
    try:
        end = raw.index("---", 1)
    except ValueError:
        raise not_ours from None
    if not any(line.startswith(MARKER_KEY + ":") for line in raw[1:end]):
        raise not_ours
    lines.take()
    facts: dict[str, Any] = {}
    while lines.index < end:
        line = lines.take()
        key, sep, value = line.partition(": ")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            lines.index -= 1
            raise lines.damaged("a front matter line is not 'key: value'")
        try:
            facts[key] = json.loads(value)
        except ValueError:
            lines.index -= 1
            raise lines.damaged(f"the front matter value of {key!r} is not readable") from None
    lines.take()
    version = facts.get(MARKER_KEY)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise lines.damaged(f"'{MARKER_KEY}' is not a format number")
    if version > FORMAT_VERSION:
        raise TransferError(
            f"{lines.source} was exported by a newer PhiDesk (format {version}); update PhiDesk "
            "to import it"
        )
    return facts


def _meta(line: str, lines: _Lines) -> dict[str, Any]:
    if not (line.startswith(META_PREFIX) and line.endswith(META_SUFFIX)):
        lines.index -= 1
        raise lines.damaged("a message heading is not followed by its PhiDesk comment")
    try:
        meta = json.loads(line[len(META_PREFIX) : -len(META_SUFFIX)])
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        lines.index -= 1
        raise lines.damaged("a message's PhiDesk comment is not readable")
    return meta


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
    )


_ROLES: Final = frozenset(get_args(Role))
_STATUSES: Final = frozenset(get_args(Status))


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
    what = "front matter"

    def field(key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        return _get(facts, key, kind, what, None, default=default, source=source)

    count = field("messages", int)
    chat_id = field("id", int, 0)
    created = _time(field("created", str), "chat's creation time", lines)
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
        updated_at=_time(field("updated", str, created.isoformat()), "chat's time", lines),
        deleted_at=None,
        context=ContextUsage(
            used=field("context_used", _OPT_INT, None),
            limit=field("context_limit", _OPT_INT, None),
        ),
        message_count=count,
    )
    lines.expect("")
    if not lines.take().startswith("# "):
        lines.index -= 1
        raise lines.damaged("expected the title heading")
    lines.expect("")

    messages: list[Message] = []
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
        error = _get(meta, "error", _OPT_STR, label, lines, default=None)
        if error:
            if not lines.take().startswith("> "):
                lines.index -= 1
                raise lines.damaged(f"expected the error note of {label}")
            lines.expect("")
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
                created_at=_time(_get(meta, "created", str, label, lines), "message time", lines),
                updated_at=_time(_get(meta, "updated", str, label, lines), "message time", lines),
                stats=None if stats_facts is None else _parse_stats(stats_facts, lines),
                provenance=None
                if provenance_facts is None
                else _parse_provenance(provenance_facts, lines, count),
            )
        )
    if not lines.at_end:
        raise lines.damaged("there is more text after the last message")
    quantization = field("quantization", _OPT_STR, None)
    return ParsedExport(chat, tuple(messages), quantization, tuple(headings), tuple(spans))


def import_markdown(db: Database, text: str, *, source: str = "the text") -> Chat:
    """Add the chat exported in `text` to `db` with its messages, roles, times and settings.
    Keeps the exported chat id when it is free. Raises `NotAnExport` / `DamagedExport`."""
    parsed = parse_markdown(text, source=source)
    return db.import_chat(parsed.chat, parsed.messages_to_import())


def decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotAnExport(f"{source} is not a PhiDesk export: it is not UTF-8 text") from None


def read_exports(paths: Iterable[Path]) -> list[tuple[str, ParsedExport]]:
    """Read and check every file first (a .zip contributes each .md inside it), so that one bad
    file imports nothing. Returns (source name, parsed export) pairs."""
    found: list[tuple[str, ParsedExport]] = []
    for path in paths:
        try:
            if path.suffix.lower() == ".zip":
                with zipfile.ZipFile(path) as archive:
                    for info in archive.infolist():
                        if info.is_dir() or not info.filename.lower().endswith(".md"):
                            continue
                        source = f"{path.name}:{info.filename}"
                        text = decode(archive.read(info), source)
                        found.append((source, parse_markdown(text, source=source)))
            else:
                text = decode(path.read_bytes(), str(path))
                found.append((str(path), parse_markdown(text, source=str(path))))
        except zipfile.BadZipFile:
            raise TransferError(f"{path} is not a readable .zip archive") from None
        except OSError as exc:
            raise TransferError(f"cannot read {path} ({exc.strerror or exc})") from exc
    return found


def import_files(db: Database, paths: Iterable[Path | str]) -> list[Chat]:
    """Import PhiDesk exports (.md files, or .zip archives of them). Nothing is imported if any
    file is not a readable PhiDesk export."""
    parsed = read_exports(Path(p) for p in paths)
    return [db.import_chat(p.chat, p.messages_to_import()) for _, p in parsed]


# ---------------------------------------------------------------- file names

_FORBIDDEN = frozenset('<>:"/\\|?*')
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]}
)


def file_stem(title: str, *, fallback: str) -> str:
    """A file name (without extension) from a chat title that Windows, macOS and Linux all
    accept: no reserved characters or device names, no control or direction-override
    characters, no leading dot, no trailing dot or space, and short enough for every file
    system. Empty results become `fallback`."""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFC", title):
        category = unicodedata.category(ch)
        if ch.isspace() or category in ("Zl", "Zp"):
            kept.append(" ")
        elif ch in _FORBIDDEN:
            kept.append("_")
        elif category in ("Cc", "Cs", "Co", "Cn") or ch in _BIDI_CONTROLS or ch == "\ufeff":
            continue
        else:
            kept.append(ch)
    stem = " ".join("".join(kept).split())
    stem = stem[:MAX_STEM_CHARS]
    while len(stem.encode("utf-8")) > MAX_STEM_BYTES:
        stem = stem[:-1]
    stem = stem.strip(" .-")
    if not stem:
        stem = fallback
    if stem.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        stem = "_" + stem
    return stem


def _name_key(name: str) -> str:
    """Names that one of the three systems would treat as the same file get the same key."""
    return unicodedata.normalize("NFC", name).casefold()


def unique_names(
    chats: Sequence[Chat], *, taken: Iterable[str] = (), suffix: str = ".md"
) -> list[str]:
    """A distinct file name for each chat (case- and normalisation-insensitively, and unlike
    every name in `taken`): "Title.md", "Title (2).md", …"""
    used = {_name_key(n) for n in taken}
    names: list[str] = []
    for chat in chats:
        stem = file_stem(chat.title, fallback=f"chat-{chat.id}")
        name = stem + suffix
        n = 2
        while _name_key(name) in used:
            name = f"{stem} ({n}){suffix}"
            n += 1
        used.add(_name_key(name))
        names.append(name)
    return names


def suggested_file_name(chat: Chat) -> str:
    """The name a save dialog should offer for one chat."""
    return unique_names([chat])[0]


# ---------------------------------------------------------------- writing files


def _write_atomically(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write into a temporary file beside `path`, then rename it into place."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def export_chats(
    db: Database,
    chat_ids: Sequence[int],
    destination: Path | str,
    *,
    include_thinking: bool = True,
    include_provenance: bool = False,
    exported_at: datetime | None = None,
) -> list[Path]:
    """Export chats to files and return what was written.

    `destination` ending in `.zip`: one archive holding a .md per chat (replaced if it exists).
    Ending in `.md`: exactly one chat, written to that file. Anything else: a folder (created if
    needed) that gets one .md per chat, named after its title; existing files are never
    overwritten (the new ones get " (2)" and so on). Raises `NotFound` for a missing chat and
    `TransferError` when the files cannot be written.
    """
    destination = Path(destination)
    exported_at = exported_at or datetime.now(UTC)
    chats = [db.get_chat(chat_id) for chat_id in chat_ids]
    suffix = destination.suffix.lower()
    if suffix == ".md" and len(chats) != 1:
        raise TransferError(
            f"{destination} is one Markdown file but {len(chats)} chats were chosen; export "
            "them to a folder or a .zip file instead"
        )

    def text_of(chat: Chat) -> bytes:
        return chat_to_markdown(
            chat,
            db.messages(chat.id),
            include_thinking=include_thinking,
            include_provenance=include_provenance,
            exported_at=exported_at,
        ).encode("utf-8")

    try:
        if suffix == ".md":
            destination.parent.mkdir(parents=True, exist_ok=True)
            data = text_of(chats[0])

            def write_file(out: io.BufferedWriter) -> None:
                out.write(data)

            _write_atomically(destination, write_file)
            return [destination]
        if suffix == ".zip":
            destination.parent.mkdir(parents=True, exist_ok=True)
            stamp = exported_at.astimezone(UTC).timetuple()[:6]

            def write_zip(out: io.BufferedWriter) -> None:
                with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
                    for chat, name in zip(chats, unique_names(chats), strict=True):
                        info = zipfile.ZipInfo(name, date_time=stamp)
                        info.compress_type = zipfile.ZIP_DEFLATED
                        archive.writestr(info, text_of(chat))

            _write_atomically(destination, write_zip)
            return [destination]
        destination.mkdir(parents=True, exist_ok=True)
        existing = [p.name for p in destination.iterdir()]
        written: list[Path] = []
        for chat, name in zip(chats, unique_names(chats, taken=existing), strict=True):
            target = destination / name
            with target.open("xb") as out:
                out.write(text_of(chat))
            written.append(target)
        return written
    except OSError as exc:
        raise TransferError(
            f"cannot write the export to {destination} ({exc.strerror or exc}); choose another "
            "place"
        ) from exc
