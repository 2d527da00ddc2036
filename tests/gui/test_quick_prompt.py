"""The quick prompt against the Ollama double: ask, stream, stop, hide, follow up, and hand the
chat to the main window. It goes through a real `Workspace`: the model's chat defaults and
offload choice reach the request, and a host switch reaches its next question."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.backend.client import OllamaClient
from app.backend.connection import Connection
from app.backend.offload import GpuLayers, ModelOffload
from app.config import AppContext, Paths, Settings
from app.gui.connection import ConnectionMonitor
from app.gui.main_window import MainWindow
from app.gui.quick_prompt import QUICK_KIND, QuickPrompt, show_chat_in
from app.store import ChatSettings, Database
from app.workspace import Level, Workspace
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, run_js, until

pytestmark = pytest.mark.web


async def js(quick: QuickPrompt, script: str) -> Any:
    return await run_js(quick.view, script)


MATH = r"Use $$x = \frac{-b \pm \sqrt{b^2-4ac}}{2a}$$ and a price of $5 stays text."


Setup = tuple[QuickPrompt, Database, Paths, Workspace]


@pytest.fixture
def setup(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[Setup]:
    paths = Paths.resolve().ensure()
    db = Database.open(paths.database)
    client = OllamaClient(ollama_double.url, stall_seconds=30)
    workspace = Workspace(db, Connection(client), paths)
    quick = QuickPrompt(workspace)
    quick.show_prompt()

    async def ready() -> None:
        await until(lambda: len(quick.picker.models) >= 3)
        await until(lambda: quick.view.loaded)

    drive(qt_loop, ready())
    yield quick, db, paths, workspace
    quick.close()
    drive(qt_loop, quick.aclose())
    delete_now(qt_loop, quick)
    drive(qt_loop, workspace.aclose())  # closes the database and the current client


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
    setup: Setup,
    ollama_double: OllamaDouble,
) -> None:
    quick, db, paths, workspace = setup

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
        assert workspace.prefs.quick.model == "phi4-mini:latest"

    drive(qt_loop, scenario())


def test_escape_stops_the_answer_hides_and_keeps_what_arrived(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: Setup,
    ollama_double: OllamaDouble,
) -> None:
    quick, db, _, _ = setup

    async def scenario() -> None:
        quick.picker.select("phi4:latest")
        ollama_double.script_reply("word " * 400, chunk_size=5)
        ollama_double.set_fault("slow", delay=0.03, path="/api/chat")
        ask(qtbot, quick, "a long answer")
        assert quick.streaming
        await until(lambda: quick.current_chat is not None)  # made on the writer thread
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
    setup: Setup,
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
    setup: Setup,
) -> None:
    quick, db, _, _ = setup

    async def scenario() -> None:
        quick.picker.clear()
        quick.picker.set_models([], None)
        ask(qtbot, quick, "hello?")
        assert not quick.streaming
        notice = quick.notice_area
        assert notice.isVisible() and "Choose a model" in notice.text.text()
        assert notice.notice is not None and notice.notice.level is Level.WARNING
        assert db.list_chats() == []
        assert quick.input.text() == "hello?"  # kept, to send once a model is there

    drive(qt_loop, scenario())


def test_continue_in_phidesk_opens_the_chat_in_the_main_window(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: Setup,
    ollama_double: OllamaDouble,
) -> None:
    quick, _, paths, workspace = setup
    window = MainWindow(
        AppContext(paths=paths, host=ollama_double.url),
        workspace,
        ConnectionMonitor(workspace.connection, None),
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
        await until(lambda: window.pane.title.text() == "formula")  # read on the reader thread
        assert window.pane.title.text() == "formula"

        def titles() -> list[str]:
            return [window.sidebar.list.item(i).text() for i in range(window.sidebar.list.count())]

        await until(lambda: any("formula" in t for t in titles()))
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


def test_the_answer_request_carries_the_offload_choice_and_the_model_chat_defaults(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: Setup,
    ollama_double: OllamaDouble,
) -> None:
    """What the model manager and the chat settings chose for a model applies to quick
    questions too: the quick chat is made and sent by the workspace like any other chat."""
    quick, db, _, workspace = setup
    model = "phi4-mini:latest"
    workspace.offload.set_model(model, ModelOffload(GpuLayers.SOME, count=12, main_gpu=0))
    workspace.offload.save()
    workspace.remember_model_defaults(model, ChatSettings(num_ctx=6144, temperature=0.25))

    async def scenario() -> None:
        quick.picker.select(model)
        ollama_double.script_reply("Four.")
        ask(qtbot, quick, "2+2?")
        await until(lambda: not quick.streaming)
        chat_id = quick.current_chat
        assert chat_id is not None
        chat = db.get_chat(chat_id)
        assert (chat.kind, chat.settings.num_ctx, chat.settings.temperature) == (
            QUICK_KIND,
            6144,
            0.25,
        )
        assert db.messages(chat_id)[-1].content == "Four."
        sent = ollama_double.requests_to("/api/chat")[-1].body
        assert sent["model"] == model
        options = sent["options"]
        assert options["num_gpu"] == 12
        assert options["main_gpu"] == 0
        assert options["num_ctx"] == 6144
        assert options["temperature"] == 0.25

    drive(qt_loop, scenario())


def test_after_a_host_switch_the_next_question_goes_to_the_new_host(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: Setup,
    ollama_double: OllamaDouble,
) -> None:
    """The quick prompt keeps no client: once the workspace talks to another server, its
    follow-up, its model list and its next quick chat all go there, with nothing to rewire."""
    quick, db, _, workspace = setup
    second = OllamaDouble().start()
    try:

        async def scenario() -> None:
            quick.picker.select("phi4-mini:latest")
            ollama_double.script_reply("Four.")
            ask(qtbot, quick, "2+2?")
            await until(lambda: not quick.streaming)
            assert len(ollama_double.requests_to("/api/chat")) == 1
            await workspace.use_client(OllamaClient(second.url, stall_seconds=30))

            second.script_reply("Eight.")
            ask(qtbot, quick, "and doubled?")
            await until(lambda: not quick.streaming)
            chat_id = quick.current_chat
            assert chat_id is not None
            assert [m.content for m in db.messages(chat_id)][-1] == "Eight."
            assert len(ollama_double.requests_to("/api/chat")) == 1  # nothing more to the first
            (request,) = second.requests_to("/api/chat")
            assert [m["content"] for m in request.body["messages"]] == [
                "2+2?",
                "Four.",
                "and doubled?",
            ]

            # Shown again: the models come from the new host, and a new chat is answered there.
            quick.hide_prompt()
            second.clear_requests()
            quick.show_prompt()
            await until(lambda: second.requests_to("/api/tags"))
            await until(lambda: len(quick.picker.models) >= 3)
            second.script_reply("Hello.")
            ask(qtbot, quick, "hi")
            await until(lambda: not quick.streaming)
            assert quick.current_chat not in (None, chat_id)
            assert len(second.requests_to("/api/chat")) == 1
            assert len(ollama_double.requests_to("/api/chat")) == 1

        drive(qt_loop, scenario())
    finally:
        second.stop()


def test_a_refused_question_comes_back_into_the_input_with_the_reason(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: Setup,
    ollama_double: OllamaDouble,
) -> None:
    """Too long for the model's (per-model default) context window: nothing is sent or stored,
    the question is back in the input and the notice area says why."""
    quick, db, _, workspace = setup
    model = "phi4-mini:latest"
    workspace.remember_model_defaults(model, ChatSettings(num_ctx=512))
    question = "word " * 2000

    async def scenario() -> None:
        quick.picker.select(model)
        ask(qtbot, quick, question)
        assert quick.input.text() == ""
        await until(lambda: not quick.streaming)
        assert quick.input.text() == question.strip()
        notice = quick.notice_area
        assert notice.isVisible() and "too long for the context window" in notice.text.text()
        assert notice.text.text().startswith("This message")
        assert quick.view.isHidden()  # nothing to show yet
        assert ollama_double.requests_to("/api/chat") == []
        chat_id = quick.current_chat
        assert chat_id is not None and db.messages(chat_id) == []
        # Shortened, the same quick chat takes it.
        ollama_double.script_reply("Short.")
        ask(qtbot, quick, "word")
        await until(lambda: not quick.streaming)
        assert [m.content for m in db.messages(chat_id)] == ["word", "Short."]
        assert quick.view.isVisible()
        assert ollama_double.requests_to("/api/chat")[-1].body["options"]["num_ctx"] == 512

    drive(qt_loop, scenario())


def test_a_compact_bar_that_grows_with_the_answer_and_follows_the_dark_theme(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    setup: Setup,
    ollama_double: OllamaDouble,
) -> None:
    from PySide6.QtWidgets import QApplication

    from app.gui.theme import apply_theme

    quick, _db, _paths, _workspace = setup
    app = QApplication.instance()
    assert isinstance(app, QApplication)

    async def scenario() -> None:
        compact = quick.height()
        assert compact <= 160, compact  # the input and the model row, no empty slab
        assert not quick.view.isVisible()

        apply_theme(app, "dark")  # as the main window does when the theme is chosen
        await until(lambda: quick.view.effective_theme() == "dark")
        dark = await js(quick, "document.documentElement.classList.contains('theme-dark')")
        assert dark is True
        window = quick.palette().color(quick.backgroundRole())
        assert window.lightness() < 128

        quick.picker.select("phi4-mini:latest")
        ollama_double.script_reply(
            "\n\n".join(f"Paragraph {n} of a long answer." for n in range(30))
        )
        ask(qtbot, quick, "a long answer please")
        await until(lambda: not quick.streaming)
        await until(lambda: quick.height() > compact + 150)
        screen = quick.screen().availableGeometry().height()
        assert quick.height() <= screen

        quick.hide_prompt()
        quick.show_prompt()  # a new question starts compact again
        assert quick.height() == compact

    try:
        drive(qt_loop, scenario())
    finally:
        apply_theme(app, "light")
