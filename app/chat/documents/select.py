"""Which parts of the attached documents matter most for a question.

By default SQLite FTS5's BM25 ranks the parts (an in-memory index per turn: no extra model, no
file); when the user chose an embedding model, the cosine similarity of Ollama embeddings does.
Either way, parts on pages the question names ("page 212", "pp. 3-5") come first.
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
from collections.abc import Sequence

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)
_PAGE_REFERENCE = re.compile(
    r"\b(?:pages?|pp?\.)\s*(\d{1,5})(?:\s*(?:-|–|to|and|through)\s*(\d{1,5}))?", re.IGNORECASE
)
MAX_QUERY_TERMS = 64


def named_pages(question: str) -> set[int]:
    """The page numbers a question refers to ("page 212", "pages 3–5", "p. 9")."""
    pages: set[int] = set()
    for match in _PAGE_REFERENCE.finditer(question):
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if first <= last <= first + 50:
            pages.update(range(first, last + 1))
        else:
            pages.add(first)
    return pages


def bm25_order(texts: Sequence[str], question: str) -> list[int]:
    """Indexes of `texts`, the most relevant to `question` first by BM25; those sharing no
    word with it follow in their own order."""
    terms = list(dict.fromkeys(w.lower() for w in _WORD.findall(question)))[:MAX_QUERY_TERMS]
    matched: list[int] = []
    if terms and texts:
        connection = sqlite3.connect(":memory:")
        try:
            connection.execute(
                "CREATE VIRTUAL TABLE part USING fts5(body, "
                "tokenize = 'porter unicode61 remove_diacritics 2')"
            )
            connection.executemany("INSERT INTO part (rowid, body) VALUES (?, ?)", enumerate(texts))
            query = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
            rows = connection.execute(
                "SELECT rowid FROM part WHERE part MATCH ? ORDER BY bm25(part), rowid", (query,)
            ).fetchall()
            matched = [int(r[0]) for r in rows]
        except sqlite3.OperationalError as exc:  # a query FTS5 cannot parse: keep the order
            log.info("ranking parts failed: %s", exc)
        finally:
            connection.close()
    seen = set(matched)
    return matched + [i for i in range(len(texts)) if i not in seen]


def cosine_order(vectors: Sequence[Sequence[float]], question: Sequence[float]) -> list[int]:
    """Indexes of `vectors`, the most similar to `question` first (ties in their order)."""
    q_norm = math.sqrt(sum(x * x for x in question)) or 1.0

    def similarity(index: int) -> float:
        vector = vectors[index]
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return sum(a * b for a, b in zip(vector, question, strict=False)) / (norm * q_norm)

    scores = [similarity(i) for i in range(len(vectors))]
    return sorted(range(len(vectors)), key=lambda i: (-scores[i], i))


def pages_first(
    order: Sequence[int], pages: Sequence[tuple[int, ...]], wanted: set[int]
) -> list[int]:
    """`order` with the parts on a page in `wanted` moved to the front (in their order)."""
    if not wanted:
        return list(order)
    front = [i for i in order if wanted.intersection(pages[i])]
    chosen = set(front)
    return front + [i for i in order if i not in chosen]
