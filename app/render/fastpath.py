"""Frames that need no block parse: the line being written only grows.

While new text adds no line break and the last line of the parsed source is a settled
paragraph line, appending characters cannot change the block structure, only that paragraph's
inline content. A line is settled when:

- it is the last line of a paragraph that ends the source (everything after the paragraph's
  `inline` token closes containers);
- it holds a letter, and nothing before its first letter is `[`: every block rule decides from
  a line's start (list and quote markers, fences, headings, thematic breaks, indentation), and a
  line with a letter is never a setext underline, a table delimiter row or a thematic break;
  reference definitions are left to the full parse;
- it holds no display-math closer (`$$`, `\\]`, `\\end`), checked again on every extension: a
  display equation (`$$`, `\\[`, `\\begin{…}`) ends only on a line that holds its closer, so
  while the line being written holds none, every opener in the source, on that line or above
  it, still has none, and one not closed yet stays a paragraph's text, as the parse found it;
- the paragraph does not start with `[` (it may still become a reference definition, and a
  task item's content has lost its `[ ]`) and no
  `]:` appears since the blank line before it (a definition's title may still swallow it).

Then the frame re-runs only markdown-it's inline parser on the paragraph's content, which is
exactly what a full parse would give it (`content` is the paragraph's lines, stripped). Of a
paragraph of several lines it parses only what follows the last finished line that leaves
nothing open: `inline(a + b) == inline(a) + inline(b)` when `a` ends with a line break, `b`
starts with a non-space character other than `$`, and `a` is closed
(`app.render.paragraph.closed_piece`; the line break reads the same as the space that argument
is made for) and holds no `[` (so no link label or reference can join it to `b`); the finished
lines' tokens are kept.

When the parse that made the frame also committed the first parts of a list or block quote,
`rebased()` turns it into the parse of what is left (the container's opener, then the tokens
from the first live part on, their lines renumbered): markdown-it reads those parts from the
same lines either way, which is what lets the stream commit them (see `app.render.live`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import MD_TRIM_CHARS
from markdown_it.rules_core import StateCore
from markdown_it.rules_core.text_join import text_join
from markdown_it.token import Token

from app.render.markdown import MAX_INLINE_CHARS
from app.render.paragraph import closed_piece

_HELD = "["
_CLOSERS = ("$$", "\\]", "\\end")


@dataclass
class InlineFrame:
    """A parse of `source` whose last paragraph can be extended by inline parsing alone."""

    source: str
    tokens: list[Token]
    env: dict[str, Any]
    index: int  # of the paragraph's `inline` token
    content: str  # its content when parsed
    keep: int  # where `content` ends in `source` (before its trailing whitespace)
    owner: tuple[int, int, str]  # the live block's identity, offset and prefix, or zeros
    done: int = 0  # characters of `content` whose tokens are kept in `done_children`
    done_children: tuple[Token, ...] = ()
    tried: int = 0  # a line break after which the lines before were found still open

    def extend(self, md: MarkdownIt, source: str) -> bool:
        """Update the paragraph for `source` (= the parsed source plus text with no line
        break); False when `source` is not such an extension."""
        old = self.source
        if len(source) < len(old) or "\n" in source[len(old) :] or not source.startswith(old):
            return False
        if _closes_math(source, source.rfind("\n") + 1):
            return False
        content = (self.content + source[self.keep :]).rstrip(MD_TRIM_CHARS)
        if len(content) > MAX_INLINE_CHARS:
            return False
        token = self.tokens[self.index]
        self._keep_lines(md, content)
        rest = content[self.done :]
        children: list[Token] = []
        md.inline.parse(rest, md, self.env, children)
        holder = Token("inline", "", 0, children=children)
        text_join(StateCore(rest, md, self.env, [holder]))
        token.content = content
        token.children = [*self.done_children, *(holder.children or [])]
        self.content = content
        self.source = source
        self.keep = len(source.rstrip(MD_TRIM_CHARS))
        return True

    def _keep_lines(self, md: MarkdownIt, content: str) -> None:
        """Keep the tokens of the finished lines before the last one, when they may be (see
        the module docstring)."""
        line = content.rfind("\n") + 1
        # A `$` where a parse starts is read against the text's last character (dollarmath
        # looks one character back, which wraps to the end), so no piece starts with one.
        if line <= max(self.done, self.tried) or content[line] in " \t$" or content[0] == "$":
            return
        piece = content[self.done : line]
        inline = None if "[" in piece else closed_piece(md, piece)
        if inline is None:
            self.tried = line
            return
        self.done_children = (*self.done_children, *(inline.children or []))
        self.done = line


def settled_frame(
    source: str, tokens: list[Token], env: dict[str, Any], owner: tuple[int, int, str]
) -> InlineFrame | None:
    """An InlineFrame for this parse of `source`, or None when its last line is not settled
    (see the module docstring)."""
    if not source or source.endswith("\n"):
        return None
    index = len(tokens) - 1
    while index >= 0 and tokens[index].nesting == -1:
        index -= 1
    if index < 1 or index + 1 >= len(tokens):
        return None
    token, opener = tokens[index], tokens[index - 1]
    if (
        token.type != "inline"
        or opener.type != "paragraph_open"
        or tokens[index + 1].type != "paragraph_close"
        or opener.map is None
        or opener.map[1] != source.count("\n") + 1
        or token.content.startswith("[")
        or len(token.content) > MAX_INLINE_CHARS
        or (index >= 2 and tokens[index - 2].attrGet("class") is not None)  # a task item
    ):
        return None
    start = source.rfind("\n") + 1
    if _closes_math(source, start):
        return None
    letter = next((n for n in range(start, len(source)) if source[n].isalpha()), -1)
    if letter < 0 or any(char in _HELD for char in source[start:letter]):
        return None
    first = _line_start(source, opener.map[0])
    blank = source.rfind("\n\n", 0, first)
    if "]:" in source[max(blank, 0) : first]:
        return None
    return InlineFrame(
        source, tokens, env, index, token.content, len(source.rstrip(MD_TRIM_CHARS)), owner
    )


def rebased(tokens: list[Token], lines: int) -> list[Token] | None:
    """`tokens`, a parse of a list or block quote, as a parse of its source without its first
    `lines` lines (the committed parts), or None when no part starts at that line."""
    start = next(
        (n for n in range(1, len(tokens)) if tokens[n].level == 1 and _starts(tokens[n], lines)),
        None,
    )
    bounds = tokens[0].map
    if start is None or bounds is None:
        return None
    opener = tokens[0].copy(map=[0, bounds[1] - lines])
    for token in tokens[start:]:
        if token.map is not None:
            token.map = [token.map[0] - lines, token.map[1] - lines]
    return [opener, *tokens[start:]]


def _starts(token: Token, line: int) -> bool:
    return token.map is not None and token.map[0] == line


def _closes_math(source: str, start: int) -> bool:
    """Whether the line of `source` starting at `start` holds a display-math closer."""
    return any(source.find(closer, start) >= 0 for closer in _CLOSERS)


def _line_start(text: str, line: int) -> int:
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


__all__ = ["InlineFrame", "rebased", "settled_frame"]
