"""`phidesk import` against hostile files and kills, as a real subprocess under a memory cap.

Zip bombs, a 2 GB Markdown file, a pipe that never ends, JSON nested 100,000 deep, numbers and
dates no database can hold, encrypted zip entries and an import that runs out of memory: each is
one sentence on stderr, exit 1, and nothing imported; a big export that is merely big still
imports under the same cap. An import of 400 chats SIGKILLed at random points leaves none or
all of them, and running it again adds each chat exactly once."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.chat.transfer import chat_to_markdown
from app.config import Paths
from app.store import Chat, ChatSettings, ContextUsage, Database, Message

MiB = 1 << 20
GiB = 1 << 30
MEMORY_CAP = 300 * MiB
MADE = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
REFUSALS = ("is damaged", "is too large", "is not supported")


def phidesk(
    data: Path, *args: str, memory_cap: int = MEMORY_CAP
) -> subprocess.CompletedProcess[str]:
    """The command line in a child process whose address space is capped at `memory_cap`."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))

    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=cap,
    )


def chats_in(data: Path) -> int:
    with Database.open(Paths.resolve(data).ensure().database) as db:
        return len(db.list_chats())


def assert_refused(done: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit 1 with one `phidesk: error:` sentence that names `names` and says damaged, too large
    or not supported; returns the sentence."""
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    line = lines[0]
    assert line.startswith("phidesk: error: "), line
    assert "unexpected error" not in line and "Traceback" not in done.stderr
    assert any(words in line for words in REFUSALS), line
    for name in names:
        assert name in line, line
    assert done.stdout == ""
    return line


def export_text(
    title: str = "Sample", *, messages: int = 2, size: int = 10, line: int = 100, chat_id: int = 7
) -> str:
    """A PhiDesk export of chat `chat_id` whose messages hold `size` characters each, in lines
    of `line` characters."""
    row = "x" * (line - 1) + "\n"
    content = row * (size // line) + "y" * (size % line) + "\n"
    records = [
        Message(i, 7, "user" if i % 2 else "assistant", content, "", "complete", None, MADE,
                MADE, None, None)
        for i in range(1, messages + 1)
    ]  # fmt: skip
    chat = Chat(chat_id, title, "normal", "phi4-mini", "", ChatSettings(), False, MADE, MADE, None,
                ContextUsage(), messages)  # fmt: skip
    return chat_to_markdown(chat, records, exported_at=MADE)


# ---------------------------------------------------------------- zip archives made by hand


def _deflate_repeated(head: bytes, chunk: bytes, times: int) -> bytes:
    """A raw deflate stream of `head` then `chunk` `times` times, made without compressing
    every copy: each part is flushed so that it stands alone, and copies are concatenated."""

    def alone(data: bytes) -> bytes:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        return packer.compress(data) + packer.flush(zlib.Z_FULL_FLUSH)

    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return alone(head) + alone(chunk) * times + final


def write_zip_entry(
    path: Path,
    name: str,
    packed: bytes,
    *,
    size: int,
    crc: int,
    method: int = zipfile.ZIP_DEFLATED,
    flags: int = 0,
) -> None:
    """A .zip holding one entry whose bytes and header fields are exactly as given."""
    encoded = name.encode()
    local = struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, len(packed), size,
        len(encoded), 0,
    ) + encoded  # fmt: skip
    central = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, method, 0, 0x21, crc, len(packed), size,
        len(encoded), 0, 0, 0, 0, 0, 0,
    ) + encoded  # fmt: skip
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(packed), 0
    )
    path.write_bytes(local + packed + central + end)


def write_bomb(path: Path, *, unpacked: int = GiB, declared: int | None = None) -> None:
    """A zip of a few MB whose one .md entry starts like an export and unpacks to `unpacked`
    bytes; `declared` (default: the truth) is the size its headers claim."""
    chunk = (b"a" * 1023 + b"\n") * 1024
    times = (unpacked - 4096) // len(chunk)
    lines = times * 1024
    head = export_text(messages=1).split("<!-- phidesk ")[0] + (
        '<!-- phidesk {"role": "user", "created": "2026-03-01T08:30:00+00:00", '
        f'"updated": "2026-03-01T08:30:00+00:00", "lines": {lines}}} -->\n\n'
    )
    data_head = head.encode()
    crc = zlib.crc32(data_head)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    size = len(data_head) + times * len(chunk)
    packed = _deflate_repeated(data_head, chunk, times)
    write_zip_entry(path, "bomb.md", packed, size=size if declared is None else declared, crc=crc)


# ---------------------------------------------------------------- item 9: bombs and sizes


def test_a_zip_bomb_is_refused_by_its_declared_size_under_a_memory_cap(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    write_bomb(bomb)
    assert bomb.stat().st_size < 4 * MiB
    line = assert_refused(phidesk(tmp_path / "data", "import", str(bomb)), "bomb.zip", "bomb.md")
    assert "too large" in line
    assert chats_in(tmp_path / "data") == 0


def test_a_zip_bomb_that_lies_about_its_size_is_refused_under_a_memory_cap(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "liar.zip"
    write_bomb(bomb, declared=10_000)
    assert_refused(phidesk(tmp_path / "data", "import", str(bomb)), "liar.zip")
    assert chats_in(tmp_path / "data") == 0


def test_a_2_gb_markdown_file_is_refused_by_its_size_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.md"
    with huge.open("wb") as out:
        out.write(export_text().encode())
        out.truncate(2 * GiB)  # sparse: takes no disk space
    line = assert_refused(phidesk(tmp_path / "data", "import", str(huge)), "huge.md")
    assert "too large" in line
    assert chats_in(tmp_path / "data") == 0


def test_files_that_together_pass_the_limit_are_refused_before_any_is_read(
    tmp_path: Path,
) -> None:
    files = []
    for n in range(1, 5):
        big = tmp_path / f"big{n}.md"
        with big.open("wb") as out:
            # The first is not even an export, which only reading it would show.
            out.write(b"# Notes\n" if n == 1 else export_text(f"Big {n}", chat_id=n).encode())
            out.truncate(30 * MiB)  # sparse; each alone is under the limit for one file
        files.append(str(big))
    line = assert_refused(phidesk(tmp_path / "data", "import", *files), "big4.md")
    assert "too large" in line and "in parts" in line
    assert chats_in(tmp_path / "data") == 0


def test_a_file_that_never_ends_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
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
    line = assert_refused(phidesk(tmp_path / "data", "import", str(endless)), "endless.md")
    assert "too large" in line
    writer.join(timeout=60)
    assert not writer.is_alive()
    assert chats_in(tmp_path / "data") == 0


def test_text_that_would_take_too_much_memory_once_read_is_refused_before_it_is_decoded(
    tmp_path: Path,
) -> None:
    # Python keeps a string in 4 bytes a character once one character needs it: 29 MiB of
    # UTF-8 with an emoji on every line would take 120 MiB as text, and as much again parsed.
    dense = tmp_path / "dense.md"
    dense.write_text(export_text(messages=2_500, size=12_000).replace("xx\n", "x\U0001f600\n"))
    assert dense.stat().st_size < 32 * MiB
    # Under the cap, reading it would run out of memory; it must be refused before that.
    line = assert_refused(phidesk(tmp_path / "data", "import", str(dense)), "dense.md")
    assert "too large" in line and "its text would take" in line
    assert chats_in(tmp_path / "data") == 0


def test_a_big_export_that_is_not_a_bomb_still_imports_under_the_memory_cap(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for n in range(1, 301):  # about 200 KB a chat
            out.writestr(
                f"chat {n}.md", export_text(f"Chat {n}", messages=40, size=5_000, chat_id=n)
            )
    long_chat = tmp_path / "long.md"
    long_chat.write_text(export_text("Long", messages=2_500, size=12_000, chat_id=301))
    # Close to the limits: 32 MiB a file, 96 MiB an import.
    assert 28 * MiB < long_chat.stat().st_size < 32 * MiB
    done = phidesk(tmp_path / "data", "import", str(archive), str(long_chat))
    assert done.returncode == 0, done.stderr[-2000:]
    assert chats_in(tmp_path / "data") == 301


# ---------------------------------------------------------------- item 17: hostile values

DEEP = "[" * 100_000 + "]" * 100_000
TOO_BIG = "1" + "0" * 30
USER_META = '<!-- phidesk {"role": "user", "created": "2026-03-01T08:30:00+00:00"'

HOSTILE: dict[str, Callable[[str], str]] = {
    "front matter nested 100,000 deep": lambda t: t.replace("options: {}", f"options: {DEEP}"),
    "message comment nested 100,000 deep": lambda t: t.replace(
        "<!-- phidesk {", "<!-- phidesk {" + f'"deep": {DEEP}, ', 1
    ),
    "chat id 10^30": lambda t: t.replace("\nid: 7\n", f"\nid: {TOO_BIG}\n"),
    "num_ctx 10^30": lambda t: t.replace("num_ctx: null", f"num_ctx: {TOO_BIG}"),
    "context 10^30": lambda t: t.replace("context_used: null", f"context_used: {TOO_BIG}"),
    "message count 10^30": lambda t: t.replace("messages: 2", f"messages: {TOO_BIG}"),
    "chat created after year 9999": lambda t: t.replace(
        'created: "2026-03-01T08:30:00+00:00"', 'created: "9999-12-31T23:59:59-12:00"'
    ),
    "message created before year 1": lambda t: t.replace(
        USER_META, '<!-- phidesk {"role": "user", "created": "0001-01-01T00:00:00+01:00"'
    ),
    "message created in year 9999": lambda t: t.replace(
        USER_META, '<!-- phidesk {"role": "user", "created": "9999-12-31T23:59:59+00:00"'
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_value_in_an_export_is_one_sentence_and_imports_nothing(
    tmp_path: Path, case: str
) -> None:
    good = tmp_path / "good.md"
    good.write_text(export_text("Good"))
    text = export_text("Hostile")
    hostile = HOSTILE[case](text)
    assert hostile != text
    bad = tmp_path / "hostile.md"
    bad.write_text(hostile)
    line = assert_refused(phidesk(tmp_path / "data", "import", str(good), str(bad)), "hostile.md")
    assert "is damaged" in line
    assert chats_in(tmp_path / "data") == 0


def tree_text(title: str = "Tree", *, messages: int = 3) -> str:
    """A format 2 export: a question, then `messages - 1` versions of its answer, the last
    shown."""
    records = [
        Message(i, 7, "user" if i == 1 else "assistant", f"text {i}\n", "", "complete", None,
                MADE, MADE, None, None, parent_id=None if i == 1 else 1)
        for i in range(1, messages + 1)
    ]  # fmt: skip
    chat = Chat(7, title, "normal", "phi4-mini", "", ChatSettings(), False, MADE, MADE, None,
                ContextUsage(), 2, active_leaf_id=messages)  # fmt: skip
    return chat_to_markdown(chat, records, exported_at=MADE, all_branches=True)


HOSTILE_TREES: dict[str, tuple[tuple[str, str], str]] = {
    "a parent that does not exist": (
        ('"n": 3, "parent": 1,', '"n": 3, "parent": 9,'),
        "message 3 follows message 9, which is not in the file",
    ),
    "a parent 10^30": (('"n": 3, "parent": 1,', f'"n": 3, "parent": {TOO_BIG},'), "too large"),
    "a cycle": (
        ('{"n": 1, "role"', '{"n": 1, "parent": 3, "role"'),
        "messages 1 and 3 follow each other in a circle",
    ),
    "a parent after its child": (
        ('"n": 2, "parent": 1,', '"n": 2, "parent": 3,'),
        "message 2 follows message 3, which comes after it",
    ),
    "an active leaf that is not a message": (
        ("\nactive_leaf: 3\n", "\nactive_leaf: 0\n"),
        "the active message, 0, is not in the file",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_TREES))
def test_a_damaged_tree_is_one_sentence_and_imports_nothing(tmp_path: Path, case: str) -> None:
    (old, new), why = HOSTILE_TREES[case]
    good = tmp_path / "good.md"
    good.write_text(tree_text("Good"))
    text = tree_text("Hostile")
    assert old in text
    bad = tmp_path / "hostile.md"
    bad.write_text(text.replace(old, new, 1))
    line = assert_refused(phidesk(tmp_path / "data", "import", str(good), str(bad)), "hostile.md")
    assert "is damaged" in line and why in line
    assert chats_in(tmp_path / "data") == 0


def test_a_big_tree_imports_under_the_memory_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    big.write_text(tree_text("Big", messages=20_000))
    done = phidesk(tmp_path / "data", "import", str(big))
    assert done.returncode == 0, done.stderr[-2000:]
    with Database.open(Paths.resolve(tmp_path / "data").ensure().database) as db:
        (chat,) = db.list_chats()
        assert chat.message_count == 2
        assert len(db.all_messages(chat.id)) == 20_000
        assert len(db.versions(chat.id)) == 19_999


def test_an_encrypted_zip_entry_is_not_supported(tmp_path: Path) -> None:
    data = export_text().encode()
    locked = tmp_path / "locked.zip"
    write_zip_entry(
        locked, "chat.md", data, size=len(data), crc=zlib.crc32(data), method=0, flags=0x1
    )
    line = assert_refused(phidesk(tmp_path / "data", "import", str(locked)), "locked.zip")
    assert "not supported" in line and "encrypted" in line
    assert chats_in(tmp_path / "data") == 0


def test_running_out_of_memory_during_an_import_is_one_sentence(tmp_path: Path) -> None:
    long_chat = tmp_path / "long.md"
    long_chat.write_text(export_text("Long", messages=2_000, size=12_000))
    done = phidesk(tmp_path / "data", "import", str(long_chat), memory_cap=150 * MiB)
    line = assert_refused(done, "long.md")
    assert "too large" in line and "memory" in line
    assert chats_in(tmp_path / "data") == 0


# ---------------------------------------------------------------- item 4: kills and reruns

CHATS = 400


def write_archive(path: Path, count: int = CHATS) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for n in range(1, count + 1):
            text = export_text(f"Chat {n}", messages=4, size=2_000, chat_id=n)
            out.writestr(f"chat {n}.md", text)


def titles_listed(data: Path) -> list[str]:
    """The titles `phidesk chats --json` lists, a read-only command run as a user would."""
    listed = phidesk(data, "chats", "--json")
    assert listed.returncode == 0, listed.stderr
    return sorted(chat["title"] for chat in json.loads(listed.stdout))


def rows_in(database: Path) -> int:
    """Chat rows in the file, staged ones too, read with plain sqlite3 (which never writes)."""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
            return int(db.execute("SELECT count(*) FROM chats").fetchone()[0])
    except sqlite3.Error:  # not created yet, or no table yet
        return 0


def import_killed_at(data: Path, archive: Path, rows: int, pause: float) -> None:
    """Start `phidesk import`, and SIGKILL it once `rows` chat rows are in the file (staged or
    not), `pause` seconds later, or when it ends first."""
    database = Paths.resolve(data).ensure().database
    child = subprocess.Popen(
        [sys.executable, "-m", "app", "--data-dir", str(data), "import", str(archive)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while child.poll() is None and rows_in(database) < rows:
            time.sleep(0.002)
        time.sleep(pause)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=120)


EVERY_TITLE = sorted(f"Chat {n}" for n in range(1, CHATS + 1))


def test_an_import_killed_at_random_points_leaves_none_or_all_and_a_rerun_adds_each_once(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "all.zip"
    write_archive(archive)
    draw = random.Random(int.from_bytes(os.urandom(4)))
    for attempt in range(3):
        data = tmp_path / f"data{attempt}"
        rows, pause = draw.randint(1, CHATS - 1), draw.uniform(0, 0.05)
        import_killed_at(data, archive, rows, pause)
        seen = titles_listed(data)
        assert seen in ([], EVERY_TITLE), (rows, pause, len(seen))
        again = phidesk(data, "import", str(archive))
        assert again.returncode == 0, again.stderr
        assert titles_listed(data) == EVERY_TITLE, (rows, pause)


def test_importing_again_after_a_complete_import_adds_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    write_archive(archive)
    data = tmp_path / "data"
    first = phidesk(data, "import", str(archive))
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == CHATS
    assert first.stderr == f"Imported {CHATS} chats.\n"
    again = phidesk(data, "import", str(archive))
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert again.stderr == f"Imported 0 chats ({CHATS} already there).\n"
    assert titles_listed(data) == EVERY_TITLE
