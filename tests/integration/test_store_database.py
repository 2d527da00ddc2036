"""The store's API on real SQLite files: chats, messages, provenance, presets, threads, and
noticing other connections' writes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.backend.events import ChatStats
from app.store import (
    ChatSettings,
    ContextUsage,
    Database,
    DuplicateName,
    NotFound,
    Provenance,
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    yield database
    database.close()


def test_chat_settings_round_trip_and_update(db: Database) -> None:
    settings = ChatSettings(
        num_ctx=16384, temperature=0.7, seed=42, think=True, keep_alive="10m", extra={"min_p": 0.05}
    )
    chat = db.create_chat(
        title="Math", model="phi4-reasoning", system_prompt="Show work.", settings=settings
    )
    again = db.get_chat(chat.id)
    assert again.settings == settings
    assert (again.title, again.model, again.system_prompt, again.kind) == (
        "Math",
        "phi4-reasoning",
        "Show work.",
        "normal",
    )
    updated = db.update_chat(chat.id, title="Algebra", pinned=True)
    assert updated.title == "Algebra" and updated.pinned
    assert updated.settings == settings  # untouched fields stay
    db.update_chat(chat.id, settings=ChatSettings(think=False))
    assert db.get_chat(chat.id).settings == ChatSettings(think=False)


def test_list_pinned_first_then_most_recent_activity(db: Database) -> None:
    old = db.create_chat(title="old")
    pinned = db.create_chat(title="pinned", pinned=True)
    new = db.create_chat(title="new")
    quick = db.create_chat(title="quick one", kind="quick")
    assert [c.title for c in db.list_chats()] == ["pinned", "quick one", "new", "old"]
    db.add_message(old.id, "user", "bump")  # activity moves a chat up
    listed = db.list_chats()
    assert [c.id for c in listed] == [pinned.id, old.id, quick.id, new.id]
    assert [c.message_count for c in listed] == [0, 1, 0, 0]
    assert [c.id for c in db.list_chats(kind="quick")] == [quick.id]
    assert [c.id for c in db.list_chats(limit=2)] == [pinned.id, old.id]


def test_soft_delete_restore_and_purge(db: Database) -> None:
    keep = db.create_chat(title="keep")
    gone = db.create_chat(title="gone")
    message = db.add_message(gone.id, "user", "ephemeral pumpkin")
    db.delete_chat(gone.id)
    assert [c.id for c in db.list_chats()] == [keep.id]
    assert [c.id for c in db.list_chats(deleted=True)] == [gone.id]
    assert db.search("pumpkin") == []
    assert db.get_chat(gone.id).deleted_at is not None

    db.restore_chat(gone.id)
    assert {c.id for c in db.list_chats()} == {keep.id, gone.id}
    assert [h.message_id for h in db.search("pumpkin")] == [message.id]

    db.delete_chat(gone.id)
    assert db.purge_deleted_chats(older_than=timedelta(days=30)) == 0
    assert db.purge_deleted_chats() == 1
    with pytest.raises(NotFound):
        db.get_chat(gone.id)
    with pytest.raises(NotFound):
        db.get_message(message.id)
    assert [c.id for c in db.list_chats()] == [keep.id]


def test_permanent_delete_cascades_to_messages_provenance_and_index(db: Database) -> None:
    chat = db.create_chat(title="doomed")
    answer = db.add_message(chat.id, "assistant", "zanzibar", status="streaming")
    db.finish_message(answer.id, provenance=Provenance(model="phi4"))
    db.delete_chat_permanently(chat.id)
    with pytest.raises(NotFound):
        db.get_message(answer.id)
    assert db.search("zanzibar") == []
    with sqlite3.connect(db.path) as raw:
        assert raw.execute("SELECT count(*) FROM message_provenance").fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM messages").fetchone() == (0,)
    raw.close()
    with pytest.raises(NotFound):
        db.delete_chat_permanently(chat.id)


def test_streaming_answer_is_written_through_and_finished(db: Database) -> None:
    chat = db.create_chat(title="t", model="phi4", settings=ChatSettings(num_ctx=4096))
    user = db.add_message(chat.id, "user", "Why is the sky blue?")
    answer = db.add_message(chat.id, "assistant", status="streaming")

    # What another reader (e.g. a second process) sees while the answer streams.
    db.update_streaming(answer.id, "Rayleigh", "short wavelengths")
    seen = db.get_message(answer.id)
    assert (seen.content, seen.thinking, seen.status) == (
        "Rayleigh",
        "short wavelengths",
        "streaming",
    )

    stats = ChatStats(
        prompt_eval_count=812,
        eval_count=96,
        total_duration_ns=3_000_000_000,
        load_duration_ns=10,
        prompt_eval_duration_ns=20,
        eval_duration_ns=2_000_000_000,
        done_reason="stop",
    )
    provenance = Provenance(
        model="phi4:14b-q4_K_M",
        model_digest="sha256:abc",
        quantization="Q4_K_M",
        requested_num_ctx=4096,
        effective_num_ctx=4096,
        gpu_percent=100.0,
        options={"num_ctx": 4096, "temperature": 0.8},
        ollama_version="0.12.3",
        tokens_per_second=48.0,
        excluded_message_ids=(user.id,),
        warning="Ollama dropped more of the prompt than planned",
    )
    done = db.finish_message(
        answer.id, content="Rayleigh scattering.", stats=stats, provenance=provenance
    )
    assert done.status == "complete" and done.content == "Rayleigh scattering."
    assert done.thinking == "short wavelengths"
    assert db.get_message(answer.id).stats == stats
    assert db.get_message(answer.id).provenance == provenance
    assert db.get_chat(chat.id).context == ContextUsage(used=908, limit=4096)


def test_stopped_and_failed_answers_keep_partial_text(db: Database) -> None:
    chat = db.create_chat()
    stopped = db.add_message(chat.id, "assistant", status="streaming")
    db.update_streaming(stopped.id, "half an ans")
    assert db.finish_message(stopped.id, status="stopped").content == "half an ans"
    failed = db.add_message(chat.id, "assistant", status="streaming")
    result = db.finish_message(failed.id, status="error", error="the server went away")
    assert (result.status, result.error) == ("error", "the server went away")
    with pytest.raises(ValueError, match="status"):
        db.finish_message(failed.id, status="exploded")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="role"):
        db.add_message(chat.id, "robot", "beep")  # type: ignore[arg-type]


def test_latest_messages_pages_backwards_in_order(db: Database) -> None:
    chat = db.create_chat()
    other = db.create_chat()
    ids = [db.add_message(chat.id, "user", f"m{i}").id for i in range(7)]
    db.add_message(other.id, "user", "elsewhere")
    latest = db.latest_messages(chat.id, limit=3)
    assert [m.content for m in latest] == ["m4", "m5", "m6"]
    older = db.latest_messages(chat.id, limit=3, before=latest[0].id)
    assert [m.content for m in older] == ["m1", "m2", "m3"]
    assert [m.id for m in db.messages(chat.id)] == ids


def test_update_of_a_deleted_message_says_not_found(db: Database) -> None:
    chat = db.create_chat()
    answer = db.add_message(chat.id, "assistant", status="streaming")
    db.delete_chat_permanently(chat.id)
    with pytest.raises(NotFound, match="does not exist"):
        db.update_streaming(answer.id, "late text")
    with pytest.raises(NotFound):
        db.add_message(chat.id, "user", "into the void")


def test_presets_crud_with_unique_names(db: Database) -> None:
    terse = db.create_preset("Terse", "One line.")
    tutor = db.create_preset("Tutor", "Explain step by step.")
    assert [p.name for p in db.list_presets()] == ["Terse", "Tutor"]
    with pytest.raises(DuplicateName):
        db.create_preset("Terse", "again")
    with pytest.raises(DuplicateName):
        db.update_preset(tutor.id, name="Terse")
    renamed = db.update_preset(terse.id, name="Brief")
    assert (renamed.name, renamed.text) == ("Brief", "One line.")
    assert db.get_preset(terse.id).name == "Brief"
    db.delete_preset(terse.id)
    assert [p.id for p in db.list_presets()] == [tutor.id]
    with pytest.raises(NotFound):
        db.delete_preset(terse.id)


def test_many_threads_share_one_database(db: Database) -> None:
    """The GUI calls the store from worker threads: writes and reads interleave safely."""
    chats = [db.create_chat(title=f"thread {i}") for i in range(4)]
    errors: list[BaseException] = []

    def work(chat_id: int) -> None:
        try:
            for i in range(40):
                answer = db.add_message(chat_id, "assistant", status="streaming")
                db.update_streaming(answer.id, f"partial {i}")
                db.finish_message(answer.id, content=f"final {i} walrus")
                db.latest_messages(chat_id, limit=5)
                db.search("walrus", limit=3)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(chat.id,)) for chat in chats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [c.message_count for c in db.list_chats()] == [40] * 4
    assert len(db.search("walrus", limit=1000)) == 160


def test_loop_thread_and_a_worker_thread_use_one_database_at_once(tmp_path: Path) -> None:
    """The asyncio loop thread writes and reads while a worker thread (asyncio.to_thread) does
    the same through the same Database: no error, and every row is there afterwards."""
    path = tmp_path / "phidesk.sqlite3"
    count = 60
    start = threading.Barrier(2, timeout=10)
    with Database.open(path) as db:
        loop_chat = db.create_chat(title="loop")
        worker_chat = db.create_chat(title="worker")

        def worker() -> list[int]:
            start.wait()
            ids = []
            for i in range(count):
                answer = db.add_message(worker_chat.id, "assistant", status="streaming")
                db.update_streaming(answer.id, f"worker partial {i}")
                db.finish_message(answer.id, content=f"worker {i} narwhal")
                ids.append(answer.id)
                db.latest_messages(loop_chat.id, limit=5)
                db.data_version()
            return ids

        async def main() -> tuple[list[int], list[int]]:
            job = asyncio.ensure_future(asyncio.to_thread(worker))
            await asyncio.sleep(0)  # lets to_thread hand `worker` to its thread
            start.wait()
            ids = []
            for i in range(count):
                ids.append(db.add_message(loop_chat.id, "user", f"loop {i} narwhal").id)
                db.list_chats()
                db.search("narwhal", limit=3)
                db.data_version()
                await asyncio.sleep(0)
            return ids, await job

        loop_ids, worker_ids = asyncio.run(main())

    with Database.open(path) as reopened:
        assert [m.id for m in reopened.messages(loop_chat.id)] == loop_ids
        worker_messages = reopened.messages(worker_chat.id)
        assert [m.id for m in worker_messages] == worker_ids
        assert {m.status for m in worker_messages} == {"complete"}
        assert {c.title: c.message_count for c in reopened.list_chats()} == {
            "loop": count,
            "worker": count,
        }
        assert len(reopened.search("narwhal", limit=1000)) == 2 * count


def test_data_version_changes_on_another_connections_commit_not_on_reads(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    with Database.open(path) as first, Database.open(path) as second:
        chat = first.create_chat(title="mine")
        before = first.data_version()
        first.list_chats()
        first.get_chat(chat.id)
        first.messages(chat.id)
        first.search("anything")
        assert first.data_version() == before

        second.add_message(chat.id, "user", "written by someone else")
        after = first.data_version()
        assert after != before
        assert first.data_version() == after  # once noticed, it stays until the next commit

        second.list_chats()  # another connection reading is no change either
        assert first.data_version() == after
        second.create_chat(title="theirs")
        assert first.data_version() != after


def test_data_version_also_moves_after_own_writes(db: Database) -> None:
    """Own writes go through the pooled connections, not the one data_version reads on."""
    before = db.data_version()
    db.create_chat(title="mine")
    assert db.data_version() != before


def test_second_open_while_streaming_leaves_the_live_answer_streaming(tmp_path: Path) -> None:
    """A second PhiDesk on the same file leaves an answer alone while the Database writing it is
    open; once that one is closed without finishing it, the next open recovers it."""
    path = tmp_path / "phidesk.sqlite3"
    with Database.open(path) as first:
        chat = first.create_chat()
        answer = first.add_message(chat.id, "assistant", status="streaming")
        with Database.open(path) as second:
            assert second.interrupted_on_open == ()
            assert second.get_message(answer.id).status == "streaming"
        first.update_streaming(answer.id, "so far")
        with Database.open(path) as third:
            assert third.interrupted_on_open == ()
            first.finish_message(answer.id)
            done = third.get_message(answer.id)
            assert (done.status, done.content) == ("complete", "so far")
        left = first.add_message(chat.id, "assistant", status="streaming")
    with Database.open(path) as after:
        assert after.interrupted_on_open == (left.id,)
        assert after.get_message(left.id).status == "interrupted"
        assert after.get_message(answer.id).status == "complete"


def test_backups_are_rotated(tmp_path: Path) -> None:
    from app.store.migrate import BACKUPS_KEPT, backup

    path = tmp_path / "phidesk.sqlite3"
    Database.open(path).close()
    made = [backup(path, "0001") for _ in range(BACKUPS_KEPT + 2)]
    kept = sorted(tmp_path.glob("phidesk.backup-0001-*.sqlite3"))
    assert kept == sorted(made[-BACKUPS_KEPT:])
    with sqlite3.connect(kept[-1]) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copy.close()
