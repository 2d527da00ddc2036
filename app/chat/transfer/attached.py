"""Files attached to messages, in an export: each file's extracted text in a fenced block under
the message that carries it, with its name and SHA-256, for people and for import.

    **Attached:** notes.txt · text · 1,234 bytes · SHA-256 `9f86…`        for people
    <!-- phidesk {"name": "notes.txt", "sha256": "9f86…", "kind": "text", "size": 1234,
         "pages": null, "text_sha256": "…", "lines": 3, "parts": [[0, 120, null, null, []]]} -->
                                                                         (one line)
    ````                                a fence longer than any run of backticks in the text
    the extracted text, verbatim, over exactly `lines` lines
    ````

The comment is authoritative: `sha256` is that of the original bytes (a .zip export holds them
as `attachments/<sha256>/<name>`), `text_sha256` that of the text (UTF-8), so an edited text is
refused; `parts` says where each part of the text (what a turn draws on when the file does not
fit whole) starts and ends in it, in characters, with its pages and headings. A part whose text
is not one stretch of the text (a long paragraph cut in two) carries its text as a sixth item.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, overload

from app.chat.transfer.lines import _get, _Lines, _meta
from app.chat.transfer.markers import META_PREFIX, META_SUFFIX
from app.store.attachments import NewChunk

SHOWN_PREFIX: Final = "**Attached:** "
_HEX: Final = frozenset("0123456789abcdef")
_ACTIVE: Final = frozenset("\\`*_[]<>!&$~|")
"""The characters that could start something other than plain text inside a line."""


@dataclass(frozen=True, slots=True)
class AttachedFile:
    """A file attached to a message, as an export holds it."""

    name: str
    sha256: str
    """Of the original bytes."""
    kind: str
    size: int
    """Of the original bytes."""
    pages: int | None
    text: str
    chunks: Sequence[NewChunk]
    id: int = 0
    """Its attachment id (in an export), or its number in the file (read back)."""


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def is_sha256(value: str) -> bool:
    return len(value) == 64 and set(value) <= _HEX


def _part(text: str, chunk: NewChunk, start: int) -> tuple[list[Any], int]:
    """A part's entry in `parts`, and where the search for the next one starts."""
    where = [chunk.first_page, chunk.last_page, list(chunk.headings)]
    # Between two parts there is only the whitespace that separated them.
    at = start
    while True:
        if chunk.text and text.startswith(chunk.text, at):
            end = at + len(chunk.text)
            return [at, end, *where], end
        if at >= len(text) or not text[at].isspace():
            return [None, None, *where, chunk.text], start
        at += 1


def parts_layout(text: str, chunks: Sequence[NewChunk]) -> list[list[Any]]:
    layout = []
    start = 0
    for chunk in chunks:
        entry, start = _part(text, chunk, start)
        layout.append(entry)
    return layout


class Parts(Sequence[NewChunk]):
    """The parts of a file read back: made from the text when asked for, so that an import
    never holds a second copy of every text."""

    def __init__(self, text: str, layout: Sequence[Sequence[Any]]) -> None:
        self._text = text
        self._layout = layout

    def __len__(self) -> int:
        return len(self._layout)

    def _make(self, seq: int) -> NewChunk:
        start, end, first, last, headings, *own = self._layout[seq]
        text = own[0] if own else self._text[start:end]
        return NewChunk(seq, text, first, last, tuple(headings))

    @overload
    def __getitem__(self, index: int) -> NewChunk: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[NewChunk]: ...
    def __getitem__(self, index: int | slice) -> NewChunk | Sequence[NewChunk]:
        if isinstance(index, slice):
            return [self._make(i) for i in range(len(self))[index]]
        return self._make(range(len(self))[index])

    def __iter__(self) -> Iterator[NewChunk]:
        return (self._make(i) for i in range(len(self)))


def _fence(text: str) -> str:
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _escaped(name: str) -> str:
    """A name as plain text inside one Markdown line (the marks that could start emphasis,
    code, links, HTML, entities or math escaped)."""
    one_line = " ".join(name.split())
    return "".join("\\" + ch if ch in _ACTIVE else ch for ch in one_line)


def _shown(file: AttachedFile) -> str:
    facts = [_escaped(file.name) or "(no name)", file.kind, f"{file.size:,} bytes"]
    if file.pages is not None:
        facts.append(f"{file.pages:,} page{'' if file.pages == 1 else 's'}")
    facts.append(f"SHA-256 `{file.sha256}`")
    return SHOWN_PREFIX + " · ".join(facts)


