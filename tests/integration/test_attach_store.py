"""Attachments in the database: content-addressed, kept apart from the messages, and deleted
with the trash once no chat uses them."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.store import Database
from app.store.attachments import NewAttachment, NewChunk
from app.store.errors import NotFound
from app.store.records import SentDocuments, SentPart
from tests.integration.test_store_migrations import SEEDS, build_at


def _file(name: str, text: str, parts: int = 2) -> NewAttachment:
    data = text.encode()
    chunks = tuple(NewChunk(i, f"{text} part {i}", i + 1, i + 1, ("H",)) for i in range(parts))
    return NewAttachment(name, hashlib.sha256(data).hexdigest(), "pdf", data, text, chunks, parts)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    yield database
    database.close()


def test_same_bytes_are_kept_once_under_every_name(db: Database) -> None:
    chat = db.create_chat(title="a")
    first = db.add_message(chat.id, "user", "read this")
    second = db.add_message(chat.id, "user", "and this")
    db.attach(first.id, [_file("report.pdf", "alpha"), _file("notes.txt", "beta", 1)])
    added = db.attach(second.id, [_file("copy of report.pdf", "alpha")])
    assert db.attachment_file_count() == 2
    listed = db.attachments([first.id, second.id, 999])
    assert [a.name for a in listed[first.id]] == ["report.pdf", "notes.txt"]
    assert [(a.name, a.parts, a.pages, a.kind) for a in listed[second.id]] == [
        ("copy of report.pdf", 2, 2, "pdf")
    ]
    assert listed[999] == [] and added == listed[second.id]
    assert db.attachment_data(added[0].id) == ("copy of report.pdf", b"alpha")
    assert db.attachment_part(added[0].id, 1) == "alpha part 1"
    assert db.attachment_part(added[0].id, None) == "alpha"
    pool = db.attachment_pool([first.id, second.id])
    assert [p.attachment.name for p in pool] == ["report.pdf", "notes.txt"]  # once per content
    assert [c.first_page for c in pool[0].chunks] == [1, 2] and pool[0].chunks[0].headings == ("H",)


def test_attaching_is_all_or_nothing(db: Database) -> None:
    chat = db.create_chat(title="a")
    message = db.add_message(chat.id, "user", "q")
    broken = _file("b.txt", "b")
    broken = replace(broken, chunks=(NewChunk(0, "x"), NewChunk(0, "y")))
    with pytest.raises(Exception):  # noqa: B017,PT011 - the store's own error for a constraint
        db.attach(message.id, [_file("a.txt", "a"), broken])
    assert db.attachment_file_count() == 0 and db.attachments([message.id])[message.id] == []
    with pytest.raises(NotFound):
        db.attach(12345, [_file("a.txt", "a")])
    with pytest.raises(NotFound):
        db.attachment_data(777)
    with pytest.raises(NotFound):
        db.attachment_part(777, 0)


def test_message_reads_never_touch_file_contents(db: Database) -> None:
    chat = db.create_chat(title="a")
    message = db.add_message(chat.id, "user", "q")
    db.attach(message.id, [_file("big.txt", "x" * 100_000)])
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(db._engine, "before_cursor_execute", seen)
    try:
        assert [m.content for m in db.latest_messages(chat.id)] == ["q"]
        db.messages(chat.id)
        assert db.attachments([message.id])[message.id][0].size == 100_000
    finally:
        sa.event.remove(db._engine, "before_cursor_execute", seen)
    reads = " ".join(statements)
    assert "attachment_files.data" not in reads and "attachment_files.text" not in reads
    assert "attachment_chunks.text" not in reads


def test_files_go_with_the_last_chat_that_uses_them(db: Database) -> None:
    keep = db.create_chat(title="keep")
    drop = db.create_chat(title="drop")
    kept_message = db.add_message(keep.id, "user", "q")
    dropped_message = db.add_message(drop.id, "user", "q")
    db.attach(kept_message.id, [_file("shared.txt", "shared")])
    db.attach(dropped_message.id, [_file("shared.txt", "shared"), _file("own.txt", "own")])
    db.delete_message(dropped_message.id)  # hidden, undoable: the files stay
    assert db.attachment_file_count() == 2
    db.delete_chat(drop.id)
    assert db.attachment_file_count() == 2  # in the trash, still restorable
    db.purge_deleted_chats()
    assert db.attachment_file_count() == 1
    assert [a.name for a in db.attachments([kept_message.id])[kept_message.id]] == ["shared.txt"]
    db.discard_message(kept_message.id)
    assert db.attachment_file_count() == 0
    with sqlite3.connect(db.path) as raw:
        assert raw.execute("SELECT count(*) FROM attachment_chunks").fetchone() == (0,)
    raw.close()


def test_an_edited_question_keeps_its_files_and_answers_record_parts(db: Database) -> None:
    chat = db.create_chat(title="a")
    question = db.add_message(chat.id, "user", "q")
    db.attach(question.id, [_file("r.pdf", "r", 3)])
    edited = db.add_message(chat.id, "user", "q2", parent_id=None)
    db.copy_attachments(question.id, edited.id)
    attachment = db.attachments([edited.id])[edited.id][0]
    assert attachment.name == "r.pdf" and db.attachment_file_count() == 1
    answer = db.add_message(chat.id, "assistant", "a")
    sent = SentDocuments(
        "bm25", 42, (SentPart(attachment.id, "r.pdf", "ab", 1, 3, (2,), ("H",), 42),)
    )
    db.record_documents(answer.id, sent)
    provenance = db.get_message(answer.id).provenance
    assert provenance is not None and provenance.documents == sent
    assert db.latest_messages(chat.id)[-1].provenance == provenance
    with pytest.raises(NotFound):
        db.record_documents(9999, sent)


def test_attachments_work_on_a_database_upgraded_from_0006(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    build_at(path, "0006")
    with sqlite3.connect(path) as connection:
        SEEDS["0006"](connection)
    connection.close()
    with Database.open(path) as db:
        db.attach(1, [_file("a.txt", "a")])
        assert [a.name for a in db.attachments([1])[1]] == ["a.txt"]
        assert db.messages(1)[1].provenance is not None
        assert db.messages(1)[1].provenance.documents is None  # type: ignore[union-attr]
