"""Committing inside the live block of a stream: list items, table rows, quote children, code lines.

The streaming renderer (`app.render.stream`) commits whole top-level blocks. While one block is
still being written, a `LiveBlock` keeps the finished part of it: list items, table body rows,
the blocks inside a block quote, or the complete lines of an unclosed code fence, each rendered
once. Each frame then parses only `prefix + tail[offset:]`: the live item (or row, child, line)
and what follows, where `prefix` is the context that part needs (a table's header and delimiter
rows; a fence's opening line). This is exact because markdown-it decides these parts line by
line from the same lines in both parses:

- a list item, a quote child or a table row starting on a complete line ends the one before
  it (the same rule the top level uses, with the same exceptions for display math whose closer
  may still come and tables whose delimiter row is incomplete);
- a quote is resumed only at a line that starts with `>`, so laziness never crosses the cut;
- a list's tightness is the one property of the whole: every item records whether it is loose
  (see `LOOSE_ITEM`), and when the list turns loose the finished items are rendered again;
- a fence that closes is highlighted as a whole: the block is parsed again in full.

Whenever the parse of the live part does not look as expected (a list marker changed, a fence
closed, a definition a finished item uses changed), `compose()` returns None and the stream
renders the whole live block again, which it reports as a revision frame.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_block.table import MAX_AUTOCOMPLETED_CELLS, escapedSplit
from markdown_it.token import Token

from app.render.markdown import FENCE_CLOSED, LOOSE_ITEM, MAX_INLINE_CHARS
from app.render.paragraph import (
    OPEN_BRACKET,
    PLACEHOLDER,
    boundary,
    closed_piece,
    closes_bracket,
)
from app.render.parts import LOOKAHEAD_BLOCKS, blank, closing, last_final, line_offset, set_tight

_QUOTE_LINE = re.compile(r" {0,3}>")
_LISTS = ("bullet_list_open", "ordered_list_open")
TASK_LIST = "contains-task-list"

Labeller = Callable[[list[Token]], frozenset[str]]


@dataclass
class LiveBlock:
    """The finished part of the live top-level block. See the module docstring."""

    md: MarkdownIt
    kind: str  # "list", "quote", "table", "fence" or "paragraph"
    opener: Token
    offset: int = 0  # characters of the tail already committed inside the block
    lines: int = 0  # lines of the tail before `offset`
    prefix: str = ""
    parts: list[str] = field(default_factory=list)
    html: str = ""  # "".join(parts)
    references: dict[str, Any] = field(default_factory=dict)  # defined in the finished part
    label_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    revisions: int = 0
    _source: str = ""
    # lists
    # each finished item's HTML in a tight list and in a loose one (kept as text, not tokens:
    # thousands of tokens kept alive made the garbage collector's full passes long)
    items: list[tuple[str, str]] = field(default_factory=list)
    loose: bool = False  # some finished item is loose
    rendered_tight: bool = True
    tasks: bool = False  # some finished item is a task item
    opened: tuple[Any, str] | None = None  # the list's class and its opening tag's HTML
    # tables
    head_html: str = ""
    columns: int = 0
    aligns: list[dict[str, Any]] = field(default_factory=list)  # each column's th attributes
    autocompleted: int = 0
    # fences
    pre: tuple[str, str] = ("", "")
    # paragraphs: characters and emphasis/link markers of the committed inline content
    chars: int = 0
    markers: int = 0
    waited: int = 0  # length of the last piece found still open: try again at twice that
    open_bracket: bool = False  # a committed piece leaves a `[` open (see app.render.paragraph)

    @property
    def prefix_lines(self) -> int:
        return self.prefix.count("\n")

    def source(self, tail: str) -> str:
        return self.prefix + tail[self.offset :]

    def tail_line(self, line: int) -> int:
        """The tail's line number of `line` in `source()`."""
        return line - self.prefix_lines + self.lines

    def tail_offset(self, source: str, line: int) -> int:
        return self.offset + line_offset(source, line) - len(self.prefix)

    def fence_frame(self, tail: str) -> str | None:
        """An unclosed fence's HTML without a parse, or None: possible once a line is committed,
        when the opener is not indented (its content is then the lines as written) and no line
        of the live part starts with the fence character (none can close it). Complete lines
        are committed on the way."""
        if self.kind != "fence" or not self.parts or self.prefix[:1] != self.opener.markup[:1]:
            return None
        rest = tail[self.offset :]
        char = self.opener.markup[0]
        if any(line.lstrip(" \t").startswith(char) for line in rest.split("\n")):
            return None
        done = rest.rfind("\n") + 1
        if rest[done:] and not rest[done:].strip(" \t"):
            return None  # a last line of blanks only is left out of the block: parse it
        if done:
            piece = escapeHtml(rest[:done])
            self.parts.append(piece)
            self.html += piece
            self.offset += done
            self.lines += rest.count("\n", 0, done)
        return "".join((self.pre[0], self.html, escapeHtml(rest[done:]), self.pre[1]))

    def render(self, tokens: list[Token], env: dict[str, Any]) -> str:
        html: str = self.md.renderer.render(tokens, self.md.options, env)
        return html

    # -- each frame ----------------------------------------------------------------------
    def compose(
        self,
        source: str,
        tokens: list[Token],
        env: dict[str, Any],
        key: Callable[[Any], tuple[str, str]],
    ) -> tuple[str, int] | None:
        """The block's HTML and the index of the first token after it in `tokens` (a parse of
        `source()`), or None when that parse shows the finished part is no longer final."""
        self._source = source
        references = env["references"]
        if any(key(references.get(label)) != k for label, k in self.label_keys.items()):
            return None
        if not tokens or tokens[0].map is None or tokens[0].map[0] != 0:
            return None
        first = tokens[0]
        if self.kind == "paragraph":
            return self._compose_paragraph(tokens, env)
        if first.type != self.opener.type:
            return None
        if self.kind == "fence":
            if (first.meta or {}).get(FENCE_CLOSED):
                return None
            if not self.parts:
                return self.render(tokens[:1], env), 1
            return "".join((self.pre[0], self.html, escapeHtml(first.content), self.pre[1])), 1
        end = closing(tokens, 0)
        if self.kind == "list":
            if first.markup != self.opener.markup:
                return None
            return self._compose_list(tokens, end, env), end + 1
        if not self.parts:
            return self.render(tokens[: end + 1], env), end + 1
        if self.kind == "quote":
            inner = self.render(tokens[1:end], env)
            return "".join((self.head_html, self.html, inner, "</blockquote>\n")), end + 1
        rows = _rows(tokens, end)
        if (
            self.autocompleted
            and self.autocompleted + self.columns * (len(rows) + 1) > MAX_AUTOCOMPLETED_CELLS
        ):
            return None
        body = self.render(tokens[rows[0] : end - 1], env) if rows else ""
        parts = (self.head_html, "<tbody>\n", self.html, body, "</tbody>\n</table>\n")
        return "".join(parts), end + 1

    def _compose_paragraph(
        self, tokens: list[Token], env: dict[str, Any]
    ) -> tuple[str, int] | None:
        """The paragraph (or setext heading: a later `===` line) from the committed inline
        pieces and a parse of `PLACEHOLDER + rest`; None when the line became something else."""
        first = tokens[0]
        if first.type != "paragraph_open" and not (
            first.type == "heading_open" and first.markup in ("=", "-")
        ):
            return None
        if not self.parts:
            return self.render(tokens[:3], env), 3
        content = tokens[1].content
        if not content.startswith(PLACEHOLDER):
            return None
        chars = self.chars + len(content) - len(PLACEHOLDER)
        if chars > MAX_INLINE_CHARS and (self.markers + _markers(content)) * 4 > chars:
            return None
        if self.open_bracket and closes_bracket(self.md, content, env):
            return None
        html = self.render(tokens[:3], env)
        start = html.index(">") + 1
        return html[:start] + self.html + html[start + len(PLACEHOLDER) :], 3

    def _advance_paragraph(
        self,
        source: str,
        tokens: list[Token],
        labels: Labeller,
        key: Callable[[Any], tuple[str, str]],
        env: dict[str, Any],
    ) -> None:
        """Commit the paragraph's line up to its last safe inline boundary (one line only:
        a later line may turn it into a heading or table, which `compose()` notices)."""
        if "\n" in source or len(tokens) < 3 or tokens[0].type != "paragraph_open":
            return
        start = len(self.prefix)
        cut = boundary(source, start)
        if cut < 0:
            return
        if cut - start < 2 * self.waited:
            return
        piece = source[start:cut]
        if not self.parts:
            piece = piece.lstrip(" \t")
            if piece.startswith("["):  # maybe a reference definition still being written
                return
            if piece.startswith("$"):
                # dollarmath reads the character before a `$` at the start of a paragraph as
                # the paragraph's last one, which later text changes
                return
        if "|" in piece:  # a table header's cells are counted over the whole line
            return
        inline = closed_piece(self.md, piece)
        if inline is None:
            # Something in it may still be closed: trying each frame would parse it twice.
            self.waited = cut - start
            return
        self.waited = 0
        self.open_bracket = self.open_bracket or bool((inline.meta or {}).get(OPEN_BRACKET))
        html = self.render(inline.children or [], env)
        self.parts.append(html)
        self.html += html
        self.chars += len(piece)
        self.markers += _markers(piece)
        for label in labels([inline]):
            self.label_keys[label] = key(env["references"].get(label))
        self.offset += cut - start
        self.prefix = PLACEHOLDER

    def _tight(self, tokens: list[Token], end: int) -> bool:
        """Whether the whole list is tight: no finished item and no item in `tokens` is loose."""
        items = [
            n for n in range(1, end) if tokens[n].type == "list_item_open" and tokens[n].level == 1
        ]
        return not self.loose and not any(
            self._item_loose(tokens[n], last=n == items[-1]) for n in items
        )

    def _compose_list(self, tokens: list[Token], end: int, env: dict[str, Any]) -> str:
        tight = self._tight(tokens, end)
        set_tight(tokens[1:end], 2, tight)
        if self.items and tight != self.rendered_tight:
            self.parts = [item[0] if tight else item[1] for item in self.items]
            self.html = "".join(self.parts)
            self.rendered_tight = tight
            self.revisions += 1
        if not self.items:
            return self.render(tokens[: end + 1], env)
        # A task item anywhere marks the list (mdit-py-plugins' tasklists).
        marked = tokens[0].attrGet("class") or (TASK_LIST if self.tasks else None)
        if self.opened is None or self.opened[0] != marked:
            opener = copy.copy(self.opener)
            opener.attrs = {k: v for k, v in self.opener.attrs.items() if k != "class"}
            if marked is not None:
                opener.attrSet("class", marked)
            self.opened = (marked, self.render([opener], env))
        # One join: the finished items' HTML is long and copied once per frame.
        return "".join(
            (
                self.opened[1],
                self.html,
                self.render(tokens[1:end], env),
                self.render(tokens[end : end + 1], env),
            )
        )

    def _item_loose(self, item: Token, last: bool) -> bool:
        """markdown-it's rule: an item is loose if blank lines separate its blocks, or if it
        ends with a blank line and another item follows."""
        if (item.meta or {}).get(LOOSE_ITEM):
            return True
        if last or item.map is None:
            return False
        first, after = item.map
        return after - first > 1 and self._line_blank(after - 1)

    def _line_blank(self, line: int) -> bool:
        text = self._source
        begin = line_offset(text, line)
        stop = text.find("\n", begin)
        return blank(text[begin : stop if stop >= 0 else len(text)])

    # -- committing ----------------------------------------------------------------------
    def advance(
        self,
        source: str,
        tokens: list[Token],
        env: dict[str, Any],
        known: set[str],
        labels: Labeller,
        key: Callable[[Any], tuple[str, str]],
        limit: int,
        started: bool = False,
    ) -> None:
        """Commit the parts of the block that are final, given `tokens`, a parse of `source`
        (= `source()`) already passed through `compose()` when anything was committed.
        `started`: the line being written is known to start a part (see `app.render.items`)."""
        self._source = source
        complete_lines = source.count("\n") + started
        if self.kind == "fence":
            self._advance_fence(source, tokens, complete_lines)
            return
        if self.kind == "paragraph":
            self._advance_paragraph(source, tokens, labels, key, env)
            return
        end = closing(tokens, 0)
        if self.kind == "list":
            parts = [
                n
                for n in range(1, end)
                if tokens[n].type == "list_item_open" and tokens[n].level == 1
            ]
        elif self.kind == "quote":
            parts = [
                n
                for n in range(1, end)
                if tokens[n].level == 1 and tokens[n].nesting >= 0 and tokens[n].map is not None
            ]
        else:
            parts = _rows(tokens, end)
        chosen = last_final(tokens, parts, complete_lines, limit)
        if chosen is None:
            return
        start = tokens[parts[chosen]].map
        assert start is not None
        line = start[0]
        if self.kind == "quote" and not _QUOTE_LINE.match(source, line_offset(source, line)):
            return
        done = tokens[parts[0] : parts[chosen]]
        if self.kind == "list":
            self._commit_items(tokens, end, parts[: chosen + 1], env)
        else:
            if not self.parts:
                self._start_container(source, tokens)
            piece = self.render(done, env)
            self.parts.append(piece)
            self.html += piece
            if self.kind == "table":
                self._count_autocompleted(source, done)
        references = env["references"]
        for label, value in references.items():
            ref_map = value.get("map") if isinstance(value, dict) else None
            if label not in known and ref_map and ref_map[0] < line:
                self.references[label] = value
        for label in labels(done):
            self.label_keys[label] = key(references.get(label))
        offset, lines = self.tail_offset(source, line), self.tail_line(line)
        if self.kind == "table" and not self.prefix:
            # The header and delimiter rows become the prefix of every later parse.
            self.prefix = source[: line_offset(source, 2)]
        self.offset, self.lines = offset, lines

    def _start_container(self, source: str, tokens: list[Token]) -> None:
        if self.kind == "quote":
            self.head_html = self.render(tokens[:1], {})
            return
        head_end = next(n for n in range(len(tokens)) if tokens[n].type == "thead_close")
        self.head_html = self.render(tokens[: head_end + 1], {})
        self.aligns = [dict(t.attrs) for t in tokens[:head_end] if t.type == "th_open"]
        self.columns = len(self.aligns)

    def _count_autocompleted(self, source: str, rows: list[Token]) -> None:
        for token in rows:
            if token.type != "tr_open" or token.map is None:
                continue
            begin = line_offset(source, token.map[0])
            stop = source.find("\n", begin)
            cells = escapedSplit(source[begin:stop].strip())
            if cells and cells[0] == "":
                cells.pop(0)
            if cells and cells[-1] == "":
                cells.pop()
            self.autocompleted += max(0, self.columns - len(cells))

    def _commit_items(
        self, tokens: list[Token], end: int, bounds: list[int], env: dict[str, Any]
    ) -> None:
        tight = self._tight(tokens, end)
        for a, b in itertools.pairwise(bounds):
            item = tokens[a:b]
            if self._item_loose(tokens[a], last=False):
                self.loose = True
            self.tasks = self.tasks or item[0].attrGet("class") == "task-list-item"
            set_tight(item, 2, False)
            loose = self.render(item, env)
            if self.loose:  # a list once loose stays loose
                self.items.append(("", loose))
            else:
                set_tight(item, 2, True)
                self.items.append((self.render(item, env), loose))
            piece = self.items[-1][0] if tight else loose
            self.parts.append(piece)
            self.html += piece
        self.rendered_tight = tight

    def _advance_fence(self, source: str, tokens: list[Token], complete_lines: int) -> None:
        fence = tokens[0]
        if (fence.meta or {}).get(FENCE_CLOSED) or complete_lines < 2:
            return
        first = 1 if not self.parts else self.prefix_lines
        count = complete_lines - first
        done = "".join(line + "\n" for line in fence.content.split("\n")[:count])
        if count <= 0 or not done:
            return
        if not self.parts:
            empty = copy.copy(fence)
            empty.content = ""
            html = self.render([empty], {})
            cut = html.index("</code>")
            self.pre = (html[:cut], html[cut:])
        offset, lines = self.tail_offset(source, complete_lines), self.tail_line(complete_lines)
        if not self.prefix:
            self.prefix = source[: line_offset(source, 1)]
        piece = escapeHtml(done)
        self.parts.append(piece)
        self.html += piece
        self.offset, self.lines = offset, lines