def write_attachments(files: Sequence[AttachedFile], out: list[str]) -> None:
    """The sections of a message's attached files, after its content."""
    for file in files:
        eol = file.text.endswith("\n")
        body = file.text if eol or not file.text else file.text + "\n"
        meta: dict[str, Any] = {
            "name": file.name,
            "sha256": file.sha256,
            "kind": file.kind,
            "size": file.size,
            "pages": file.pages,
            "text_sha256": text_sha256(file.text),
            "lines": body.count("\n"),
        }
        if not eol and file.text:
            meta["eol"] = False
        meta["parts"] = parts_layout(file.text, file.chunks)
        fence = _fence(file.text)
        comment = json.dumps(meta, ensure_ascii=True).replace(">", "\\u003e")
        out.extend(
            (
                _shown(file) + "\n",
                META_PREFIX + comment + META_SUFFIX + "\n",
                "\n",
                fence + "\n",
                body,
                fence + "\n",
                "\n",
            )
        )


def _layout(raw: object, text: str, label: str, lines: _Lines) -> list[list[Any]]:
    if not isinstance(raw, list):
        raise lines.damaged(f"the parts of {label} are not a list")
    for entry in raw:
        ok = isinstance(entry, list) and len(entry) in (5, 6)
        if ok:
            start, end, first, last, headings, *own = entry
            spans = (
                isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(text)
            )
            ok = (spans and not own) or (start is None and end is None and own == own[:1])
            ok = ok and all(isinstance(v, str) for v in own)
            ok = ok and all(
                p is None or (isinstance(p, int) and not isinstance(p, bool) and 0 < p < 2**31)
                for p in (first, last)
            )
            ok = ok and isinstance(headings, list) and all(isinstance(h, str) for h in headings)
        if not ok:
            raise lines.damaged(f"a part of {label} is not where its text is")
    return raw


def read_attachments(lines: _Lines, count: int, label: str, first: int) -> list[AttachedFile]:
    """The `count` attached files of message `label`, after its content, numbered from
    `first` + 1."""
    files = []
    for number in range(1, count + 1):
        what = f"file {number} of {label}"
        if not lines.take().startswith(SHOWN_PREFIX):
            lines.index -= 1
            raise lines.damaged(f"expected the line naming {what}")
        meta = _meta(lines.take(), lines)
        lines.expect("")
        name = _get(meta, "name", str, what, lines)
        sha256 = _get(meta, "sha256", str, what, lines)
        if not is_sha256(sha256):
            raise lines.damaged(f"the SHA-256 of {what} is not 64 hexadecimal digits")
        kind = _get(meta, "kind", str, what, lines)
        size = _get(meta, "size", int, what, lines)
        pages = _get(meta, "pages", (int, type(None)), what, lines, default=None)
        if size < 0 or (pages is not None and pages < 0):
            raise lines.damaged(f"{what} has a negative size")
        expected = _get(meta, "text_sha256", str, what, lines)
        fence = lines.take()
        if len(fence) < 3 or fence.strip("`"):
            lines.index -= 1
            raise lines.damaged(f"expected the fence that opens the text of {what}")
        text, _ = _fenced(lines, meta, what, fence)
        if text_sha256(text) != expected:
            raise lines.damaged(
                f"the text of {what} ({name!r}) does not match its SHA-256 (the text of an "
                "attached file may not be edited)"
            )
        layout = _layout(_get(meta, "parts", list, what, lines, default=[]), text, what, lines)
        files.append(
            AttachedFile(name, sha256, kind, size, pages, text, Parts(text, layout), first + number)
        )
    return files


def _fenced(
    lines: _Lines, meta: dict[str, Any], what: str, fence: str
) -> tuple[str, tuple[int, int]]:
    """The text between the fences: `lines` lines, then the closing fence and an empty line."""
    count = _get(meta, "lines", int, what, lines)
    eol = _get(meta, "eol", bool, what, lines, default=True)
    if count < 0 or (count == 0 and not eol):
        raise lines.damaged(f"the text of {what} has impossible line counts")
    start = lines.offset
    for _ in range(count):
        lines.skip()
    end = lines.offset
    lines.expect(fence)
    lines.expect("")
    return lines.text[start : end if eol or not count else end - 1], (start, end)
