"""The one current Ollama connection, against two Ollama doubles over real sockets: switching
hosts, leases that keep a replaced client open, and a chat turn that outlives a host switch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.backend.client import OllamaClient
from app.backend.connection import Connection
from app.backend.events import ContentDelta
from app.chat.session import ChatSession, SessionEvent, TurnFinished, TurnStarted, TurnState
from app.store import Database
from tests.ollama_double.server import OllamaDouble

OTHER_VERSION = "0.12.3"


@pytest.fixture
def other_double() -> Iterator[OllamaDouble]:
    """A second server, told apart from the first by its version."""
    with OllamaDouble(version=OTHER_VERSION) as double:
        yield double


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    try:
        yield database
    finally:
        database.close()


async def assert_closed(client: OllamaClient) -> None:
    with pytest.raises(RuntimeError, match="closed"):
        await client.version()


def test_switch_makes_the_new_client_current_and_tells_listeners(
    ollama_double: OllamaDouble, other_double: OllamaDouble
) -> None:
    async def go() -> None:
        first = OllamaClient(ollama_double.url)
        second = OllamaClient(other_double.url)
        connection = Connection(first)
        heard: list[OllamaClient] = []
        unsubscribe = connection.subscribe(heard.append)
        assert connection.client is first
        assert connection.host == first.host

        await connection.switch(second)

        assert connection.client is second
        assert connection.host == second.host == other_double.url
        assert heard == [second]
        assert await connection.client.version() == OTHER_VERSION
        # Switching to the client that is already current changes nothing and says nothing.
        await connection.switch(second)
        assert heard == [second]
        unsubscribe()
        await connection.aclose()
        await assert_closed(second)

    asyncio.run(go())
    assert other_double.requests_to("/api/version")
    assert not ollama_double.requests_to("/api/version")


def test_an_unleased_old_client_is_closed_at_the_switch(
    ollama_double: OllamaDouble, other_double: OllamaDouble
) -> None:
    async def go() -> None:
        first = OllamaClient(ollama_double.url)
        connection = Connection(first)
        assert await first.version()
        await connection.switch(OllamaClient(other_double.url))
        await assert_closed(first)
        await connection.aclose()

    asyncio.run(go())


def test_a_leased_old_client_stays_usable_until_released(
    ollama_double: OllamaDouble, other_double: OllamaDouble
) -> None:
    async def go() -> None:
        first = OllamaClient(ollama_double.url)
        connection = Connection(first)
        leased = connection.acquire()
        again = connection.acquire()  # two streams on the same server
        assert leased is again is first
        assert connection.leases(first) == 2

        await connection.switch(OllamaClient(other_double.url))

        assert connection.client is not first
        assert await leased.version() == ollama_double.version  # still open, same server
        await connection.release(first)
        assert connection.leases(first) == 1
        assert await leased.version() == ollama_double.version  # one stream still runs
        await connection.release(first)
        assert connection.leases(first) == 0
        await assert_closed(first)
        await connection.aclose()

    asyncio.run(go())


def test_the_lease_block_keeps_its_client_across_a_switch(
    ollama_double: OllamaDouble, other_double: OllamaDouble
) -> None:
    async def go() -> None:
        first = OllamaClient(ollama_double.url)
        connection = Connection(first)
        async with connection.lease() as client:
            await connection.switch(OllamaClient(other_double.url))
            assert await client.version() == ollama_double.version
        await assert_closed(first)
        await connection.aclose()

    asyncio.run(go())


def test_switching_back_to_a_leased_client_keeps_it_open(
    ollama_double: OllamaDouble, other_double: OllamaDouble
) -> None:
    async def go() -> None:
        first = OllamaClient(ollama_double.url)
        second = OllamaClient(other_double.url)
        connection = Connection(first)
        leased = connection.acquire()
        await connection.switch(second)  # first is retired, still leased
        await connection.switch(first)  # and current again
        await assert_closed(second)
        await connection.release(leased)
        # The stream that held it ended, but it is the current client: it must stay open.
        assert connection.client is first
        assert await connection.client.version() == ollama_double.version
        await connection.aclose()
        await assert_closed(first)

    asyncio.run(go())


def test_aclose_closes_the_current_and_every_retired_client(
    ollama_double: OllamaDouble, other_double: OllamaDouble
) -> None:
    async def go() -> None:
        first = OllamaClient(ollama_double.url)
        second = OllamaClient(other_double.url)
        connection = Connection(first)
        connection.acquire()
        await connection.switch(second)
        await connection.aclose()
        await assert_closed(first)
        await assert_closed(second)

    asyncio.run(go())


def test_a_turn_finishes_on_the_server_it_began_on_and_the_next_goes_to_the_new_one(
    ollama_double: OllamaDouble, other_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    long_answer = "a" * 200
    ollama_double.script_reply(long_answer, chunk_size=2)
    ollama_double.set_fault("slow", delay=0.01, path="/api/chat")
    other_double.script_reply("from the second server")

    async def go() -> tuple[list[SessionEvent], list[SessionEvent]]:
        first = OllamaClient(ollama_double.url)
        connection = Connection(first)
        session = ChatSession(db, connection, chat.id)
        events: list[SessionEvent] = []
        deltas = 0
        async for event in session.send("a long answer please"):
            events.append(event)
            if isinstance(event, ContentDelta):
                deltas += 1
                if deltas == 5:
                    # The user picks another host while the answer streams.
                    await connection.switch(OllamaClient(other_double.url))
                    assert connection.leases(first) == 1
        assert connection.leases(first) == 0
        await assert_closed(first)  # released at the end of the stream, then closed
        second_turn = [event async for event in session.send("and now?")]
        await connection.aclose()
        return events, second_turn

    events, second_turn = asyncio.run(go())

    assert isinstance(events[0], TurnStarted)
    end = events[-1]
    assert isinstance(end, TurnFinished)
    assert end.state is TurnState.DONE
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == long_answer
    assert isinstance(second_turn[-1], TurnFinished)
    assert second_turn[-1].state is TurnState.DONE
    # Each server answered exactly one of the two turns.
    assert len(ollama_double.requests_to("/api/chat")) == 1
    assert len(other_double.requests_to("/api/chat")) == 1
    sent = other_double.requests_to("/api/chat")[0].body
    assert sent is not None
    assert sent["messages"][-1] == {"role": "user", "content": "and now?"}
    assert [(m.role, m.content, m.status) for m in db.messages(chat.id)] == [
        ("user", "a long answer please", "complete"),
        ("assistant", long_answer, "complete"),
        ("user", "and now?", "complete"),
        ("assistant", "from the second server", "complete"),
    ]


def test_an_answer_that_outlived_a_switch_records_the_server_that_gave_it(
    ollama_double: OllamaDouble, other_double: OllamaDouble, db: Database
) -> None:
    chat = db.create_chat(model="phi4-mini")
    ollama_double.script_reply("b" * 100, chunk_size=2)
    ollama_double.set_fault("slow", delay=0.01, path="/api/chat")

    async def go() -> None:
        connection = Connection(OllamaClient(ollama_double.url))
        session = ChatSession(db, connection, chat.id)
        async for event in session.send("go"):
            if isinstance(event, TurnStarted):
                await connection.switch(OllamaClient(other_double.url))
        await connection.aclose()

    asyncio.run(go())
    answer = db.messages(chat.id)[-1]
    assert answer.provenance is not None
    assert answer.provenance.ollama_version == ollama_double.version
    assert answer.provenance.effective_num_ctx is not None  # the first server has it loaded
