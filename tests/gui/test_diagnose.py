"""Help > Diagnose in the real main window: the doctor's lines appear in a dialog, one row per
check with its status icon, and Copy puts the same lines as `phidesk doctor` on the clipboard."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QLabel, QMenu
from pytestqt.qtbot import QtBot

from app.backend.client import OllamaClient
from app.config import AppContext, Paths
from app.gui.connection import ConnectionMonitor
from app.gui.diagnose import DiagnoseDialog
from app.gui.main_window import MainWindow
from app.workspace import Workspace
from tests.ollama_double.server import VERSION, OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web


def make_window(host: str) -> tuple[MainWindow, OllamaClient]:
    """As tests/gui/test_chat_window.py builds it."""
    ctx = AppContext(paths=Paths.resolve().ensure(), host=host)
    client = OllamaClient(host, stall_seconds=30)
    workspace = Workspace.open(ctx.paths, client)
    window = MainWindow(ctx, workspace, ConnectionMonitor(workspace.connection, None))
    window.show()
    window.monitor.check_now()
    return window, client


@pytest.fixture
def window(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[MainWindow]:
    window, _client = make_window(ollama_double.url)
    drive(qt_loop, until(lambda: window.monitor.state.value == "connected"))
    yield window
    window.close()

    async def finish() -> None:
        await window.aclose()
        await window.workspace.aclose()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        await asyncio.sleep(0.05)

    drive(qt_loop, finish())


def help_action(window: MainWindow, text: str) -> QAction:
    for action in window.menuBar().actions():
        menu = action.menu()
        if action.text() == "&Help" and isinstance(menu, QMenu):
            return next(a for a in menu.actions() if a.text() == text)
    raise AssertionError("the window has no Help menu")


def row_text(dialog: DiagnoseDialog, name: str) -> str:
    label = dialog.findChild(QLabel, f"check:{name}")
    assert label is not None, f"no row for {name}"
    return label.text()


def row_status(dialog: DiagnoseDialog, name: str) -> str:
    icon = dialog.findChild(QLabel, f"status:{name}")
    assert icon is not None, f"no status icon for {name}"
    assert not icon.pixmap().isNull()
    return str(icon.property("status"))


def test_help_diagnose_shows_the_doctors_lines_and_copies_them(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, window: MainWindow
) -> None:
    help_action(window, "&Diagnose…").trigger()
    dialog = window.findChild(DiagnoseDialog)
    assert dialog is not None and dialog.isVisible()

    async def scenario() -> None:
        assert dialog.summary.text().startswith("Checking")
        assert not dialog.copy_button.isEnabled()
        await until(lambda: dialog.checks, seconds=60)
        assert row_status(dialog, "Ollama") == "ok"
        assert row_text(dialog, "Ollama") == f"Version {VERSION} at {window.client.host}"
        assert row_status(dialog, "Model phi4-mini:latest") == "ok"
        assert row_text(dialog, "Model phi4-mini:latest") == "Offers completion, tools"
        assert row_status(dialog, "Database") == "ok"
        assert row_status(dialog, "Schema") == "ok"
        # Offscreen there is no tray: the window's own answer, with what to do.
        assert row_status(dialog, "Tray") == "warning"
        assert "<br><i>On GNOME, install the AppIndicator extension" in row_text(dialog, "Tray")
        assert "problem" not in dialog.summary.text()
        qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
        copied = QGuiApplication.clipboard().text()
        assert (
            copied.splitlines()[0] == f"ok       Ollama: version {VERSION} at {window.client.host}"
        )
        assert len(copied.splitlines()) == len(dialog.checks)

    drive(qt_loop, scenario())
    help_action(window, "&Diagnose…").trigger()  # a second time brings back the same dialog
    assert window.findChildren(DiagnoseDialog) == [dialog]
    dialog.close()


def test_the_checks_never_block_the_window_and_closing_stops_them(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop
) -> None:
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = OllamaClient(f"http://127.0.0.1:{silent.getsockname()[1]}")
        dialog = DiagnoseDialog(Paths.resolve().ensure(), client)
        qtbot.addWidget(dialog)
        dialog.show()

        async def scenario() -> None:
            await asyncio.sleep(0.3)  # the loop runs while the doctor waits for Ollama
            assert dialog.running
            assert dialog.summary.text().startswith("Checking")
            assert dialog.checks == []
            dialog.close()
            await until(lambda: not dialog.running)
            await client.aclose()

        drive(qt_loop, scenario())
    assert dialog.checks == []
