"""The attachment chips of a long chat in the real main window (QtWebEngine, a real SQLite file):
opening a 1,000-message chat with one attached file shows the chip on its question, and finding
it does not ask the database about the attachments of every question on the path (statements
counted on the real file)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pytestqt.qtbot import QtBot

from app.chat.documents import extract
from app.chat.documents.turn import to_new_attachment
from app.gui.main_window import MainWindow
from app.store import Database
from tests.gui.test_chat_window import close, js, make_window
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web

MESSAGES = 1000
ATTACHED = 990  # a question on the chat's first screen

CHIPS = (
    "JSON.stringify(Array.from(document.querySelectorAll('.attachment-chip'),"
    " c => +c.closest('article').dataset.id))"
)


@dataclass
class Statements:
    """The SQL statements naming message_attachments run while counting, with their
    parameters."""

    seen: list[tuple[str, Any]] = field(default_factory=list)
    counting: bool = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.counting and "message_attachments" in statement:
            self.seen.append((statement, params))

    def wide(self) -> list[int]:
        """How many values each statement listing more than 20 values was given."""
        sizes = [len(p) if isinstance(p, list | tuple | dict) else 0 for _, p in self.seen]
        return [n for n in sizes if n > 20]


@pytest.fixture
def win(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[tuple[MainWindow, Database]]:
    window, db, client = make_window(qtbot, ollama_double.url)
    window.resize(1200, 800)
    drive(qt_loop, until(lambda: window.pane.view.loaded))
    yield window, db
    close(qt_loop, window, client, db)


def seed(db: Database, notes: Path) -> tuple[int, list[int]]:
    chat = db.create_chat(title="A thousand messages", model="phi4-mini:latest")
    ids = []
    for i in range(MESSAGES):
        text = f"Message {i}: some words"
        ids.append(db.add_message(chat.id, "assistant" if i % 2 else "user", text).id)
    notes.write_text("# Notes\n\nThe code word is pelican.\n", encoding="utf-8")
    db.attach(ids[ATTACHED], [to_new_attachment(extract(notes))])
    return chat.id, ids


async def quiet(window: MainWindow) -> None:
    """Wait until what opening a chat started (history, chips, meter) has finished."""
    pane = window.pane

    def busy() -> bool:
        return bool(
            pane._tasks.running or pane.documents._tasks.running or pane._context_timer.isActive()
        )

    for _ in range(3):  # a finished task may start the meter's timer once more
        await asyncio.sleep(0.3)
        await until(lambda: not busy())


async def chips_on(window: MainWindow) -> list[int]:
    return [int(i) for i in json.loads(await js(window, CHIPS))]


def test_opening_a_long_chat_finds_its_one_chip_without_listing_every_question(
    qt_loop: asyncio.AbstractEventLoop, win: tuple[MainWindow, Database], tmp_path: Path
) -> None:
    window, db = win
    chat_id, ids = seed(db, tmp_path / "notes.md")
    other = db.create_chat(title="Short", model="phi4-mini:latest").id
    db.add_message(other, "user", "A short question")
    counter = Statements()
    sa.event.listen(db._engine, "before_cursor_execute", counter)

    async def opened(chat: int) -> list[int]:
        counter.seen.clear()
        counter.counting = True
        window.pane.open_chat(chat)
        await until(lambda: window.pane.title.text() == "A thousand messages")
        shown: list[int] = []

        async def chip_shown() -> None:
            nonlocal shown
            while not shown:
                shown = await chips_on(window)
                await asyncio.sleep(0.05)

        await asyncio.wait_for(chip_shown(), 20)
        await quiet(window)
        counter.counting = False
        return await chips_on(window)

    async def scenario() -> None:
        window.refresh_chats()
        assert await opened(chat_id) == [ids[ATTACHED]]
        # Opened the first time, the path is learned once (one statement may list it all).
        assert len(counter.wide()) <= 1, counter.wide()
        window.pane.open_chat(other)
        await until(lambda: window.pane.title.text() == "Short")
        await quiet(window)
        assert await chips_on(window) == []
        assert await opened(chat_id) == [ids[ATTACHED]]
        # Opened again: nothing lists the path's questions, and a few statements at most.
        assert counter.wide() == []
        assert len(counter.seen) <= 4, [s for s, _ in counter.seen]

    try:
        drive(qt_loop, scenario())
    finally:
        sa.event.remove(db._engine, "before_cursor_execute", counter)
