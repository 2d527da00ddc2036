"""Preferences and About in the real main window (QtWebEngine, the Ollama double over a real
socket, the real settings file): each choice is saved at once and applied where it belongs."""

from __future__ import annotations

import asyncio
import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QRadioButton, QTabWidget
from pytestqt.qtbot import QtBot

from app.gui.about import AboutDialog
from app.gui.main_window import MainWindow
from app.gui.preferences import PreferencesDialog
from app.store import Database
from tests.gui.test_chat_window import app, choose, settled  # noqa: F401  (the fixture)
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until


def _saved(window: MainWindow) -> dict[str, object]:
    return json.loads(window.workspace.settings.path.read_text(encoding="utf-8"))


def _open(window: MainWindow) -> PreferencesDialog:
    window.preferences_action.trigger()
    dialog = window._preferences
    assert isinstance(dialog, PreferencesDialog) and dialog.isVisible()
    return dialog


def test_preferences_are_saved_at_once_and_applied(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],  # noqa: F811
    ollama_double: OllamaDouble,
) -> None:
    window, db = app
    dialog = _open(window)
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
        "&General",
        "&Answers",
        "&Ollama",
    ]

    # Text size: the transcript follows, and Ctrl+0 (here its action) resets it.
    dialog.zoom.setValue(130)
    assert window.pane.view.zoomFactor() == 1.3
    assert _saved(window)["text_zoom"] == 130
    window.zoom_out_action.trigger()
    assert window.workspace.prefs.text_zoom == 120 and dialog.zoom.value() == 130
    window.zoom_reset_action.trigger()
    assert window.pane.view.zoomFactor() == 1.0

    # The key that sends: with Ctrl+Enter, Enter starts a new line.
    ctrl = dialog.findChild(QRadioButton, "Send-ctrl+enter")
    assert ctrl is not None
    ctrl.click()
    assert _saved(window)["send_with"] == "ctrl+enter"
    edit = window.pane.composer.edit
    edit.setPlainText("first line")
    edit.moveCursor(edit.textCursor().MoveOperation.End)
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert edit.toPlainText() == "first line\n"
    assert "Ctrl+Enter sends" in edit.placeholderText()

    # The default system prompt is what new chats start with (saved on close too).
    dialog.system_prompt.setPlainText("Answer in French.")
    dialog.default_model.setCurrentIndex(dialog.default_model.findData("phi4-mini:latest"))
    dialog.stall.setValue(90)
    source = dialog.findChild(QRadioButton, "Source-installed")
    assert source is not None
    source.click()
    dialog.close()
    saved = _saved(window)
    assert saved["default_system_prompt"] == "Answer in French."
    assert saved["default_model"] == "phi4-mini:latest"
    assert (saved["stall_timeout"], saved["ollama_source"]) == (90, "installed")
    assert window.workspace.stall_timeout == 90

    ollama_double.script_reply("Bonjour.")

    async def send() -> None:
        window.new_chat()
        choose(window, "phi4-mini:latest")
        edit.setPlainText("hello")
        qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        await until(lambda: window.pane.current_chat is not None)
        await settled(window)

    drive(qt_loop, send())
    chat_id = window.pane.current_chat
    assert chat_id is not None
    assert db.get_chat(chat_id).system_prompt == "Answer in French."
    sent = ollama_double.requests_to("/api/chat")[-1].body
    assert sent is not None
    assert sent["messages"][0] == {"role": "system", "content": "Answer in French."}


def test_preferences_and_chat_settings_have_their_own_shortcuts(
    app: tuple[MainWindow, Database],  # noqa: F811
) -> None:
    window, _db = app
    assert window.settings_action.shortcut().toString() == "Ctrl+Shift+,"
    # Ctrl+, where the platform names no Preferences key (as here), Cmd+, on macOS.
    assert window.preferences_action.shortcut().toString() == "Ctrl+,"


def test_about_names_the_version_folders_and_licences(
    app: tuple[MainWindow, Database],  # noqa: F811
) -> None:
    window, _db = app
    window.about_action.trigger()
    dialog = window._about
    assert isinstance(dialog, AboutDialog) and dialog.isVisible()
    table = dialog.table
    cells = [[table.item(r, c) for c in (0, 2)] for r in range(table.rowCount())]
    rows = {name.text(): licence.text() for name, licence in cells if name and licence}
    assert rows["KaTeX"] == "MIT" and rows["Ollama"] == "MIT"
    assert rows["SQLAlchemy"] == "MIT" and "LGPL" in rows["Qt"]
    assert rows["markdown-it-py"] == "MIT License"
    assert dialog.open_logs.isEnabled()
    assert not isinstance(dialog.findChild(QTabWidget), QTabWidget)
