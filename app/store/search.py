"""Full-text search over message content: what a user types becomes a safe FTS5 query, the
query runs (`SearchQueries.search`), and FTS5 snippets become highlights.

Every whitespace-separated word becomes a quoted FTS5 string (internal `"` doubled), so operators
and punctuation (`AND`, `NEAR(`, `*`, `C++`, `"`) are searched for as text and never parsed as
query syntax. Words with no letter or digit are dropped (the tokenizer would see nothing in them).
The last word matches as a prefix when it ends in a letter or digit, so results appear while the
user is still typing (`templ` finds "templates", but `C++` does not find "compile").
"""

from __future__ import annotations

import html
import unicodedata
from typing import cast

import sqlalchemy as sa

from app.store.convert import parse_time
from app.store.records import Role, SearchHit
from app.store.transactions import Transactions

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


SEARCH_SQL = sa.text(
    "SELECT m.id, m.chat_id, c.title, m.role, m.created_at, "
    "snippet(message_fts, 0, :start, :end, '…', :tokens) "
    "FROM message_fts JOIN messages AS m ON m.id = message_fts.rowid "
    "JOIN chats AS c ON c.id = m.chat_id "
    "WHERE message_fts MATCH :query AND c.deleted_at IS NULL AND c.import_batch IS NULL "
    "AND m.deleted_at IS NULL "
    "AND (:chat_id IS NULL OR m.chat_id = :chat_id) "
    "ORDER BY message_fts.rowid DESC LIMIT :limit"
)


class SearchQueries(Transactions):
    """The search part of `Database`."""

    def search(
        self, query: str, *, limit: int = 50, chat_id: int | None = None, snippet_tokens: int = 12
    ) -> list[SearchHit]:
        """Messages whose text matches every word of `query` (the last word as a prefix), newest
        first, in chats not in the trash (nor staged by an import). Any input is safe: it is
        searched for as plain words, never parsed as FTS5 syntax; input with no letters or
        digits finds nothing."""
        expression = fts_query(query)
        if expression is None or limit <= 0:
            return []
        params = {
            "query": expression,
            "start": START,
            "end": END,
            "tokens": max(1, min(snippet_tokens, 64)),
            "chat_id": chat_id,
            "limit": limit,
        }
        with self._reading() as session:
            rows = session.execute(SEARCH_SQL, params).all()
        hits = []
        for message_id, hit_chat_id, title, role, created_at, marked in rows:
            text, spans, marked_html = parse_snippet(str(marked or ""))
            hits.append(
                SearchHit(
                    chat_id=int(hit_chat_id),
                    message_id=int(message_id),
                    chat_title=str(title),
                    role=cast(Role, role),
                    created_at=parse_time(created_at),
                    snippet=text,
                    highlights=spans,
                    snippet_html=marked_html,
                )
            )
        return hits
