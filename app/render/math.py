"""Math syntax for markdown-it: `$…$`, `$$…$$`, `\\(…\\)`, `\\[…\\]` and amsmath environments.

Dollar math comes from mdit-py-plugins (dollarmath) and bare `\\begin{align}`-style environments
from its amsmath plugin. Both block rules are wrapped so that a display equation ends at the first
blank line (LaTeX forbids blank lines there too) and spans at most `MAX_MATH_LINES` lines: their
own scans run to the end of the document, which made 20,000 unclosed `\\begin{align}` lines take
90 s and would let an unclosed opener change any amount of later text.

The bracket delimiters have their own rules here instead of mdit-py-plugins' texmath: its inline
rule slices the rest of the paragraph for every `\\(` (a 48 KB line of unclosed `\\(` took 1.4 s,
a 1 MB one would take minutes) and its block rule drops text after `\\]` and cannot interrupt a
paragraph, which is how Phi-4 writes "The result is:\\n\\[ … \\]".

Every math token renders as an escaped placeholder, `<span class="math inline">` or
`<span|div class="math display">`, which the transcript page typesets with KaTeX.

A block rule that finds an opener but no closer *because the text ran out* records the opener's
line in `env[UNCLOSED_MATH_KEY]`: the streaming renderer must not commit anything from that block
on, since a closer arriving later would turn those lines into math.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererProtocol
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.amsmath import amsmath_block, amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_block_dollar

MAX_MATH_LINES = 200
UNCLOSED_MATH_KEY = "phidesk_unclosed_math"
_MEMO_KEY = "phidesk_paren_close"

BlockRule = Callable[[StateBlock, int, int, bool], bool]

_AMS_OPEN = re.compile(r"\\begin\{")


def _line_text(state: StateBlock, line: int) -> str:
    return state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]


def _window_end(state: StateBlock, start_line: int, end_line: int) -> int:
    """The line where a display equation opened at `start_line` must have closed."""
    limit = min(end_line, start_line + 1 + MAX_MATH_LINES)
    line = start_line + 1
    while line < limit:
        if state.isEmpty(line):
            return line
        line += 1
    return limit


def _note_unclosed(state: StateBlock, line: int, window_end: int) -> None:
    # The scan stopped because the text ran out (not at a blank line, a container's end or the
    # line limit): more text may still close it.
    document_lines = len(state.bMarks) - 1
    if window_end >= document_lines and window_end - line <= MAX_MATH_LINES:
        found: list[int] = state.env.setdefault(UNCLOSED_MATH_KEY, [])
        found.append(line)


def _bounded(rule: BlockRule, opens: Callable[[str], bool]) -> BlockRule:
    def bounded_rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        if state.is_code_block(start_line) or not opens(_line_text(state, start_line)):
            return False
        window_end = _window_end(state, start_line, end_line)
        if rule(state, start_line, window_end, silent):
            return True
        _note_unclosed(state, start_line, window_end)
        return False

    return bounded_rule


def _bracket_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """`\\[ … \\]` on lines of its own; the closing `\\]` ends a line."""
    if state.is_code_block(start_line):
        return False
    first = _line_text(state, start_line)
    if not first.startswith("\\["):
        return False
    window_end = _window_end(state, start_line, end_line)
    rest = first[2:].rstrip()
    if rest.endswith("\\]") and len(rest) >= 2:
        body = rest[:-2]
        last = start_line
    else:
        parts = [first[2:]]
        last = -1
        for line in range(start_line + 1, window_end):
            text = _line_text(state, line).rstrip()
            if text.endswith("\\]"):
                parts.append(text[:-2])
                last = line
                break
            parts.append(text)
        if last < 0:
            _note_unclosed(state, start_line, window_end)
            return False
        body = "\n".join(parts)
    if not body.strip():
        return False
    if not silent:
        token = state.push("math_block", "math", 0)
        token.block = True
        token.content = body
        token.markup = "\\["
        token.map = [start_line, last + 1]
    state.line = last + 1
    return True


def _next_close(state: StateInline, closer: str, start: int) -> int:
    """Index of the first `closer` at or after `start` in this inline source, or -1.

    Remembered per source string so that many unclosed openers cost one scan, not one each.
    """
    memo: dict[str, tuple[str, int, int, int]] = state.env.setdefault(_MEMO_KEY, {})
    cached = memo.get(closer)
    if cached is not None:
        src, pos_max, searched_from, found = cached
        if (
            src is state.src
            and pos_max == state.posMax
            and searched_from <= start
            and (found == -1 or found >= start)
        ):
            return found
    found = state.src.find(closer, start, state.posMax)
    memo[closer] = (state.src, state.posMax, start, found)
    return found


def _bracket_inline(state: StateInline, silent: bool) -> bool:
    """`\\( … \\)` inline math and `\\[ … \\]` display math inside a paragraph."""
    src = state.src
    pos = state.pos
    if src[pos] != "\\" or pos + 1 >= state.posMax or src[pos + 1] not in "([":
        return False
    display = src[pos + 1] == "["
    closer = "\\]" if display else "\\)"
    end = _next_close(state, closer, pos + 2)
    if end < 0:
        return False
    body = src[pos + 2 : end]
    if not body.strip():
        return False
    if not silent:
        token = state.push("math_inline_double" if display else "math_inline", "math", 0)
        token.content = body
        token.markup = "\\[" if display else "\\("
    state.pos = end + 2
    return True


def _placeholder(tag: str, mode: str) -> Callable[..., str]:
    def render(
        self: RendererProtocol,
        tokens: Sequence[Token],
        idx: int,
        options: OptionsDict,
        env: EnvType,
    ) -> str:
        source = escapeHtml(tokens[idx].content.strip())
        html = f'<{tag} class="math {mode}">{source}</{tag}>'
        return html + "\n" if tag == "div" else html

    return render


def _dollar_opens(text: str) -> bool:
    return text.startswith("$$")


def _ams_opens(text: str) -> bool:
    return _AMS_OPEN.match(text) is not None


def math_plugin(md: MarkdownIt) -> None:
    """Install every math syntax and placeholder render rule on `md`."""
    dollarmath_plugin(
        md,
        allow_space=False,
        allow_digits=False,
        double_inline=True,
        allow_blank_lines=False,
        allow_labels=False,
    )
    amsmath_plugin(md)
    dollar_rule = math_block_dollar(allow_labels=False, allow_blank_lines=False)
    md.block.ruler.at("math_block", _bounded(dollar_rule, _dollar_opens))
    md.block.ruler.at(
        "amsmath",
        _bounded(amsmath_block, _ams_opens),
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )
    md.block.ruler.before(
        "fence",
        "math_block_brackets",
        _bracket_block,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )
    md.inline.ruler.before("escape", "math_brackets", _bracket_inline)
    inline = _placeholder("span", "inline")
    display_inline = _placeholder("span", "display")
    display = _placeholder("div", "display")
    md.add_render_rule("math_inline", inline)
    md.add_render_rule("math_inline_double", display_inline)
    md.add_render_rule("math_block", display)
    md.add_render_rule("math_block_label", display)
    md.add_render_rule("amsmath", display)


__all__ = ["MAX_MATH_LINES", "UNCLOSED_MATH_KEY", "math_plugin"]
