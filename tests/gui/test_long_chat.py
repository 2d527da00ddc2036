"""A long chat in the real main window (QtWebEngine, the Ollama double over a real socket): it
opens at its end, its newest screen first and the rest of its first page right after, and
scrolling up loads older pages until the very first message is there; the Markdown of what it
shows is rendered off the GUI thread."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.gui import history_pager, turn_view
from app.gui.chat_pane import HISTORY_SHOWN
from app.gui.main_window import MainWindow
from app.render import render_markdown
from app.store import Database
from tests.gui.test_chat_window import close, js, make_window
from tests.gui.test_search_hits import HIT, searched
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


def seed(db: Database, special: dict[int, str] | None = None) -> tuple[int, list[int]]:
    chat = db.create_chat(title="A thousand messages", model="phi4-mini:latest")
    ids = []
    for i in range(MESSAGES):
        text = (special or {}).get(i, f"Message {i}: $x_{{{i}}}$ and some words")
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


# What the page held right after the first insertion of a chat's messages (a MutationObserver
# callback runs before any later call reaches the page).
FIRST_INSERTED = """(() => {
  window.firstInserted = null;
  const transcript = document.getElementById('transcript');
  new MutationObserver((records, observer) => {
    const ids = Array.from(transcript.querySelectorAll(':scope > article'), a => +a.dataset.id);
    if (ids.length) {
      window.firstInserted = ids;
      observer.disconnect();
    }
  }).observe(transcript, {childList: true});
})()"""


def test_a_long_chat_shows_its_newest_screen_first_then_the_rest_of_its_first_page(
    qt_loop: asyncio.AbstractEventLoop, win: tuple[MainWindow, Database]
) -> None:
    window, db = win
    chat_id, ids = seed(db)

    async def scenario() -> None:
        await js(window, FIRST_INSERTED)
        window.refresh_chats()
        window.pane.open_chat(chat_id)
        newest = ids[-HISTORY_SHOWN:]
        for _ in range(400):
            if json.loads(await js(window, IDS)) == newest:
                break
            await asyncio.sleep(0.05)
        assert json.loads(await js(window, IDS)) == newest  # the whole first page, in order
        first: list[int] = json.loads(await js(window, "JSON.stringify(window.firstInserted)"))
        assert 0 < len(first) <= history_pager.FIRST_SCREEN_MESSAGES
        assert first == ids[-len(first) :]  # the end of the chat, nothing older
        place = json.loads(await js(window, PLACE.format(id=ids[-1])))
        assert place["bottom"] > 0 and place["top"] < place["height"]  # still at the end

    drive(qt_loop, scenario(), 120)


def test_opening_a_long_chat_and_paging_up_render_markdown_off_the_gui_thread(
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window, db = win
    chat_id = seed(db)[0]
    threads: list[int] = []

    def noting(text: str) -> str:
        threads.append(threading.get_ident())
        return render_markdown(text)

    monkeypatch.setattr(turn_view, "render_markdown", noting)

    async def scenario() -> None:
        window.refresh_chats()
        window.pane.open_chat(chat_id)
        await until(lambda: window.pane.view.message_count >= HISTORY_SHOWN)
        for _ in range(100):  # two older pages
            if window.pane.view.message_count >= 3 * HISTORY_SHOWN:
                break
            await js(window, "document.scrollingElement.scrollTop = 0")
            await asyncio.sleep(0.1)
        assert window.pane.view.message_count >= 3 * HISTORY_SHOWN

    drive(qt_loop, scenario(), 120)
    assert len(threads) >= 3 * HISTORY_SHOWN
    assert threading.main_thread().ident not in threads


def test_a_search_hit_in_the_first_page_but_above_its_first_screen_is_scrolled_to(
    qt_loop: asyncio.AbstractEventLoop, win: tuple[MainWindow, Database]
) -> None:
    window, db = win
    index = MESSAGES - HISTORY_SHOWN + 10  # in the newest page, well above its newest screen
    chat_id, ids = seed(db, {index: "the zebra crossing question"})
    found: dict[str, object] = {}

    async def in_view() -> bool:
        text = await js(window, HIT.format(id=ids[index]))
        if not text:
            return False
        found.update(json.loads(text))
        top, bottom, height = found["top"], found["bottom"], found["height"]
        assert isinstance(top, float | int) and isinstance(bottom, float | int)
        assert isinstance(height, float | int)
        return bool(found["hit"]) and bottom > 0 and top < height

    async def scenario() -> None:
        window.refresh_chats()
        await searched(window, "zebra", 1)
        window.sidebar.list.setCurrentRow(0)
        await until(lambda: window.pane.current_chat == chat_id)
        for _ in range(200):
            if await in_view():
                break
            await asyncio.sleep(0.03)
        assert found.get("hit") is True, found
        assert await in_view(), found

    drive(qt_loop, scenario(), 120)
