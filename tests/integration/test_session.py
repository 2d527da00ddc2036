"""The chat session against the Ollama double over a real socket, with a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.backend.client import OllamaClient
from app.backend.events import ContentDelta, ThinkingDelta
from app.chat.session import (
    ChatSession,
    SessionEvent,
    TurnFinished,
    TurnRefused,
    TurnStarted,
    TurnState,
)
from app.store import ChatSettings, Database
from tests.ollama_double.server import OllamaDouble


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    try:
        yield database
    finally:
        database.close()


async def collect(events: AsyncIterator[SessionEvent]) -> list[SessionEvent]:
    return [event async for event in events]


def run_turn(double: OllamaDouble, db: Database, chat_id: int, text: str) -> list[SessionEvent]:
    async def go() -> list[SessionEvent]:
        async with OllamaClient(double.url) as client:
            return await collect(ChatSession(db, client, chat_id).send(text))

    return asyncio.run(go())


async def requested(double: OllamaDouble, path: str) -> None:
    """Wait until the double has received a request to `path` (it may still be answering)."""
    for _ in range(2000):
        if double.requests_to(path):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no request to {path} arrived")


def finished(events: list[SessionEvent]) -> TurnFinished:
    last = events[-1]
    assert isinstance(last, TurnFinished)
    return last


def test_a_turn_is_stored_with_stats_provenance_and_context_meter(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini", settings=ChatSettings(num_ctx=4096, temperature=0.2))
    ollama_double.script_reply("The answer is $x^2$.", chunk_size=4)
    events = run_turn(ollama_double, db, chat.id, "What is x squared?")
    assert isinstance(events[0], TurnStarted)
    streamed = "".join(e.text for e in events if isinstance(e, ContentDelta))
    assert streamed == "The answer is $x^2$."
    end = finished(events)
    assert end.state is TurnState.DONE
    user, answer = db.messages(chat.id)
    assert (user.role, user.content, user.status) == ("user", "What is x squared?", "complete")
    assert (answer.content, answer.status) == ("The answer is $x^2$.", "complete")
    assert answer.stats is not None
    assert answer.stats.prompt_eval_count and answer.stats.eval_count
    assert answer.provenance is not None
    assert answer.provenance.requested_num_ctx == 4096
    assert answer.provenance.effective_num_ctx == 4096  # from /api/ps after the turn
    assert answer.provenance.ollama_version
    assert answer.provenance.model_digest
    assert answer.provenance.options == {"temperature": 0.2, "num_ctx": 4096}
    stored = db.get_chat(chat.id)
    assert stored.title == "What is x squared?"
    assert stored.context.used == answer.stats.prompt_eval_count + answer.stats.eval_count
    assert stored.context.limit == 4096
    body = ollama_double.requests_to("/api/chat")[-1].body
    assert body is not None
    assert body["options"] == {"temperature": 0.2, "num_ctx": 4096}
    assert body["messages"] == [{"role": "user", "content": "What is x squared?"}]


def test_reasoning_is_kept_apart_and_never_sent_back(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-reasoning", system_prompt="Think step by step.")
    ollama_double.script_reply("Four.", thinking="Two plus two is four.")
    events = run_turn(ollama_double, db, chat.id, "2+2?")
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)).strip() == (
        "Two plus two is four."
    )
    answer = db.messages(chat.id)[-1]
    assert answer.content.strip() == "Four."
    assert "Two plus two" in answer.thinking
    ollama_double.script_reply("Six.")
    run_turn(ollama_double, db, chat.id, "3+3?")
    sent = ollama_double.requests_to("/api/chat")[-1].body
    assert sent is not None
    assert sent["messages"][0] == {"role": "system", "content": "Think step by step."}
    assert all("Two plus two" not in m["content"] for m in sent["messages"])
    assert "think" not in sent  # phi4-reasoning has no thinking capability: never send it


def test_dropped_connection_keeps_the_partial_answer_marked_interrupted(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.script_reply("abcdefghijklmnopqrstuvwxyz", chunk_size=2)
    ollama_double.set_fault("disconnect", after=4, path="/api/chat")
    end = finished(run_turn(ollama_double, db, chat.id, "alphabet please"))
    assert end.state is TurnState.FAILED
    answer = db.messages(chat.id)[-1]
    assert answer.status == "interrupted"
    assert answer.content == "abcdefgh"
    assert answer.error and "dropped before the answer finished" in answer.error


def test_server_error_is_recorded_as_an_error_with_its_sentence(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.set_fault("status", status=503)
    end = finished(run_turn(ollama_double, db, chat.id, "hello"))
    assert end.state is TurnState.FAILED
    user, answer = db.messages(chat.id)
    assert user.content == "hello"  # the user's text is never lost
    assert answer.status == "error"
    assert answer.error == str(end.error)
    assert "busy" in (answer.error or "")


def test_stop_cancels_the_stream_and_keeps_what_arrived(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.script_reply("x" * 400, chunk_size=2)
    ollama_double.set_fault("slow", delay=0.02, path="/api/chat")

    async def go() -> None:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, chat.id)
            seen = 0
            enough = asyncio.Event()

            async def consume() -> None:
                nonlocal seen
                async for event in session.send("long please"):
                    if isinstance(event, ContentDelta):
                        seen += 1
                        if seen == 5:
                            enough.set()

            task = asyncio.create_task(consume())
            await enough.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert session.state is TurnState.STOPPED

    asyncio.run(go())
    answer = db.messages(chat.id)[-1]
    assert answer.status == "stopped"
    assert 10 <= len(answer.content) < 400


def test_partial_answer_is_written_while_streaming(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.script_reply("y" * 200, chunk_size=2)
    ollama_double.set_fault("slow", delay=0.01, path="/api/chat")
    observed: list[str] = []

    async def go() -> None:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, chat.id, flush_interval=0.05)
            async for event in session.send("go"):
                if isinstance(event, TurnStarted):
                    answer_id = event.answer_message_id
                elif isinstance(event, ContentDelta):
                    stored = db.get_message(answer_id)
                    observed.append(stored.status)
                    if stored.content:
                        observed.append("saved-partial")

    asyncio.run(go())
    assert "streaming" in observed
    assert "saved-partial" in observed


def test_regenerate_replaces_the_last_answer(ollama_double: OllamaDouble, db: Database) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.script_reply("first")
    run_turn(ollama_double, db, chat.id, "question")
    ollama_double.script_reply("second")

    async def go() -> list[SessionEvent]:
        async with OllamaClient(ollama_double.url) as client:
            return await collect(ChatSession(db, client, chat.id).regenerate())

    asyncio.run(go())
    assert [(m.role, m.content) for m in db.messages(chat.id)] == [
        ("user", "question"),
        ("assistant", "second"),
    ]


def test_edit_and_resend_replaces_later_messages(ollama_double: OllamaDouble, db: Database) -> None:
    chat = db.create_chat(model="phi4-mini")
    for text in ("one", "two"):
        ollama_double.script_reply(f"re {text}")
        run_turn(ollama_double, db, chat.id, text)
    first_user = db.messages(chat.id)[0]
    ollama_double.script_reply("re uno")

    async def go() -> None:
        async with OllamaClient(ollama_double.url) as client:
            await collect(ChatSession(db, client, chat.id).edit_and_resend(first_user.id, "uno"))

    asyncio.run(go())
    assert [m.content for m in db.messages(chat.id)] == ["uno", "re uno"]


def test_history_that_does_not_fit_is_left_out_and_recorded(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini", settings=ChatSettings(num_ctx=600))
    for i in range(4):
        ollama_double.script_reply(f"answer {i} " + "z" * 300)
        run_turn(ollama_double, db, chat.id, f"question {i} " + "q" * 300)
    last = db.messages(chat.id)[-1]
    assert last.provenance is not None
    excluded = last.provenance.excluded_message_ids
    assert excluded, "a 600-token window cannot hold four 300-character exchanges"
    sent = ollama_double.requests_to("/api/chat")[-1].body
    assert sent is not None
    sent_texts = [m["content"] for m in sent["messages"]]
    by_id = {m.id: m.content for m in db.messages(chat.id)}
    for message_id in excluded:
        assert by_id[message_id] not in sent_texts
    assert sent_texts[-1].startswith("question 3")
    # Ollama never had to drop anything on its own: it read what PhiDesk planned.
    assert last.provenance.warning is None


def test_a_chat_without_a_model_is_refused_before_anything_is_stored(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="")
    with pytest.raises(TurnRefused, match="no model"):
        run_turn(ollama_double, db, chat.id, "hi")
    assert db.messages(chat.id) == []


def test_stop_while_the_provenance_is_fetched_keeps_the_answer_and_frees_the_chat(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.script_reply("complete answer")
    ollama_double.set_fault("stall", seconds=3.0, path="/api/ps")

    async def go() -> None:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, chat.id)
            streamed = asyncio.Event()

            async def consume() -> None:
                async for event in session.send("hi"):
                    if isinstance(event, ContentDelta):
                        streamed.set()

            task = asyncio.create_task(consume())
            await streamed.wait()
            await asyncio.sleep(0.5)  # the stream is over; /api/ps is stalling
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert session.state is TurnState.STOPPED
            ollama_double.clear_faults()
            ollama_double.script_reply("second")
            events = await collect(session.send("again"))
            assert isinstance(events[-1], TurnFinished)

    asyncio.run(go())
    messages = db.messages(chat.id)
    assert [(m.role, m.content, m.status) for m in messages] == [
        ("user", "hi", "complete"),
        ("assistant", "complete answer", "complete"),
        ("user", "again", "complete"),
        ("assistant", "second", "complete"),
    ]


def test_a_refused_edit_or_regenerate_changes_nothing(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini", settings=ChatSettings(num_ctx=600))
    ollama_double.script_reply("short answer")
    run_turn(ollama_double, db, chat.id, "short question")
    before = [(m.id, m.content) for m in db.messages(chat.id)]

    async def edit() -> None:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, chat.id)
            with pytest.raises(TurnRefused, match="too long"):
                await collect(session.edit_and_resend(before[0][0], "x" * 5000))

    asyncio.run(edit())
    assert [(m.id, m.content) for m in db.messages(chat.id)] == before
    db.update_chat(chat.id, model="")

    async def regenerate() -> None:
        async with OllamaClient(ollama_double.url) as client:
            with pytest.raises(TurnRefused, match="no model"):
                await collect(ChatSession(db, client, chat.id).regenerate())

    asyncio.run(regenerate())
    assert [(m.id, m.content) for m in db.messages(chat.id)] == before


def test_a_window_loaded_for_another_chat_does_not_shrink_this_one(
    ollama_double: OllamaDouble, db: Database
) -> None:
    small = db.create_chat(model="phi4-mini", settings=ChatSettings(num_ctx=2048))
    big = db.create_chat(model="phi4-mini", settings=ChatSettings(num_ctx=16384))
    run_turn(ollama_double, db, small.id, "load it small")

    async def go() -> int:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, big.id)
            await session.refresh_loaded("phi4-mini")
            assert session.loaded_context("phi4-mini") == 2048  # what /api/ps says now
            return (await session.preview("hello")).limit

    assert asyncio.run(go()) == 16384


# --- the user's message is stored before the server is asked (issue 14, item 1) ------------


def test_the_message_is_stored_before_the_server_is_asked_and_kept_when_stopped(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.set_fault("stall", seconds=3.0, path="/api/show", times=1)

    async def go() -> None:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, chat.id)
            task = asyncio.create_task(collect(session.send("what is pi?")))
            await requested(ollama_double, "/api/show")
            task.cancel()  # Stop, or Ctrl-C, while /api/show is pending
            with pytest.raises(asyncio.CancelledError):
                await task
            assert session.state is not TurnState.STREAMING
            (question,) = db.messages(chat.id)
            assert (question.role, question.content) == ("user", "what is pi?")
            assert db.get_chat(chat.id).title == "what is pi?"
            # The unanswered question is not junk: it can be answered now.
            ollama_double.script_reply("about 3.14159")
            assert finished(await collect(session.regenerate())).state is TurnState.DONE

    asyncio.run(go())
    assert [(m.role, m.content) for m in db.messages(chat.id)] == [
        ("user", "what is pi?"),
        ("assistant", "about 3.14159"),
    ]


def test_a_web_page_instead_of_the_model_details_loses_nothing(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.set_fault("html", path="/api/show")
    ollama_double.script_reply("answered without the details")
    assert finished(run_turn(ollama_double, db, chat.id, "hello")).state is TurnState.DONE

    async def again() -> None:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, chat.id)
            ollama_double.script_reply("answered again")
            assert finished(await collect(session.regenerate())).state is TurnState.DONE
            user = db.messages(chat.id)[0]
            ollama_double.script_reply("answered the edit")
            events = await collect(session.edit_and_resend(user.id, "hello, edited"))
            assert finished(events).state is TurnState.DONE

    asyncio.run(again())
    assert len(ollama_double.requests_to("/api/show")) >= 2  # each session asked, and got a page
    assert [(m.role, m.content, m.status) for m in db.messages(chat.id)] == [
        ("user", "hello, edited", "complete"),
        ("assistant", "answered the edit", "complete"),
    ]


def test_a_turn_refused_once_the_server_answered_removes_the_message_it_stored(
    ollama_double: OllamaDouble, db: Database
) -> None:
    # Too long only for phi4's trained window (16,384 tokens), not for the chat's own num_ctx:
    # known only once /api/show answered, after the message was stored.
    chat = db.create_chat(model="phi4", settings=ChatSettings(num_ctx=1_000_000))
    with pytest.raises(TurnRefused, match="too long"):
        run_turn(ollama_double, db, chat.id, "x " * 100_000)
    assert len(ollama_double.requests_to("/api/show")) == 1
    assert db.messages(chat.id) == []
    assert db.get_chat(chat.id).title == chat.title
    assert ollama_double.requests_to("/api/chat") == []


def test_a_model_the_server_does_not_have_refuses_the_turn_and_removes_the_message(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4:99b")
    with pytest.raises(TurnRefused, match="not installed"):
        run_turn(ollama_double, db, chat.id, "hello")
    assert db.messages(chat.id) == []
    assert db.get_chat(chat.id).title == chat.title
    assert ollama_double.requests_to("/api/chat") == []


def test_an_invalid_model_name_is_refused_before_anything_is_stored_or_sent(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="no such/model/name/at/all")
    with pytest.raises(TurnRefused, match="not a valid model name"):
        run_turn(ollama_double, db, chat.id, "hello")
    assert db.messages(chat.id) == []
    assert ollama_double.requests_to("/api/show") == []
    assert ollama_double.requests_to("/api/chat") == []


# --- paths the CLI subprocess tests reach but coverage does not follow ---------------------

# Imported here, not at the top, so that these tests are one block appended to the module.
from collections.abc import Awaitable, Callable, Mapping  # noqa: E402

from app.chat.session import title_from  # noqa: E402


def session_run[R](
    double: OllamaDouble,
    db: Database,
    chat_id: int,
    work: Callable[[ChatSession], Awaitable[R]],
    *,
    model_options: Callable[[str], Mapping[str, object]] | None = None,
    stall_seconds: float = 30.0,
    stall_timeout: float = 300.0,
) -> R:
    async def go() -> R:
        async with OllamaClient(
            double.url, stall_seconds=stall_seconds, stall_timeout=stall_timeout
        ) as client:
            return await work(ChatSession(db, client, chat_id, model_options=model_options))

    return asyncio.run(go())


def test_a_refused_turn_gives_its_message_back_to_the_caller(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4:99b")
    told: list[object] = []

    async def work(session: ChatSession) -> None:
        with pytest.raises(TurnRefused, match="not installed"):
            await collect(session.send("hello", on_stored=told.append))
        assert await session.model_info("phi4:99b") is None

    session_run(ollama_double, db, chat.id, work)
    assert len(told) == 2 and told[-1] is None  # stored, then removed again
    stored = told[0]
    assert getattr(stored, "content", None) == "hello"
    assert db.messages(chat.id) == []


def test_silence_past_the_stall_timeout_ends_the_turn_interrupted(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.script_reply("never heard", chunk_size=2)
    ollama_double.set_fault("stall", after=1, seconds=3.0, path="/api/chat", times=1)

    async def work(session: ChatSession) -> list[SessionEvent]:
        return await collect(session.send("hello"))

    end = finished(
        session_run(ollama_double, db, chat.id, work, stall_seconds=0.1, stall_timeout=0.5)
    )
    assert end.state is TurnState.FAILED, end
    assert end.error is not None and "sent nothing for 0.5 s" in str(end.error)
    answer = db.messages(chat.id)[-1]
    assert (answer.role, answer.status) == ("assistant", "interrupted")


def test_model_details_that_do_not_come_in_time_are_done_without(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.set_fault("stall", seconds=3.0, path="/api/show", times=1)

    async def work(session: ChatSession) -> object:
        return await session.model_info("phi4-mini")

    assert session_run(ollama_double, db, chat.id, work, stall_timeout=0.3) is None


def test_a_failing_ps_leaves_the_window_unknown_and_the_answer_complete(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.set_fault("status", status=500, path="/api/ps")
    ollama_double.script_reply("fine")

    async def work(session: ChatSession) -> list[SessionEvent]:
        await session.refresh_loaded("phi4-mini")
        assert session.loaded_context("phi4-mini") is None
        return await collect(session.send("hello"))

    assert finished(session_run(ollama_double, db, chat.id, work)).state is TurnState.DONE
    answer = db.messages(chat.id)[-1]
    assert (answer.content, answer.status) == ("fine", "complete")
    assert answer.provenance is not None and answer.provenance.effective_num_ctx is None


def test_regenerate_and_edit_refuse_what_they_cannot_redo(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")

    async def nothing_yet(session: ChatSession) -> None:
        with pytest.raises(TurnRefused, match="there is no message to answer again"):
            await collect(session.regenerate())

    session_run(ollama_double, db, chat.id, nothing_yet)
    ollama_double.script_reply("an answer")
    run_turn(ollama_double, db, chat.id, "a question")
    answer = db.messages(chat.id)[-1]

    async def edit_answer(session: ChatSession) -> None:
        with pytest.raises(TurnRefused, match="only your own messages"):
            await collect(session.edit_and_resend(answer.id, "rewritten"))

    session_run(ollama_double, db, chat.id, edit_answer)
    assert [m.content for m in db.messages(chat.id)] == ["a question", "an answer"]


def test_model_wide_options_seed_and_think_are_sent_and_system_rows_are_not(
    ollama_double: OllamaDouble, db: Database
) -> None:
    settings = ChatSettings(num_ctx=4096, seed=7, think=True)
    chat = db.create_chat(model="phi4-mini-reasoning", settings=settings)
    db.add_message(chat.id, "system", "an old system row")
    ollama_double.script_reply("ok", thinking="hmm")

    async def work(session: ChatSession) -> list[SessionEvent]:
        return await collect(session.send("hello"))

    events = session_run(
        ollama_double, db, chat.id, work, model_options=lambda model: {"num_gpu": 1}
    )
    assert finished(events).state is TurnState.DONE
    body = ollama_double.requests_to("/api/chat")[-1].body
    assert body is not None
    assert body["options"] == {"num_gpu": 1, "seed": 7, "num_ctx": 4096}
    assert body["think"] is True
    assert body["messages"] == [{"role": "user", "content": "hello"}]


def test_a_model_removed_while_answering_is_asked_about_again_next_time(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.set_fault("status", status=404, path="/api/chat", times=1)

    async def work(session: ChatSession) -> list[SessionEvent]:
        first = await collect(session.send("hello"))
        assert session.cached_model_info("phi4-mini") is None
        ollama_double.script_reply("back again")
        return first + await collect(session.send("again"))

    events = session_run(ollama_double, db, chat.id, work)
    ends = [e for e in events if isinstance(e, TurnFinished)]
    assert [e.state for e in ends] == [TurnState.FAILED, TurnState.DONE]
    assert "not installed" in str(ends[0].error)
    assert len(ollama_double.requests_to("/api/show")) == 2


def test_a_second_turn_is_refused_while_one_streams(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.script_reply("slow answer", chunk_size=2)
    ollama_double.set_fault("stall", after=1, seconds=1.0, path="/api/chat", times=1)

    async def work(session: ChatSession) -> list[SessionEvent]:
        stream = session.send("first")
        events = []
        async for event in stream:
            events.append(event)
            if isinstance(event, ContentDelta):
                with pytest.raises(TurnRefused, match="still streaming"):
                    await collect(session.send("second"))
        return events

    assert finished(session_run(ollama_double, db, chat.id, work)).state is TurnState.DONE
    assert [m.content for m in db.messages(chat.id)] == ["first", "slow answer"]


def test_a_title_from_nothing_but_blank_lines_is_new_chat() -> None:
    assert title_from("  \n\t\n") == "New chat"
    assert title_from("\n  first line  \nsecond") == "first line"
