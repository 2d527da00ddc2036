"""The import and export hardening, in this process: zip bombs, oversized and endless files,
hostile values, damaged exports and exports that fail half way, against real files and a real
SQLite database.

`test_import_hostile.py`, `test_export_disk_full.py` and the CLI tests check the same cases
through `phidesk` subprocesses (under a memory cap, as a user runs it); these call the transfer
functions directly, so that the refusals are also measured by coverage, and each asserts the
kind of error, a word of its one sentence, and that nothing was imported or left half
written."""

from __future__ import annotations

import os
import re
import resource
import signal
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.backend.events import ChatStats
from app.chat.transfer import (
    DamagedExport,
    NotAnExport,
    TransferError,
    chat_to_markdown,
    export_chats,
    import_files,
    parse_markdown,
)
from app.store import Chat, ChatSettings, ContextUsage, Database, Message, Provenance
from tests.integration.test_import_hostile import (
    DEEP,
    MADE,
    TOO_BIG,
    export_text,
    write_bomb,
    write_zip_entry,
)

MiB = 1 << 20
GiB = 1 << 30
KiB = 1 << 10


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    try:
        yield database
    finally:
        database.close()


def refused(
    db: Database, paths: list[Path], kind: type[TransferError], *words: str
) -> TransferError:
    """Import `paths`; it must raise exactly `kind`, whose one sentence holds `words`, and
    import nothing."""
    with pytest.raises(TransferError) as caught:
        import_files(db, paths)
    error = caught.value
    message = str(error)
    assert type(error) is kind, (type(error), message)
    assert "\n" not in message, message
    for word in words:
        assert word in message, message
    assert db.list_chats() == []
    return error


def good_file(tmp_path: Path) -> Path:
    """A valid export that is read first, so that a refusal of what follows imports it not."""
    good = tmp_path / "good.md"
    good.write_text(export_text("Good", chat_id=1))
    return good


# ---------------------------------------------------------------- archives and sizes


