from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget
from pytestqt.qtbot import QtBot

from app.config import AppContext, Paths
from app.gui.main_window import MainWindow


def make_window(qtbot: QtBot, host: str = "http://127.0.0.1:11434") -> MainWindow:
    window = MainWindow(AppContext(paths=Paths.resolve().ensure(), host=host))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_window_shows_title_chat_list_and_the_host_it_talks_to(qtbot: QtBot) -> None:
    window = make_window(qtbot, host="http://10.0.0.7:11434")
    assert window.windowTitle() == "PhiDesk"
    chat_list = window.findChild(QListWidget, "ChatList")
    assert chat_list is not None and chat_list.accessibleName() == "Chats"
    host = window.findChild(QLabel, "HostLabel")
    assert host is not None and host.text() == "Ollama: http://10.0.0.7:11434"


def test_quit_shortcut_closes_the_window(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    with qtbot.waitSignal(window.closed, timeout=2000):
        qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert not window.isVisible()
