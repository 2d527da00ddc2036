"""A list's next item without a block parse: the frame that starts it parses one line.

While the last line of a list's live item is a settled paragraph line (see
`app.render.fastpath`), new text that completes that line and starts a line with the list's
own marker, one space and a letter can only start the list's next item: at the list's
indentation the marker ends the item being written (a letter after the marker's space rules
out a code block, a nested block, a task item and an empty item, and a line with a letter is
never a setext underline or a table's delimiter row). The next item is then a tight
paragraph, so the frame builds the tokens markdown-it's list rule makes for it (running only
the inline parser on its words) and splices them into the parse of the list it already has.
The item before it is final and can be committed at once.

Likewise in a block quote, a line of `>`, one space and a letter continues the paragraph the
quote ends with (a letter rules out every block start and underline), so the frame appends the
line to that paragraph's content, as markdown-it does (the previous line's trailing spaces
kept), and runs the inline parser on it; after a quoted blank line (`>` and spaces) such a
line starts a new paragraph in the quote, and the quote's blocks before it are final.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import MD_TRIM_CHARS, mdTrim
from markdown_it.rules_core import StateCore
from markdown_it.rules_core.text_join import text_join
from markdown_it.token import Token

from app.render.fastpath import InlineFrame
from app.render.markdown import MAX_INLINE_CHARS

_QUOTED = re.compile(r"> (?=[^\W\d_])")
_BLANK_THEN_QUOTED = re.compile(r"> *\n> (?=[^\W\d_])")
_START = re.compile(r"(?:([-+*])|[0-9]{1,9}([.)])) (?=[^\W\d_])")


def _one_block(tokens: list[Token]) -> bool:
    """Whether `tokens` are one top-level block (a later block may follow the live one)."""
    return all(token.level > 0 for token in tokens[1:-1])


def next_item(md: MarkdownIt, frame: InlineFrame, source: str) -> list[Token] | None:
    """A parse of `source` (the frame's source, the rest of its line, a line break and the
    start of the next item) built from `frame`, which is brought up to the line break; or None
    when the new text is not such a start."""
    old = frame.source
    if not source.startswith(old) or source.count("\n", len(old)) != 1:
        return None
    tokens = frame.tokens
    index = frame.index
    opener = tokens[0]
    if (
        opener.type not in ("bullet_list_open", "ordered_list_open")
        or tokens[index].level != 3
        or len(tokens) != index + 4
        or tokens[index + 2].type != "list_item_close"
        or not _one_block(tokens)
    ):
        return None
    cut = source.index("\n", len(old))
    line = source[cut + 1 :]
    start = _START.match(line)
    if start is None or (start.group(1) or start.group(2)) != opener.markup:
        return None
    if not frame.extend(md, source[:cut]):
        return None
    bounds = opener.map
    if bounds is None:
        return None
    row = source.count("\n")
    item = _item(md, frame.env, line, start, row)
    return [opener.copy(map=[bounds[0], row + 1]), *tokens[1:-1], *item, tokens[-1]]


def _item(
    md: MarkdownIt, env: dict[str, Any], line: str, start: re.Match[str], row: int
) -> list[Token]:
    """The tokens markdown-it's list rule makes for a one-line tight item on line `row`."""
    markup = start.group(1) or start.group(2)
    number = "" if start.group(1) else line[: start.end() - 2]
    content = mdTrim(line[start.end() :])
    children: list[Token] = []
    inline = Token("inline", "", 0, map=[row, row + 1], level=3, content=content, block=True)
    md.inline.parse(content, md, env, children)
    inline.children = children
    text_join(StateCore(content, md, env, [inline]))
    return [
        Token(
            "list_item_open",
            "li",
            1,
            map=[row, row + 1],
            level=1,
            markup=markup,
            info=number,
            block=True,
        ),
        Token("paragraph_open", "p", 1, map=[row, row + 1], level=2, block=True, hidden=True),
        inline,
        Token("paragraph_close", "p", -1, level=2, block=True, hidden=True),
        Token("list_item_close", "li", -1, level=1, markup=markup, block=True),
    ]


def next_quote_line(md: MarkdownIt, frame: InlineFrame, source: str) -> InlineFrame | None:
    """A frame for `source` (the frame's source, the rest of its line, a line break and the
    start of a quoted line that continues its paragraph), or None when it is not that."""
    old = frame.source
    if not source.startswith(old) or source.count("\n", len(old)) != 1:
        return None
    tokens = frame.tokens
    index = frame.index
    if (
        tokens[0].type != "blockquote_open"
        or tokens[index].level != 2
        or len(tokens) != index + 3
        or tokens[index + 2].type != "blockquote_close"
        or not _one_block(tokens)
    ):
        return None
    cut = source.index("\n", len(old))
    if _QUOTED.match(source, cut + 1) is None:
        return None
    content = frame.content + source[frame.keep : cut] + "\n" + source[cut + 3 :]
    keep = len(source.rstrip(MD_TRIM_CHARS))
    content = content[: len(content) - (len(source) - keep)]  # as it ends at `keep`
    if len(content) > MAX_INLINE_CHARS or any(
        token.map is None for token in (tokens[0], tokens[index - 1], tokens[index])
    ):
        return None
    # From here on the frame's tokens describe `source`.
    for token in (tokens[0], tokens[index - 1], tokens[index]):
        assert token.map is not None
        token.map = [token.map[0], token.map[1] + 1]
    after = InlineFrame(
        source,
        tokens,
        frame.env,
        index,
        content,
        keep,
        frame.owner,
        frame.done,
        frame.done_children,
        frame.tried,
    )
    after.extend(md, source)
    return after


def next_quote_child(md: MarkdownIt, frame: InlineFrame, source: str) -> list[Token] | None:
    """A parse of `source` (the frame's source, the rest of its line, a quoted blank line and
    a quoted line of `>`, one space and a letter: a new paragraph in the quote) built from
    `frame`, which is brought up to the first line break; or None when it is not that."""
    old = frame.source
    if not source.startswith(old) or source.count("\n", len(old)) != 2:
        return None
    tokens = frame.tokens
    index = frame.index
    bounds = tokens[0].map
    if (
        tokens[0].type != "blockquote_open"
        or bounds is None
        or tokens[index].level != 2
        or len(tokens) != index + 3
        or not _one_block(tokens)
    ):
        return None
    cut = source.index("\n", len(old))
    if _BLANK_THEN_QUOTED.match(source, cut + 1) is None:
        return None
    content = mdTrim(source[source.rindex("\n") + 3 :])
    if len(content) > MAX_INLINE_CHARS or not frame.extend(md, source[:cut]):
        return None
    row = source.count("\n")
    children: list[Token] = []
    md.inline.parse(content, md, frame.env, children)
    inline = Token("inline", "", 0, map=[row, row + 1], level=2, content=content, block=True)
    inline.children = children
    text_join(StateCore(content, md, frame.env, [inline]))
    return [
        tokens[0].copy(map=[bounds[0], row + 1]),
        *tokens[1:-1],
        Token("paragraph_open", "p", 1, map=[row, row + 1], level=1, block=True),
        inline,
        Token("paragraph_close", "p", -1, level=1, block=True),
        tokens[-1],
    ]


__all__ = ["next_item", "next_quote_child", "next_quote_line"]
