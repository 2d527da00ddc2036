"""A table's body rows without a block parse, once its header is committed.

After a table's first body row is committed (`app.render.live`), its column count and
alignments are fixed. A line that starts with `|` is then always the table's next row: no
block start begins with `|` (so none ends the table there), it is not indented and not blank.
markdown-it makes such a row the same way whatever follows it: the line's cells split at
unescaped pipes, one cell per column (missing ones empty, extra ones dropped), each cell's
trimmed text parsed inline. So each frame builds those tokens for the rows written since the
last frame, commits the complete ones and renders the one being written, with no parse of the
header or of any other row. Anything else (a line not starting with `|`, too many
autocompleted cells, a huge cell) is left to the parse of the live part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import mdTrim
from markdown_it.rules_block.table import MAX_AUTOCOMPLETED_CELLS, escapedSplit
from markdown_it.rules_core import StateCore
from markdown_it.rules_core.text_join import text_join
from markdown_it.token import Token

from app.render.live import LiveBlock
from app.render.markdown import MAX_INLINE_CHARS


def row_tokens(
    md: MarkdownIt, env: dict[str, Any], line: str, aligns: list[dict[str, Any]]
) -> tuple[list[Token], int] | None:
    """The tokens of one body row for `line`, and how many cells it wrote; None for a cell
    too long to parse here."""
    columns = escapedSplit(mdTrim(line))
    if columns and columns[0] == "":
        columns.pop(0)
    if columns and columns[-1] == "":
        columns.pop()
    tokens = [Token("tr_open", "tr", 1, level=2, block=True)]
    for n, attrs in enumerate(aligns):
        content = mdTrim(columns[n]) if n < len(columns) and columns[n] else ""
        if len(content) > MAX_INLINE_CHARS:
            return None
        children: list[Token] = []
        md.inline.parse(content, md, env, children)
        inline = Token("inline", "", 0, level=4, content=content, children=children, block=True)
        text_join(StateCore(content, md, env, [inline]))
        tokens += [
            Token("td_open", "td", 1, attrs=dict(attrs), level=3, block=True),
            inline,
            Token("td_close", "td", -1, level=3, block=True),
        ]
    tokens.append(Token("tr_close", "tr", -1, level=2, block=True))
    return tokens, len(columns)


def table_frame(
    md: MarkdownIt,
    live: LiveBlock,
    tail: str,
    env: dict[str, Any],
    labels: Callable[[list[Token]], frozenset[str]],
    key: Callable[[Any], tuple[str, str]],
) -> str | None:
    """The live table's HTML for `tail`, committing its complete new rows; None when the
    text after the committed rows is not rows only (see the module docstring)."""
    if live.kind != "table" or not live.parts or len(live.aligns) != live.columns:
        return None
    rest = tail[live.offset :]
    lines = rest.split("\n")
    complete = len(lines) - 1
    if not lines[-1]:
        lines.pop()
    if any(not line.startswith("|") for line in lines):
        return None
    if live.autocompleted + live.columns * (len(lines) + 1) > MAX_AUTOCOMPLETED_CELLS:
        return None
    built = [row_tokens(md, env, line, live.aligns) for line in lines]
    rows = [row for row in built if row is not None]
    if len(rows) != len(built):
        return None
    render = md.renderer.render
    for line, (tokens, cells) in zip(lines[:complete], rows[:complete], strict=True):
        piece: str = render(tokens, md.options, env)
        live.parts.append(piece)
        live.html += piece
        live.autocompleted += max(0, live.columns - cells)
        for label in labels(tokens):
            live.label_keys[label] = key(env["references"].get(label))
        live.offset += len(line) + 1
        live.lines += 1
    body = "".join(render(tokens, md.options, env) for tokens, _ in rows[complete:])
    parts = (live.head_html, "<tbody>\n", live.html, body, "</tbody>\n</table>\n")
    return "".join(parts)


__all__ = ["row_tokens", "table_frame"]
