"""Where the parts of a block end: helpers shared by the stream and its live block."""

from __future__ import annotations

from markdown_it.token import Token

from app.render.markdown import FENCE_CLOSED

# Blocks whose start is only known once a later line is complete (their closing line).
LOOKAHEAD_BLOCKS = frozenset({"math_block", "math_block_label", "amsmath"})


def line_offset(text: str, line: int) -> int:
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


def last_final(
    tokens: list[Token], indices: list[int], complete_lines: int, limit: int
) -> int | None:
    """The last position in `indices` (never the first) whose token starts a part such that
    everything before it is final, or None."""
    best: int | None = None
    for position, index in enumerate(indices):
        if position == 0:
            continue
        token = tokens[index]
        assert token.map is not None
        start, end = token.map
        if start >= complete_lines or start > limit:
            break
        if token.type == "table_open" and start + 1 >= complete_lines:
            break
        if token.type in LOOKAHEAD_BLOCKS and end >= complete_lines:
            break
        best = position
    return best


# Top-level blocks that no later text can change once a blank line follows them (lists, quotes,
# indented code and tables can still take lines after a blank line; reference definitions are
# not blocks, and the stream revises the blocks that use them).
_ENDED_BY_BLANK = frozenset(
    {"paragraph_open", "heading_open", "hr", "fence", "math_block", "math_block_label", "amsmath"}
)


def ended_by_blank(
    tokens: list[Token], index: int, source: str, complete_lines: int, limit: int
) -> int | None:
    """The first line after the complete blank lines that follow the block starting at
    `tokens[index]`, when there is one such line and the block is one no later text can change
    (a fence only when closed), else None. (The next part then starts on its own line 0, where
    the stream's live block looks for it.)"""
    token = tokens[index]
    if token.type not in _ENDED_BY_BLANK or token.map is None:
        return None
    if token.type == "fence" and not (token.meta or {}).get(FENCE_CLOSED):
        return None
    end = token.map[1] + (token.type == "amsmath")  # its map ends on its closing line
    if end >= complete_lines or end > limit:
        return None
    begin = line_offset(source, end)
    line = end
    while line < complete_lines:
        stop = source.index("\n", begin)
        if not blank(source[begin:stop]):
            break
        line, begin = line + 1, stop + 1
    return line if line > end else None


def closing(tokens: list[Token], index: int) -> int:
    level = tokens[index].level
    for n in range(index + 1, len(tokens)):
        if tokens[n].level == level and tokens[n].nesting == -1:
            return n
    return len(tokens) - 1


def blank(line: str) -> bool:
    return not line.strip(" \t")


def set_tight(tokens: list[Token], level: int, tight: bool) -> None:
    for token in tokens:
        if token.level == level and token.type in ("paragraph_open", "paragraph_close"):
            token.hidden = tight


__all__ = [
    "LOOKAHEAD_BLOCKS",
    "blank",
    "closing",
    "ended_by_blank",
    "last_final",
    "line_offset",
    "set_tight",
]
