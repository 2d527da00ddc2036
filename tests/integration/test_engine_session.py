"""A chat on an OpenAI-compatible engine, through `ChatSession` over real sockets: the meter
equals the usage the server reported, reasoning is kept apart and never sent again, a stream
without usage is estimated, every fault is one sentence with the partial answer kept, Stop keeps
what arrived, and a chat whose engine was removed is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.backend.client import OllamaClient
from app.backend.engines import Engine
from app.backend.engines.openai_engine import OpenAIConfig, OpenAIEngine
from app.backend.events import ContentDelta, ThinkingDelta
from app.chat.session import ChatSession, SessionEvent, TurnFinished, TurnRefused, TurnState
from app.store import ChatSettings, Database
from tests.openai_double.server import FINGERPRINT, OpenAIDouble, prompt_tokens

PHI = "microsoft/phi-4"
ANSWER = "The sum is $\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$."


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    try:
        yield database
    finally:
        database.close()


async def collect(events: AsyncIterator[SessionEvent]) -> list[SessionEvent]:
    return [event async for event in events]


def finished(events: list[SessionEvent]) -> TurnFinished:
    last = events[-1]
    assert isinstance(last, TurnFinished)
    return last


def turns(
    double: OpenAIDouble, db: Database, chat_id: int, *texts: str, **engine: Any
) -> list[list[SessionEvent]]:
    """Send each text as a turn of the chat on engine "lab" (the double)."""

    async def go() -> list[list[SessionEvent]]:
        remote = OpenAIEngine("lab", OpenAIConfig(double.url))
        for key, value in engine.items():
            setattr(remote, key, value)

        def engines(name: str) -> Engine | None:
            return remote if name == "lab" else None

        async with OllamaClient("http://127.0.0.1:9") as ollama:
            session = ChatSession(db, ollama, chat_id, engines=engines)
            try:
                return [await collect(session.send(text)) for text in texts]
            finally:
                await remote.aclose()

    return asyncio.run(go())


def test_a_turn_with_math_metered_by_the_server_s_usage(
    openai_double: OpenAIDouble, db: Database
) -> None:
    chat = db.create_chat(model=PHI, engine="lab", system_prompt="Be exact.")
    openai_double.script_reply(ANSWER, reasoning="Pair the terms: n/2 pairs of n+1.")
    openai_double.state.cached_tokens = 5
    (events,) = turns(openai_double, db, chat.id, "Sum 1..n?")
    assert finished(events).state is TurnState.DONE
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == ANSWER
    answer = db.messages(chat.id)[-1]
    assert answer.content == ANSWER and answer.thinking == "Pair the terms: n/2 pairs of n+1."
    sent = openai_double.requests_to("/v1/chat/completions")[0].body["messages"]
    assert answer.stats is not None and answer.stats.prompt_eval_count == prompt_tokens(sent)
    assert db.get_chat(chat.id).context.used == answer.stats.context_used
    assert db.get_chat(chat.id).context.limit == 16384
    provenance = answer.provenance
    assert provenance is not None
    assert (provenance.engine, provenance.model) == ("lab", PHI)
    assert provenance.system_fingerprint == FINGERPRINT
    assert (provenance.cached_tokens, provenance.reasoning_tokens) == (5, 9)
    assert provenance.tokens_per_second is not None and not provenance.usage_estimated
    assert provenance.requested_num_ctx == 16384 and "num_ctx" not in provenance.options


def test_reasoning_is_shown_apart_and_never_sent_again(
    openai_double: OpenAIDouble, db: Database
) -> None:
    chat = db.create_chat(model=PHI, engine="lab")
    openai_double.script_reply("Four.", reasoning="SECRET-CHAIN two and two")
    openai_double.script_reply("Six.")
    first, _second = turns(openai_double, db, chat.id, "2+2?", "3+3?")
    assert [e.text for e in first if isinstance(e, ThinkingDelta)]
    history = openai_double.requests_to("/v1/chat/completions")[1].body["messages"]
    assert [m["content"] for m in history] == ["2+2?", "Four.", "3+3?"]
    assert "SECRET-CHAIN" not in str(history)


def test_no_usage_is_estimated_and_marked(openai_double: OpenAIDouble, db: Database) -> None:
    chat = db.create_chat(model=PHI, engine="lab")
    openai_double.script_reply("First.")
    turns(openai_double, db, chat.id, "one")
    assert db.get_chat(chat.id).context.used is not None
    openai_double.state.usage = False
    (events,) = turns(openai_double, db, chat.id, "two")
    assert finished(events).state is TurnState.DONE
    answer = db.messages(chat.id)[-1]
    assert answer.provenance is not None and answer.provenance.usage_estimated
    assert db.get_chat(chat.id).context.used is None  # the meter shows its estimate, "≈"


@pytest.mark.parametrize(
    ("fault", "options", "status", "words"),
    [
        ("disconnect", {"after": 3}, "interrupted", "closed before the answer finished"),
        ("malformed", {"after": 3}, "error", "not an OpenAI-compatible answer"),
        ("stall", {"after": 3}, "interrupted", "sent nothing for 0.4 s"),
    ],
)
def test_a_fault_mid_answer_keeps_the_partial_answer(
    openai_double: OpenAIDouble,
    db: Database,
    fault: str,
    options: dict[str, Any],
    status: str,
    words: str,
) -> None:
    chat = db.create_chat(model=PHI, engine="lab")
    openai_double.script_reply("Partial answers are kept.")
    openai_double.set_fault(fault, **options)
    (events,) = turns(openai_double, db, chat.id, "go", stall_seconds=0.1, stall_timeout=0.4)
    openai_double.release_stall()
    end = finished(events)
    assert end.state is TurnState.FAILED and end.error is not None and words in str(end.error)
    answer = db.messages(chat.id)[-1]
    assert (answer.status, answer.content) == (status, "Partial answers are kept."[:8])
    assert answer.error == str(end.error) and "\n" not in answer.error


@pytest.mark.parametrize(
    ("fault", "options", "words"),
    [
        ("unauthorized", {}, "refused the API key (401)"),
        ("rate_limited", {"retry_after": 30}, "try again in 30 seconds"),
        ("server_error", {}, "failed (500)"),
        ("context_length", {"limit": 2048}, "its 2048-token context window"),
    ],
)
def test_a_refusal_is_one_sentence_and_the_question_stays(
    openai_double: OpenAIDouble, db: Database, fault: str, options: dict[str, Any], words: str
) -> None:
    chat = db.create_chat(model=PHI, engine="lab")
    openai_double.set_fault(fault, **options)
    (events,) = turns(openai_double, db, chat.id, "hello")
    end = finished(events)
    assert end.error is not None and words in str(end.error)
    assert [m.role for m in db.messages(chat.id)] == ["user", "assistant"]
    assert db.messages(chat.id)[-1].status == "error"


def test_stop_keeps_what_arrived(openai_double: OpenAIDouble, db: Database) -> None:
    chat = db.create_chat(model=PHI, engine="lab")
    openai_double.script_reply("Stopped answers keep their start.")
    openai_double.set_fault("stall", after=3)

    async def go() -> None:
        remote = OpenAIEngine("lab", OpenAIConfig(openai_double.url))
        async with OllamaClient("http://127.0.0.1:9") as ollama:
            session = ChatSession(db, ollama, chat.id, engines=lambda n: remote)
            seen = asyncio.Event()

            async def consume() -> None:
                async for event in session.send("go"):
                    if isinstance(event, ContentDelta):
                        seen.set()

            task = asyncio.ensure_future(consume())
            await seen.wait()
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert session.state is TurnState.STOPPED
        await remote.aclose()

    asyncio.run(go())
    openai_double.release_stall()
    answer = db.messages(chat.id)[-1]
    assert answer.status == "stopped" and answer.content == "Stopped answers keep their start."[:8]


def test_a_removed_engine_refuses_the_turn(openai_double: OpenAIDouble, db: Database) -> None:
    chat = db.create_chat(model=PHI, engine="gone")
    with pytest.raises(TurnRefused, match="choose another engine"):
        turns(openai_double, db, chat.id, "hello")
    assert db.messages(chat.id) == []


def test_a_window_nobody_reports_needs_num_ctx(openai_double: OpenAIDouble, db: Database) -> None:
    odd = "mistralai/Mistral-7B-Instruct-v0.3"
    chat = db.create_chat(model=odd, engine="lab")
    with pytest.raises(TurnRefused, match="set num_ctx"):
        turns(openai_double, db, chat.id, "hello")
    assert db.messages(chat.id) == []
    db.update_chat(chat.id, settings=ChatSettings(num_ctx=4096))
    (events,) = turns(openai_double, db, chat.id, "hello")
    assert finished(events).state is TurnState.DONE
    assert db.get_chat(chat.id).context.limit == 4096


def test_an_unknown_model_refuses_and_gives_the_text_back(
    openai_double: OpenAIDouble, db: Database
) -> None:
    chat = db.create_chat(model="no/such-model", engine="lab")
    with pytest.raises(TurnRefused, match="does not list the model no/such-model"):
        turns(openai_double, db, chat.id, "hello")
    assert db.messages(chat.id) == []