def test_a_zip_bomb_is_refused_by_its_declared_size(db: Database, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    write_bomb(bomb, unpacked=40 * MiB)
    assert bomb.stat().st_size < 1 * MiB
    refused(db, [good_file(tmp_path), bomb], TransferError, "bomb.zip:bomb.md", "would unpack to")


def test_a_zip_bomb_that_lies_about_its_size_is_refused_as_damaged(
    db: Database, tmp_path: Path
) -> None:
    bomb = tmp_path / "liar.zip"
    write_bomb(bomb, unpacked=40 * MiB, declared=10_000)
    refused(db, [good_file(tmp_path), bomb], DamagedExport, "liar.zip:bomb.md", "is damaged")


def test_an_entry_that_unpacks_to_hundreds_of_times_its_size_is_a_bomb(
    db: Database, tmp_path: Path
) -> None:
    archive = tmp_path / "dense.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("chat.md", (b"x" * 1023 + b"\n") * (4 << 10))  # 4 MiB of one letter
    refused(db, [archive], TransferError, "dense.zip:chat.md", "times more", "zip bombs")


def test_an_entry_whose_packed_bytes_are_broken_is_damaged(db: Database, tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    write_zip_entry(archive, "chat.md", b"\xff" * 64, size=1_000, crc=0)
    refused(db, [archive], DamagedExport, "broken.zip:chat.md", "cannot be unpacked")


def test_an_encrypted_entry_is_not_supported(db: Database, tmp_path: Path) -> None:
    data = export_text().encode()
    locked = tmp_path / "locked.zip"
    write_zip_entry(
        locked, "chat.md", data, size=len(data), crc=zlib.crc32(data), method=0, flags=0x1
    )
    refused(db, [locked], TransferError, "locked.zip:chat.md", "not supported", "encrypted")


def test_an_entry_packed_with_lzma_is_not_supported(db: Database, tmp_path: Path) -> None:
    data = export_text().encode()
    packed = tmp_path / "lzma.zip"
    write_zip_entry(
        packed, "chat.md", data, size=len(data), crc=zlib.crc32(data), method=zipfile.ZIP_LZMA
    )
    refused(db, [packed], TransferError, "lzma.zip:chat.md", "compression method 14", "Deflate")


def test_an_archive_listing_too_many_files_in_its_zip64_record_is_refused(
    db: Database, tmp_path: Path
) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("chat.md", export_text())
    data = archive.read_bytes()
    end = data.rfind(b"PK\x05\x06")
    directory_size, directory_at = struct.unpack("<LL", data[end + 12 : end + 20])
    # The record of a zip64 archive, claiming 200,000 entries, and the locator that finds it.
    record = struct.pack(
        "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 200_000, 200_000, directory_size,
        directory_at,
    )  # fmt: skip
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    classic = bytearray(data[end:])
    classic[8:12] = struct.pack("<2H", 0xFFFF, 0xFFFF)
    archive.write_bytes(data[:end] + record + locator + bytes(classic))
    refused(db, [archive], TransferError, "many.zip", "lists 200,000 files", "too large")


def test_a_file_that_is_not_a_zip_archive_is_refused(db: Database, tmp_path: Path) -> None:
    fake = tmp_path / "fake.zip"
    fake.write_text(export_text())
    refused(db, [good_file(tmp_path), fake], TransferError, "fake.zip", "not a readable .zip")


def test_a_2_gb_markdown_file_is_refused_by_its_size(db: Database, tmp_path: Path) -> None:
    huge = tmp_path / "huge.md"
    with huge.open("wb") as out:
        out.write(export_text().encode())
        out.truncate(2 * GiB)  # sparse: takes no disk space
    refused(db, [good_file(tmp_path), huge], TransferError, "huge.md", "holds 2,048 MiB")


def test_files_that_together_pass_the_import_limit_are_refused(
    db: Database, tmp_path: Path
) -> None:
    files = []
    for n in range(1, 5):
        big = tmp_path / f"big{n}.md"
        with big.open("wb") as out:
            out.write(export_text(f"Big {n}", chat_id=n).encode())
            out.truncate(30 * MiB)  # sparse; each alone is under the limit for one file
        files.append(big)
    refused(db, files, TransferError, "big4.md", "together with the files before it", "in parts")


def test_a_file_that_never_ends_is_read_only_up_to_the_limit(db: Database, tmp_path: Path) -> None:
    endless = tmp_path / "endless.md"
    os.mkfifo(endless)

    def feed() -> None:
        try:
            with endless.open("wb") as out:
                out.write(export_text().encode())
                while True:
                    out.write(b"x" * 65_535 + b"\n")
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    refused(db, [endless], TransferError, "endless.md", "holds more than", "at most 32 MiB a file")
    writer.join(timeout=60)
    assert not writer.is_alive()


def test_emoji_dense_text_is_refused_before_it_is_decoded(db: Database, tmp_path: Path) -> None:
    dense = tmp_path / "dense.md"
    # 20 MiB of UTF-8, but 80 MiB as a Python string, which keeps each emoji in 4 bytes.
    dense.write_bytes(export_text().encode() + ("\U0001f600" * 1023 + "\n").encode() * 5_120)
    refused(db, [good_file(tmp_path), dense], TransferError, "dense.md", "its text would take")


def test_importing_again_adds_nothing_and_says_so(db: Database, tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for n in range(1, 4):
            out.writestr(f"chat {n}.md", export_text(f"Chat {n}", chat_id=n))
    first = import_files(db, [archive])
    assert [c.title for c in first] == ["Chat 1", "Chat 2", "Chat 3"]
    assert first.summary() == "Imported 3 chats."
    again = import_files(db, [archive])
    assert list(again) == [] and [c.id for c in again.skipped] == [c.id for c in first]
    assert again.summary() == "Imported 0 chats (3 already there)."
    assert len(db.list_chats()) == 3


# ---------------------------------------------------------------- hostile and damaged exports


def full_text() -> str:
    """An export whose second message has reasoning, an error, stats and provenance."""
    chat = Chat(3, "T", "normal", "phi4-mini", "", ChatSettings(temperature=0.5), False, MADE,
                MADE, None, ContextUsage(), 2)  # fmt: skip
    messages = [
        Message(1, 3, "user", "hi\n", "", "complete", None, MADE, MADE, None, None),
        Message(2, 3, "assistant", "yo\n", "think\n", "error", "boom", MADE, MADE,
                ChatStats(eval_count=3),
                Provenance(model="phi4-mini", quantization="Q4", excluded_message_ids=(1,))),
    ]  # fmt: skip
    return chat_to_markdown(chat, messages, exported_at=MADE, include_provenance=True)


USER_META = '<!-- phidesk {"role": "user", '
TIME = '"2026-03-01T08:30:00+00:00"'
NESTED = "[" * 40 + "]" * 40  # deeper than an export may nest, shallower than Python's limit


def _message_time(value: str) -> Callable[[str], str]:
    return lambda t: t.replace(f'{USER_META}"created": {TIME}', f'{USER_META}"created": "{value}"')


DAMAGED: dict[str, tuple[Callable[[str], str], str]] = {
    "front matter nested 100,000 deep": (
        lambda t: t.replace("options: {}", f"options: {DEEP}"),
        "'options' is nested too deeply",
    ),
    "front matter nested 40 deep": (
        lambda t: t.replace("options: {}", f"options: {NESTED}"),
        "is nested too deeply",
    ),
    "message comment nested 100,000 deep": (
        lambda t: t.replace(USER_META, f'{USER_META}"deep": {DEEP}, '),
        "comment is nested too",
    ),
    "message comment nested 40 deep": (
        lambda t: t.replace(USER_META, f'{USER_META}"deep": {NESTED}, '),
        "comment is nested too",
    ),
    "message comment not JSON": (
        lambda t: t.replace(USER_META, USER_META[:-1] + "{, "),
        "comment is not readable",
    ),
    "message comment a list": (
        lambda t: re.sub(r"(?m)^<!-- phidesk \{\"role\": \"user\".*$", "<!-- phidesk [1] -->", t),
        "comment is not readable",
    ),
    "chat id 10^30": (lambda t: t.replace("\nid: 3\n", f"\nid: {TOO_BIG}\n"), "'id' is too large"),
    "message lines 10^30": (
        lambda t: t.replace('"lines": 1}', f'"lines": {TOO_BIG}}}', 1),
        "'lines' is too large",
    ),
    "title a number": (lambda t: t.replace('title: "T"', "title: 5"), "'title' is not a str"),
    "no message count": (lambda t: t.replace("messages: 2\n", ""), "has no 'messages'"),
    "message without a role": (lambda t: t.replace(USER_META, "<!-- phidesk {"), "no 'role'"),
    "chat created yesterday": (
        lambda t: t.replace(f"created: {TIME}", 'created: "yesterday"'),
        "is not a time",
    ),
    "chat created after year 9999": (
        lambda t: t.replace(f"created: {TIME}", 'created: "9999-12-31T23:59:59-12:00"'),
        "is out of range",
    ),
    "message created before year 1": (
        _message_time("0001-01-01T00:00:00+01:00"),
        "message time '0001",
    ),
    "message created in year 9999": (
        _message_time("9999-12-31T23:59:59+00:00"),
        "'9999-12-31T23:59:59+00:00' is out of range",
    ),
    "impossible line count": (
        lambda t: t.replace('"lines": 1}', '"lines": -1}', 1),
        "impossible line counts",
    ),
    "cut inside the last message": (lambda t: t[: t.rindex("yo\n") + 2], "ends too early"),
    "front matter only": (lambda t: "---\nphidesk_export: 1\n---", "ends too early"),
    "front matter line without a colon": (
        lambda t: t.replace("pinned: false\n", "pinned false\n"),
        "is not 'key: value'",
    ),
    "front matter value not JSON": (
        lambda t: t.replace('title: "T"', 'title: "T'),
        "value of 'title' is not readable",
    ),
    "format not a number": (
        lambda t: t.replace("phidesk_export: 1", 'phidesk_export: "one"'),
        "not a format number",
    ),
    "no title heading": (lambda t: t.replace("\n# T\n", "\nT\n"), "expected the title heading"),
    "no message heading": (
        lambda t: t.replace("\n## User", "\nUser"),
        "expected the heading of message 1",
    ),
    "heading without its comment": (
        lambda t: t.replace(USER_META, "phidesk {", 1),
        "not followed by its PhiDesk comment",
    ),
    "unknown role": (
        lambda t: t.replace('"role": "user"', '"role": "robot"'),
        "unknown role or status",
    ),
    "provenance naming a message not there": (
        lambda t: t.replace('"excluded_messages": [1]', '"excluded_messages": [99]'),
        "names messages that are not in the file",
    ),
    "no error note": (
        lambda t: t.replace("> **Error:**", "**Error:**"),
        "expected the error note of message 2",
    ),
    "no provenance note": (
        lambda t: t.replace("\n> *phi4-mini", "\n*phi4-mini"),
        "expected the provenance note",
    ),
    "text after the last message": (lambda t: t + "more\n", "more text after the last message"),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_or_hostile_export_is_one_sentence_and_imports_nothing(
    db: Database, tmp_path: Path, case: str
) -> None:
    edit, words = DAMAGED[case]
    text = full_text()
    hostile = edit(text)
    assert hostile != text
    assert parse_markdown(text).chat.title == "T"
    bad = tmp_path / "hostile.md"
    bad.write_text(hostile)
    error = refused(db, [good_file(tmp_path), bad], DamagedExport, "hostile.md", "is damaged")
    assert words in str(error), str(error)


def test_a_whole_number_where_a_float_is_expected_is_read_as_a_float() -> None:
    parsed = parse_markdown(full_text().replace("temperature: 0.5", "temperature: 1"))
    assert parsed.chat.settings.temperature == 1.0
    assert isinstance(parsed.chat.settings.temperature, float)


def test_markdown_without_the_marker_is_not_an_export(db: Database, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("---\ntitle: notes\n---\n\n# Notes\n")
    refused(db, [notes], NotAnExport, "notes.md", "is not a PhiDesk export")


# ---------------------------------------------------------------- exports that fail


def seed(db: Database, titles: str, big: str = "", size: int = 0) -> list[int]:
    """A chat per letter of `titles`; chat `big` holds an answer of `size` bytes."""
    ids = []
    for title in titles:
        chat = db.create_chat(title=title, model="phi4-mini")
        db.add_message(chat.id, "user", f"Tell me about {title}.")
        db.add_message(chat.id, "assistant", "x" * size if title == big else "ok")
        ids.append(chat.id)
    return ids


@pytest.mark.parametrize(
    ("name", "why"),
    # A folder cannot be made in a file; for one file, the folder it goes in is a file.
    [("exports", "Not a directory"), ("one.md", "File exists"), ("all.zip", "File exists")],
)
def test_an_export_to_a_path_under_a_file_writes_nothing(
    db: Database, tmp_path: Path, name: str, why: str
) -> None:
    ids = seed(db, "A")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    with pytest.raises(TransferError) as caught:
        export_chats(db, ids, blocker / name)
    message = str(caught.value)
    assert type(caught.value) is TransferError
    assert f"({why}): nothing was written" in message, message
    assert "choose another place" in message
    assert blocker.read_text() == "a file, not a folder"


@pytest.mark.parametrize("name", ["one.md", "all.zip"])
def test_an_export_onto_an_existing_folder_writes_nothing_and_leaves_no_part(
    db: Database, tmp_path: Path, name: str
) -> None:
    ids = seed(db, "A")
    place = tmp_path / "place"
    (place / name).mkdir(parents=True)
    (place / name / "kept.txt").write_text("kept")
    with pytest.raises(TransferError, match="nothing was written") as caught:
        export_chats(db, ids, place / name)
    assert type(caught.value) is TransferError
    assert sorted(p.name for p in place.iterdir()) == [name]
    assert (place / name / "kept.txt").read_text() == "kept"


@contextmanager
def file_size_cap(cap: int) -> Iterator[None]:
    """A full disk for files over `cap` bytes: the file size limit of this process (a write
    past it fails with EFBIG, as SIGXFSZ is ignored), lifted again afterwards."""
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)


def test_a_folder_export_that_fails_half_way_says_what_was_written(
    db: Database, tmp_path: Path
) -> None:
    ids = seed(db, "ABCDEF", big="C", size=128 * KiB)
    folder = tmp_path / "exports"
    with pytest.raises(TransferError) as caught, file_size_cap(64 * KiB):
        export_chats(db, ids, folder)
    message = str(caught.value)
    assert type(caught.value) is TransferError
    assert "the disk is full" in message and "free some space" in message, message
    assert "2 of 6 chats were written (A.md, B.md)" in message, message
    assert "4 were not (C.md, D.md, E.md and 1 more)" in message, message
    assert sorted(p.name for p in folder.iterdir()) == ["A.md", "B.md"]  # nothing partial
    with Database.open(tmp_path / "other.sqlite3") as other:
        again = import_files(other, sorted(folder.iterdir()))
        assert [c.title for c in again] == ["A", "B"]
