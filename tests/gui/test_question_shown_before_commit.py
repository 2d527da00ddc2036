"""Enter shows the question at once, before its commit returns, while the request still waits
for that commit (nothing typed may be lost). The commit is held back by another connection's
write lock on the real SQLite file (the real window against the Ollama double)."""

from __future__ import annotations

import asyncio
import json
import sqlite3

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
    "a => [a.classList.contains('user') ? 'user' : 'assistant', a.dataset.id, a.textContent]))"
)


async def shown(window: MainWindow) -> list[list[str]]:
    found: list[list[str]] = json.loads(await js(window, SHOWN))
    return found


def test_the_question_is_on_screen_before_its_commit_and_sent_only_after_it(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("First answer.")
        type_and_send(qtbot, window, "the first question")
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        await until(lambda: len(db.messages(chat_id)) == 2)
        ollama_double.script_reply("Second answer.")

        # Another connection holds the write lock: the question's commit waits for it.
        blocker = sqlite3.connect(db.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            type_and_send(qtbot, window, "the second question, typed")
            questions: list[list[str]] = []
            deadline = asyncio.get_running_loop().time() + 1.5
            while not questions:
                assert asyncio.get_running_loop().time() < deadline, "the question is not shown"
                await asyncio.sleep(0.02)
                questions = [m for m in await shown(window) if "second question" in m[2]]
            assert [q[0] for q in questions] == ["user"]
            # Not committed yet, so not asked yet.
            assert [m.content for m in db.messages(chat_id)][-1] == "First answer."
            assert len(ollama_double.requests_to("/api/chat")) == 1
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()

        await settled(window)
        await until(lambda: window.pane.view.patch_count > 0)
        await asyncio.sleep(0.3)
        stored = db.messages(chat_id)
        assert [m.content for m in stored] == [
            "the first question",
            "First answer.",
            "the second question, typed",
            "Second answer.",
        ]
        requests = ollama_double.requests_to("/api/chat")
        assert len(requests) == 2
        assert requests[1].body["messages"][-1]["content"] == "the second question, typed"
        # Shown once, under the id it was stored with (its actions work on it).
        messages = await shown(window)
        assert [(role, ident) for role, ident, _ in messages] == [
            ("user", str(m.id)) if m.role == "user" else ("assistant", str(m.id)) for m in stored
        ]
        assert "Second answer." in messages[-1][2]

    drive(qt_loop, scenario())
