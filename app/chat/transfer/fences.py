"""Keeping sections apart: which closing lines a message needs after it so that a code fence,
a raw-HTML block or a math block it leaves open cannot run on into the next section, in
renderers with and without raw HTML and math syntaxes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins import amsmath
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.texmath import texmath_plugin

_MAY_LEAK = re.compile(r"```|~~~|\$\$|\\\[|\\begin\{|(?:^|[\r\n])[ \t>]*<")
_PROBE = "phidesk-section-probe"
_HTML_ENDS: Final = (
    (re.compile(r"<!--"), "-->"),
    (re.compile(r"<\?"), "?>"),
    (re.compile(r"<!\[CDATA\["), "]]>"),
    (re.compile(r"<![A-Za-z]"), ">"),
)
_HTML_RAW = re.compile(r"<(script|pre|style|textarea)(?=[\s>]|$)", re.IGNORECASE)
_ENVIRONMENT = re.compile(r"\\begin\{([A-Za-z]+\*?)\}")
# After the probe heading, for the math parser: a line that would close each kind of math
# block, since a math block only forms (and swallows what lies between) when one follows.
_MATH_BAIT = "\n$$\n\\]\n" + "".join(
    f"\\end{{{name}}}\n\\end{{{name}*}}\n" for name in amsmath.ENVIRONMENTS
)
_LEAKING = frozenset({"fence", "html_block", "math_block", "math_block_label", "amsmath"})
_probe_parsers: list[tuple[MarkdownIt, str]] = []


def _parsers() -> list[tuple[MarkdownIt, str]]:
    if not _probe_parsers:
        # Without raw HTML (PhiDesk's own view) first, then with it (GitHub, most editors);
        # each plain and with the math syntaxes, with what to put after the probe heading.
        for html in (False, True):
            math = (
                MarkdownIt("commonmark", {"html": html})
                .use(amsmath.amsmath_plugin)
                .use(texmath_plugin, delimiters="brackets")
                .use(dollarmath_plugin)
            )
            _probe_parsers.extend(
                [(MarkdownIt("commonmark", {"html": html}), ""), (math, _MATH_BAIT)]
            )
    return _probe_parsers


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _open_block(parser: MarkdownIt, bait: str, text: str) -> tuple[Token, str | None] | None:
    """What `text` leaves open, if anything, with the line that closes it (None if unknown):
    a block that would swallow a heading after a blank line, or a fence inside a list item
    that would take in the blank line after the text."""
    tokens = parser.parse(text + "\n## " + _PROBE + "\n" + bait)
    swallowed = True
    for index, token in enumerate(tokens):
        if (
            token.type == "heading_open"
            and token.level == 0
            and tokens[index + 1].content == _PROBE
        ):
            swallowed = False
    if swallowed:
        leaking = [t for t in tokens if t.level == 0 and t.type in _LEAKING]
        return (leaking[-1], _closer(leaking[-1])) if leaking else None
    lines = _LINE_BREAK.split(text)
    end = len(lines) - 1  # markdown-it's number of lines in `text`
    for token in tokens:
        if token.type == "fence" and token.map is not None and token.map[1] > end:
            source = lines[token.map[0]]
            return token, " " * source.find(token.markup) + token.markup
    return None


def _closer(block: Token) -> str | None:
    if block.type == "fence":
        return block.markup
    if block.type in ("math_block", "math_block_label"):
        return "\\]" if block.markup == "\\[" else "$$"
    if block.type == "amsmath":
        environment = _ENVIRONMENT.search(block.content)
        return f"\\end{{{environment.group(1)}}}" if environment else None
    if block.type == "html_block":
        start = block.content.lstrip(" ")
        for pattern, end in _HTML_ENDS:
            if pattern.match(start):
                return end
        raw = _HTML_RAW.match(start)
        if raw:
            return f"</{raw.group(1)}>"
    return None


@dataclass(frozen=True, slots=True)
class Closing:
    """What goes after a piece of content: `lines`, and whether every renderer asked then sees
    the content closed (`sealed`), or only those without raw HTML (renderers disagree on some
    text, e.g. a fence opened inside a raw-HTML block that ends at a blank line)."""

    lines: tuple[str, ...]
    sealed: bool


def _close_for(block: str, parsers: Sequence[tuple[MarkdownIt, str]]) -> tuple[list[str], bool]:
    added: list[str] = []
    for _ in range(6):
        text = block + "".join(line + "\n" for line in added)
        for parser, bait in parsers:
            found = _open_block(parser, bait, text)
            if found is None:
                continue
            closer = found[1]
            if closer is None:
                return added, False
            if parser.options["html"]:
                # After a blank line, so that a renderer without raw HTML, which saw the
                # content closed, sees a paragraph of its own and not a line of the content's.
                added.append("")
            added.append(closer)
            break
        else:
            return added, True
    return added, False


_FENCE_OPEN = re.compile(r"(`{3,}|~{3,})(.*)")
_QUOTE = re.compile(r" {0,3}>")
_ITEM_MATH = re.compile(r"[ \t]*(?:(?:[-+*]|\d{1,9}[.)])[ \t]+)+\$\$")


def _plainly_closed(block: str) -> bool:
    """True when a quick scan proves that `block` leaves no fence or $$ math block open in any
    renderer; False when it might (then the renderers themselves are asked, which is slower).

    Only simple, common shapes are proven: fences and $$ blocks indented at most three
    spaces, that start after a blank line or another block and end at the same indentation,
    with every line between them indented at least as far (so a list item holding one goes on
    around it), and no quotes, raw HTML or other math syntaxes outside them."""
    fence: str | None = None  # the open fence's marker
    in_math = False
    opened_at = 0  # indentation of the open fence or math block
    after_text = False  # the previous line is paragraph text (a $$ line would continue it)
    for line in _LINE_BREAK.split(block):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        blank = not stripped.strip(" \t")
        if (fence is not None or in_math) and not blank and indent < opened_at:
            return False
        if fence is not None:
            closes = indent <= 3 and re.fullmatch(
                re.escape(fence[0]) + f"{{{len(fence)},}}[ \t]*", stripped
            )
            if closes:
                if indent != opened_at:
                    return False
                fence = None
            continue
        if in_math:
            # Where $$ is not math, these lines are Markdown: a fence or raw HTML (e.g. `<!--`)
            # there can run past the block, so only the renderers can tell.
            if "```" in line or "~~~" in line or (indent <= 3 and stripped.startswith("<")):
                return False
            if line.rstrip(" \t").endswith("$$"):
                in_math = False
            elif "$$" in line:
                return False
            continue
        if blank:
            after_text = False
            continue
        if "\\[" in line or "\\begin{" in line or _QUOTE.match(line) or _ITEM_MATH.match(line):
            return False
        if indent <= 3 and stripped.startswith("<"):
            return False
        opened = _FENCE_OPEN.match(stripped) if indent <= 3 else None
        if opened is not None:
            marker, info = opened.groups()
            if marker[0] == "`" and "`" in info:
                return False
            fence, opened_at, after_text = marker, indent, False
            continue
        if "```" in line or "~~~" in line:
            return False
        if indent <= 3 and stripped.startswith("$$"):
            if after_text:
                return False
            body = stripped.rstrip(" \t")
            if body == "$$":
                in_math, opened_at = True, indent
            elif not (len(body) > 3 and body.endswith("$$")) or "$$" in body[2:-2]:
                return False
            continue
        if indent > 3 and "$$" in line:
            return False
        after_text = True
    return fence is None and not in_math


def closing_lines(block: str) -> Closing:
    """Lines to put after `block` (text ending in a newline) so that nothing it opened, a
    code fence, a raw-HTML block or a math block, runs on into what follows.

    Renderers without raw HTML (PhiDesk's own view) are asked first: a fence or math block they
    see open is closed on the very next line (a blank line first would add one to the code).
    Then renderers with raw HTML: what only they see open (a raw-HTML block, or a fence or
    math block after one) is closed after a blank line. Each is asked again until none sees
    anything open; where they cannot all be satisfied, those without raw HTML win."""
    if not _MAY_LEAK.search(block) or _plainly_closed(block):
        return Closing((), True)
    every = _parsers()
    added, sealed = _close_for(block, every)
    if not sealed:
        added, _ = _close_for(block, [p for p in every if not p[0].options["html"]])
    return Closing(tuple(added), sealed)
