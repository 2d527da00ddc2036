"""The chat list in the real main window (QtWebEngine and the Ollama double over a real socket):
search shows one row per chat with "N matches", a plain-text snippet with the match visibly
highlighted and titles found too; opening a hit scrolls to its message (loading older history
when it is further back than a chat's first page) and highlights it; right-click acts on its
row; chats still answering carry a dot; the list folds on narrow windows; the undo bar keeps
the sidebar's width."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from app.gui.chat_pane import HISTORY_SHOWN
from app.gui.main_window import MainWindow
from app.gui.sidebar_rows import HIGHLIGHTS, LIVE, MATCHES, SNIPPET, mark_colour
from app.store import Database
from tests.gui.test_chat_window import close, js, make_window, settled, type_and_send
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web


@pytest.fixture
def win(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[tuple[MainWindow, Database]]:
    window, db, client = make_window(qtbot, ollama_double.url)
    window.resize(1300, 800)

    async def ready() -> None:
        await until(lambda: window.monitor.state.value == "connected")
        await until(lambda: len(window.pane.picker.models) >= 3)
        await until(lambda: window.pane.view.loaded)

    drive(qt_loop, ready())
    yield window, db
    close(qt_loop, window, client, db)


def seed(db: Database, title: str, contents: list[str]) -> list[int]:
    chat = db.create_chat(title=title, model="phi4-mini:latest")
    ids = []
    for i, content in enumerate(contents):
        ids.append(db.add_message(chat.id, "user" if i % 2 == 0 else "assistant", content).id)
    return ids


def near(a: QColor, b: QColor) -> bool:
    pairs = ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue()))
    return all(abs(x - y) <= 2 for x, y in pairs)


async def searched(window: MainWindow, query: str, rows: int) -> None:
    window.sidebar.search.setText(query)
    await until(lambda: window.sidebar.searching and window.sidebar.list.count() == rows)


def test_one_row_per_chat_with_its_count_and_a_highlighted_plain_snippet(
    qt_loop: asyncio.AbstractEventLoop, win: tuple[MainWindow, Database]
) -> None:
    window, db = win
    seed(
        db,
        "Linear algebra",
        [
            "what is a characteristic polynomial",
            "The **characteristic polynomial** is $p(t) = \\det(A - tI)$.",
            "- and its roots? the polynomial roots",
        ],
    )
    seed(db, "Other", ["one polynomial here", "fine"])

    async def scenario() -> None:
        window.refresh_chats()
        await searched(window, "polynomial", 2)
        rows = {window.sidebar.list.item(i).text(): window.sidebar.list.item(i) for i in range(2)}
        assert rows["Linear algebra"].data(MATCHES) == 3
        assert rows["Other"].data(MATCHES) == 1
        snippet = rows["Linear algebra"].data(SNIPPET)
        assert "**" not in snippet and "$" not in snippet and not snippet.startswith("- ")
        (start, end), *_ = rows["Linear algebra"].data(HIGHLIGHTS)
        assert snippet[start:end] == "polynomial"
        # The match is visibly marked: the list shows the mark's colour.
        image = window.sidebar.list.viewport().grab().toImage()
        mark = mark_colour(window.sidebar.list.palette(), selected=False)
        marked = sum(
            near(image.pixelColor(x, y), mark)
            for x in range(0, image.width(), 2)
            for y in range(0, image.height(), 2)
        )
        assert marked > 20

    drive(qt_loop, scenario())


def test_titles_are_found_too(
    qt_loop: asyncio.AbstractEventLoop, win: tuple[MainWindow, Database]
) -> None:
    window, db = win
    seed(db, "Eigenvalue homework", ["help me", "sure"])
    seed(db, "Cooking", ["pasta", "boil water"])

    async def scenario() -> None:
        window.refresh_chats()
        await searched(window, "eigenval", 1)
        item = window.sidebar.list.item(0)
        assert item.text() == "Eigenvalue homework" and item.data(MATCHES) == 0
        window.sidebar.list.setCurrentRow(0)
        await until(lambda: window.pane.title.text() == "Eigenvalue homework")

    drive(qt_loop, scenario())


HIT = """(() => {{
  const a = document.querySelector('article[data-id="{id}"]');
  if (!a) return null;
  const r = a.getBoundingClientRect();
  return JSON.stringify({{top: r.top, bottom: r.bottom, height: innerHeight,
    hit: a.classList.contains("search-hit")}});
}})()"""


def test_opening_a_hit_older_than_the_first_page_scrolls_to_it_and_highlights_it(
    qt_loop: asyncio.AbstractEventLoop, win: tuple[MainWindow, Database]
) -> None:
    window, db = win
    contents = [f"filler message number {i}" for i in range(HISTORY_SHOWN + 60)]
    contents[10] = "the zebra crossing question"
    ids = seed(db, "A long chat", contents)

    async def scenario() -> None:
        window.refresh_chats()
        await searched(window, "zebra", 1)
        window.sidebar.list.setCurrentRow(0)
        await until(lambda: window.pane.title.text() == "A long chat")
        found: dict[str, object] = {}

        async def in_view() -> bool:
            text = await js(window, HIT.format(id=ids[10]))
            if not text:
                return False
            found.update(json.loads(text))
            top, bottom, height = found["top"], found["bottom"], found["height"]
            assert isinstance(top, float | int) and isinstance(bottom, float | int)
            assert isinstance(height, float | int)
            return bool(found["hit"]) and bottom > 0 and top < height

        for _ in range(100):
            if await in_view():
                break
            await asyncio.sleep(0.03)
        assert found.get("hit") is True, found
        assert float(found["top"]) < float(found["height"]) and float(found["bottom"]) > 0  # type: ignore[arg-type]
        shown = await js(window, "document.querySelectorAll('article.message').length")
        assert shown >= len(contents) - 10

    drive(qt_loop, scenario())


def test_right_click_deletes_the_chat_it_was_on_not_the_open_one(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, win: tuple[MainWindow, Database]
) -> None:
    window, db = win
    seed(db, "Keep me open", ["a", "b"])
    seed(db, "Delete me", ["c", "d"])

    async def scenario() -> None:
        window.refresh_chats()
        await until(lambda: window.sidebar.list.count() == 2)
        keep = next(c.id for c in db.list_chats() if c.title == "Keep me open")
        gone = next(c.id for c in db.list_chats() if c.title == "Delete me")
        window.open_chat(keep)
        target = window.sidebar.item_for(gone)
        assert target is not None

        def pick() -> None:
            menu = QApplication.activePopupWidget()
            if not isinstance(menu, QMenu):
                QTimer.singleShot(20, pick)
                return
            action = next(a for a in menu.actions() if a.text() == "Delete")
            menu.close()
            action.trigger()

        QTimer.singleShot(20, pick)
        where = window.sidebar.list.visualItemRect(target).center()
        viewport = window.sidebar.list.viewport()
        event = QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, where, viewport.mapToGlobal(where)
        )
        # From the event loop, as a real click comes (never inside this coroutine's step).
        QTimer.singleShot(0, lambda: QApplication.sendEvent(viewport, event))
        await until(lambda: db.get_chat(gone).deleted_at is not None)
        assert db.get_chat(keep).deleted_at is None
        assert window.pane.current_chat == keep

    drive(qt_loop, scenario())


def test_a_chat_still_answering_carries_a_dot_until_it_ends(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, _db = win

    async def scenario() -> None:
        window.pane.picker.select("phi4-mini:latest")
        ollama_double.token_delay = 0.05
        ollama_double.script_reply("a slow answer " * 30)
        type_and_send(qtbot, window, "take your time")
        await until(lambda: window.pane.current_chat is not None and window.pane.live)
        chat_id = window.pane.current_chat
        assert chat_id is not None

        def dot() -> bool:
            item = window.sidebar.item_for(chat_id)
            return item is not None and bool(item.data(LIVE))

        await until(dot)
        window.pane.stop()
        await settled(window)
        await until(lambda: not dot())

    drive(qt_loop, scenario())


def test_the_list_folds_on_a_narrow_window_and_opens_again(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, win: tuple[MainWindow, Database]
) -> None:
    window, _db = win

    async def scenario() -> None:
        assert not window.sidebar.collapsed
        window.resize(900, 700)
        await until(lambda: window.sidebar.collapsed)
        assert window.sidebar.width() <= 60
        assert not window.sidebar_action.isChecked()
        window.resize(1300, 800)
        await until(lambda: not window.sidebar.collapsed)
        assert window.sidebar.width() >= 180
        window.sidebar_action.trigger()  # the View menu's "Show the chat list"
        assert window.sidebar.collapsed
        window.resize(1350, 800)
        await asyncio.sleep(0.1)
        assert window.sidebar.collapsed  # the user folded it: a resize leaves it so
        qtbot.keyClick(
            window,
            Qt.Key.Key_S,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
        assert not window.sidebar.collapsed

    drive(qt_loop, scenario())


def test_the_undo_bar_keeps_the_sidebar_width(
    qt_loop: asyncio.AbstractEventLoop, win: tuple[MainWindow, Database]
) -> None:
    window, db = win
    seed(db, "A title long enough to push a sidebar wider than it was before " * 3, ["x", "y"])
    seed(db, "Short", ["x", "y"])

    async def scenario() -> None:
        window.refresh_chats()
        await until(lambda: window.sidebar.list.count() == 2)
        before = window.splitter.sizes()
        long_one = next(c.id for c in db.list_chats() if c.title.startswith("A title"))
        window.delete_chat(long_one)
        await until(window.sidebar.undo_bar.isVisible)
        await asyncio.sleep(0.1)
        assert window.splitter.sizes() == before
        assert window.sidebar.undo_button.accessibleName()

    drive(qt_loop, scenario())
