"""The text of an HTML page, with the standard library's parser: what a reader sees, paragraph by
paragraph, under its headings. Scripts, styles and other invisible parts are left out; no
markup, no entity, no URL reaches the model."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from app.chat.documents.blocks import Block

_INVISIBLE = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SPACE = re.compile(r"[ \t\r\n\f\v]+")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._text: list[str] = []
        self._hidden = 0
        self._pre = 0
        self._heading: int | None = None
        self._path: list[tuple[int, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            self._hidden += 1
        elif tag in _HEADINGS:
            self._end_block()
            self._heading = _HEADINGS[tag]
        elif tag in _BLOCKS:
            self._end_block()
            if tag == "pre":
                self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._end_block()

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _HEADINGS and self._heading is not None:
            level, title = self._heading, self._joined()
            self._text.clear()
            self._heading = None
            if title:
                self._path = [(n, t) for n, t in self._path if n < level] + [(level, title)]
                self.blocks.append(Block(title, headings=self._headings()))
        elif tag in _BLOCKS:
            self._end_block()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._text.append(data)

    def _joined(self) -> str:
        raw = "".join(self._text)
        if self._pre:
            return raw.strip("\n")
        return _SPACE.sub(" ", raw).strip()

    def _headings(self) -> tuple[str, ...]:
        return tuple(t for _, t in self._path)

    def _end_block(self) -> None:
        if self._heading is not None:
            return  # a block inside a heading stays part of the heading
        text = self._joined()
        self._text.clear()
        if text:
            self.blocks.append(Block(text, headings=self._headings()))

    def close(self) -> None:
        super().close()
        self._heading = None
        self._end_block()


def html_blocks(text: str) -> list[Block]:
    """The visible text of an HTML document as paragraphs under their headings."""
    reader = _Reader()
    reader.feed(text)
    reader.close()
    return reader.blocks
