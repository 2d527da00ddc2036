"""Every interactive control has a name a screen reader can say: walks the accessibility tree
(QAccessible, which counts label buddies and button text) of the main window, the model
manager, the quick prompt, Preferences and the chat settings dialog."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QStackedWidget,
    QTabBar,
    QTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.gui.chat_settings import ChatSettingsDialog
from app.gui.main_window import MainWindow
from app.gui.model_manager import ModelManagerWindow
from app.gui.quick_prompt import QuickPrompt
from app.store import Database
from tests.gui.test_chat_window import close, make_window, type_and_send
from tests.gui.test_quick_prompt import delete_now
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web

INTERACTIVE = (
    QAbstractButton,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QAbstractSpinBox,
    QAbstractSlider,
    QAbstractItemView,
    QKeySequenceEdit,
    QTabBar,
)
INNER = (QComboBox, QAbstractSpinBox, QScrollBar, QTabBar, QKeySequenceEdit)
"""Controls whose own parts (an editable combo's line edit, a spin box's field) are theirs."""


def shown_in(widget: QWidget, top: QWidget) -> bool:
    """Not hidden on purpose (pages of a tab or stack that are not current still count)."""
    current: QWidget | None = widget
    while current is not None and current is not top:
        parent = current.parentWidget()
        if current.isHidden() and not isinstance(parent, QStackedWidget):
            return False
        current = parent
    return True


def nameless(top: QWidget) -> list[str]:
    found = []
    buddies = [label.buddy() for label in top.findChildren(QLabel) if label.buddy() is not None]
    for widget in top.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or isinstance(widget, QScrollBar | QHeaderView):
            continue
        if widget.objectName().startswith("qt_") or not shown_in(widget, top):
            continue
        parent = widget.parentWidget()
        if any(isinstance(a, INNER) for a in ancestors(parent, top)):
            continue
        face = QAccessible.queryAccessibleInterface(widget)
        name = face.text(QAccessible.Text.Name).strip() if face is not None else ""
        if isinstance(widget, QComboBox) and widget not in buddies:
            name = widget.accessibleName()  # not its current text: what is being chosen
        if not name:
            where = widget.objectName() or type(widget).__name__
            owner = parent.objectName() or type(parent).__name__ if parent else ""
            found.append(f"{where} in {owner} ({type(widget).__name__})")
    return found


def ancestors(widget: QWidget | None, top: QWidget) -> Iterator[QWidget]:
    while widget is not None and widget is not top:
        yield widget
        widget = widget.parentWidget()


@pytest.fixture
def window(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[tuple[MainWindow, Database]]:
    win, db, _client = make_window(qtbot, ollama_double.url)

    async def ready() -> None:
        await until(lambda: win.monitor.state.value == "connected")
        await until(lambda: len(win.pane.picker.models) >= 3)
        await until(lambda: win.pane.view.loaded)

    drive(qt_loop, ready())
    yield win, db
    close(qt_loop, win, win.client, db)


def test_every_control_of_the_main_window_preferences_and_chat_settings_has_a_name(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    window: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    win, _db = window

    async def scenario() -> None:
        win.pane.picker.select("phi4-mini:latest")
        ollama_double.script_reply("An answer.")
        type_and_send(qtbot, win, "a question")
        await until(lambda: win.pane.current_chat is not None)
        await until(lambda: not win.pane.live)
        missing = nameless(win)
        assert missing == [], "\n".join(missing)

        win.open_preferences()
        dialog = win._preferences
        assert isinstance(dialog, QDialog)
        assert nameless(dialog) == []
        dialog.reject()

        win.pane.edit_settings()
        await until(lambda: isinstance(win.pane.settings_dialog, ChatSettingsDialog))
        settings = win.pane.settings_dialog
        assert settings is not None
        assert nameless(settings) == []
        settings.reject()

    drive(qt_loop, scenario())


def test_every_control_of_the_model_manager_has_a_name(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, window: tuple[MainWindow, Database]
) -> None:
    win, _db = window

    async def scenario() -> None:
        win.open_model_manager()
        manager = win._manager
        assert isinstance(manager, ModelManagerWindow)
        await until(lambda: manager.installed_tab.table.rowCount() > 0)
        missing = nameless(manager)
        assert missing == [], "\n".join(missing)
        manager.close()

    drive(qt_loop, scenario())


def test_every_control_of_the_quick_prompt_has_a_name(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, window: tuple[MainWindow, Database]
) -> None:
    win, _db = window
    quick = QuickPrompt(win.workspace)
    quick.show_prompt()

    async def scenario() -> None:
        await until(lambda: len(quick.picker.models) >= 3)
        assert nameless(quick) == []

    try:
        drive(qt_loop, scenario())
    finally:
        quick.close()
        drive(qt_loop, quick.aclose())
        delete_now(qt_loop, quick)
