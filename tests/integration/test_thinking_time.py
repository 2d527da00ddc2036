"""How long an answer reasoned is stored with it ("Thought for 2.9 s" after a restart), measured
by the session's clock from the first reasoning token to the first answer token; a continued
answer adds to it. Real SQLite file, the Ollama double on a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.backend.client import OllamaClient
from app.chat.session import ChatSession, ReasoningClock, TurnFinished
from app.store import ChatSettings, Database
from tests.ollama_double.server import OllamaDouble


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with Database.open(tmp_path / "phidesk.sqlite3") as database:
        yield database


class Ticks:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_the_reasoning_time_is_stored_with_the_answer(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini-reasoning", settings=ChatSettings(think=True))
    ollama_double.script_reply("It is 4.", thinking="Two plus two is four.", chunk_size=4)
    ticks = Ticks()

    async def go() -> TurnFinished:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, chat.id, clock=ticks)
            events = [e async for e in session.send("2+2?")]
        last = events[-1]
        assert isinstance(last, TurnFinished)
        return last

    finished = asyncio.run(go())
    provenance = db.get_message(finished.message.id).provenance
    assert provenance is not None and provenance.thinking_seconds is not None
    # Several reasoning chunks passed before the first answer token, one tick per clock read.
    assert 1.0 <= provenance.thinking_seconds < ticks.now


def test_an_answer_without_reasoning_has_no_time(ollama_double: OllamaDouble, db: Database) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.script_reply("Hello.")

    async def go() -> int:
        async with OllamaClient(ollama_double.url) as client:
            events = [e async for e in ChatSession(db, client, chat.id).send("hi")]
        last = events[-1]
        assert isinstance(last, TurnFinished)
        return last.message.id

    provenance = db.get_message(asyncio.run(go())).provenance
    assert provenance is not None and provenance.thinking_seconds is None


def test_the_clock_counts_to_the_first_answer_token_and_adds_to_a_continued_answer() -> None:
    times = iter([10.0, 13.5, 99.0])
    clock = ReasoningClock(lambda: next(times))
    assert clock.seconds() is None
    clock.thinking()
    clock.thinking()  # only the first reasoning token starts it
    clock.answering()
    assert clock.seconds() == 3.5
    continued = ReasoningClock(lambda: 0.0, before=2.0)
    assert continued.seconds() == 2.0
