"""Attached files exported and imported against real SQLite files: through a .zip each file
comes back with its original bytes, text and parts, and the chats export to the same bytes
(with and without every version); through a .md alone the text and parts come back and the
original is marked not available, and the bytes are the same too; an import that fails on a
file leaves nothing, not even the files."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.chat.documents.extract import DocumentRefused, extract_bytes
from app.chat.documents.turn import to_new_attachment
from app.chat.transfer import TransferError, export_chats, import_files
from app.store import ChatSettings, Database, NotFound
from app.store.records import SentDocuments, SentPart
from tests.documents_pdf import make_pdf
from tests.integration.test_attachments_transfer_hostile import HOSTILE, hostile_archive
from tests.integration.test_transfer_tree import AFTER, STEP, make_tree
from tests.unit.test_attachments_transfer import file_texts

EXPORTED_AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

FILE = st.one_of(
    st.tuples(st.sampled_from(["notes.txt", "a.md", "main.py", "page.html", "x"]), file_texts()),
    st.tuples(
        st.just("scan.pdf"), st.lists(st.text("abc xyz\n", min_size=1, max_size=30), max_size=3)
    ),
)


def attach_files(
    db: Database, chat_id: int, picks: list[tuple[int, list[tuple[str, object]]]]
) -> None:
    """Attach files to messages of the chat (any version), as `phidesk ask --attach` does;
    each answer after a question with files records the parts sent."""
    messages = db.all_messages(chat_id)
    for pick, files in picks:
        if not messages:
            return
        target = messages[pick % len(messages)]
        found = []
        for name, content in files:
            if isinstance(content, list):
                data = make_pdf([[line] for line in content] or [["empty"]])
            else:
                assert isinstance(content, str)
                data = content.encode("utf-8")
            try:
                found.append(to_new_attachment(extract_bytes(name, data)))
            except DocumentRefused:
                continue
        if not found:
            continue
        attached = db.attach(target.id, found)
        answers = [m for m in messages if m.parent_id == target.id and m.role == "assistant"]
        if answers:
            parts = tuple(
                SentPart(a.id, a.name, a.sha256, None, a.parts, (), (), 3) for a in attached
            )
            db.record_documents(answers[0].id, SentDocuments("bm25", 3, parts))


def files_of(db: Database) -> list[tuple[object, ...]]:
    """Every chat's files in order: name, facts, original bytes (or None), text and parts."""
    out: list[tuple[object, ...]] = []
    for chat in db.list_chats():
        messages = db.all_messages(chat.id)
        listed = db.attachments([m.id for m in messages])
        pool = {p.attachment.sha256: p for p in db.attachment_pool([m.id for m in messages])}
        for message in messages:
            for a in listed[message.id]:
                try:
                    data: bytes | None = db.attachment_data(a.id)[1]
                except NotFound:
                    data = None
                kept = pool[a.sha256]
                out.append(
                    (a.name, a.sha256, a.kind, a.size, a.pages, a.parts, data, kept.text,
                     kept.chunks)
                )  # fmt: skip
    return out


def documents_of(db: Database) -> list[object]:
    out: list[object] = []
    for chat in db.list_chats():
        messages = db.all_messages(chat.id)
        names = {
            a.id: (a.name, a.sha256)
            for fs in db.attachments([m.id for m in messages]).values()
            for a in fs
        }
        for m in messages:
            if m.provenance is not None and m.provenance.documents is not None:
                out.append(
                    [(names.get(p.attachment_id), p.seq) for p in m.provenance.documents.parts]
                )
    return out  # fmt: skip


def zip_texts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist()}


CHAT = st.tuples(
    st.lists(STEP, min_size=1, max_size=5),
    AFTER,
    st.lists(st.tuples(st.integers(0, 10**6), st.lists(FILE, min_size=1, max_size=2)), max_size=3),
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(CHAT, min_size=1, max_size=3), st.booleans(), st.booleans())
def test_a_zip_brings_back_every_file_and_exports_to_the_same_bytes(
    tmp_path_factory: pytest.TempPathFactory,
    chats: list[tuple[list, list, list]],  # type: ignore[type-arg]
    all_branches: bool,
    provenance: bool,
) -> None:
    base = tmp_path_factory.mktemp("zip")
    with Database.open(base / "a.sqlite3") as db:
        ids = []
        for steps, after, picks in chats:
            chat_id = make_tree(db, "T", ChatSettings(), steps, after)
            attach_files(db, chat_id, picks)
            ids.append(chat_id)
        options = dict(
            include_provenance=provenance, exported_at=EXPORTED_AT, all_branches=all_branches
        )
        export_chats(db, ids, base / "one.zip", **options)  # type: ignore[arg-type]
        if not all_branches:
            wanted = files_of_path(db)
    with Database.open(base / "b.sqlite3") as other:
        assert len(import_files(other, [base / "one.zip"])) == len(ids)
        export_chats(other, ids, base / "two.zip", **options)  # type: ignore[arg-type]
        if not all_branches:
            assert files_of_path(other) == wanted
        else:
            with Database.open(base / "a.sqlite3") as db:
                assert files_of(other) == files_of(db)
                if provenance:
                    assert documents_of(other) == documents_of(db)
    assert zip_texts(base / "two.zip") == zip_texts(base / "one.zip")


