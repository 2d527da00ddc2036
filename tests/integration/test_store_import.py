"""`Database.import_chats` on real SQLite files: all-or-nothing (an exception or a SIGKILL leaves
nothing visible), idempotent (a rerun adds only what is missing, matched on the exported id and
creation time kept as the chat's origin), committed in batches of staged rows that nothing
shows, and imported chats never take their exported ids."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import overload

import pytest

from app.store import (
    Chat,
    ChatSettings,
    ContextUsage,
    Database,
    ImportResult,
    Message,
    NotFound,
    Provenance,
    Role,
)

REPO = Path(__file__).resolve().parents[2]
BASE = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
HUGE_ID = 9223372036854775807


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    yield database
    database.close()


def exported_chat(chat_id: int, title: str, *, created: datetime = BASE) -> Chat:
    """A chat as an export file describes it: its id is the one it had where it came from."""
    return Chat(
        id=chat_id,
        title=title,
        kind="normal",
        model="phi4-mini",
        system_prompt="",
        settings=ChatSettings(num_ctx=4096),
        pinned=False,
        created_at=created,
        updated_at=created + timedelta(minutes=5),
        deleted_at=None,
        context=ContextUsage(),
        message_count=0,
    )


def exported_message(position: int, content: str, *, role: Role = "user") -> Message:
    at = BASE + timedelta(seconds=position)
    return Message(
        position,
        0,
        role,
        content,
        "",
        "complete",
        None,
        at,
        at,
        None,
        None,  # type: ignore[arg-type]
    )


def item(chat_id: int, title: str, *words: str) -> tuple[Chat, list[Message]]:
    messages = [exported_message(i + 1, w) for i, w in enumerate(words or (f"{title} body",))]
    return exported_chat(chat_id, title), messages


def raw_count(path: Path, sql: str) -> int:
    with closing(sqlite3.connect(path)) as connection:
        return int(connection.execute(sql).fetchone()[0])


def titles(db: Database) -> list[str]:
    return sorted(chat.title for chat in db.list_chats())


def test_import_adds_every_chat_with_its_messages(db: Database) -> None:
    result = db.import_chats([item(7, "seven", "alpha", "beta"), item(8, "eight", "gamma")])

    assert isinstance(result, ImportResult)
    assert [c.title for c in result.added] == ["seven", "eight"]
    assert result.skipped == []
    assert titles(db) == ["eight", "seven"]
    seven = result.added[0]
    assert seven.message_count == 2 and seven.created_at == BASE
    assert [m.content for m in db.messages(seven.id)] == ["alpha", "beta"]
    assert {h.chat_id for h in db.search("gamma")} == {result.added[1].id}


def test_an_imported_chat_never_takes_its_exported_id(db: Database) -> None:
    """A kept id of 2**63 - 1 made SQLite pick random 19-digit ids for every later chat."""
    mine = db.create_chat(title="mine")
    result = db.import_chats([item(HUGE_ID, "huge"), item(1, "one"), item(500, "five hundred")])

    assert [c.id for c in result.added] == [mine.id + 1, mine.id + 2, mine.id + 3]
    assert db.create_chat(title="later").id == mine.id + 4
    assert db.get_chat(mine.id).title == "mine"
    # The exported id is not lost: a rerun recognises the chat by it.
    assert [c.id for c in db.import_chats([item(HUGE_ID, "huge")]).skipped] == [mine.id + 1]


def test_a_rerun_adds_only_what_is_missing(db: Database) -> None:
    first = db.import_chats([item(1, "one"), item(2, "two"), item(3, "three")])
    again = db.import_chats(
        [item(1, "one"), item(2, "two"), item(4, "four"), item(3, "three"), item(5, "five")]
    )

    assert [c.title for c in again.added] == ["four", "five"]
    assert [c.id for c in again.skipped] == [c.id for c in first.added]
    assert titles(db) == ["five", "four", "one", "three", "two"]
    assert raw_count(db.path, "SELECT count(*) FROM messages") == 5


def test_the_origin_is_the_exported_id_and_creation_time(db: Database) -> None:
    db.import_chats([item(1, "one")])
    other_time = exported_chat(1, "one, started later", created=BASE + timedelta(seconds=1))
    other_id = exported_chat(2, "two, same time")
    result = db.import_chats([(other_time, []), (other_id, [])])
    assert [c.title for c in result.added] == ["one, started later", "two, same time"]


def test_the_same_chat_twice_in_one_import_is_added_once(db: Database) -> None:
    result = db.import_chats([item(9, "nine"), item(9, "nine")])
    assert [c.title for c in result.added] == ["nine"]
    assert [c.id for c in result.skipped] == [result.added[0].id]
    assert titles(db) == ["nine"]


def test_a_chat_imported_by_import_chat_is_recognised_too(db: Database) -> None:
    chat, messages = item(3, "three")
    single = db.import_chat(chat, messages)
    assert db.import_chat(chat, messages).id == single.id
    assert [c.id for c in db.import_chats([item(3, "three")]).skipped] == [single.id]
    assert titles(db) == ["three"]


def test_an_error_midway_leaves_nothing_and_a_rerun_imports_all(db: Database) -> None:
    def items() -> Iterator[tuple[Chat, list[Message]]]:
        for n in range(1, 131):
            yield item(n, f"chat {n}")
        raise ValueError("the 131st file is damaged")

    with pytest.raises(ValueError, match="131st"):
        db.import_chats(items(), batch_size=50)

    assert db.list_chats() == []
    assert raw_count(db.path, "SELECT count(*) FROM chats") == 0
    assert raw_count(db.path, "SELECT count(*) FROM messages") == 0
    result = db.import_chats([item(n, f"chat {n}") for n in range(1, 131)], batch_size=50)
    assert len(result.added) == 130 and len(db.list_chats()) == 130


def test_staged_chats_are_committed_in_batches_and_shown_nowhere(
    db: Database, tmp_path: Path
) -> None:
    """Other processes can write between the batches, and see none of the import until its end."""
    seen: dict[str, object] = {}

    def items() -> Iterator[tuple[Chat, list[Message]]]:
        for n in range(1, 121):
            if n == 111:
                with Database.open(db.path) as other:
                    seen["committed"] = raw_count(db.path, "SELECT count(*) FROM chats")
                    seen["listed"] = other.list_chats() + db.list_chats()
                    seen["trash"] = other.list_chats(deleted=True)
                    seen["found"] = other.search("ocelot") + db.search("ocelot")
                    seen["written"] = other.create_chat(title="written meanwhile").title
                    with pytest.raises(NotFound):
                        other.get_chat(1)
            yield item(n, f"chat {n}", "ocelot")

    result = db.import_chats(items(), batch_size=50)

    assert seen["committed"] == 100  # two batches of 50 staged; the third not written yet
    assert (seen["listed"], seen["trash"], seen["found"]) == ([], [], [])
    assert seen["written"] == "written meanwhile"
    assert len(result.added) == 120
    assert len(db.list_chats()) == 121
    assert len(db.search("ocelot", limit=500)) == 120


class WatchedMessages(Sequence[Message]):
    """The messages of one long chat; at `index`, how many of them are committed already."""

    def __init__(self, path: Path, messages: list[Message], index: int) -> None:
        self.path = path
        self.items = messages
        self.watch_at = index
        self.committed_then: int | None = None

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, i: int) -> Message: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Message]: ...
    def __getitem__(self, i: int | slice) -> Message | Sequence[Message]:
        return self.items[i]

    def __iter__(self) -> Iterator[Message]:
        for i, message in enumerate(self.items):
            if i == self.watch_at:
                self.committed_then = raw_count(self.path, "SELECT count(*) FROM messages")
            yield message


def test_one_long_chat_is_committed_in_parts_and_its_references_kept(db: Database) -> None:
    count = 5000
    messages = [exported_message(i + 1, f"line {i + 1}") for i in range(count)]
    last = messages[-1]
    messages[-1] = Message(
        last.id,
        0,
        "assistant",
        last.content,
        "",
        "complete",
        None,
        last.created_at,
        last.updated_at,
        None,
        Provenance(model="phi4-mini", excluded_message_ids=(1, 2, 4999, 777_777)),
    )
    watched = WatchedMessages(db.path, messages, index=4500)

    (chat,) = db.import_chats([(exported_chat(1, "long"), watched)]).added

    assert watched.committed_then is not None and watched.committed_then >= 1000
    stored = db.messages(chat.id)
    assert len(stored) == count and chat.message_count == count
    assert [m.content for m in stored[:2]] == ["line 1", "line 2"]
    provenance = stored[-1].provenance
    assert provenance is not None
    assert provenance.excluded_message_ids == (stored[0].id, stored[1].id, stored[4998].id)


def test_import_chat_is_still_one_call_for_one_chat(db: Database) -> None:
    chat, messages = item(4, "four", "hello")
    imported = db.import_chat(chat, messages)
    assert (imported.title, imported.message_count, imported.created_at) == ("four", 1, BASE)
    bad = Message(2, 0, "robot", "x", "", "complete", None, BASE, BASE, None, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="role"):
        db.import_chat(exported_chat(5, "bad"), [*messages, bad])
    assert titles(db) == ["four"]
    assert raw_count(db.path, "SELECT count(*) FROM chats") == 1


IMPORTER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from app.store import Chat, ChatSettings, ContextUsage, Database, Message

    at = datetime(2026, 3, 4, tzinfo=UTC)

    def items():
        for n in range(1, 1000):
            if n == 120:
                print("staged", flush=True)
                if sys.stdin.readline().strip() != "go on":
                    time.sleep(3600)
            if n == 200:
                return
            chat = Chat(n, f"chat {n}", "normal", "phi4", "", ChatSettings(), False, at, at,
                        None, ContextUsage(), 0)
            yield chat, [Message(1, 0, "user", f"words of {n}", "", "complete", None, at, at,
                                 None, None)]

    with Database.open(sys.argv[1]) as db:
        result = db.import_chats(items(), batch_size=50)
    print("imported", len(result.added), flush=True)
    """
)


