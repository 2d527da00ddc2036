"""The session keeps the chat's active path between turns: a send in a long chat reads no message
again, yet every request carries exactly the path on show, whatever changed it (a version shown,
a message deleted, an edit, another process). Real SQLite files, the Ollama double over a real
socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.backend.client import OllamaClient
from app.chat.session import ChatSession, SessionEvent, TurnFinished, TurnState
from app.store import Chat, ChatSettings, ContextUsage, Database, Message, Provenance
from tests.ollama_double.server import OllamaDouble

MODEL = "phi4-mini"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    try:
        yield database
    finally:
        database.close()


def long_chat(db: Database, messages: int) -> int:
    """A chat of `messages` messages on one path (questions and answers in turn)."""
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=messages)  # one origin each
    chat = Chat(
        0, "Sums", "normal", MODEL, "", ChatSettings(num_ctx=8192), False,
        start, start, None, ContextUsage(), 0,
    )  # fmt: skip
    rows = []
    for n in range(messages):
        when = start + timedelta(seconds=n)
        answer = n % 2 == 1
        rows.append(
            Message(
                n + 1,
                0,
                "assistant" if answer else "user",
                f"answer {n}: the sum is {n}" if answer else f"question {n}: what is {n} + 0?",
                "",
                "complete",
                None,
                when,
                when,
                None,
                Provenance(model=MODEL) if answer else None,
            )
        )
    return db.import_chat(chat, rows, keep_id=False).id


@dataclass
class Statements:
    """Every SQL statement run on the database's engine while counting."""

    seen: list[tuple[str, Any]] = field(default_factory=list)
    counting: bool = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.counting:
            self.seen.append((statement, params))


def params_of(params: Any) -> int:
    return len(params) if isinstance(params, list | tuple | dict) else 0


async def collect(events: AsyncIterator[SessionEvent]) -> list[SessionEvent]:
    return [event async for event in events]


def ended_well(events: list[SessionEvent]) -> None:
    last = events[-1]
    assert isinstance(last, TurnFinished)
    assert last.state is TurnState.DONE


def sent_path(double: OllamaDouble) -> list[tuple[str, str]]:
    body = double.requests_to("/api/chat")[-1].body
    return [(m["role"], m["content"]) for m in body["messages"]]


def as_sent(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]


def statements_of_a_send(double: OllamaDouble, db: Database, chat_id: int) -> list[str]:
    """The statements of the chat's second send (the first one learns the path)."""
    counter = Statements()
    sa.event.listen(db._engine, "before_cursor_execute", counter)

    async def go() -> None:
        async with OllamaClient(double.url) as client:
            session = ChatSession(db, client, chat_id)
            ended_well(await collect(session.send("first question of this run")))
            counter.counting = True
            ended_well(await collect(session.send("second question of this run")))
            counter.counting = False

    try:
        asyncio.run(go())
    finally:
        sa.event.remove(db._engine, "before_cursor_execute", counter)
    assert counter.seen
    widest = max(params_of(p) for _, p in counter.seen)
    assert widest < 20, "a statement listed many messages (the path read again)"
    assert not any("RECURSIVE" in s.upper() for s, _ in counter.seen), "the path was walked"
    return [s for s, _ in counter.seen]


def test_a_send_issues_as_many_statements_in_a_long_chat_as_in_a_short_one(
    ollama_double: OllamaDouble, db: Database
) -> None:
    short = statements_of_a_send(ollama_double, db, long_chat(db, 20))
    chat_id = long_chat(db, 1000)
    long = statements_of_a_send(ollama_double, db, chat_id)
    assert len(long) == len(short) <= 40
    # ...and the request still carried the newest of the path, up to the question.
    path = as_sent(db.messages(chat_id))
    assert len(path) == 1004
    sent = sent_path(ollama_double)
    assert sent == path[len(path) - 1 - len(sent) : -1]


def test_each_request_carries_exactly_the_active_path_whatever_changed_it(
    ollama_double: OllamaDouble, db: Database, tmp_path: Path
) -> None:
    chat_id = long_chat(db, 6)

    async def go() -> None:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, chat_id)

            async def send(text: str) -> None:
                ended_well(await collect(session.send(text)))
                assert sent_path(ollama_double) == as_sent(db.messages(chat_id))[:-1]

            await send("one")
            # A new version of the last answer, then the older version shown again.
            first_answer = db.messages(chat_id)[-1]
            ended_well(await collect(session.regenerate()))
            assert db.messages(chat_id)[-1].id != first_answer.id
            db.show_version(first_answer.id)
            await send("two, after the first version was shown again")
            assert ("user", "one") in sent_path(ollama_double)

            # A message deleted (and all after it): the next request has none of them.
            path = db.messages(chat_id)
            db.delete_message(path[-4].id)
            await send("three, after a delete")
            assert ("user", "two, after the first version was shown again") not in sent_path(
                ollama_double
            )

            # An edited question: the next request follows the edit's branch.
            question = next(m for m in reversed(db.messages(chat_id)) if m.role == "user")
            ended_well(await collect(session.edit_and_resend(question.id, "three, edited")))
            await send("four, after an edit")
            assert ("user", "three, edited") in sent_path(ollama_double)
            assert ("user", "three, after a delete") not in sent_path(ollama_double)

            # Another process adds a question and its answer to the chat.
            with Database.open(tmp_path / "phidesk.sqlite3") as other:
                other.add_message(chat_id, "user", "from another process")
                other.add_message(chat_id, "assistant", "answered elsewhere")
            await send("five, after another process wrote")
            assert ("assistant", "answered elsewhere") in sent_path(ollama_double)

    asyncio.run(go())
