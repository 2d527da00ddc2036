"""`phidesk import` of archives with attached files, as a real subprocess under the 300 MB
memory cap: an original whose bytes do not match its SHA-256, an entry whose name leaves its
folder, an original too large, a file a chat names that is not in the archive, an edited text:
each is one sentence on stderr, exit 1, nothing imported. An original of the largest size
allowed, 50 MiB, imports under the cap, its bytes intact."""

from __future__ import annotations

import hashlib
import sqlite3
import zipfile
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.chat.transfer import chat_to_markdown
from app.chat.transfer.attached import AttachedFile
from app.store import Chat, ChatSettings, ContextUsage, Message
from app.store.attachments import NewChunk
from tests.integration.test_import_hostile import assert_refused, chats_in, phidesk

MiB = 1 << 20
MADE = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
TEXT = "Platform 9 for the harbour train."


def _export(file: AttachedFile) -> str:
    chat = Chat(
        id=1,
        title="Ferry",
        kind="normal",
        model="phi4-mini",
        system_prompt="",
        settings=ChatSettings(),
        pinned=False,
        created_at=MADE,
        updated_at=MADE,
        deleted_at=None,
        context=ContextUsage(None, None),
        message_count=1,
    )
    question = Message(1, 1, "user", "When?", "", "complete", None, MADE, MADE, None, None)
    return chat_to_markdown(chat, [question], exported_at=MADE, attachments={1: [file]})


def _file(data_sha: str, size: int) -> AttachedFile:
    return AttachedFile(
        "timetable.pdf", data_sha, "pdf", size, 1, TEXT, (NewChunk(0, TEXT, 1, 1),), 1
    )


def _archive(path: Path, text: str, entries: dict[str, bytes | Callable[[], bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Ferry.md", text)
        for name, data in entries.items():
            archive.writestr(name, data if isinstance(data, bytes) else data())
    return path


DATA = b"%PDF-1.4 not really a PDF, but bytes all the same"
SHA = hashlib.sha256(DATA).hexdigest()


HOSTILE = [
    ("mismatch", "its bytes do not match the SHA-256 its chat gives"),
    ("escape", "this name leaves its folder"),
    ("huge", "is too large to import"),
    ("missing", "which is not in x.zip"),
    ("edited", "does not match its SHA-256 (the text of an attached file may not be edited)"),
    ("size", f"holds {len(DATA):,} bytes where its chat says {len(DATA) + 1:,}"),
    ("twice", "the archive holds that file twice"),
    ("method", "is packed with compression method"),
]


def hostile_archive(folder: Path, case: str) -> Path:
    """x.zip: a chat with one attached file, made hostile as `case` says."""
    text = _export(_file(SHA, len(DATA)))
    entries: dict[str, bytes | Callable[[], bytes]] = {f"attachments/{SHA}/timetable.pdf": DATA}
    if case == "mismatch":
        entries = {f"attachments/{SHA}/timetable.pdf": DATA[:-1] + b"!"}
    elif case == "escape":
        entries[f"attachments/{SHA}/../../evil.pdf"] = DATA
    elif case == "huge":
        # Declares 300 MiB (deflated to a few hundred KiB): refused by its size on record.
        big = hashlib.sha256(b"\0" * (300 * MiB)).hexdigest()
        text = _export(_file(big, 300 * MiB))
        entries = {f"attachments/{big}/timetable.pdf": lambda: b"\0" * (300 * MiB)}
    elif case == "missing":
        entries = {}
    elif case == "edited":
        text = text.replace("harbour train.\n```", "harbour tram.\n```")
    elif case == "size":
        text = _export(_file(SHA, len(DATA) + 1))
    elif case == "twice":
        entries[f"attachments/{SHA}/copy.pdf"] = DATA
    archive = _archive(folder / "x.zip", text, entries)
    if case == "method":
        with zipfile.ZipFile(archive, "w") as rewritten:
            rewritten.writestr("Ferry.md", text)
            rewritten.writestr(
                f"attachments/{SHA}/timetable.pdf", DATA, compress_type=zipfile.ZIP_BZIP2
            )
    return archive


@pytest.mark.parametrize(("case", "says"), HOSTILE)
def test_a_hostile_archive_is_one_sentence_and_imports_nothing(
    tmp_path: Path, case: str, says: str
) -> None:
    archive = hostile_archive(tmp_path, case)
    done = phidesk(tmp_path / "data", "import", str(archive))
    line = assert_refused(done)
    assert says in line, line
    assert chats_in(tmp_path / "data") == 0
    with closing(sqlite3.connect(tmp_path / "data" / "phidesk.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM attachment_files").fetchone() == (0,)


def test_a_50_mib_original_imports_under_the_memory_cap(tmp_path: Path) -> None:
    size = 50 * MiB
    piece = hashlib.sha256(b"seed").digest() * (MiB // 32)
    data_sha = hashlib.sha256(piece * (size // len(piece))).hexdigest()
    archive = _archive(
        tmp_path / "big.zip",
        _export(_file(data_sha, size)),
        {f"attachments/{data_sha}/timetable.pdf": lambda: piece * (size // len(piece))},
    )
    done = phidesk(tmp_path / "data", "import", str(archive))
    assert done.returncode == 0, done.stderr[-2000:]
    with closing(sqlite3.connect(tmp_path / "data" / "phidesk.sqlite3")) as db:
        ((length, size_kept, text),) = db.execute(
            "SELECT length(data), size, text FROM attachment_files"
        ).fetchall()
        assert (length, size_kept, text) == (size, size, TEXT)
        digest = hashlib.sha256()
        blob = db.blobopen("attachment_files", "data", 1, readonly=True)
        with blob:
            while chunk := blob.read(8 * MiB):
                digest.update(chunk)
        assert digest.hexdigest() == data_sha
