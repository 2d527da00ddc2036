"""Search grouped by chat, on a real database: one result per chat with its count and the
newest match, plain-text snippets, titles, and what must never match."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from app.store import Database
from app.store.search import plain_snippet


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    yield database
    database.close()


def marked(hit_snippet: str, spans: tuple[tuple[int, int], ...]) -> list[str]:
    return [hit_snippet[a:b] for a, b in spans]


def test_one_result_per_chat_with_its_count_and_newest_match(db: Database) -> None:
    busy = db.create_chat(title="Linear algebra")
    db.add_message(busy.id, "user", "what is a characteristic polynomial")
    db.add_message(busy.id, "assistant", "The polynomial det(A - tI).")
    newest = db.add_message(busy.id, "user", "and its roots? polynomial roots")
    quiet = db.create_chat(title="Other")
    only = db.add_message(quiet.id, "user", "a polynomial once")
    db.add_message(quiet.id, "assistant", "nothing here")

    results = db.search_chats("polynomial")

    by_chat = {r.chat_id: r for r in results}
    assert len(results) == 2 == len(by_chat)
    assert by_chat[busy.id].count == 3
    assert by_chat[busy.id].message_id == newest.id
    assert by_chat[busy.id].chat_title == "Linear algebra"
    assert by_chat[quiet.id].count == 1
    assert by_chat[quiet.id].message_id == only.id
    assert marked(by_chat[busy.id].snippet, by_chat[busy.id].highlights) == ["polynomial"]


def test_snippets_are_plain_text_without_markdown(db: Database) -> None:
    chat = db.create_chat(title="Markdown")
    db.add_message(
        chat.id,
        "assistant",
        "# Result\n\nThe **characteristic polynomial** is $p(t) = t^2 - 1$:\n\n"
        "- first, `solve` it\n- then [read more](https://example.org) about it\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |",
    )
    (result,) = db.search_chats("polynomial")
    text = result.snippet
    for raw in ("**", "$", "`", "](", "|", "\n", "- first", "# "):
        assert raw not in text, (raw, text)
    assert "characteristic polynomial is p(t) = t^2 - 1" in text
    assert marked(text, result.highlights) == ["polynomial"]


def test_plain_snippet_keeps_highlights_on_the_matched_words() -> None:
    text, spans = plain_snippet("…the **\x02Polynomial\x03** and $\x02x\x03^2$ here")
    assert text == "…the Polynomial and x^2 here"
    assert marked(text, spans) == ["Polynomial", "x"]


def test_titles_are_searched_too(db: Database) -> None:
    titled = db.create_chat(title="Eigenvalue homework")
    db.add_message(titled.id, "user", "help me with this")
    both = db.create_chat(title="More eigenvalues")
    db.add_message(both.id, "user", "eigenvalues of a 2x2 matrix")

    results = {r.chat_id: r for r in db.search_chats("eigenval")}

    assert set(results) == {titled.id, both.id}
    assert results[titled.id].count == 0
    assert results[titled.id].message_id is None
    assert results[titled.id].title_match
    assert results[both.id].count == 1
    assert results[both.id].title_match
    assert marked("Eigenvalue homework", results[titled.id].title_highlights) == ["Eigenvalue"]


def test_deleted_and_staged_never_match(db: Database) -> None:
    kept = db.create_chat(title="Kept")
    shown = db.add_message(kept.id, "user", "zebra one")
    hidden = db.add_message(kept.id, "assistant", "zebra two")
    db.delete_message(hidden.id)
    trashed = db.create_chat(title="zebra in the trash")
    db.add_message(trashed.id, "user", "zebra three")
    db.delete_chat(trashed.id)
    staged = db.create_chat(title="zebra staged")
    db.add_message(staged.id, "user", "zebra four")
    with closing(sqlite3.connect(db.path)) as raw, raw:
        raw.execute("UPDATE chats SET import_batch = 'dead 1' WHERE id = ?", (staged.id,))

    results = db.search_chats("zebra")

    assert [(r.chat_id, r.count, r.message_id) for r in results] == [(kept.id, 1, shown.id)]


@pytest.mark.parametrize("query", ["", "   ", "*", 'C++ "AND*', "NEAR(", "'; DROP TABLE chats; --"])
def test_any_query_is_safe(db: Database, query: str) -> None:
    chat = db.create_chat(title="C++ notes")
    db.add_message(chat.id, "user", "C++ templates")
    assert isinstance(db.search_chats(query), list)
