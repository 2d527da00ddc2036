"""Turn what a user types into a safe FTS5 query, and FTS5 snippets into highlights.

Every whitespace-separated word becomes a quoted FTS5 string (internal `"` doubled), so operators
and punctuation (`AND`, `NEAR(`, `*`, `C++`, `"`) are searched for as text and never parsed as
query syntax. Words with no letter or digit are dropped (the tokenizer would see nothing in them).
The last word matches as a prefix when it ends in a letter or digit, so results appear while the
user is still typing (`templ` finds "templates", but `C++` does not find "compile").
"""

from __future__ import annotations

import html
import unicodedata

START = "\x02"
END = "\x03"


def _has_token_character(word: str) -> bool:
    # unicode61 indexes letters, numbers and private-use characters; everything else separates.
    return any(
        unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) == "Co" for ch in word
    )


def fts_query(text: str, *, prefix_last: bool = True) -> str | None:
    """The FTS5 MATCH expression for `text`, or None when nothing in it can match."""
    # FTS5 tokenizes NUL as a separator, so it splits words here too (and never reaches SQL).
    words = [w for w in text.replace("\x00", " ").split() if _has_token_character(w)]
    terms = ['"' + w.replace('"', '""') + '"' for w in words]
    if not terms:
        return None
    if prefix_last and _has_token_character(words[-1][-1:]):
        terms[-1] += "*"
    return " ".join(terms)


def parse_snippet(marked: str) -> tuple[str, tuple[tuple[int, int], ...], str]:
    """Split an FTS5 snippet with START/END markers into (plain text, highlight offsets, HTML)."""
    plain: list[str] = []
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    opened: int | None = None
    for ch in marked:
        if ch == START:
            if opened is None:
                opened = length
                pieces.append("<mark>")
        elif ch == END:
            if opened is not None:
                spans.append((opened, length))
                opened = None
                pieces.append("</mark>")
        else:
            plain.append(ch)
            pieces.append(html.escape(ch, quote=False))
            length += 1
    if opened is not None:
        spans.append((opened, length))
        pieces.append("</mark>")
    return "".join(plain), tuple(spans), "".join(pieces)
