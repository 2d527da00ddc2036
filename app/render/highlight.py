"""Pygments highlighting for fenced code, and its style sheets for the light and dark themes."""

from __future__ import annotations

from functools import lru_cache

from markdown_it.common.utils import escapeHtml
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

# Past this size a code block is shown plain: highlighting must never stall the transcript.
MAX_HIGHLIGHT_CHARS = 100_000
LIGHT_STYLE = "default"
DARK_STYLE = "github-dark"
CODE_CLASS = "hl"

_FORMATTER = HtmlFormatter(nowrap=True)


@lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer | None:
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except (ClassNotFound, ValueError):
        return None


def highlight_code(code: str, language: str) -> str | None:
    """HTML spans for `code` in `language`, or None when it is unknown or too large."""
    if not language or len(code) > MAX_HIGHLIGHT_CHARS:
        return None
    lexer = _lexer(language.lower())
    if lexer is None:
        return None
    result: str = highlight(code, lexer, _FORMATTER)
    return result


def plain_code(code: str) -> str:
    return escapeHtml(code)


def pygments_css() -> str:
    """Style rules for highlighted code: light under `.theme-light`, dark under `.theme-dark`."""
    light: str = HtmlFormatter(style=LIGHT_STYLE).get_style_defs(  # type: ignore[no-untyped-call]
        f".theme-light .{CODE_CLASS}"
    )
    dark: str = HtmlFormatter(style=DARK_STYLE).get_style_defs(  # type: ignore[no-untyped-call]
        f".theme-dark .{CODE_CLASS}"
    )
    return f"/* Pygments {LIGHT_STYLE} */\n{light}\n/* Pygments {DARK_STYLE} */\n{dark}\n"
