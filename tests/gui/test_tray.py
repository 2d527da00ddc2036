"""Tray and QuickAccess. Offscreen there is no system tray (as on bare Xvfb and stock GNOME), so
the no-tray branch runs for real; the tray-present branch of closing-to-tray is exercised by
giving `Tray` a real (never shown) QSystemTrayIcon."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot

from app.backend.client import OllamaClient
from app.backend.connection import Connection
from app.config import AppContext, Paths, Settings
from app.gui.connection import ConnectionMonitor
from app.gui.main_window import MainWindow
from app.gui.tray import NO_TRAY_REASON, QuickAccess, tray_available
from app.store import Chat, Database
from app.workspace import Workspace
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web


@pytest.fixture
def desk(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[tuple[MainWindow, QuickAccess, Paths]]:
    paths = Paths.resolve().ensure()
    Settings(extra={"keep_in_tray": True, "start_minimised": True}).save(paths.settings_file)
    db = Database.open(paths.database)
    client = OllamaClient(ollama_double.url, stall_seconds=30)
    workspace = Workspace(db, Connection(client), paths)
    window = MainWindow(
        AppContext(paths=paths, host=ollama_double.url),
        workspace,
        ConnectionMonitor(workspace.connection, None),
    )
    access = QuickAccess(window, workspace)
    window.show()
    window.monitor.check_now()

    async def ready() -> None:
        await until(lambda: window.monitor.state.value == "connected")
        await until(lambda: len(window.pane.picker.models) >= 3)
        await until(lambda: window.pane.view.loaded)

    drive(qt_loop, ready())
    yield window, access, paths
    drive(qt_loop, access.aclose())
    access.tray.quit()
    drive(qt_loop, window.aclose())
    access.quick.deleteLater()
    window.deleteLater()
    drive(qt_loop, workspace.aclose())  # closes the database and the current client


def test_without_a_tray_the_window_really_closes_and_starts_shown(
    qtbot: QtBot, desk: tuple[MainWindow, QuickAccess, Paths]
) -> None:
    window, access, _ = desk
    assert not tray_available()
    assert not access.tray.available and access.tray.icon is None
    assert not access.start_minimised  # asked for, but nothing could bring the window back
    with qtbot.waitSignal(window.closed, timeout=2000):
        window.close()  # keep_in_tray is on, yet with no tray closing must close
    assert not window.isVisible()


def test_without_a_tray_the_settings_say_why_and_the_quick_prompt_still_opens(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    desk: tuple[MainWindow, QuickAccess, Paths],
) -> None:
    _, access, _ = desk
    panel = access.settings_panel()
    qtbot.addWidget(panel)
    assert not panel.keep.isEnabled() and not panel.minimised.isEnabled()
    assert panel.tray_note.text() == NO_TRAY_REASON and not panel.tray_note.isHidden()
    assert "phidesk quick" in NO_TRAY_REASON
    drive(qt_loop, until(lambda: panel.binding.text().startswith(access.hotkey.result.message)))
    assert access.hotkey.result.message != "No global shortcut is set."

    async def scenario() -> None:
        assert access.handle_request({"action": "activate"}) is False
        assert not access.quick.isVisible()
        assert access.handle_request({"action": "quick"}) is True
        assert access.quick.isVisible()
        await until(lambda: len(access.quick.picker.models) >= 3)

    drive(qt_loop, scenario())


def test_shortcut_setting_is_saved_and_an_empty_one_turns_it_off(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    desk: tuple[MainWindow, QuickAccess, Paths],
) -> None:
    _, access, paths = desk
    panel = access.settings_panel()
    qtbot.addWidget(panel)
    assert panel.shortcut.keySequence().toString() == "Ctrl+Alt+Space"
    panel.clear_shortcut()
    drive(qt_loop, until(lambda: "No global shortcut is set." in panel.binding.text()))
    assert Settings.load(paths.settings_file).extra["quick_hotkey"] == ""
    assert access.workspace.prefs.quick.hotkey == ""
    assert not access.hotkey.result.ok


def test_tray_menu_lists_recent_chats_model_and_state(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    desk: tuple[MainWindow, QuickAccess, Paths],
) -> None:
    window, access, _ = desk
    workspace = access.workspace
    tray = access.tray

    def titles() -> list[str]:
        return [a.text() for a in tray.recent_menu.actions()]

    made: list[Chat] = []

    async def make_chats() -> None:
        assert titles() == ["No chats yet"]
        made.append(await workspace.new_chat("phi4:latest", title="Eigenvalues"))
        made.append(await workspace.new_chat("phi4:latest", title="Integrals"))
        await until(lambda: titles() == ["Integrals", "Eigenvalues"])  # the menu follows

    drive(qt_loop, make_chats())
    first = made[0]
    window.pane.picker.select("phi4-mini:latest")
    tray.refresh()
    drive(qt_loop, tray.load_recent())
    assert titles() == ["Integrals", "Eigenvalues"]
    assert tray.state_action.text() == "phi4-mini:latest · connected"
    labels = [a.text() for a in tray.menu.actions() if a.text()]
    assert labels[:2] == ["Quick prompt", "Open PhiDesk"] and labels[-1] == "Quit PhiDesk"
    tray.recent_menu.actions()[1].trigger()
    assert window.pane.current_chat == first.id

    async def scenario() -> None:
        tray.quick_action.trigger()
        assert access.quick.isVisible()
        await until(lambda: len(access.quick.picker.models) >= 3)

    drive(qt_loop, scenario())


def test_with_a_tray_closing_hides_and_quit_really_quits(
    qtbot: QtBot, desk: tuple[MainWindow, QuickAccess, Paths]
) -> None:
    window, access, paths = desk
    tray = access.tray
    tray.icon = QSystemTrayIcon(tray)  # what Tray makes where a tray exists (never shown here)
    assert tray.keeps_running()
    assert access.start_minimised
    closed: list[bool] = []
    window.closed.connect(lambda: closed.append(True))
    window.close()
    assert not window.isVisible() and closed == []
    tray.open_action.trigger()
    assert window.isVisible()
    tray.keep_action.setChecked(False)  # the option in the tray menu
    assert not tray.keeps_running()
    assert Settings.load(paths.settings_file).extra["keep_in_tray"] is False
    tray.keep_action.setChecked(True)
    window.quit_action.trigger()  # File > Quit quits even when closing keeps it in the tray
    assert closed == [True] and not window.isVisible()
