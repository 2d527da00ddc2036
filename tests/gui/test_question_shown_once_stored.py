"""The question is on screen as soon as it is committed, before the server is asked anything,
and once only when its answer then begins (the real window against the Ollama double)."""

from __future__ import annotations

import asyncio
import json

import pytest
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.store import Database
from tests.gui.test_chat_window import app, choose, js, settled, type_and_send
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web
__all__ = ["app"]  # the window fixture

SHOWN = (
    "JSON.stringify(Array.from(document.querySelectorAll('article.message'), "
    "a => [a.classList.contains('user') ? 'user' : 'assistant', a.textContent]))"
)


async def shown(window: MainWindow) -> list[list[str]]:
    found: list[list[str]] = json.loads(await js(window, SHOWN))
    return found


def test_the_question_is_shown_while_the_server_is_still_asked(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        # The model's details take 4 s: the turn waits for them before its request.
        ollama_double.set_fault("stall", seconds=4.0, path="/api/show")
        ollama_double.script_reply("Forty-two.")
        type_and_send(qtbot, window, "the question, shown at once")
        questions: list[list[str]] = []

        async def on_screen() -> bool:
            nonlocal questions
            questions = [m for m in await shown(window) if m[0] == "user"]
            return bool(questions)

        deadline = asyncio.get_running_loop().time() + 2.0
        while not await on_screen():
            assert asyncio.get_running_loop().time() < deadline, "the question is not shown"
            await asyncio.sleep(0.05)
        assert "the question, shown at once" in questions[0][1]
        assert ollama_double.requests_to("/api/chat") == []  # not asked yet
        await settled(window)
        await until(lambda: window.pane.view.patch_count > 0)
        await asyncio.sleep(0.3)
        messages = await shown(window)
        assert [role for role, _ in messages] == ["user", "assistant"]  # the question once
        assert "Forty-two." in messages[1][1]
        chat_id = window.pane.current_chat
        assert chat_id is not None
        assert [m.content for m in db.messages(chat_id)] == [
            "the question, shown at once",
            "Forty-two.",
        ]

    drive(qt_loop, scenario())