def start_importer(tmp_path: Path, path: Path) -> subprocess.Popen[str]:
    script = tmp_path / "importer.py"
    script.write_text(IMPORTER)
    process = subprocess.Popen(
        [sys.executable, str(script), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "staged\n"
    return process


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_import_leaves_nothing_and_the_next_writer_cleans_it(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    Database.open(path).close()
    process = start_importer(tmp_path, path)
    process.kill()
    process.communicate(timeout=30)
    assert raw_count(path, "SELECT count(*) FROM chats") == 100  # two batches were staged

    with Database.open(path) as db:
        assert db.list_chats() == []
        assert raw_count(path, "SELECT count(*) FROM chats") == 0
        assert raw_count(path, "SELECT count(*) FROM messages") == 0
        assert db.search("words") == []
        with closing(sqlite3.connect(path)) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_an_import_running_in_another_process_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    Database.open(path).close()
    process = start_importer(tmp_path, path)
    try:
        with Database.open(path) as db:  # a writer: it cleans only imports whose process died
            assert db.list_chats() == []
            db.create_chat(title="meanwhile")
        assert raw_count(path, "SELECT count(*) FROM chats") == 101
    finally:
        out, _ = process.communicate("go on\n", timeout=60)
    assert (process.returncode, out) == (0, "imported 199\n")
    with Database.open(path) as db:
        assert len(db.list_chats()) == 200
