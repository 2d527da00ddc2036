"""The application layer with real parts: a SQLite file, the settings file, the offload file and
the Ollama double over a real socket. What front ends see: chats with the per-model defaults,
running turns and their events, announcements, other processes' writes, and closing."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.backend.client import OllamaClient
from app.backend.errors import StreamInterrupted
from app.backend.events import ContentDelta, StreamStalled
from app.backend.offload import GpuLayers, ModelOffload
from app.chat.session import TurnFinished, TurnStarted, TurnState
from app.config import Paths
from app.errors import PhiDeskError
from app.store import ChatSettings, Database
from app.workspace import (
    Change,
    ChatChange,
    ChatsChanged,
    ModelDefaults,
    RunningTurn,
    SettingsChanged,
    TurnEnded,
    TurnRefusedEvent,
    Workspace,
)
from app.workspace.turns import TurnEvent
from tests.conftest import REPO
from tests.ollama_double.server import OllamaDouble

MINI_DEFAULTS = ModelDefaults(num_ctx=4096, temperature=0.4, seed=3, keep_alive="10m")


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths.resolve(tmp_path / "data").ensure()


@asynccontextmanager
async def opened(paths: Paths, double: OllamaDouble) -> AsyncIterator[Workspace]:
    workspace = Workspace.open(paths, OllamaClient(double.url))
    try:
        yield workspace
    finally:
        await workspace.aclose()


def remember_mini_defaults(workspace: Workspace) -> None:
    workspace.settings.update(
        lambda p: replace(p, model_defaults={**p.model_defaults, "phi4-mini": MINI_DEFAULTS})
    )


class Recorder:
    """A front end's view of one running turn: every event, in order."""

    def __init__(self, turn: RunningTurn) -> None:
        self.events: list[TurnEvent] = []
        self.content_seen = asyncio.Event()
        self.deltas = 0
        turn.listen(self._heard)

    def _heard(self, turn: RunningTurn, event: TurnEvent) -> None:
        self.events.append(event)
        if isinstance(event, ContentDelta):
            self.deltas += 1
            if self.deltas >= 5:
                self.content_seen.set()

    def kinds(self) -> list[type[object]]:
        kinds: list[type[object]] = []
        for event in self.events:
            if not kinds or kinds[-1] is not type(event):
                kinds.append(type(event))
        return kinds


async def ended(turn: RunningTurn) -> None:
    assert turn.task is not None
    await asyncio.wait([turn.task])


async def requested(double: OllamaDouble, path: str) -> None:
    """Wait until the double has received a request to `path` (it may still be answering)."""
    for _ in range(2000):
        if double.requests_to(path):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no request to {path} arrived")


def chat_changes(seen: list[Change]) -> list[ChatsChanged]:
    return [c for c in seen if isinstance(c, ChatsChanged)]


def listen(workspace: Workspace) -> list[Change]:
    seen: list[Change] = []
    workspace.subscribe(seen.append)
    return seen


# --- chats -----------------------------------------------------------------------------------