def files_of_path(db: Database) -> list[tuple[object, ...]]:
    """`files_of`, for the messages on show only."""
    out: list[tuple[object, ...]] = []
    for chat in db.list_chats():
        messages = db.messages(chat.id)
        listed = db.attachments([m.id for m in messages])
        for message in messages:
            for a in listed[message.id]:
                out.append((a.name, a.sha256, a.size, a.parts, db.attachment_data(a.id)[1]))
    return out


def _one_chat(db: Database) -> tuple[int, bytes]:
    chat = db.create_chat(title="Ferry", model="phi4-mini")
    question = db.add_message(chat.id, "user", "When?")
    data = make_pdf([["Platform 9."], ["The ferry leaves at 06:40."]])
    db.attach(question.id, [to_new_attachment(extract_bytes("timetable.pdf", data))])
    db.add_message(chat.id, "assistant", "At 06:40.")
    return chat.id, data


def test_a_markdown_file_alone_brings_back_the_text_and_marks_the_original_not_available(
    tmp_path: Path,
) -> None:
    with Database.open(tmp_path / "a.sqlite3") as db:
        chat_id, data = _one_chat(db)
        export_chats(db, [chat_id], tmp_path / "one.md", exported_at=EXPORTED_AT)
        wanted = [f[:6] + f[7:] for f in files_of(db)]
    with Database.open(tmp_path / "b.sqlite3") as other:
        import_files(other, [tmp_path / "one.md"])
        got = files_of(other)
        assert [f[:6] + f[7:] for f in got] == wanted
        assert [f[6] for f in got] == [None]
        (attachment,) = other.attachments([other.messages(1)[0].id])[other.messages(1)[0].id]
        with pytest.raises(NotFound, match=r"^the original of timetable.pdf is not available"):
            other.attachment_data(attachment.id)
        export_chats(other, [1], tmp_path / "two.md", exported_at=EXPORTED_AT)
        export_chats(other, [1], tmp_path / "two.zip", exported_at=EXPORTED_AT)
    assert (tmp_path / "two.md").read_bytes() == (tmp_path / "one.md").read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert set(zip_texts(tmp_path / "two.zip")) == {"Ferry.md", f"attachments/{sha}/"}
    with Database.open(tmp_path / "c.sqlite3") as third:
        import_files(third, [tmp_path / "two.zip"])
        assert [f[6] for f in files_of(third)] == [None]
        export_chats(third, [1], tmp_path / "three.md", exported_at=EXPORTED_AT)
    assert (tmp_path / "three.md").read_bytes() == (tmp_path / "one.md").read_bytes()


def test_an_import_that_fails_on_a_file_leaves_no_chat_and_no_file(tmp_path: Path) -> None:
    with Database.open(tmp_path / "a.sqlite3") as db:
        first, _ = _one_chat(db)
        second = db.create_chat(title="Second", model="phi4-mini")
        question = db.add_message(second.id, "user", "And this?")
        db.attach(question.id, [to_new_attachment(extract_bytes("b.txt", b"Other text."))])
        export_chats(db, [first, second.id], tmp_path / "x.zip", exported_at=EXPORTED_AT)
    sha = hashlib.sha256(b"Other text.").hexdigest()
    entries = zip_texts(tmp_path / "x.zip")
    entries[f"attachments/{sha}/b.txt"] = b"Other text!"  # same size, other bytes
    with zipfile.ZipFile(tmp_path / "bad.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with Database.open(tmp_path / "b.sqlite3") as other:
        with pytest.raises(TransferError) as caught:
            import_files(other, [tmp_path / "bad.zip"])
        assert str(caught.value) == (
            f"bad.zip:attachments/{sha}/b.txt is damaged: its bytes do not match the SHA-256 "
            f"its chat gives ({sha[:12]}…)"
        )
        assert other.list_chats() == []
        assert other.attachment_file_count() == 0


def test_attaching_a_file_again_brings_back_its_original(tmp_path: Path) -> None:
    with Database.open(tmp_path / "a.sqlite3") as db:
        chat_id, data = _one_chat(db)
        export_chats(db, [chat_id], tmp_path / "one.md", exported_at=EXPORTED_AT)
    with Database.open(tmp_path / "b.sqlite3") as other:
        (chat,) = import_files(other, [tmp_path / "one.md"])
        question = other.messages(chat.id)[0]
        (imported,) = other.attachments([question.id])[question.id]
        later = other.add_message(chat.id, "user", "Again.")
        other.attach(later.id, [to_new_attachment(extract_bytes("copy.pdf", data))])
        assert other.attachment_data(imported.id) == ("timetable.pdf", data)
        assert other.attachment_file_count() == 1


@pytest.mark.parametrize(("case", "says"), HOSTILE)
def test_a_hostile_archive_is_refused_in_one_sentence_in_process(
    tmp_path: Path, case: str, says: str
) -> None:
    archive = hostile_archive(tmp_path, case)
    with Database.open(tmp_path / "b.sqlite3") as db:
        with pytest.raises(TransferError) as caught:
            import_files(db, [archive])
        assert says in str(caught.value) and "\n" not in str(caught.value)
        assert db.list_chats() == []
        assert db.attachment_file_count() == 0