def _markers(text: str) -> int:
    return text.count("*") + text.count("_") + text.count("[") + text.count("]")


def _rows(tokens: list[Token], end: int) -> list[int]:
    """Indices of a table's body rows (its header row is on lines 0 and 1)."""
    return [n for n in range(end) if tokens[n].type == "tr_open" and (tokens[n].map or [0])[0] >= 2]


def open_live(md: MarkdownIt, tokens: list[Token]) -> LiveBlock | None:
    """A LiveBlock for the first block of a tail parsed as `tokens`, when it is a kind that can
    commit parts: a list, a block quote, a table or an unclosed fence starting on line 0."""
    if not tokens or tokens[0].map is None or tokens[0].map[0] != 0 or tokens[0].level != 0:
        return None
    first = tokens[0]
    if first.type in _LISTS:
        return LiveBlock(md, "list", first)
    if first.type == "blockquote_open":
        return LiveBlock(md, "quote", first)
    if first.type == "table_open":
        return LiveBlock(md, "table", first)
    if first.type == "fence" and not (first.meta or {}).get(FENCE_CLOSED):
        return LiveBlock(md, "fence", first)
    if first.type == "paragraph_open":
        return LiveBlock(md, "paragraph", first)
    return None


__all__ = ["LOOKAHEAD_BLOCKS", "LiveBlock", "last_final", "line_offset", "open_live"]