def test_new_chats_of_every_kind_start_with_the_models_stored_defaults(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            seen = listen(workspace)
            remember_mini_defaults(workspace)
            assert seen == [SettingsChanged(frozenset({"model_defaults"}))]
            for kind in ("normal", "quick"):
                chat = await workspace.new_chat("phi4-mini", kind=kind)
                assert chat.kind == kind
                assert chat.settings == MINI_DEFAULTS.chat_settings()
                assert (await workspace.chat(chat.id)).settings == ChatSettings(
                    num_ctx=4096, temperature=0.4, seed=3, keep_alive="10m"
                )
            other = await workspace.new_chat("phi4")
            assert other.settings == ChatSettings()
            # Settings given by the caller win over the remembered ones.
            given = ChatSettings(num_ctx=2048)
            assert (await workspace.new_chat("phi4-mini", settings=given)).settings == given

    asyncio.run(go())


def test_defaults_remembered_from_a_chat_apply_to_the_next_one_and_survive_a_restart(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    chosen = ChatSettings(num_ctx=12288, temperature=0.1, think=True)

    async def first_run() -> None:
        async with opened(paths, ollama_double) as workspace:
            workspace.settings.set(default_model="phi4")
            chat = await workspace.new_chat()
            assert chat.model == "phi4"
            await workspace.configure(chat.id, settings=chosen, remember_for_model=True)

    async def second_run() -> None:
        async with opened(paths, ollama_double) as workspace:
            assert (await workspace.new_chat(kind="quick")).settings == chosen

    asyncio.run(first_run())
    asyncio.run(second_run())


def test_chat_changes_are_announced(paths: Paths, ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("an answer")

    async def go() -> tuple[int, list[ChatsChanged]]:
        async with opened(paths, ollama_double) as workspace:
            seen = listen(workspace)
            chat = await workspace.new_chat("phi4-mini")
            await workspace.rename(chat.id, "Renamed")
            await workspace.pin(chat.id, True)
            await workspace.delete_chat(chat.id)
            assert await workspace.list_chats() == []
            restored = await workspace.restore_chat(chat.id)
            assert (restored.title, restored.pinned) == ("Renamed", True)
            await ended(workspace.send(chat.id, "a question"))
            user = (await workspace.messages(chat.id))[0]
            await workspace.delete_message(user.id)
            return chat.id, chat_changes(seen)

    chat_id, changes = asyncio.run(go())
    ids = frozenset({chat_id})
    assert changes == [
        ChatsChanged(ids, ChatChange.CREATED),
        ChatsChanged(ids, ChatChange.UPDATED),
        ChatsChanged(ids, ChatChange.UPDATED),
        ChatsChanged(ids, ChatChange.DELETED),
        ChatsChanged(ids, ChatChange.RESTORED),
        ChatsChanged(ids, ChatChange.MESSAGES),  # the question was stored
        ChatsChanged(ids, ChatChange.MESSAGES),  # the turn started
        ChatsChanged(ids, ChatChange.MESSAGES),  # the turn ended
        ChatsChanged(ids, ChatChange.MESSAGES),  # a message was deleted
    ]


# --- turns -----------------------------------------------------------------------------------


def test_a_turn_streams_to_its_listeners_and_is_stored(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.script_reply("Two plus two is four.", chunk_size=3)

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            remember_mini_defaults(workspace)
            workspace.offload.set_model("phi4-mini", ModelOffload(GpuLayers.SOME, count=12))
            workspace.offload.save()
            chat = await workspace.new_chat("phi4-mini")

            turn = workspace.send(chat.id, "What is 2+2?")
            recorder = Recorder(turn)
            assert workspace.turns == {chat.id: turn}
            with pytest.raises(PhiDeskError, match="still streaming"):
                workspace.send(chat.id, "and 3+3?")
            await ended(turn)

            assert recorder.kinds() == [TurnStarted, ContentDelta, TurnFinished, TurnEnded]
            started = recorder.events[0]
            finished = recorder.events[-2]
            assert isinstance(started, TurnStarted) and isinstance(finished, TurnFinished)
            assert finished.state is TurnState.DONE
            assert turn.finished == finished
            assert "".join(turn.content) == "Two plus two is four."
            assert turn.done and workspace.turns == {}

            user, answer = await workspace.messages(chat.id)
            assert (user.id, user.role, user.content) == (
                started.user_message_id,
                "user",
                "What is 2+2?",
            )
            assert (answer.id, answer.content, answer.status) == (
                started.answer_message_id,
                "Two plus two is four.",
                "complete",
            )
            assert finished.message == answer

    asyncio.run(go())
    assert (paths.config / "offload.json").is_file()
    body = ollama_double.requests_to("/api/chat")[-1].body
    assert body is not None
    assert body["options"] == {"num_gpu": 12, "num_ctx": 4096, "temperature": 0.4, "seed": 3}
    assert body["keep_alive"] == "10m"
    assert body["messages"] == [{"role": "user", "content": "What is 2+2?"}]


def test_stop_mid_stream_keeps_the_answer_as_stopped(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.script_reply("z" * 300, chunk_size=2)
    ollama_double.set_fault("slow", delay=0.02, path="/api/chat")

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4-mini")
            turn = workspace.send(chat.id, "a long one")
            recorder = Recorder(turn)
            await recorder.content_seen.wait()
            assert workspace.stop(chat.id)
            await ended(turn)
            assert turn.task is not None and turn.task.cancelled()
            assert workspace.turns == {}
            assert not workspace.stop(chat.id)
            assert isinstance(recorder.events[0], TurnStarted)
            assert isinstance(recorder.events[-1], TurnEnded)
            assert turn.refused is None  # the answer existed: nothing to give back

            user, answer = await workspace.messages(chat.id)
            assert user.content == "a long one"
            assert answer.status == "stopped"
            assert answer.content == "".join(turn.content)
            assert 10 <= len(answer.content) < 300
            # The chat takes the next message at once.
            ollama_double.clear_faults()
            ollama_double.script_reply("short")
            await ended(workspace.send(chat.id, "a short one"))
            assert (await workspace.messages(chat.id))[-1].content == "short"

    asyncio.run(go())


def test_a_refused_turn_gives_the_text_back_and_stores_nothing(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("")
            turn = workspace.send(chat.id, "hello there")
            recorder = Recorder(turn)
            await ended(turn)
            assert len(recorder.events) == 2
            refused, last = recorder.events
            assert isinstance(refused, TurnRefusedEvent)
            assert refused.text == "hello there"
            assert "no model" in refused.reason
            assert last == TurnEnded()
            assert turn.refused == refused
            assert await workspace.messages(chat.id) == []
            assert workspace.turns == {}

    asyncio.run(go())
    assert ollama_double.requests_to("/api/chat") == []


def test_a_turn_stopped_before_it_started_gives_the_text_back_and_frees_the_chat(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.script_reply("the answer")

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4-mini")
            turn = workspace.send(chat.id, "never mind")
            recorder = Recorder(turn)
            assert workspace.stop(chat.id)  # before the turn's task took its first step
            await ended(turn)
            assert recorder.events == [TurnRefusedEvent("", "never mind"), TurnEnded()]
            assert workspace.turns == {}
            assert await workspace.messages(chat.id) == []
            await ended(workspace.send(chat.id, "this one, please"))
            assert [m.content for m in await workspace.messages(chat.id)] == [
                "this one, please",
                "the answer",
            ]

    asyncio.run(go())


def test_a_turn_stopped_while_the_server_is_asked_keeps_the_question(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.set_fault("stall", seconds=3.0, path="/api/show", times=1)

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4-mini")
            seen = listen(workspace)
            turn = workspace.send(chat.id, "kept question")
            recorder = Recorder(turn)
            await requested(ollama_double, "/api/show")
            # The question is in the chat, and front ends were told, before the server answers.
            assert [m.content for m in await workspace.messages(chat.id)] == ["kept question"]
            assert ChatsChanged(frozenset({chat.id}), ChatChange.MESSAGES) in seen
            assert workspace.stop(chat.id)
            await ended(turn)
            # Stored before the server was asked: nothing to give back, it is in the chat.
            assert recorder.events == [TurnEnded()]
            assert turn.refused is None and turn.answer_id is None
            (question,) = await workspace.messages(chat.id)
            assert (question.id, question.content) == (turn.user_message_id, "kept question")
            assert (await workspace.chat(chat.id)).title == "kept question"
            assert workspace.turns == {}

    asyncio.run(go())
    assert ollama_double.requests_to("/api/chat") == []


def test_a_turn_refused_once_the_server_answered_gives_the_text_back(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4:99b")  # a valid name the server does not have
            turn = workspace.send(chat.id, "are you there?")
            recorder = Recorder(turn)
            await ended(turn)
            refused, last = recorder.events
            assert isinstance(refused, TurnRefusedEvent)
            assert refused.text == "are you there?"
            assert "not installed" in refused.reason
            assert last == TurnEnded()
            assert turn.user_message_id is None
            assert await workspace.messages(chat.id) == []

    asyncio.run(go())
    assert ollama_double.requests_to("/api/chat") == []


def test_an_answer_that_hears_nothing_gives_up_after_the_stall_timeout_preference(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.script_reply("a slow start", chunk_size=2)
    ollama_double.set_fault("stall", after=1, seconds=60.0, path="/api/chat")

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            assert workspace.stall_timeout == 300  # the default preference
            workspace.settings.set(stall_timeout=2)
            assert workspace.client.stall_timeout == 2
            chat = await workspace.new_chat("phi4-mini")
            turn = workspace.send(chat.id, "go on")
            recorder = Recorder(turn)
            await ended(turn)
            assert StreamStalled in recorder.kinds()  # front ends were told before it gave up
            finished = next(e for e in recorder.events if isinstance(e, TurnFinished))
            assert finished.state is TurnState.FAILED
            assert isinstance(finished.error, StreamInterrupted)
            assert "2 s" in str(finished.error)
            _, answer = await workspace.messages(chat.id)
            assert (answer.status, answer.content) == ("interrupted", "a ")
            # A client switched to, and this run's own choice, follow too.
            await workspace.use_client(OllamaClient(ollama_double.url))
            assert workspace.client.stall_timeout == 2
            workspace.use_stall_timeout(7.5)
            assert (workspace.stall_timeout, workspace.client.stall_timeout) == (7.5, 7.5)

    asyncio.run(go())
    assert "/api/chat" in ollama_double.disconnects


# --- other processes ----------------------------------------------------------------------

WRITER = """
import sys
from app.store import Database

db = Database.open(sys.argv[1])
chat = db.create_chat(title="from phidesk ask", model="phi4-mini")
db.add_message(chat.id, "user", "asked elsewhere")
db.add_message(int(sys.argv[2]), "user", "added elsewhere")
print(chat.id)
db.close()
"""


def write_from_another_process(database: Path, existing_chat: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(database), str(existing_chat)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_poll_external_announces_chats_another_process_changed(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    # Chats of an earlier run.
    with Database.open(paths.database) as db:
        chat = db.create_chat(title="earlier", model="phi4")
        untouched = db.create_chat(title="also earlier", model="phi4")

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            assert await workspace.poll_external() == frozenset()
            seen = listen(workspace)
            assert await workspace.poll_external() == frozenset()
            assert seen == []

            created = await asyncio.to_thread(write_from_another_process, paths.database, chat.id)

            changed = await workspace.poll_external()
            assert changed == frozenset({created, chat.id})
            assert untouched.id not in changed
            assert seen == [ChatsChanged(changed, ChatChange.EXTERNAL)]
            assert [m.content for m in await workspace.messages(chat.id)] == ["added elsewhere"]
            # Nothing new since: nothing to announce.
            assert await workspace.poll_external() == frozenset()
            assert seen == [ChatsChanged(changed, ChatChange.EXTERNAL)]

    asyncio.run(go())


def test_poll_external_does_not_announce_this_processs_own_changes(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.script_reply("an answer")

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4-mini")
            assert await workspace.poll_external() == frozenset()
            seen = listen(workspace)
            await workspace.rename(chat.id, "Renamed here")
            assert await workspace.poll_external() == frozenset()
            await ended(workspace.send(chat.id, "a question"))
            assert await workspace.poll_external() == frozenset()
            assert all(c.how is not ChatChange.EXTERNAL for c in chat_changes(seen))

    asyncio.run(go())


def test_a_chat_touched_before_the_first_poll_still_shows_external_changes(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4")
            assert await workspace.poll_external() == frozenset()
            created = await asyncio.to_thread(write_from_another_process, paths.database, chat.id)
            assert await workspace.poll_external() == frozenset({created, chat.id})

    asyncio.run(go())


# --- closing -----------------------------------------------------------------------------------


def test_aclose_stops_a_running_turn_saves_it_and_closes_everything(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.script_reply("w" * 300, chunk_size=2)
    ollama_double.set_fault("slow", delay=0.02, path="/api/chat")
    wal = paths.database.with_name(paths.database.name + "-wal")

    async def go() -> tuple[int, RunningTurn]:
        workspace = Workspace.open(paths, OllamaClient(ollama_double.url))
        chat = await workspace.new_chat("phi4-mini")
        turn = workspace.send(chat.id, "keep going")
        recorder = Recorder(turn)
        await recorder.content_seen.wait()
        assert wal.exists()

        await workspace.aclose()

        assert turn.done
        assert isinstance(recorder.events[-1], TurnEnded)
        assert workspace.turns == {}
        with pytest.raises(PhiDeskError, match="closing"):
            workspace.send(chat.id, "too late")
        with pytest.raises(RuntimeError, match="closed"):
            await workspace.client.version()
        await workspace.aclose()  # twice is harmless
        return chat.id, turn

    chat_id, turn = asyncio.run(go())
    # Every connection to the file was closed: SQLite folded the write-ahead log back in.
    assert not wal.exists()
    with Database.open(paths.database) as db:
        user, answer = db.messages(chat_id)
    assert user.content == "keep going"
    assert answer.status == "stopped"
    assert answer.content == "".join(turn.content)
    assert answer.content


# --- the writer thread -------------------------------------------------------------------


class OtherWriter:
    """Another process's transaction, in a thread: holds the database's write lock with
    BEGIN IMMEDIATE for `seconds`, then commits."""

    def __init__(self, database: Path, seconds: float) -> None:
        self.database = database
        self.seconds = seconds
        self.locked = threading.Event()
        self.released = threading.Event()
        self.thread = threading.Thread(target=self._hold, name="other-writer")

    def _hold(self) -> None:
        connection = sqlite3.connect(self.database, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            self.locked.set()
            self.released.wait(self.seconds)
            connection.execute("COMMIT")
        finally:
            connection.close()
            self.released.set()

    async def __aenter__(self) -> OtherWriter:
        self.thread.start()
        await asyncio.to_thread(self.locked.wait, 30)
        assert self.locked.is_set()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.thread.join, 30)


class Ticker:
    """Counts how often the event loop gets to run a task that sleeps 10 ms at a time."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    async def during(self, call: Callable[[], Any]) -> tuple[Any, int]:
        self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            start = self.ticks
            result = await call()
            return result, self.ticks - start
        finally:
            self._task.cancel()
            await asyncio.wait([self._task])


def test_a_database_write_waits_on_the_writer_thread_while_the_loop_runs(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4")
            async with OtherWriter(paths.database, 1.5) as other:
                renamed, ticks = await Ticker().during(
                    lambda: workspace.rename(chat.id, "Renamed while locked")
                )
                # The rename could only be stored once the other transaction ended...
                assert other.released.is_set()
            assert renamed.title == "Renamed while locked"
            assert (await workspace.chat(chat.id)).title == "Renamed while locked"
            # ...and all that time the loop kept running (a blocked loop ticks about once).
            assert ticks >= 10

    asyncio.run(go())


def test_a_turns_database_writes_wait_on_the_writer_thread_while_the_loop_runs(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.script_reply("stored after the lock")

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4-mini")
            async with OtherWriter(paths.database, 1.5) as other:
                turn = workspace.send(chat.id, "written while locked")
                _, ticks = await Ticker().during(lambda: ended(turn))
                assert other.released.is_set()
            assert ticks >= 10
            assert turn.finished is not None
            assert turn.finished.state is TurnState.DONE
            assert [(m.content, m.status) for m in await workspace.messages(chat.id)] == [
                ("written while locked", "complete"),
                ("stored after the lock", "complete"),
            ]

    asyncio.run(go())


def test_stopping_a_turn_while_the_database_is_locked_does_not_block_the_loop(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.script_reply("v" * 300, chunk_size=2)
    ollama_double.set_fault("slow", delay=0.02, path="/api/chat")

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4-mini")
            turn = workspace.send(chat.id, "stream for a while")
            await Recorder(turn).content_seen.wait()
            async with OtherWriter(paths.database, 1.5):
                workspace.stop(chat.id)
                _, ticks = await Ticker().during(lambda: ended(turn))
            assert ticks >= 10
            assert (await workspace.messages(chat.id))[-1].status == "stopped"

    asyncio.run(go())
