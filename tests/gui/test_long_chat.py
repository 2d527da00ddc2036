"""A long chat in the real main window (QtWebEngine, the Ollama double over a real socket): it
opens at its end, and scrolling up loads older pages until the very first message is there."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.store import Database
from tests.gui.test_chat_window import close, js, make_window
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web

MESSAGES = 1000

PLACE = """(() => {{
  const a = document.querySelector('article[data-id="{id}"]');
  if (!a) return null;
  const r = a.getBoundingClientRect();
  return JSON.stringify({{top: r.top, bottom: r.bottom, height: innerHeight}});
}})()"""

IDS = (
    "JSON.stringify(Array.from(document.querySelectorAll('#transcript > article'),"
    " a => +a.dataset.id))"
)


@pytest.fixture
def win(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[tuple[MainWindow, Database]]:
    window, db, client = make_window(qtbot, ollama_double.url)
    window.resize(1200, 800)
    drive(qt_loop, until(lambda: window.pane.view.loaded))
    yield window, db
    close(qt_loop, window, client, db)


def seed(db: Database) -> tuple[int, list[int]]:
    chat = db.create_chat(title="A thousand messages", model="phi4-mini:latest")
    ids = []
    for i in range(MESSAGES):
        text = f"Message {i}: $x_{{{i}}}$ and some words"
        ids.append(db.add_message(chat.id, "user" if i % 2 == 0 else "assistant", text).id)
    return chat.id, ids


def test_a_long_chat_opens_at_its_end_and_scrolling_up_reaches_its_first_message(
    qt_loop: asyncio.AbstractEventLoop, win: tuple[MainWindow, Database]
) -> None:
    window, db = win
    chat_id, ids = seed(db)

    async def visible(message_id: int) -> bool:
        text = await js(window, PLACE.format(id=message_id))
        if not text:
            return False
        place = json.loads(text)
        return bool(place["bottom"] > 0 and place["top"] < place["height"])

    async def scenario() -> None:
        window.refresh_chats()
        window.pane.open_chat(chat_id)
        await until(lambda: window.pane.title.text() == "A thousand messages")
        for _ in range(400):
            if await visible(ids[-1]):
                break
            await asyncio.sleep(0.05)
        assert await visible(ids[-1])
        for _ in range(400):  # each trip to the top brings a page more
            shown: list[int] = json.loads(await js(window, IDS))
            if shown and shown[0] == ids[0]:
                break
            await js(window, "document.scrollingElement.scrollTop = 0")
            await asyncio.sleep(0.1)
        shown = json.loads(await js(window, IDS))
        assert shown == ids  # every message, in order, once

    drive(qt_loop, scenario(), 120)
