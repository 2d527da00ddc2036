"""Versions through the application layer, with a real SQLite file and the Ollama double:
regenerate any answer, switch, delete with undo, open a search hit on another branch, continue
a cut-off answer; each announced to the front ends, none while the chat streams."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.backend.events import ContentDelta
from app.config import Paths
from app.errors import PhiDeskError
from app.workspace import ChatChange, ChatsChanged
from tests.integration.test_workspace import chat_changes, ended, listen, opened, requested
from tests.ollama_double.server import OllamaDouble


def test_versions_through_the_workspace(tmp_path: Path, ollama_double: OllamaDouble) -> None:
    paths = Paths.resolve(tmp_path / "data").ensure()

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4-mini")
            for n in (1, 2):
                ollama_double.script_reply(f"answer {n}")
                await ended(workspace.send(chat.id, f"question {n}"))
            q1, a1, _q2, a2 = await workspace.messages(chat.id)

            seen = listen(workspace)
            ollama_double.script_reply("answer 1, again")
            await ended(workspace.regenerate(chat.id, a1.id))
            path = await workspace.messages(chat.id)
            assert [m.content for m in path] == ["question 1", "answer 1, again"]
            versions = await workspace.versions(chat.id)
            assert versions[path[-1].id].ids == (a1.id, path[-1].id)
            assert await workspace.branch_points() == {chat.id: 1}

            assert await workspace.show_version(a1.id) == a2.id
            assert len(await workspace.messages(chat.id)) == 4
            # A search hit on the other branch opens that branch.
            (hit,) = await workspace.search("again")
            assert await workspace.show_message(hit.message_id) == path[-1].id
            assert len(await workspace.messages(chat.id)) == 2

            deleted = await workspace.delete_message(path[-1].id)
            assert [m.id for m in await workspace.messages(chat.id)] == [
                q1.id,
                a1.id,
                _q2.id,
                a2.id,
            ]
            await workspace.restore_messages(deleted)
            assert [m.id for m in await workspace.messages(chat.id)] == [q1.id, path[-1].id]
            assert all(
                c == ChatsChanged(frozenset({chat.id}), ChatChange.MESSAGES)
                for c in chat_changes(seen)
            )
            assert len(chat_changes(seen)) >= 6

            # Nothing switches or deletes under a streaming answer.
            ollama_double.script_reply("word " * 300, chunk_size=5)
            ollama_double.set_fault("slow", delay=0.01, path="/api/chat")
            ollama_double.clear_requests()
            turn = workspace.send(chat.id, "talk")
            streaming = asyncio.Event()
            turn.listen(lambda _t, e: streaming.set() if isinstance(e, ContentDelta) else None)
            await requested(ollama_double, "/api/chat")
            await streaming.wait()
            with pytest.raises(PhiDeskError, match="stop it first"):
                await workspace.show_version(a1.id)
            with pytest.raises(PhiDeskError, match="stop it first"):
                await workspace.delete_message(a1.id)
            workspace.stop(chat.id)
            await ended(turn)

            # Continue the stopped answer: same message, more text.
            stopped = (await workspace.messages(chat.id))[-1]
            assert stopped.status == "stopped"
            ollama_double.set_fault("slow", delay=0.0, path="/api/chat")
            ollama_double.script_reply(" and the rest")
            await ended(workspace.continue_answer(chat.id, stopped.id))
            final = (await workspace.messages(chat.id))[-1]
            assert final.id == stopped.id
            assert final.content == stopped.content + " and the rest"
            assert final.status == "complete"

    asyncio.run(go())


def test_work_asked_of_a_closed_workspace_is_one_sentence(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    """A window task that finishes during shutdown gets the sentence front ends catch, not
    the executor's RuntimeError."""
    paths = Paths.resolve(tmp_path / "data").ensure()

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            chat = await workspace.new_chat("phi4-mini")
        with pytest.raises(PhiDeskError, match="closing"):
            await workspace.messages(chat.id)
        with pytest.raises(PhiDeskError, match="closing"):
            await workspace.rename(chat.id, "late")

    asyncio.run(go())
