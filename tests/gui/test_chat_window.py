"""The real main window against the Ollama double: send, stream, stop, regenerate, edit, search,
switch chats mid-stream, a server that drops, a server that is down, the context meter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from pytestqt.qtbot import QtBot

from app.backend.client import OllamaClient
from app.config import AppContext, Paths
from app.gui.connection import ConnectionMonitor
from app.gui.main_window import MainWindow
from app.gui.sidebar_rows import HIGHLIGHTS, SNIPPET
from app.store import ChatSettings, Database
from app.workspace import Workspace
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, run_js, until

pytestmark = pytest.mark.web


async def js(window: MainWindow, script: str) -> Any:
    return await run_js(window.pane.view, script)


def make_window(qtbot: QtBot, host: str) -> tuple[MainWindow, Database, OllamaClient]:
    ctx = AppContext(paths=Paths.resolve().ensure(), host=host)
    client = OllamaClient(host, stall_seconds=30)
    workspace = Workspace.open(ctx.paths, client)
    window = MainWindow(ctx, workspace, ConnectionMonitor(workspace.connection, None))
    window.show()
    window.monitor.check_now()
    return window, workspace.db, client


@pytest.fixture
def app(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[tuple[MainWindow, Database]]:
    window, db, client = make_window(qtbot, ollama_double.url)

    async def ready() -> None:
        await until(lambda: window.monitor.state.value == "connected")
        await until(lambda: len(window.pane.picker.models) >= 3)
        await until(lambda: window.pane.view.loaded)

    drive(qt_loop, ready())
    yield window, db
    close(qt_loop, window, client, db)


def close(
    loop: asyncio.AbstractEventLoop, window: MainWindow, client: OllamaClient, db: Database
) -> None:
    """Close as the app does, and delete the web view inside the event loop (QtWebEngine
    complains at exit about a profile released before its page otherwise)."""
    window.close()

    async def finish() -> None:
        await window.aclose()
        await window.workspace.aclose()  # closes the connection's clients and the database
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        await asyncio.sleep(0.05)

    drive(loop, finish())
    db.close()


def choose(window: MainWindow, model: str) -> None:
    window.pane.picker.select(model)


def type_and_send(qtbot: QtBot, window: MainWindow, text: str) -> None:
    edit = window.pane.composer.edit
    edit.setPlainText(text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


async def settled(window: MainWindow) -> None:
    """Wait until a send just typed has started its turn (the chat may have to be created
    first) and every answer has ended."""

    def sending() -> bool:
        return any(task.get_name() == "send" for task in window.pane._tasks._tasks)

    await asyncio.sleep(0.05)
    await until(lambda: not sending() and not window.pane.live)


def test_send_streams_typesets_math_and_stores_the_turn(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("Here: $$x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}$$ done.")
        type_and_send(qtbot, window, "quadratic formula please")
        await until(lambda: window.pane.composer.streaming)
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        user, answer = db.messages(chat_id)
        assert user.content == "quadratic formula please"
        assert answer.status == "complete"
        assert window.pane.composer.draft() == ""
        await until(lambda: window.pane.view.patch_count > 0)
        count = await js(window, "document.querySelectorAll('article.message').length")
        assert count == 2
        await asyncio.sleep(0.3)
        katex = await js(window, "document.querySelectorAll('.katex').length")
        assert katex >= 1
        assert window.sidebar.list.count() == 1
        assert "quadratic formula please" in window.sidebar.list.item(0).text()

    drive(qt_loop, scenario())


def test_meter_shows_ollamas_own_count_after_a_turn(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("A short answer.")
        type_and_send(qtbot, window, "count me")
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        answer = db.messages(chat_id)[-1]
        assert answer.stats is not None
        expected = (answer.stats.prompt_eval_count or 0) + (answer.stats.eval_count or 0)
        await window.pane._update_context(chat_id)
        meter = window.pane.composer.meter
        assert meter.used == expected
        assert not meter.estimated
        assert meter.label.text().startswith(f"{expected:,} / ")
        assert "Counted by Ollama" in meter.toolTip()

    drive(qt_loop, scenario())


def test_escape_stops_the_answer_and_keeps_it_as_stopped(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("word " * 300, chunk_size=5)
        ollama_double.set_fault("slow", delay=0.03, path="/api/chat")
        type_and_send(qtbot, window, "talk")
        await until(lambda: any(live.content for live in window.pane.live.values()))
        qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Escape)
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        answer = db.messages(chat_id)[-1]
        assert answer.status == "stopped"
        assert 0 < len(answer.content) < len("word " * 300)
        assert window.pane.composer.send_button.text() == "Send"
        script = f"document.querySelector('article[data-id=\"{answer.id}\"] .caption').textContent"
        caption = ""
        for _ in range(100):  # the final caption comes once the stored answer is read back
            caption = await js(window, script)
            if "stopped" in caption:
                break
            await asyncio.sleep(0.05)
        assert "stopped" in caption

    drive(qt_loop, scenario())


def test_regenerate_and_edit_add_versions_and_keep_the_old_ones(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("first")
        type_and_send(qtbot, window, "question")
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        ollama_double.script_reply("second")
        window.regenerate_action.trigger()
        await settled(window)
        assert [m.content for m in db.messages(chat_id)] == ["question", "second"]
        assert sorted(m.content for m in db.all_messages(chat_id)) == [
            "first",
            "question",
            "second",
        ]
        user = db.messages(chat_id)[0]
        window.pane.view.message_action.emit("edit", str(user.id))
        await until(lambda: window.pane.composer.draft() == "question")
        assert window.pane.edit_note.isVisible()
        assert "new version" in window.pane.edit_note.text()
        ollama_double.script_reply("third")
        type_and_send(qtbot, window, "better question")
        await settled(window)
        assert [m.content for m in db.messages(chat_id)] == ["better question", "third"]
        assert len(db.all_messages(chat_id)) == 5
        script = "document.querySelectorAll('article.message').length"
        shown = 0
        for _ in range(100):
            shown = await js(window, script)
            if shown == 2:
                break
            await asyncio.sleep(0.05)
        assert shown == 2
        versions = await window.workspace.versions(chat_id)
        assert versions[db.messages(chat_id)[0].id].count == 2

    drive(qt_loop, scenario())


def test_search_box_finds_messages_with_highlighted_snippets(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, _db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("Eigenvalues are roots of the characteristic polynomial.")
        type_and_send(qtbot, window, "what are eigenvalues")
        await settled(window)
        qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
        assert window.sidebar.search.hasFocus() or window.sidebar.search.isVisible()
        window.sidebar.search.setText("polynomial")
        await until(lambda: window.sidebar.searching)
        item = window.sidebar.list.item(0)
        snippet, ((start, end), *_) = item.data(SNIPPET), item.data(HIGHLIGHTS)
        assert snippet[start:end] == "polynomial"
        window.sidebar.search.setText('C++ "AND*')
        await asyncio.sleep(0.3)
        assert window.sidebar.searching

    drive(qt_loop, scenario())


def test_switching_chats_while_one_streams_keeps_both(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("slow " * 100, chunk_size=5)
        ollama_double.set_fault("slow", delay=0.02, path="/api/chat", times=1)
        type_and_send(qtbot, window, "first chat")
        await until(lambda: any(live.content for live in window.pane.live.values()))
        first = window.pane.current_chat
        window.new_chat()
        ollama_double.script_reply("quick answer")
        type_and_send(qtbot, window, "second chat")
        await until(lambda: not window.pane.live, 40)
        second = window.pane.current_chat
        assert first is not None and second is not None and first != second
        assert db.messages(first)[-1].content == "slow " * 100
        assert db.messages(second)[-1].content == "quick answer"
        window.open_chat(first)
        await asyncio.sleep(0.3)
        text = await js(window, "document.querySelector('article.assistant .body').textContent")
        assert text.strip().startswith("slow slow")

    drive(qt_loop, scenario())


def test_server_dropping_mid_stream_keeps_the_partial_answer_marked(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("abcdefghijklmnop", chunk_size=2)
        ollama_double.set_fault("disconnect", after=3, path="/api/chat", times=1)
        type_and_send(qtbot, window, "go")
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        answer = db.messages(chat_id)[-1]
        assert (answer.status, answer.content) == ("interrupted", "abcdef")
        assert "dropped" in window.notice_text()
        notice = await js(window, "document.querySelector('article.assistant .notice').textContent")
        assert "interrupted" in notice

    drive(qt_loop, scenario())


def test_out_of_context_messages_are_marked_before_sending(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        chat = db.create_chat(model="phi4-mini:latest", settings=ChatSettings(num_ctx=700))
        window.refresh_chats()
        window.open_chat(chat.id)
        for i in range(3):
            ollama_double.script_reply(f"answer {i} " + "z" * 300)
            type_and_send(qtbot, window, f"question {i} " + "q" * 300)
            await settled(window)
        window.pane.composer.set_draft("one more question " + "w" * 300)
        await window.pane._update_context(chat.id)
        plan = window.pane._plan
        assert plan is not None and plan.excluded_ids
        await asyncio.sleep(0.2)
        marked = json.loads(
            await js(
                window,
                "JSON.stringify(Array.from(document.querySelectorAll('article.out-of-context'))"
                ".map(a => Number(a.dataset.id)))",
            )
        )
        assert sorted(marked) == sorted(plan.excluded_ids)
        assert window.pane.banner.isVisible()
        assert "more older message" in window.pane.banner.text.text()
        assert window.pane.banner.raise_button.text() == "Raise to 2,048 tokens"

    drive(qt_loop, scenario())


def test_server_down_at_start_shows_onboarding(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop
) -> None:
    window, db, client = make_window(qtbot, "http://127.0.0.1:9")

    async def scenario() -> None:
        await until(lambda: window.monitor.state.value == "unreachable")
        assert window.stack.currentWidget() is window.onboarding
        # The reason names the address nothing answers at.
        assert "127.0.0.1:9" in window.onboarding.reason.text()

    try:
        drive(qt_loop, scenario())
    finally:
        close(qt_loop, window, client, db)


def test_ctrl_m_opens_the_model_manager_with_speeds_measured_here(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("fast answer")
        type_and_send(qtbot, window, "hi")
        await settled(window)
        window.manager_action.trigger()
        manager = window._manager
        assert manager.isVisible()
        speed = db.measured_speed("phi4-mini:latest")
        assert speed is not None
        await until(lambda: manager.state.speeds.get("phi4-mini:latest") == speed)
        manager.close()

    drive(qt_loop, scenario())


def test_delete_button_removes_a_message_from_view_and_database(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("to be deleted")
        type_and_send(qtbot, window, "hello")
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        answer = db.messages(chat_id)[-1]
        await asyncio.sleep(0.2)
        # Click the page's own Delete button, as a user would.
        await js(
            window,
            f'document.querySelector(\'article[data-id="{answer.id}"] '
            "button[data-action=delete]').click()",
        )
        await until(lambda: len(db.messages(chat_id)) == 1)
        await asyncio.sleep(0.2)
        shown = await js(window, "document.querySelectorAll('article.message').length")
        assert shown == 1

    drive(qt_loop, scenario())


def test_switching_to_a_reachable_host_leaves_onboarding_and_is_remembered(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    from app.backend.hosts import HostProfiles
    from app.config import Settings

    ctx = AppContext(paths=Paths.resolve().ensure(), host="http://127.0.0.1:9")
    hosts = HostProfiles(ctx.paths, local_url=ctx.host)
    workspace = Workspace.open(ctx.paths, hosts.client_for_url(ctx.host))
    db = workspace.db
    window = MainWindow(ctx, workspace, ConnectionMonitor(workspace.connection, None), hosts)
    window.show()
    window.monitor.check_now()

    async def scenario() -> None:
        await until(lambda: window.monitor.state.value == "unreachable")
        assert window.stack.currentWidget() is window.onboarding
        profile, _ = hosts.add("Workstation", ollama_double.url)
        window.use_host(profile)
        await until(lambda: window.monitor.state.value == "connected")
        assert window.stack.currentWidget() is window.pane
        await until(lambda: bool(window.pane.picker.models))
        saved = Settings.load(ctx.paths.settings_file).extra["host_url"]
        assert saved == profile.url
        checked = [a.text() for a in window.host_actions.actions() if a.isChecked()]
        assert checked == [f"Workstation ({profile.url})"]

    try:
        drive(qt_loop, scenario())
    finally:
        close(qt_loop, window, window.client, db)


def test_copy_export_and_import_a_chat_as_markdown(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
    tmp_path: Path,
) -> None:
    from PySide6.QtGui import QGuiApplication

    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("The integral is $\\int_0^1 x\\,dx = \\tfrac12$.")
        type_and_send(qtbot, window, "integrate x")
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        qtbot.keyClick(
            window,
            Qt.Key.Key_C,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
        await until(lambda: "integrate x" in QGuiApplication.clipboard().text())
        copied = QGuiApplication.clipboard().text()
        assert "$\\int_0^1 x\\,dx = \\tfrac12$" in copied
        written = await window.export_to([chat_id], tmp_path / "chat.md")
        assert written == [tmp_path / "chat.md"]
        assert "$\\int_0^1 x\\,dx = \\tfrac12$" in written[0].read_text(encoding="utf-8")
        await window.import_from(written)
        chats = db.list_chats()
        assert len(chats) == 2
        assert window.pane.current_chat == max(c.id for c in chats)
        assert [m.content for m in db.messages(window.pane.current_chat)] == [
            m.content for m in db.messages(chat_id)
        ]
        await window.import_from([tmp_path / "missing.md"])
        assert window.notice_text()

    drive(qt_loop, scenario())


def test_a_refused_message_is_given_back_to_the_composer(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        chat = db.create_chat(model="phi4-mini:latest", settings=ChatSettings(num_ctx=600))
        window.refresh_chats()
        window.open_chat(chat.id)
        text = "far too long " * 400
        type_and_send(qtbot, window, text)
        assert window.pane.composer.draft() == ""  # taken at once
        await settled(window)
        assert window.pane.composer.draft() == text
        assert "too long" in window.notice_text()
        assert db.messages(chat.id) == []

    drive(qt_loop, scenario())


def test_an_exception_in_a_slot_is_one_sentence_in_the_window_and_a_traceback_in_the_log(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import errno

    from PySide6.QtWidgets import QPushButton

    from app.workspace.notices import install_exception_hooks

    window, _db = app
    log_file = window.ctx.paths.log_file
    hooks = install_exception_hooks(window.workspace.notices, log_file, qt_loop)
    button = QPushButton("Pin", window)

    def pin_on_a_full_disk() -> None:  # a slot that meets a full disk
        raise OSError(errno.ENOSPC, "No space left on device", "phidesk.sqlite3")

    button.clicked.connect(pin_on_a_full_disk)

    async def scenario() -> None:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        await until(lambda: bool(window.notice_text()))
        text = window.notice_text()
        assert text == (
            "A file operation failed: No space left on device (phidesk.sqlite3); "
            f"details are in {log_file}."
        )
        assert window.notice_area.isVisible()
        logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is OSError]
        assert logged and "pin_on_a_full_disk" in caplog.text

        async def task_that_fails() -> None:
            raise ValueError("boom")

        window.notice_area.dismiss()
        failing = asyncio.ensure_future(task_that_fails())
        await asyncio.sleep(0.05)
        del failing  # never awaited: the loop's handler reports it when it is collected
        import gc

        gc.collect()
        await until(lambda: "ValueError" in window.notice_text())

    try:
        drive(qt_loop, scenario())
    finally:
        hooks.uninstall()


def test_chat_settings_save_through_the_workspace_and_become_the_models_defaults(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
) -> None:
    window, db = app
    db.create_preset("Tutor", "You explain step by step.")
    chat = db.create_chat(model="phi4-mini:latest")
    window.refresh_chats()
    window.open_chat(chat.id)

    async def scenario() -> None:
        window.settings_action.trigger()
        await until(lambda: window.pane.settings_dialog is not None)
        dialog = window.pane.settings_dialog
        assert dialog is not None
        await until(lambda: dialog.isVisible() and dialog.presets.count() == 2)
        dialog.presets.setCurrentIndex(1)
        dialog.presets.activated.emit(1)  # what choosing it with the mouse or keys sends
        assert dialog.system.toPlainText() == "You explain step by step."
        dialog.num_ctx.setValue(4096)
        dialog._accept()
        await until(lambda: db.get_chat(chat.id).settings.num_ctx == 4096)
        assert db.get_chat(chat.id).system_prompt == "You explain step by step."
        await until(lambda: window.workspace.defaults_for("phi4-mini:latest").num_ctx == 4096)
        new = await window.workspace.new_chat("phi4-mini:latest")
        assert new.settings.num_ctx == 4096

    drive(qt_loop, scenario())


def test_a_chat_written_by_another_process_appears_in_the_open_window(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
) -> None:
    import subprocess
    import sys

    window, db = app
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app.store import Database\n"
        "with Database.open(Path(sys.argv[1])) as db:\n"
        "    chat = db.create_chat(title='Asked from a terminal', model='phi4-mini:latest')\n"
        "    db.add_message(chat.id, 'user', 'hello from phidesk ask')\n"
    )

    async def scenario() -> None:
        assert db.list_chats() == []
        await window.workspace.poll_external()  # the baseline, as the window's timer takes it
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script, str(window.workspace.db.path)],
            check=True,
            timeout=60,
        )
        await until(
            lambda: any(
                "Asked from a terminal" in window.sidebar.list.item(i).text()
                for i in range(window.sidebar.list.count())
            ),
            10,
        )

    drive(qt_loop, scenario())


def test_stop_while_the_server_is_asked_keeps_the_question_in_the_chat(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.set_fault("stall", seconds=4.0, path="/api/show")
        type_and_send(qtbot, window, "a question worth keeping")
        assert window.pane.composer.draft() == ""  # taken at once
        # The turn stored the question and waits for /api/show; the user presses Stop.
        await until(lambda: any(t.user_message_id for t in window.pane.live.values()))
        assert ollama_double.requests_to("/api/chat") == []
        qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Escape)
        await settled(window)
        ollama_double.clear_faults()
        chat_id = window.pane.current_chat
        assert chat_id is not None
        (question,) = db.messages(chat_id)
        assert (question.role, question.content) == ("user", "a question worth keeping")
        script = (
            "JSON.stringify(Array.from(document.querySelectorAll('article.message'), "
            "a => a.textContent))"
        )
        shown: list[str] = []
        for _ in range(100):  # the transcript is read back once the turn has ended
            shown = json.loads(await js(window, script))
            if shown:
                break
            await asyncio.sleep(0.05)
        assert len(shown) == 1 and "a question worth keeping" in shown[0]
        assert window.pane.composer.send_button.text() == "Send"

    drive(qt_loop, scenario())


def test_a_web_page_instead_of_the_model_details_still_gets_the_answer(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.set_fault("html", path="/api/show")
        ollama_double.script_reply("answered all the same")
        type_and_send(qtbot, window, "are you behind a portal?")
        await until(lambda: window.pane.composer.streaming)
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        assert [(m.role, m.content, m.status) for m in db.messages(chat_id)] == [
            ("user", "are you behind a portal?", "complete"),
            ("assistant", "answered all the same", "complete"),
        ]
        assert window.pane.composer.draft() == ""

    drive(qt_loop, scenario())


def test_an_answer_that_hears_nothing_gives_up_after_the_stall_timeout(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app

    async def scenario() -> None:
        window.workspace.settings.set(stall_timeout=2)  # the preference chats and pulls share
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("the start of it", chunk_size=4)
        ollama_double.set_fault("stall", after=1, seconds=60.0, path="/api/chat")
        type_and_send(qtbot, window, "and then?")
        await until(lambda: window.pane.composer.streaming)
        await until(lambda: "No tokens for" in window.notice_text())
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        answer = db.messages(chat_id)[-1]
        assert (answer.status, answer.content) == ("interrupted", "the ")
        assert "sent nothing for 2 s" in window.notice_text()
        assert window.pane.composer.send_button.text() == "Send"

    drive(qt_loop, scenario())
