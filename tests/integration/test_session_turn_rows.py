"""A send writes its question, the chat's title and the answer's row in one transaction: one
COMMIT (one writer round trip) before the request goes out, counted with a SQLAlchemy listener
on a real SQLite file, and both rows exist when the turn starts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.backend.client import OllamaClient
from app.chat.session import ChatSession, TurnFinished, TurnStarted, TurnState
from app.store import Database
from tests.ollama_double.server import OllamaDouble


class MessageCommits:
    """For each COMMIT that wrote rows into `messages`: how many it inserted."""

    def __init__(self) -> None:
        self.pending: dict[int, int] = {}
        self.commits: list[int] = []

    def statement(self, conn: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MESSAGES "):
            self.pending[id(conn)] = self.pending.get(id(conn), 0) + 1

    def commit(self, conn: sa.Connection) -> None:
        if inserted := self.pending.pop(id(conn), 0):
            self.commits.append(inserted)

    def rollback(self, conn: sa.Connection) -> None:
        self.pending.pop(id(conn), None)


@pytest.fixture
def commits() -> Iterator[MessageCommits]:
    counter = MessageCommits()
    hooks: list[tuple[str, Callable[..., Any]]] = [
        ("before_cursor_execute", counter.statement),
        ("commit", counter.commit),
        ("rollback", counter.rollback),
    ]
    for name, hook in hooks:
        sa.event.listen(sa.Engine, name, hook)
    try:
        yield counter
    finally:
        for name, hook in hooks:
            sa.event.remove(sa.Engine, name, hook)


def test_question_title_and_answer_row_are_one_transaction(
    ollama_double: OllamaDouble, tmp_path: Path, commits: MessageCommits
) -> None:
    db = Database.open(tmp_path / "phidesk.sqlite3")
    chat = db.create_chat(model="phi4-mini")
    at_start: list[list[int]] = []

    async def send(session: ChatSession, text: str) -> TurnFinished:
        commits.commits.clear()
        last = None
        async for event in session.send(text):
            if isinstance(event, TurnStarted):
                at_start.append(list(commits.commits))
                rows = {m.id: m for m in db.messages(chat.id)}
                assert rows[event.user_message_id].content == text
                assert rows[event.answer_message_id].status == "streaming"
            last = event
        assert isinstance(last, TurnFinished)
        return last

    async def go() -> None:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, chat.id)
            assert await session.model_info("phi4-mini") is not None
            ollama_double.script_reply("hi")
            assert (await send(session, "hello")).state is TurnState.DONE  # titles the chat
            ollama_double.script_reply("again")
            assert (await send(session, "and again")).state is TurnState.DONE

    try:
        asyncio.run(go())
        assert db.get_chat(chat.id).title == "hello"
    finally:
        db.close()
    # Before each request: one COMMIT, holding both the question and the answer's row.
    assert at_start == [[2], [2]]


async def requested(double: OllamaDouble, path: str) -> None:
    """Wait until the double has received a request to `path` (it may still be answering)."""
    for _ in range(1000):
        if double.requests_to(path):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no request to {path} arrived")


def test_the_request_is_in_flight_while_the_turn_start_is_handled(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    """Whoever handles `TurnStarted` (the window showing the live answer) works while the
    request is already on its way: it reaches the server before the next event is asked for."""
    db = Database.open(tmp_path / "phidesk.sqlite3")
    chat = db.create_chat(model="phi4-mini")

    async def go() -> None:
        async with OllamaClient(ollama_double.url) as client:
            session = ChatSession(db, client, chat.id)
            ollama_double.script_reply("hi")
            async for event in session.send("hello"):
                if isinstance(event, TurnStarted):
                    await requested(ollama_double, "/api/chat")
                    (body,) = [r.body for r in ollama_double.requests_to("/api/chat")]
                    assert body["messages"][-1]["content"] == "hello"
                    question = db.get_message(event.user_message_id)
                    assert question.content == "hello"  # committed before it was sent
                elif isinstance(event, TurnFinished):
                    assert event.state is TurnState.DONE

    try:
        asyncio.run(go())
    finally:
        db.close()
