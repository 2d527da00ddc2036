"""Turns on a conversation tree, against the Ollama double on a real socket and a real SQLite
file: regenerate any answer and edit any question as new versions, what the model is sent
follows the version on show, and Continue appends to a cut-off answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.backend.client import OllamaClient
from app.chat.session import ChatSession, SessionEvent, TurnFinished, TurnRefused
from app.store import Database
from tests.ollama_double.server import OllamaDouble


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with Database.open(tmp_path / "phidesk.sqlite3") as database:
        yield database


async def _collect(events: AsyncIterator[SessionEvent]) -> list[SessionEvent]:
    return [event async for event in events]


def _run(double: OllamaDouble, db: Database, chat_id: int, how: str, *args: Any) -> TurnFinished:
    async def go() -> list[SessionEvent]:
        async with OllamaClient(double.url) as client:
            session = ChatSession(db, client, chat_id)
            return await _collect(getattr(session, how)(*args))

    last = asyncio.run(go())[-1]
    assert isinstance(last, TurnFinished)
    return last


def _sent(double: OllamaDouble) -> list[tuple[str, str]]:
    body = double.requests_to("/api/chat")[-1].body
    return [(m["role"], m["content"]) for m in body["messages"]]


def _three_turns(double: OllamaDouble, db: Database) -> tuple[int, list[int]]:
    chat = db.create_chat(model="phi4-mini")
    for n in (1, 2, 3):
        double.script_reply(f"answer {n}")
        _run(double, db, chat.id, "send", f"question {n}")
    return chat.id, [m.id for m in db.messages(chat.id)]


def _path(db: Database, chat_id: int) -> list[str]:
    return [m.content for m in db.messages(chat_id)]


def test_regenerating_the_first_answer_makes_a_second_version(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat_id, ids = _three_turns(ollama_double, db)
    ollama_double.script_reply("answer 1, take two")
    finished = _run(ollama_double, db, chat_id, "regenerate", ids[1])
    assert finished.message.content == "answer 1, take two"
    assert finished.message.parent_id == ids[0]
    # The model was asked the first question alone, not the later turns.
    assert _sent(ollama_double) == [("user", "question 1")]
    assert _path(db, chat_id) == ["question 1", "answer 1, take two"]
    versions = db.versions(chat_id)[finished.message.id]
    assert (versions.ids, versions.index) == ((ids[1], finished.message.id), 1)
    # The old branch, with the later turns, is still there.
    db.show_version(ids[1])
    assert _path(db, chat_id) == [f"{who} {n}" for n in (1, 2, 3) for who in ("question", "answer")]


def test_an_edited_question_keeps_the_old_branch(ollama_double: OllamaDouble, db: Database) -> None:
    chat_id, ids = _three_turns(ollama_double, db)
    ollama_double.script_reply("answer to the edit")
    _run(ollama_double, db, chat_id, "edit_and_resend", ids[2], "question 2, edited")
    assert _sent(ollama_double) == [
        ("user", "question 1"),
        ("assistant", "answer 1"),
        ("user", "question 2, edited"),
    ]
    assert _path(db, chat_id) == [
        "question 1",
        "answer 1",
        "question 2, edited",
        "answer to the edit",
    ]
    db.show_version(ids[2])
    assert _path(db, chat_id)[2:] == ["question 2", "answer 2", "question 3", "answer 3"]


def test_what_the_next_send_transmits_follows_the_version_on_show(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat_id, ids = _three_turns(ollama_double, db)
    ollama_double.script_reply("short")
    _run(ollama_double, db, chat_id, "regenerate", ids[1])
    ollama_double.script_reply("on the short branch")
    _run(ollama_double, db, chat_id, "send", "follow-up")
    assert _sent(ollama_double) == [
        ("user", "question 1"),
        ("assistant", "short"),
        ("user", "follow-up"),
    ]
    db.show_version(ids[1])  # back to the long version
    ollama_double.script_reply("on the long branch")
    _run(ollama_double, db, chat_id, "send", "follow-up")
    assert [c for _, c in _sent(ollama_double)] == [
        *[f"{who} {n}" for n in (1, 2, 3) for who in ("question", "answer")],
        "follow-up",
    ]

    async def preview() -> int:
        async with OllamaClient(ollama_double.url) as client:
            plan = await ChatSession(db, client, chat_id).preview(None)
            return len(plan.included_ids)

    assert asyncio.run(preview()) == 8  # the meter plans the path on show
    assert db.get_chat(chat_id).message_count == 8


def test_regenerate_without_an_answer_id_takes_the_last_answer_of_the_path(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat_id, ids = _three_turns(ollama_double, db)
    ollama_double.script_reply("answer 3, again")
    finished = _run(ollama_double, db, chat_id, "regenerate")
    assert finished.message.parent_id == ids[4]
    assert db.versions(chat_id)[ids[5]].count == 2


def test_continue_appends_to_the_cut_off_answer(ollama_double: OllamaDouble, db: Database) -> None:
    chat = db.create_chat(model="phi4-mini")
    question = db.add_message(chat.id, "user", "count to six")
    answer = db.add_message(chat.id, "assistant", "one two three", status="streaming")
    db.finish_message(answer.id, status="interrupted")
    ollama_double.script_reply(" four five six")
    finished = _run(ollama_double, db, chat.id, "continue_answer", answer.id)
    assert finished.message.id == answer.id
    assert finished.message.content == "one two three four five six"
    assert finished.message.status == "complete"
    assert _sent(ollama_double) == [("user", "count to six"), ("assistant", "one two three")]
    assert [m.id for m in db.messages(chat.id)] == [question.id, answer.id]
    assert db.versions(chat.id) == {}


def test_what_cannot_be_redone_is_refused_with_a_sentence(
    ollama_double: OllamaDouble, db: Database
) -> None:
    chat_id, ids = _three_turns(ollama_double, db)
    with pytest.raises(TurnRefused, match="only answers in this chat"):
        _run(ollama_double, db, chat_id, "regenerate", ids[0])
    with pytest.raises(TurnRefused, match="cut off"):
        _run(ollama_double, db, chat_id, "continue_answer", ids[1])
    with pytest.raises(TurnRefused, match="only your own messages"):
        _run(ollama_double, db, chat_id, "edit_and_resend", ids[1], "x")
    assert len(db.all_messages(chat_id)) == 6
