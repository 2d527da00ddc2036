"""Ollama going away never hides the chats: they stay readable and searchable, a banner in the
chat pane says so with Start it (or Set up Ollama) · Retry · Another host…, and only sending is
disabled, with the reason. The full first-start page is for a first start only: no chats and no
connection ever made. The connection indicator stays in the status bar under passing messages."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.store import Database
from tests.gui.test_chat_window import (
    choose,
    close,
    js,
    make_window,
    settled,
    type_and_send,
)
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web


@pytest.fixture
def app(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[tuple[MainWindow, Database]]:
    window, db, _client = make_window(qtbot, ollama_double.url)

    async def ready() -> None:
        await until(lambda: window.monitor.state.value == "connected")
        await until(lambda: len(window.pane.picker.models) >= 3)
        await until(lambda: window.pane.view.loaded)

    drive(qt_loop, ready())
    yield window, db
    close(qt_loop, window, window.client, db)


def offline(window: MainWindow) -> bool:
    return window.monitor.state.value == "unreachable"


def test_offline_chats_stay_readable_and_searchable_and_only_sending_is_disabled(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app
    composer = window.pane.composer

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("The answer is forty-two, as computed offline.")
        type_and_send(qtbot, window, "what is the answer")
        await until(lambda: window.pane.current_chat is not None)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        await until(lambda: [m.status for m in db.messages(chat_id)] == ["complete"] * 2)
        await settled(window)
        window.new_chat()

        ollama_double.stop()
        window.monitor.check_now()
        await until(lambda: offline(window))
        assert window.stack.currentWidget() is window.pane
        banner = window.offline_banner
        assert banner.isVisible()
        host = ollama_double.url.removeprefix("http://")
        assert f"Ollama is not answering at {host}" in banner.text.text()
        assert banner.retry_button.isVisible() and banner.host_button.isVisible()
        installed = window.monitor.ollama_installed
        assert banner.start_button.isVisible() is installed
        assert banner.setup_button.isVisible() is not installed

        # Sending is disabled with the reason; the draft is kept.
        assert not composer.send_button.isEnabled()
        assert "Ollama is not answering" in composer.send_button.toolTip()
        composer.edit.setPlainText("a draft for later")
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
        await asyncio.sleep(0.1)
        assert composer.draft() == "a draft for later"
        assert window.pane.current_chat is None

        # The chat opens and renders.
        window.open_chat(chat_id)
        await until(lambda: window.pane.current_chat == chat_id)

        async def shown() -> str:
            return str(await js(window, "document.body.innerText"))

        for _ in range(100):
            if "forty-two" in await shown():
                break
            await asyncio.sleep(0.05)
        assert "forty-two" in await shown()
        assert window.stack.currentWidget() is window.pane
        assert banner.isVisible()

        # Search works.
        window.sidebar.search.setText("forty")
        await until(lambda: window.sidebar.searching and window.sidebar.list.count() >= 1)
        window.sidebar.search.setText("")

        # Retry reconnects once Ollama is back; sending comes back, the draft still there.
        ollama_double.start()
        qtbot.mouseClick(banner.retry_button, Qt.MouseButton.LeftButton)
        await until(lambda: window.monitor.state.value == "connected")
        assert not banner.isVisible()
        assert composer.send_button.isEnabled()
        assert "Ollama is not answering" not in composer.send_button.toolTip()
        assert len(db.messages(chat_id)) == 2
        await until(lambda: len(window.pane.picker.models) >= 3)
        await asyncio.sleep(0.3)  # the model list and the meter asked after reconnecting

    drive(qt_loop, scenario())


def test_the_connection_indicator_stays_under_passing_messages(
    qtbot: QtBot, app: tuple[MainWindow, Database]
) -> None:
    window, _db = app
    window.statusBar().showMessage("Exported 3 chats")
    assert window.host_label.isVisible()
    assert window.connection_dot.isVisible()
    assert window.host_label.text().startswith("Connected to Ollama")


def test_a_first_start_without_ollama_shows_the_onboarding_page(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop
) -> None:
    window, db, client = make_window(qtbot, "http://127.0.0.1:9")

    async def scenario() -> None:
        await until(lambda: offline(window))
        await asyncio.sleep(0.2)  # the chat list has loaded too
        assert window.stack.currentWidget() is window.onboarding
        assert not window.offline_banner.isVisible()

    try:
        drive(qt_loop, scenario())
    finally:
        close(qt_loop, window, client, db)


def test_after_a_connection_was_made_once_an_empty_window_offline_shows_the_banner(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    window, db, client = make_window(qtbot, ollama_double.url)

    async def scenario() -> None:
        await until(lambda: window.monitor.state.value == "connected")
        assert window.workspace.prefs.ollama.connected_once
        ollama_double.stop()
        window.monitor.check_now()
        await until(lambda: offline(window))
        await asyncio.sleep(0.2)
        assert window.stack.currentWidget() is window.pane
        assert window.offline_banner.isVisible()

    try:
        drive(qt_loop, scenario())
    finally:
        close(qt_loop, window, client, db)


def test_chats_from_before_the_preference_existed_are_shown_offline(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop
) -> None:
    window, db, client = make_window(qtbot, "http://127.0.0.1:9")
    workspace = window.workspace
    assert not workspace.prefs.ollama.connected_once

    async def scenario() -> None:
        await until(lambda: offline(window))
        chat = await workspace.new_chat("phi4-mini:latest")
        window.refresh_chats()
        await until(lambda: window.stack.currentWidget() is window.pane)
        window.open_chat(chat.id)
        assert window.offline_banner.isVisible()
        prefs = workspace.prefs
        workspace.settings.set(ollama=dataclasses.replace(prefs.ollama, connected_once=True))
        assert workspace.prefs.ollama.connected_once

    try:
        drive(qt_loop, scenario())
    finally:
        close(qt_loop, window, client, db)
