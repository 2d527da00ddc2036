"""The quick prompt against the Ollama double: ask, stream, stop, hide, follow up, and hand the
chat to the main window."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.backend.client import OllamaClient
from app.config import AppContext, Paths, Settings
from app.gui.connection import ConnectionMonitor
from app.gui.main_window import MainWindow
from app.gui.quick_prompt import QUICK_KIND, QuickPrompt, show_chat_in
from app.store import Database
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, run_js, until

pytestmark = pytest.mark.web


async def js(quick: QuickPrompt, script: str) -> Any:
    return await run_js(quick.view, script)


MATH = r"Use $$x = \frac{-b \pm \sqrt{b^2-4ac}}{2a}$$ and a price of $5 stays text."


@pytest.fixture
def setup(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[tuple[QuickPrompt, Database, Paths, OllamaClient]]:
    paths = Paths.resolve().ensure()
    db = Database.open(paths.database)
    client = OllamaClient(ollama_double.url, stall_seconds=30)
    quick = QuickPrompt(db, client, paths)
    quick.show_prompt()

    async def ready() -> None:
        await until(lambda: len(quick.picker.models) >= 3)
        await until(lambda: quick.view.loaded)

    drive(qt_loop, ready())
    yield quick, db, paths, client
    quick.close()
    drive(qt_loop, quick.aclose())
    drive(qt_loop, client.aclose())
    delete_now(qt_loop, quick)
    db.close()


def delete_now(loop: asyncio.AbstractEventLoop, widget: QWidget) -> None:
    """Delete a widget holding a web view inside the loop (QtWebEngine complains at exit about a
    profile released before its page otherwise)."""

    async def delete() -> None:
        widget.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        await asyncio.sleep(0.05)

    drive(loop, delete())


def ask(qtbot: QtBot, quick: QuickPrompt, text: str) -> None:
    quick.input.setText(text)
    qtbot.keyClick(quick.input, Qt.Key.Key_Return)


def test_enter_streams_an_answer_with_math_and_stores_a_quick_chat(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: tuple[QuickPrompt, Database, Paths, OllamaClient],
    ollama_double: OllamaDouble,
) -> None:
    quick, db, paths, _ = setup

    async def scenario() -> None:
        assert quick.isVisible()
        assert quick.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
        quick.picker.select("phi4-mini:latest")
        ollama_double.script_reply(MATH)
        ask(qtbot, quick, "quadratic formula?")
        assert quick.streaming
        assert quick.input.text() == ""
        await until(lambda: not quick.streaming)
        chat_id = quick.current_chat
        assert chat_id is not None
        chat = db.get_chat(chat_id)
        assert chat.kind == QUICK_KIND
        assert chat.model == "phi4-mini:latest"
        assert chat.title == "quadratic formula?"
        user, answer = db.messages(chat_id)
        assert user.content == "quadratic formula?"
        assert (answer.status, answer.content) == ("complete", MATH)
        assert [c.id for c in db.list_chats(kind=QUICK_KIND)] == [chat_id]
        await until(lambda: quick.view.patch_count > 0)
        await asyncio.sleep(0.3)
        assert await js(quick, "document.querySelectorAll('article.message').length") == 2
        assert await js(quick, "document.querySelectorAll('.katex-display').length") == 1
        text = await js(quick, "document.body.innerText")
        assert "price of $5 stays text" in text
        assert quick.continue_button.isEnabled()
        assert Settings.load(paths.settings_file).extra["quick_model"] == "phi4-mini:latest"

    drive(qt_loop, scenario())


def test_escape_stops_the_answer_hides_and_keeps_what_arrived(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: tuple[QuickPrompt, Database, Paths, OllamaClient],
    ollama_double: OllamaDouble,
) -> None:
    quick, db, _, _ = setup

    async def scenario() -> None:
        quick.picker.select("phi4:latest")
        ollama_double.script_reply("word " * 400, chunk_size=5)
        ollama_double.set_fault("slow", delay=0.03, path="/api/chat")
        ask(qtbot, quick, "a long answer")
        chat_id = quick.current_chat
        assert chat_id is not None
        await until(lambda: quick.view.patch_count > 2)
        assert quick.stop_button.isVisible()
        qtbot.keyClick(quick.input, Qt.Key.Key_Escape)
        assert not quick.isVisible()
        await until(lambda: not quick.streaming)
        answer = db.messages(chat_id)[-1]
        assert answer.status == "stopped"
        assert answer.content.startswith("word word")
        assert len(answer.content) < len("word " * 400)
        ollama_double.clear_faults()
        # Shown again, the window starts a new quick chat.
        quick.show_prompt()
        assert quick.isVisible() and quick.current_chat is None
        ollama_double.script_reply("Fresh.")
        ask(qtbot, quick, "another question")
        await until(lambda: not quick.streaming)
        assert quick.current_chat not in (None, chat_id)
        assert len(db.list_chats(kind=QUICK_KIND)) == 2

    drive(qt_loop, scenario())


def test_a_second_question_follows_up_in_the_same_chat(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: tuple[QuickPrompt, Database, Paths, OllamaClient],
    ollama_double: OllamaDouble,
) -> None:
    quick, db, _, _ = setup

    async def scenario() -> None:
        quick.picker.select("phi4-mini:latest")
        ollama_double.script_reply("Four.")
        ask(qtbot, quick, "2+2?")
        await until(lambda: not quick.streaming)
        ollama_double.script_reply("Eight.")
        ask(qtbot, quick, "and doubled?")
        await until(lambda: not quick.streaming)
        chat_id = quick.current_chat
        assert chat_id is not None
        assert [m.content for m in db.messages(chat_id)] == [
            "2+2?",
            "Four.",
            "and doubled?",
            "Eight.",
        ]
        sent = ollama_double.requests_to("/api/chat")[-1].body
        assert [m["content"] for m in sent["messages"]] == ["2+2?", "Four.", "and doubled?"]

    drive(qt_loop, scenario())


def test_no_model_installed_says_so_instead_of_sending(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: tuple[QuickPrompt, Database, Paths, OllamaClient],
) -> None:
    quick, db, _, _ = setup

    async def scenario() -> None:
        quick.picker.clear()
        quick.picker.set_models([], None)
        ask(qtbot, quick, "hello?")
        assert not quick.streaming
        assert quick.status.isVisible() and "Choose a model" in quick.status.text()
        assert db.list_chats() == []
        assert quick.input.text() == "hello?"  # kept, to send once a model is there

    drive(qt_loop, scenario())


def test_continue_in_phidesk_opens_the_chat_in_the_main_window(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: tuple[QuickPrompt, Database, Paths, OllamaClient],
    ollama_double: OllamaDouble,
) -> None:
    quick, db, paths, client = setup
    window = MainWindow(
        AppContext(paths=paths, host=ollama_double.url), db, client, ConnectionMonitor(client, None)
    )
    quick.continueInMain.connect(lambda chat_id: show_chat_in(window, chat_id))

    async def scenario() -> None:
        await until(lambda: window.pane.view.loaded)
        quick.picker.select("phi4-mini:latest")
        ollama_double.script_reply(MATH)
        ask(qtbot, quick, "formula")
        await until(lambda: not quick.streaming)
        chat_id = quick.current_chat
        qtbot.mouseClick(quick.continue_button, Qt.MouseButton.LeftButton)
        assert not quick.isVisible()
        assert window.isVisible()
        assert window.pane.current_chat == chat_id
        assert window.pane.title.text() == "formula"
        titles = [window.sidebar.list.item(i).text() for i in range(window.sidebar.list.count())]
        assert any("formula" in t for t in titles)
        await asyncio.sleep(0.5)
        result: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        window.pane.view.page().runJavaScript(
            "document.querySelectorAll('article.message').length", 0, result.set_result
        )
        assert await asyncio.wait_for(result, 10) == 2

    drive(qt_loop, scenario())
    window.close()
    drive(qt_loop, window.aclose())
    delete_now(qt_loop, window)
