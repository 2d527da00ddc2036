"""The Markdown pipeline for one message body: markdown-it-py, math placeholders, Pygments.

Model output is untrusted: raw HTML is off (`html=False`; the "commonmark" preset turns it on),
markdown-it's link validation refuses `javascript:`, `vbscript:`, `file:` and most `data:` URLs,
and images become plain links, so a transcript never loads anything from the network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml, unescapeAll
from markdown_it.renderer import RendererProtocol
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block.fence import fence as fence_rule
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.tasklists import tasklists_plugin

from app.render.highlight import CODE_CLASS, highlight_code, plain_code
from app.render.math import math_plugin
from app.render.nesting import nesting_plugin

_SURROGATE = re.compile("[\ud800-\udfff]")
_CLOSED = "phidesk_closed"
FENCE_CLOSED = _CLOSED  # meta key on a fence token: True when its closing fence was found
LOOSE_ITEM = "phidesk_loose"  # meta key on a list item whose blocks are separated by blank lines


def normalize(text: str) -> str:
    """Line endings to `\\n`; NUL and lone surrogates (broken UTF-8 that slipped through) to U+FFFD.

    Every step is local to one or two characters, so normalizing chunks gives the same text as
    normalizing the whole (the streaming renderer handles a `\\r` that ends a chunk).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
    return _SURROGATE.sub("\ufffd", text)


def _fence_noting_close(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """markdown-it's fence rule, also marking whether the closing fence was found."""
    if not fence_rule(state, start_line, end_line, silent):
        return False
    if silent:
        return True
    token = state.tokens[-1]
    last = state.line - 1
    if token.map is not None and last > start_line:
        text = state.src[state.bMarks[last] + state.tShift[last] : state.eMarks[last]].rstrip()
        marker = token.markup
        closed = (
            len(text) >= len(marker)
            and set(text) == {marker[0]}
            and state.sCount[last] - state.blkIndent < 4
        )
        token.meta = {**(token.meta or {}), _CLOSED: closed}
    return True


MAX_INLINE_CHARS = 100_000


def _mostly_markers(text: str) -> bool:
    markers = text.count("*") + text.count("_") + text.count("[") + text.count("]")
    return markers * 4 > len(text)


def _bounded_inline(state: StateCore) -> None:
    """markdown-it's inline step, except that a block's text past `MAX_INLINE_CHARS` made mostly
    of emphasis and link markers stays plain text: markdown-it's inline parsing of such text (a
    1 MB line of `*_[`) is far from linear, while ordinary prose of any length is."""
    md = state.md
    for token in state.tokens:
        if token.type != "inline":
            continue
        if len(token.content) > MAX_INLINE_CHARS and _mostly_markers(token.content):
            token.children = [Token("text", "", 0, content=token.content)]
        else:
            token.children = []
            md.inline.parse(token.content, md, state.env, token.children)


def _note_loose_items(md: MarkdownIt) -> None:
    """Record on each list item whether markdown-it found it loose (blank lines between its
    blocks), which its list rule otherwise keeps to itself: the streaming renderer needs it to
    render a list's finished items apart from the live one."""
    tokenize = md.block.tokenize

    def noting(state: StateBlock, start_line: int, end_line: int) -> None:
        # The list rule calls this for an item's content right after pushing the item.
        item = state.tokens[-1] if state.tokens else None
        tokenize(state, start_line, end_line)
        if (
            item is not None
            and item.type == "list_item_open"
            and item.map is not None
            and item.map[0] == start_line
            and not state.tight
        ):
            item.meta = {**(item.meta or {}), LOOSE_ITEM: True}

    setattr(md.block, "tokenize", noting)  # noqa: B010 (an instance attribute, this parser only)


def _render_fence(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[idx]
    info = unescapeAll(token.info).strip()
    language = info.split(maxsplit=1)[0] if info else ""
    # An unclosed fence is still being written: highlighting it only when closed keeps each
    # streamed frame cheap, and the full render agrees because it follows the same rule.
    closed = bool((token.meta or {}).get(_CLOSED))
    body = highlight_code(token.content, language) if closed else None
    lang_attr = f' data-lang="{escapeHtml(language)}"' if language else ""
    code_class = f"{CODE_CLASS} language-{escapeHtml(language)}" if language else CODE_CLASS
    if body is None:
        body = plain_code(token.content)
    return f'<pre class="code"{lang_attr}><code class="{code_class}">{body}</code></pre>\n'


def _render_image(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[idx]
    alt = ""
    renderer: Any = self
    if token.children:
        alt = renderer.renderInlineAsText(token.children, options, env)
    src = escapeHtml(str(token.attrGet("src") or ""))
    label = escapeHtml(alt) if alt else "image"
    return f'<a class="image-link" href="{src}">{label}</a>'


def build_markdown() -> MarkdownIt:
    """A fresh parser with PhiDesk's configuration (tables, strikethrough, task lists, math;
    lists and quotes nested past the parser's limit shown as text)."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.use(tasklists_plugin)
    md.use(math_plugin)
    md.use(nesting_plugin)
    md.block.ruler.at(
        "fence", _fence_noting_close, {"alt": ["paragraph", "reference", "blockquote", "list"]}
    )
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("image", _render_image)
    md.core.ruler.at("inline", _bounded_inline)
    _note_loose_items(md)
    return md


@lru_cache(maxsize=1)
def shared_markdown() -> MarkdownIt:
    return build_markdown()


def new_env(references: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"references": dict(references) if references else {}}


def render_markdown(text: str) -> str:
    """The HTML of one message body. Safe to insert into the transcript page."""
    md = shared_markdown()
    html: str = md.render(normalize(text), new_env())
    return html
