"""Committing inside a long paragraph at safe inline boundaries.

A paragraph's inline content renders piece by piece, `inline(a + b) == inline(a) + inline(b)`,
when `a` ends with a space, `b` starts with a non-space character, and nothing in `a` is still
open: no emphasis or strikethrough delimiter that could open (markdown-it matches closers
backwards, so a closer in `b` finds nothing to pair with in `a`), no code span, autolink, link or
math opener waiting for its closer. Then later text cannot change how `a` renders: its last
delimiter run already has its neighbours, and a shortcut reference in it (`[label] `) changes
only through a late definition, which the stream tracks by label.

A `[` left as text in `a` is the one opener committed anyway (a stray `[` is common, and a
paragraph after one would otherwise never commit): it stays text unless a later `]` ends a link
label that starts at it. markdown-it looks for that `]` by scanning on from the `[`, one
level deeper at each `[` that is text, skipping code spans, links and math; what `a` holds
after its innermost open `[` is balanced, so the scan reaches `b` one level deep at least, and
the `[` can matter only if `b`, scanned the same way from one level deep, reaches level zero.
`closes_bracket()` runs exactly that scan on `PLACEHOLDER + b` each frame; when it finds such a
`]` the live block is rendered again in full.

`closed_piece()` parses a candidate piece with markdown-it's own inline parser and says whether
it is closed; the live block (`app.render.live`) then keeps the piece's HTML and parses only
`PLACEHOLDER + the rest of the paragraph` each frame. The placeholder is a neutral word and a
space, so the rest is read exactly as after the piece, and the block structure of the line is
the same (no `|` is ever committed, so a table header line keeps its cells; a paragraph that
starts with `[` may be a reference definition and is never committed).
"""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt
from markdown_it.helpers import parseLinkLabel
from markdown_it.rules_core import StateCore
from markdown_it.rules_core.text_join import text_join
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

PLACEHOLDER = "x "
MIN_PIECE = 48  # characters: shorter pieces are not worth a separate parse
_TITLE_OPENERS = "\"'("
OPEN_BRACKET = "phidesk_open_bracket"  # meta key on a committed piece that leaves a `[` open


def _brackets_open(text: str) -> bool:
    depth = 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
    return depth > 0


def _link_open(plain: str) -> bool:
    """Whether a `[text](` left as text may still become a link: its destination or title
    runs to the end of the piece (a destination followed by anything but a title fails for
    good; an autolink holds no space, so `<` never waits)."""
    start = plain.find("](")
    while start >= 0:
        rest = plain[start + 2 :]
        parts = rest.split(maxsplit=1)
        if len(parts) < 2 or rest[:1].isspace() or parts[1][0] in _TITLE_OPENERS:
            return True
        start = plain.find("](", start + 2)
    return False


def _dollar_open(children: list[Token]) -> bool:
    """A `$` left as text waits for a closer only if no `$` follows it: its scan stops at
    the next `$` either way."""
    for token in reversed(children):
        if token.type.startswith("math"):
            return False
        if token.type in ("text", "text_special") and "$" in token.content:
            return True
    return False


def _math_open(text: str) -> bool:
    return text.rfind("\\(") > text.rfind("\\)") or text.rfind("\\[") > text.rfind("\\]")


def closed_piece(md: MarkdownIt, text: str) -> Token | None:
    """An `inline` token for `text` (its children parsed and joined as a paragraph's are), or
    None when something in `text` is still open and may be closed by what follows. A `[` left
    open is allowed (see the module docstring): the token's `meta` then holds `OPEN_BRACKET`."""
    if _math_open(text):
        return None
    env: dict[str, Any] = {"references": {}}
    children: list[Token] = []
    state = StateInline(text, md, env, children)
    md.inline.tokenize(state)
    for rule in md.inline.ruler2.getRules(""):
        rule(state)
    if any(d.open and d.end < 0 for d in state.delimiters):
        return None
    plain = "".join(t.content for t in children if t.type in ("text", "text_special"))
    if "`" in plain or "][" in plain:
        return None
    if _link_open(plain) or _dollar_open(children):
        return None
    token = Token("inline", "", 0, content=text, children=children)
    if _brackets_open(plain):
        token.meta = {OPEN_BRACKET: True}
    text_join(StateCore(text, md, env, [token]))
    return token


def closes_bracket(md: MarkdownIt, content: str, env: dict[str, Any]) -> bool:
    """Whether `content` (`PLACEHOLDER` + the rest of a paragraph) holds a `]` that would end
    a link label opened by a `[` in the committed pieces before it."""
    if "]" not in content:
        return False
    state = StateInline(content, md, env, [])
    # The scan starts right after the placeholder, one level deep, as from an open `[`.
    return parseLinkLabel(state, len(PLACEHOLDER) - 1) >= 0


def boundary(source: str, start: int) -> int:
    """The last position after `start + MIN_PIECE` in `source` (one line) that follows a space
    and holds a non-space character, or -1."""
    end = len(source.rstrip(" \t"))
    space = source.rfind(" ", start + MIN_PIECE - 1, end - 1)
    if space < 0 or source[space + 1] in " \t":
        return -1
    return space + 1


__all__ = [
    "MIN_PIECE",
    "OPEN_BRACKET",
    "PLACEHOLDER",
    "boundary",
    "closed_piece",
    "closes_bracket",
]
