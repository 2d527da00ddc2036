"""Answers reuse one warm HTTP connection: the double notes which TCP connection (the client's
address and port) carried each `/api/chat`, so a new connection per answer shows as a new port."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from app.backend.client import OllamaClient
from app.backend.events import Done
from app.config import Paths
from app.workspace import Workspace
from tests.ollama_double import server as double_server
from tests.ollama_double.server import OllamaDouble


@pytest.fixture
def chat_connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The client address of the connection each `/api/chat` arrived on, in order."""
    seen: list[tuple[str, int]] = []
    original: Callable[[Any, Any], None] = double_server._Handler._chat

    def chat(handler: Any, body: Any) -> None:
        seen.append(handler.client_address)
        original(handler, body)

    monkeypatch.setattr(double_server._Handler, "_chat", chat)
    return seen


def test_answers_from_one_client_share_one_connection(
    ollama_double: OllamaDouble, chat_connections: list[tuple[str, int]]
) -> None:
    async def go() -> None:
        async with OllamaClient(ollama_double.url) as client:
            for n in range(3):
                ollama_double.script_reply(f"answer {n} in several pieces", chunk_size=4)
                events = [
                    event
                    async for event in client.chat(
                        "phi4-mini", [{"role": "user", "content": f"q{n}"}], num_ctx=4096
                    )
                ]
                assert isinstance(events[-1], Done)

    asyncio.run(go())
    assert len(chat_connections) == 3
    assert len(set(chat_connections)) == 1, chat_connections


def test_sends_in_a_chat_reuse_the_connection_of_the_last_answer(
    tmp_path: Path, ollama_double: OllamaDouble, chat_connections: list[tuple[str, int]]
) -> None:
    async def go() -> None:
        workspace = Workspace.open(
            Paths.resolve(tmp_path / "data").ensure(), OllamaClient(ollama_double.url)
        )
        try:
            chat = await workspace.new_chat("phi4-mini")
            for n in range(3):
                ollama_double.script_reply(f"answer {n}", chunk_size=3)
                turn = workspace.send(chat.id, f"question {n}")
                assert turn.task is not None
                await asyncio.wait([turn.task])
                assert turn.finished is not None and turn.finished.message.content == f"answer {n}"
        finally:
            await workspace.aclose()

    asyncio.run(go())
    assert len(chat_connections) == 3
    assert len(set(chat_connections)) == 1, chat_connections


def test_a_stream_tells_once_its_request_is_written_before_its_first_event(
    ollama_double: OllamaDouble,
) -> None:
    from app.backend.ollama_lib import REQUEST_SENT

    async def go() -> None:
        async with OllamaClient(ollama_double.url) as client:
            for n in range(2):  # a new connection, then the warm one
                ollama_double.script_reply(f"answer {n}", chunk_size=3)
                heard: list[str] = []
                token = REQUEST_SENT.set(partial(heard.append, "sent"))
                try:
                    async for event in client.chat(
                        "phi4-mini", [{"role": "user", "content": f"q{n}"}], num_ctx=4096
                    ):
                        heard.append(type(event).__name__)
                finally:
                    REQUEST_SENT.reset(token)
                assert heard[0] == "sent" and heard.count("sent") == 1, heard
                assert heard[-1] == "Done"
            # Other calls, and streams nobody listens to, tell nothing.
            assert await client.show("phi4-mini") is not None
            ollama_double.script_reply("unheard", chunk_size=3)
            async for _event in client.chat(
                "phi4-mini", [{"role": "user", "content": "q"}], num_ctx=4096
            ):
                pass

    asyncio.run(go())
