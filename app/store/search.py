"""Full-text search over message content: what a user types becomes a safe FTS5 query, the
query runs (`SearchQueries.search`), and FTS5 snippets become highlights.

Every whitespace-separated word becomes a quoted FTS5 string (internal `"` doubled), so operators
and punctuation (`AND`, `NEAR(`, `*`, `C++`, `"`) are searched for as text and never parsed as
query syntax. Words with no letter or digit are dropped (the tokenizer would see nothing in them).
The last word matches as a prefix when it ends in a letter or digit, so results appear while the
user is still typing (`templ` finds "templates", but `C++` does not find "compile").

`SearchQueries.search` gives one hit per message (the CLI lists them); `search_chats` gives one
result per chat (the window's sidebar): its newest matching message with a plain-text snippet
(Markdown marks taken out), how many of its messages match, and whether its title matches.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
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


# Markdown marks taken out of snippets. The START/END markers are neither whitespace nor any
# character below, so they survive every substitution and the highlights stay on their words.
_LINE_MARKS = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|[-*+][ \t]+|\d{1,9}[.)][ \t]+|>[ \t]?)+", re.M)
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_RULE = re.compile(r"(?<![^\s|])[:\-]*-{3,}[:\-]*(?![^\s|])")
_INLINE_MARKS = re.compile(r"\*{1,3}|_{2,3}|~~|`+|\$+|\\[()\[\]]")
_PIPES = re.compile(r"\s*\|\s*")
_SPACE = re.compile(r"\s+")


def plain_snippet(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """An FTS5 snippet of Markdown (START/END around the matches) as one line of plain text
    with the matches' offsets: no `**`, `$…$`, list bullets, headings, table pipes or link
    targets, and no line breaks."""
    text = _LINE_MARKS.sub("", marked)
    text = _LINK.sub(r"\1", text)
    text = _RULE.sub(" ", text)
    text = _INLINE_MARKS.sub("", text)
    text = _PIPES.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    plain, spans, _html = parse_snippet(text)
    return plain, spans


def _title_spans(title: str, words: list[str]) -> tuple[tuple[int, int], ...]:
    folded = title.casefold()
    spans = []
    for word in words:
        at = folded.find(word.casefold())
        if at >= 0:
            end = at + len(word)
            while end < len(title) and title[end].isalnum():  # the whole word, as FTS5 marks it
                end += 1
            spans.append((at, end))
    return tuple(sorted(spans))


@dataclass(frozen=True)
class ChatMatches:
    """One chat matching a search. `message_id` is its newest matching message (None when only
    the title matches) and `count` how many of its messages match; `snippet` is plain text
    around the match with `highlights` as (start, end) offsets into it; `title_highlights`
    the same for the title."""

    chat_id: int
    chat_title: str
    updated_at: datetime
    message_id: int | None
    role: Role | None
    count: int
    title_match: bool
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    title_highlights: tuple[tuple[int, int], ...]


# Chats by their newest match: FTS5 walks its matches newest first, so this stops early.
_WALK_SQL = sa.text(
    "SELECT m.id, m.chat_id "
    "FROM message_fts JOIN messages AS m ON m.id = message_fts.rowid "
    "JOIN chats AS c ON c.id = m.chat_id "
    "WHERE message_fts MATCH :query AND c.deleted_at IS NULL AND c.import_batch IS NULL "
    "AND m.deleted_at IS NULL ORDER BY message_fts.rowid DESC"
)
# Matches per chat, for those chats only: through the (chat_id, id) index, the FTS5 matches
# taken once as a set (`+m.id` keeps SQLite from looking every match up by its rowid instead).
_COUNT_SQL = sa.text(
    "SELECT m.chat_id, count(*) FROM messages AS m "
    "WHERE m.chat_id IN :chats AND m.deleted_at IS NULL "
    "AND +m.id IN (SELECT rowid FROM message_fts WHERE message_fts MATCH :query) "
    "GROUP BY m.chat_id"
).bindparams(sa.bindparam("chats", expanding=True))
_TITLES_SQL = (
    "SELECT c.id FROM chats AS c WHERE c.deleted_at IS NULL AND c.import_batch IS NULL "
    "AND {title} ORDER BY c.updated_at DESC, c.id DESC LIMIT :limit"
)
_CHAT_ROWS_SQL = sa.text("SELECT id, title, updated_at FROM chats WHERE id IN :chats").bindparams(
    sa.bindparam("chats", expanding=True)
)
# Snippets of the chosen messages in one pass over the matches between the oldest and newest of
# them (snippet() only where needed): one `rowid = ?` FTS5 lookup per message would evaluate
# the query again each time, which a prefix query makes costly.
_SNIPPETS_SQL = sa.text(
    "SELECT message_fts.rowid, CASE WHEN message_fts.rowid IN :ids "
    "THEN snippet(message_fts, 0, :start, :end, '…', :tokens) END "
    "FROM message_fts WHERE message_fts MATCH :query "
    "AND message_fts.rowid BETWEEN :low AND :high"
).bindparams(sa.bindparam("ids", expanding=True))
_ROLES_SQL = sa.text("SELECT id, role FROM messages WHERE id IN :ids").bindparams(
    sa.bindparam("ids", expanding=True)
)
WALK_BATCH = 256


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


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

    def search_chats(
        self, query: str, *, limit: int = 50, snippet_tokens: int = 12
    ) -> list[ChatMatches]:
        """Chats whose title holds every word of `query` or one of whose messages matches it
        (as `search` matches), one result each, most recently active first. Messages deleted,
        chats in the trash and chats an import is still staging never match."""
        expression = fts_query(query)
        if expression is None or limit <= 0:
            return []
        words = [w for w in query.replace("\x00", " ").split() if _has_token_character(w)]
        title = " AND ".join(f"c.title LIKE :w{i} ESCAPE '\\'" for i in range(len(words)))
        title_params: dict[str, object] = {f"w{i}": _like(w) for i, w in enumerate(words)}
        with self._reading() as session:
            newest: dict[int, int] = {}  # chat -> its newest matching message
            walk = session.execute(_WALK_SQL, {"query": expression})
            try:
                while len(newest) < limit and (batch := walk.fetchmany(WALK_BATCH)):
                    for message_id, chat_id in batch:
                        newest.setdefault(int(chat_id), int(message_id))
                        if len(newest) >= limit:
                            break
            finally:
                walk.close()
            titled = {
                int(r[0])
                for r in session.execute(
                    sa.text(_TITLES_SQL.format(title=title)), {**title_params, "limit": limit}
                )
            }
            chats = set(newest) | titled
            if not chats:
                return []
            counts = {}
            if newest:
                counts = {
                    int(c): int(n)
                    for c, n in session.execute(
                        _COUNT_SQL, {"chats": list(newest), "query": expression}
                    )
                }
            rows = session.execute(_CHAT_ROWS_SQL, {"chats": list(chats)}).all()
            snippets: dict[int, tuple[Role, str]] = {}
            if newest:
                ids = sorted(newest.values())
                found = session.execute(
                    _SNIPPETS_SQL,
                    {
                        "query": expression,
                        "start": START,
                        "end": END,
                        "tokens": max(1, min(snippet_tokens, 64)),
                        "ids": ids,
                        "low": ids[0],
                        "high": ids[-1],
                    },
                ).all()
                marks = {int(i): str(s) for i, s in found if s is not None}
                roles = session.execute(_ROLES_SQL, {"ids": ids}).all()
                snippets = {int(i): (cast(Role, r), marks.get(int(i), "")) for i, r in roles}
        results = []
        for chat_id, chat_title, updated_at in rows:
            message_id = newest.get(int(chat_id))
            role, marked = snippets.get(message_id or 0, (None, ""))
            text, spans = plain_snippet(marked)
            results.append(
                ChatMatches(
                    chat_id=int(chat_id),
                    chat_title=str(chat_title),
                    updated_at=parse_time(updated_at),
                    message_id=message_id,
                    role=role,
                    count=counts.get(int(chat_id), 0),
                    title_match=int(chat_id) in titled,
                    snippet=text,
                    highlights=spans,
                    title_highlights=_title_spans(str(chat_title), words),
                )
            )
        results.sort(key=lambda r: (r.updated_at, r.chat_id), reverse=True)
        return results[:limit]
