"""Lists and block quotes nested deeper than markdown-it allows: shown as text, never dropped.

markdown-it bounds its recursion with `maxNesting` (20 token levels in the "commonmark" preset:
a list takes two, a block quote one). A container nested past it is not an error there: the
block parser skips to the end of its range, which for a list item is the end of the document,
so a list ten levels deep hid everything after it.

Here a list or block quote that would open past the limit is caught one step earlier and its
lines, up to the next blank line or the end of the enclosing container, become a paragraph of
escaped text (line breaks kept): what is deeper is readable as written, and everything after
it is parsed as usual. The decision depends only on the lines themselves and the container
they are in, so a streamed answer is cut into the same blocks as a full render.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererProtocol
from markdown_it.rules_block import StateBlock, blockquote, list_block
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

TOO_DEEP = "nested_too_deep"

BlockRule = Callable[[StateBlock, int, int, bool], bool]


def _as_text(state: StateBlock, start_line: int, end_line: int) -> None:
    """Turn the lines from `start_line` to the next blank line (or the container's end) into
    one text paragraph."""
    line = start_line + 1
    while line < end_line and not state.isEmpty(line):
        # Lazy continuation lines of a quote have a negative indent; a line indented less
        # than this container belongs to an enclosing one.
        if 0 <= state.sCount[line] < state.blkIndent:
            break
        line += 1
    token = state.push(TOO_DEEP, "p", 0)
    token.block = True
    token.map = [start_line, line]
    token.content = "\n".join(
        state.src[state.bMarks[n] + state.tShift[n] : state.eMarks[n]]
        for n in range(start_line, line)
    )
    state.line = line


def _guard(container: BlockRule, levels: int) -> BlockRule:
    """A rule that takes the place of `container` where its content (`levels` token levels
    further in) would pass the nesting limit."""

    def too_deep(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        if state.level + levels < state.md.options.maxNesting:
            return False
        if not container(state, start_line, end_line, True):
            return False
        if not silent:
            _as_text(state, start_line, end_line)
        return True

    return too_deep


def _render_too_deep(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    lines = tokens[idx].content.split("\n")
    # After a tight list item's hidden paragraph, as markdown-it does before any block.
    start = "\n" if idx and tokens[idx - 1].hidden else ""
    body = "<br />\n".join(escapeHtml(line) for line in lines)
    return f'{start}<p class="too-deep">{body}</p>\n'


def nesting_plugin(md: MarkdownIt) -> None:
    """Show lists and block quotes past `md`'s nesting limit as text (see the module)."""
    # A list's items are read two levels in (list, item), a quote's content one level in.
    md.block.ruler.before("blockquote", "blockquote_too_deep", _guard(blockquote, 1))
    md.block.ruler.before("list", "list_too_deep", _guard(list_block, 2))
    md.add_render_rule(TOO_DEEP, _render_too_deep)


__all__ = ["TOO_DEEP", "nesting_plugin"]
