"""What the first paint does not need is not made at start: the quick prompt has no web view (no
Chromium renderer) until it is first opened, and then it answers as before; the work put off
until the window has painted runs once, after that paint."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.backend.client import OllamaClient
from app.backend.connection import Connection
from app.config import AppContext, Paths
from app.gui.application import FirstPaint, Later
from app.gui.connection import ConnectionMonitor
from app.gui.main_window import MainWindow
from app.gui.quick_prompt import QUICK_KIND, QuickPrompt
from app.gui.transcript import TranscriptView
from app.store import Database
from app.workspace import Workspace
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, run_js, until

pytestmark = pytest.mark.web

Desk = tuple[MainWindow, Workspace, Database]


@pytest.fixture
def desk(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[Desk]:
    paths = Paths.resolve().ensure()
    db = Database.open(paths.database)
    workspace = Workspace(db, Connection(OllamaClient(ollama_double.url, stall_seconds=30)), paths)
    window = MainWindow(
        AppContext(paths=paths, host=ollama_double.url),
        workspace,
        ConnectionMonitor(workspace.connection, None),
    )
    window.show()
    drive(qt_loop, until(lambda: window.pane.view.loaded))
    yield window, workspace, db
    drive(qt_loop, window.aclose())
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    drive(qt_loop, workspace.aclose())


def views_in(quick: QuickPrompt) -> list[TranscriptView]:
    return quick.findChildren(TranscriptView)


def test_the_quick_prompt_makes_its_web_view_when_first_opened_and_then_answers(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, desk: Desk, ollama_double: OllamaDouble
) -> None:
    _window, workspace, db = desk
    quick = QuickPrompt(workspace)
    try:
        assert views_in(quick) == []  # no renderer process until someone asks for the prompt
        quick.show_prompt()
        assert len(views_in(quick)) == 1

        async def scenario() -> None:
            await until(lambda: len(quick.picker.models) >= 3)
            await until(lambda: quick.view.loaded)
            quick.picker.select("phi4-mini:latest")
            ollama_double.script_reply("The answer is $x = 2$.")
            quick.input.setText("solve x - 2 = 0")
            qtbot.keyClick(quick.input, Qt.Key.Key_Return)
            await until(lambda: not quick.streaming and quick.current_chat is not None)
            chat_id = quick.current_chat
            assert chat_id is not None
            assert db.get_chat(chat_id).kind == QUICK_KIND
            _question, answer = db.messages(chat_id)
            assert (answer.status, answer.content) == ("complete", "The answer is $x = 2$.")
            await until(lambda: quick.view.patch_count > 0)
            await asyncio.sleep(0.3)
            count = "document.querySelectorAll('article.message').length"
            assert await run_js(quick.view, count) == 2
            quick.hide_prompt()
            quick.show_prompt()  # shown again: a new chat in the same web view
            assert len(views_in(quick)) == 1
            assert quick.current_chat is None

        drive(qt_loop, scenario())
    finally:
        quick.close()
        drive(qt_loop, quick.aclose())
        quick.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_quick_access_leaves_the_web_view_until_the_menu_opens_the_prompt(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, desk: Desk
) -> None:
    window, workspace, _db = desk
    later = Later(window, workspace)  # what the application makes after the first paint
    access = later.quick_access()
    assert later.quick_access() is access
    try:
        assert views_in(access.quick) == []
        assert window.findChildren(TranscriptView) == [window.pane.view]
        window.quick_action.trigger()
        assert access.quick.isVisible()
        assert len(views_in(access.quick)) == 1
        drive(qt_loop, until(lambda: access.quick.view.loaded))
    finally:
        drive(qt_loop, access.aclose())
        access.quick.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


class Painted(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def paintEvent(self, event: QPaintEvent) -> None:
        self.paints += 1
        super().paintEvent(event)


def test_first_paint_runs_its_work_once_after_the_window_has_painted(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop
) -> None:
    window = Painted()
    qtbot.addWidget(window)
    seen: list[int] = []
    window.show()
    FirstPaint(window, lambda: seen.append(window.paints))
    assert seen == []  # not inside show(): the paint comes first
    drive(qt_loop, until(lambda: seen))
    assert seen[0] >= 1
    window.update()
    drive(qt_loop, until(lambda: window.paints > seen[0]))
    assert len(seen) == 1


def test_first_paint_of_a_hidden_window_runs_its_work_from_the_event_loop(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop
) -> None:
    window = Painted()  # started minimised to the tray: never shown
    qtbot.addWidget(window)
    seen: list[int] = []
    FirstPaint(window, lambda: seen.append(window.paints))
    assert seen == []
    drive(qt_loop, until(lambda: seen))
    assert seen == [0]
