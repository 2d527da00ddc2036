"""Which questions on a chat's active path carry files, asked of a real SQLite file in one
statement: only the path on show counts (not other versions), each with the answer after it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.store import Database
from app.store.attachments import NewAttachment, NewChunk


def _file(name: str) -> NewAttachment:
    data = name.encode()
    chunks = (NewChunk(0, f"{name} text"),)
    return NewAttachment(name, hashlib.sha256(data).hexdigest(), "text", data, name, chunks)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    yield database
    database.close()


def test_the_questions_with_files_on_the_path_on_show_and_their_answers(db: Database) -> None:
    chat = db.create_chat(title="files")
    assert db.attached_on_path(chat.id) == []
    q1 = db.add_message(chat.id, "user", "read this")
    db.attach(q1.id, [_file("a.txt")])
    assert db.attached_on_path(chat.id) == [(q1.id, None)]  # not answered yet
    a1 = db.add_message(chat.id, "assistant", "read")
    q2 = db.add_message(chat.id, "user", "no file here")
    db.add_message(chat.id, "assistant", "fine")
    a2b = db.add_message(chat.id, "assistant", "another version", parent_id=q2.id)
    other = db.add_message(chat.id, "user", "a version with a file", parent_id=a2b.id)
    db.attach(other.id, [_file("b.txt")])
    q3 = db.add_message(chat.id, "user", "the version on show", parent_id=a2b.id)
    db.attach(q3.id, [_file("c.txt")])
    assert db.attached_on_path(chat.id) == [(q1.id, a1.id), (q3.id, None)]
    db.add_message(chat.id, "assistant", "with c")
    db.show_version(other.id)
    assert db.attached_on_path(chat.id) == [(q1.id, a1.id), (other.id, None)]
    a1b = db.add_message(chat.id, "assistant", "read again", parent_id=q1.id)
    assert db.attached_on_path(chat.id) == [(q1.id, a1b.id)]
    assert db.attached_on_path(9999) == []
