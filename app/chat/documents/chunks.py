"""A document cut into parts: at headings, paragraphs and pages, each part knowing where it
stands (its pages, its heading path), so the model can be given only some of them and the user
told which."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from app.chat.documents.blocks import Block

TARGET_CHARS = 1500
"""A part grows to about this many characters (a few hundred tokens) before the next begins."""
_BREAK = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One part of a document."""

    seq: int
    """0-based position in the document."""
    text: str
    first_page: int | None = None
    last_page: int | None = None
    headings: tuple[str, ...] = ()

    @property
    def pages(self) -> tuple[int, ...]:
        if self.first_page is None or self.last_page is None:
            return ()
        return tuple(range(self.first_page, self.last_page + 1))

    def location(self) -> str:
        """Where it stands: "page 3", "pages 3–5", a heading path "Setup › Linux", or ""."""
        if self.first_page is not None and self.last_page is not None:
            if self.first_page == self.last_page:
                return f"page {self.first_page}"
            return f"pages {self.first_page}–{self.last_page}"
        return " › ".join(self.headings)


def split_chunks(blocks: Iterable[Block], *, target: int = TARGET_CHARS) -> list[Chunk]:
    """Group paragraphs into parts of about `target` characters. A part never spans two
    headings' sections or two pages; a paragraph longer than `target` is cut at whitespace."""
    chunks: list[Chunk] = []
    current: list[Block] = []
    size = 0

    def flush() -> None:
        nonlocal size
        if current:
            text = "\n\n".join(b.text for b in current)
            first = current[0]
            chunks.append(Chunk(len(chunks), text, first.page, current[-1].page, first.headings))
        current.clear()
        size = 0

    for block in blocks:
        for piece in _pieces(block, target):
            same_place = bool(current) and (
                current[-1].page == piece.page and current[-1].headings == piece.headings
            )
            if not same_place or size + len(piece.text) > target:
                flush()
            current.append(piece)
            size += len(piece.text) + 2
    flush()
    return chunks


def _pieces(block: Block, target: int) -> Iterator[Block]:
    text = block.text
    while len(text) > target:
        cut = _cut_at(text, target)
        yield Block(text[:cut].rstrip(), block.page, block.headings)
        text = text[cut:].lstrip()
    if text:
        yield Block(text, block.page, block.headings)


def _cut_at(text: str, target: int) -> int:
    """Where to cut a long paragraph: the last whitespace before `target`, else `target`."""
    last = None
    for match in _BREAK.finditer(text, 0, target):
        last = match.start()
    return last if last else target


def page_ranges(pages: Sequence[int]) -> str:
    """`[3, 4, 5, 9]` → "3–5, 9"."""
    ordered = sorted(set(pages))
    runs: list[str] = []
    start = prev = None
    for page in ordered:
        if start is None:
            start = prev = page
        elif prev is not None and page == prev + 1:
            prev = page
        else:
            runs.append(_run(start, prev))
            start = prev = page
    if start is not None:
        runs.append(_run(start, prev))
    return ", ".join(runs)


def _run(start: int, end: int | None) -> str:
    return str(start) if end is None or end == start else f"{start}–{end}"
