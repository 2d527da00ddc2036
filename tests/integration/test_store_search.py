"""Full-text search on a real database: hostile queries, highlighting, keeping the index in step."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.store import Database
from app.store.search import _has_token_character


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    yield database
    database.close()


HOSTILE = [
    "C++",
    '"',
    '""',
    "AND",
    "OR NOT",
    "*",
    "a*b",
    "NEAR(",
    "NEAR(a b",
    "col:umn",
    "^start",
    "(",
    ")",
    "-",
    "+",
    "'; DROP TABLE messages; --",
    "",
    "   ",
    "🙂",
    "\x00",
    "\\",
    "{x}",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(db: Database, query: str) -> None:
    chat = db.create_chat(title="t")
    db.add_message(chat.id, "user", "nothing relevant here")
    assert isinstance(db.search(query), list)
    assert db.list_chats()[0].message_count == 1  # and nothing was dropped


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("C++", True),
        ("c++ and", True),
        ('"quoted"', True),
        ("NEAR(", True),
        ("AND", True),
        ("🙂 emoji", True),
        ("*", False),
        ("", False),
        ("🙂", False),
        ("C++ absent", False),
    ],
)
def test_hostile_words_are_searched_as_text(db: Database, query: str, found: bool) -> None:
    chat = db.create_chat(title="Syntax soup")
    message = db.add_message(
        chat.id, "user", 'Use C++ AND NEAR( with a * star, "quoted" text and 🙂 emoji'
    )
    hits = db.search(query)
    assert [h.message_id for h in hits] == ([message.id] if found else [])


def test_hits_carry_chat_and_highlighted_escaped_snippet(db: Database) -> None:
    chat = db.create_chat(title="Web <b>stuff</b>")
    message = db.add_message(
        chat.id, "assistant", "Never trust <script>alert(1)</script> in a Template literal"
    )
    [hit] = db.search("templ")
    assert (hit.chat_id, hit.message_id, hit.chat_title, hit.role) == (
        chat.id,
        message.id,
        "Web <b>stuff</b>",
        "assistant",
    )
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["Template"]
    assert "<mark>Template</mark>" in hit.snippet_html
    assert "<script>" not in hit.snippet_html and "&lt;script&gt;" in hit.snippet_html


def test_long_message_snippet_is_an_excerpt_around_the_match(db: Database) -> None:
    chat = db.create_chat()
    words = [f"filler{i}" for i in range(300)]
    words[150] = "needle"
    db.add_message(chat.id, "user", " ".join(words))
    [hit] = db.search("needle")
    assert len(hit.snippet) < 200 and "…" in hit.snippet
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["needle"]


def test_newest_first_limit_and_chat_filter(db: Database) -> None:
    first = db.create_chat()
    second = db.create_chat()
    ids = [db.add_message(c.id, "user", f"kiwi {i}").id for i, c in enumerate([first, second] * 3)]
    assert [h.message_id for h in db.search("kiwi")] == ids[::-1]
    assert [h.message_id for h in db.search("kiwi", limit=2)] == ids[::-1][:2]
    assert [h.message_id for h in db.search("kiwi", chat_id=first.id)] == ids[::2][::-1]


def test_index_follows_streaming_updates_and_edits(db: Database) -> None:
    chat = db.create_chat()
    answer = db.add_message(chat.id, "assistant", status="streaming")
    db.update_streaming(answer.id, "an early draft")
    assert [h.message_id for h in db.search("draft")] == [answer.id]
    db.finish_message(answer.id, content="the final wording")
    assert db.search("draft") == []
    assert [h.message_id for h in db.search("wording")] == [answer.id]
    db.delete_message(answer.id)
    assert db.search("wording") == []


def test_diacritics_and_case_are_folded(db: Database) -> None:
    chat = db.create_chat()
    message = db.add_message(chat.id, "user", "Crème Brûlée recipe")
    assert [h.message_id for h in db.search("creme brulee")] == [message.id]


_DB_DIR = Path(tempfile.mkdtemp(prefix="phidesk-fts-hypothesis-"))
_SHARED: list[Database] = []


def _shared_db() -> Database:
    if not _SHARED:
        _SHARED.append(Database.open(_DB_DIR / "phidesk.sqlite3"))
    return _SHARED[0]


@pytest.fixture(scope="module", autouse=True)
def _close_shared() -> Iterator[None]:
    yield
    for database in _SHARED:
        database.close()
    _SHARED.clear()
    shutil.rmtree(_DB_DIR, ignore_errors=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.text(), query=st.text())
def test_any_text_is_stored_and_any_query_is_safe(content: str, query: str) -> None:
    db = _shared_db()
    chat = db.create_chat(title=content[:20])
    message = db.add_message(chat.id, "user", content)
    assert isinstance(db.search(query, chat_id=chat.id), list)
    for word in content.split():
        if _has_token_character(word.replace("\x00", "")):
            hits = db.search(word, chat_id=chat.id)
            assert message.id in [h.message_id for h in hits], word
    assert db.get_message(message.id).content == content
