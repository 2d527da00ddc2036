"""Engines in the window, over real sockets (the Ollama double and the OpenAI-compatible double):
File > Engines… adds and tests an engine, the model picker has a section per engine, a remote
model's answer streams into the transcript, removing the engine leaves its chat read-only with
"choose another engine", and the model manager lists remote models read-only."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from app.backend.client import OllamaClient
from app.config import AppContext, Paths
from app.gui.connection import ConnectionMonitor
from app.gui.engines_dialog import EnginesDialog
from app.gui.main_window import MainWindow
from app.gui.models_picker import CHIPS, ENGINE, ROW
from app.workspace import Workspace
from tests.ollama_double.server import OllamaDouble
from tests.openai_double.server import OpenAIDouble
from tests.qt_async import drive, run_js, until

pytestmark = pytest.mark.web

PHI = "microsoft/phi-4"


@pytest.fixture
def workspace(ollama_double: OllamaDouble) -> Workspace:
    paths = Paths.resolve().ensure()
    return Workspace.open(paths, OllamaClient(ollama_double.url, stall_seconds=30))


def open_window(workspace: Workspace, host: str) -> MainWindow:
    ctx = AppContext(paths=workspace.paths, host=host)
    window = MainWindow(ctx, workspace, ConnectionMonitor(workspace.connection, None))
    window.show()
    window.monitor.check_now()
    return window


def close_window(loop: asyncio.AbstractEventLoop, window: MainWindow) -> None:
    window.close()

    async def finish() -> None:
        await window.aclose()
        await window.workspace.close_engines()
        await window.workspace.aclose()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        await asyncio.sleep(0.05)

    drive(loop, finish())


def rows(window: MainWindow) -> list[tuple[str, str]]:
    picker = window.pane.picker
    return [(str(picker.itemData(i, ROW)), picker.itemText(i)) for i in range(picker.count())]


def choose_remote(window: MainWindow, engine: str, model: str) -> None:
    """As a user choosing that row of the open picker."""
    picker = window.pane.picker
    for index in range(picker.count()):
        if picker.itemData(index, ENGINE) == engine and picker.itemData(index) == model:
            picker.setCurrentIndex(index)
            return
    raise AssertionError(f"{model} on {engine} is not in the picker: {rows(window)}")


def answer_question(dialog: EnginesDialog, button_text: str) -> None:
    box = dialog.question
    assert isinstance(box, QMessageBox)
    chosen = next(b for b in box.buttons() if b.text().replace("&", "") == button_text)
    chosen.click()


def test_add_an_engine_from_a_preset_and_test_it(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    workspace: Workspace,
    openai_double: OpenAIDouble,
) -> None:
    dialog = EnginesDialog(workspace)
    qtbot.addWidget(dialog)
    dialog.show()

    async def scenario() -> None:
        assert [dialog.list.item(i).text().split(" — ")[0] for i in range(dialog.list.count())] == [
            "ollama"
        ]
        assert not dialog.remove_button.isEnabled()  # the default engine stays
        dialog.add_button.click()
        dialog.preset.setCurrentIndex(dialog.preset.findData("vllm"))
        assert dialog.url.text() == "http://HOST:8000/v1"
        assert dialog.name.text() == "vllm"
        assert dialog.key.echoMode() is dialog.key.EchoMode.Password
        save = dialog.form_buttons.button(dialog.form_buttons.StandardButton.Save)
        save.click()  # HOST is still in the URL
        assert dialog.status.text() == (
            "Replace HOST or RESOURCE in the URL with the server's address."
        )
        dialog.name.setText("lab")
        dialog.url.setText(openai_double.url)
        dialog.headers.setPlainText("X-Team: blue")
        save.click()
        await until(lambda: "Connected" in dialog.status.text())
        assert dialog.status.text() == "Engine lab: Connected: 5 models, 3 of the Phi-4 family."
        assert [p.name for p in workspace.engine_profiles()] == ["ollama", "lab"]
        assert openai_double.requests_to("/v1/models")[-1].headers["x-team"] == "blue"
        assert dialog.form_box.isHidden()
        # Test again from the list; then a server that went away is one sentence.
        dialog.test_button.click()
        await until(lambda: dialog.status.text().startswith("Engine lab: Connected"))
        openai_double.set_fault("unauthorized")
        dialog.test_button.click()
        await until(lambda: "Testing" not in dialog.status.text())
        status = dialog.status.text()
        assert status.startswith("Engine lab: ") and "Connected" not in status
        assert status.count(". ") == 0 and status.endswith(".")
        await workspace.aclose()

    drive(qt_loop, scenario())


@pytest.mark.keyring_real
def test_a_key_over_plain_http_to_another_machine_needs_consent(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    secret_service: str,
    workspace: Workspace,
) -> None:
    dialog = EnginesDialog(workspace)
    qtbot.addWidget(dialog)
    dialog.show()

    async def scenario() -> None:
        dialog.add_button.click()
        dialog.name.setText("far")
        dialog.url.setText("http://192.0.2.10:8000/v1")
        dialog.key.setText("sk-secret-far")
        save = dialog.form_buttons.button(dialog.form_buttons.StandardButton.Save)
        save.click()
        await until(lambda: dialog.question is not None)
        assert dialog.question is not None
        assert "plain http://" in dialog.question.text()
        answer_question(dialog, "Cancel")
        await until(lambda: dialog.status.text().startswith("Not saved"))
        assert [p.name for p in workspace.engine_profiles()] == ["ollama"]
        save.click()
        await until(lambda: dialog.question is not None)
        answer_question(dialog, "Send it over http")
        await until(lambda: any(p.name == "far" for p in workspace.engine_profiles()))
        profile = workspace.engine_profile("far")
        assert profile.has_key and profile.insecure_confirmed
        await until(
            lambda: "Testing" not in dialog.status.text() and "Added" not in dialog.status.text(),
            40,
        )
        await workspace.aclose()

    drive(qt_loop, scenario())


def test_a_remote_model_answers_in_the_window_and_removal_makes_the_chat_read_only(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    workspace: Workspace,
    ollama_double: OllamaDouble,
    openai_double: OpenAIDouble,
) -> None:
    workspace.add_engine("lab", openai_double.url)
    window = open_window(workspace, ollama_double.url)
    openai_double.script_reply("Remote says $x^2$ hello.")

    async def scenario() -> None:
        await until(lambda: window.pane.picker.engines() == ["ollama", "lab"])
        await until(lambda: window.pane.view.loaded)
        headings = [text for row, text in rows(window) if row == "engine"]
        assert headings == ["This computer · Ollama", "lab · OpenAI-compatible"]
        labels = [text for row, text in rows(window) if row == "model"]
        assert labels[-3:] == ["Phi-4", "Phi-4 mini", "Phi-4 reasoning plus"]  # Phi-4 family only
        picker = window.pane.picker
        remote = [i for i in range(picker.count()) if picker.itemData(i, ENGINE) == "lab"]
        assert picker.itemData(remote[0], CHIPS) == ("16K context",)
        assert picker.itemData(remote[0], Qt.ItemDataRole.ToolTipRole).startswith(PHI)
        choose_remote(window, "lab", PHI)
        assert window.pane.picker.current_engine() == "lab"
        window.pane.composer.edit.setPlainText("Say hello")
        qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Return)
        await until(lambda: window.pane.current_chat is not None)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        await until(lambda: bool(workspace.db.messages(chat_id)) and not window.pane.live)
        sent = openai_double.requests_to("/v1/chat/completions")
        assert sent and sent[-1].body["model"] == PHI
        chat = await workspace.chat(chat_id)
        assert chat.engine == "lab" and chat.model == PHI
        assert workspace.db.messages(chat_id)[-1].content == "Remote says $x^2$ hello."
        script = "document.querySelector('article.message:last-of-type').textContent"
        await until(lambda: window.pane.view.patch_count > 0)
        text = ""
        for _ in range(100):
            text = await run_js(window.pane.view, script)
            if "Remote says" in text:
                break
            await asyncio.sleep(0.05)
        assert "Remote says" in text and "hello" in text

        # Remove the engine in the dialog: the chat stays, read-only, saying what to do.
        window.engines_action.trigger()
        dialog = window._engines
        dialog.list.setCurrentRow(1)
        dialog.remove_button.click()
        await until(lambda: dialog.question is not None)
        answer_question(dialog, "Remove")
        await until(lambda: window.pane.picker.engines() == ["ollama"])
        await until(lambda: bool(window.pane.picker.missing))
        composer = window.pane.composer
        sentence = "This chat's engine lab was removed; choose another engine in the model picker."
        assert window.pane.picker.missing == sentence
        assert composer.edit.isReadOnly() and composer.edit.placeholderText() == sentence
        assert not composer.send_button.isEnabled()
        assert "(removed engine)" in window.pane.picker.currentText()

        # Choosing a model of another engine moves the chat there and lifts the lock.
        choose_remote(window, "ollama", "phi4-mini:latest")
        await until(lambda: not composer.edit.isReadOnly())
        assert composer.send_button.isEnabled() and window.pane.picker.missing == ""
        await until(lambda: workspace.db.get_chat(chat_id).engine == "ollama")
        dialog.close()

    try:
        drive(qt_loop, scenario())
    finally:
        close_window(qt_loop, window)


def test_the_model_manager_lists_remote_models_read_only(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    workspace: Workspace,
    openai_double: OpenAIDouble,
) -> None:
    from app.gui.model_manager import ModelManagerWindow

    workspace.add_engine("lab", openai_double.url)
    manager = ModelManagerWindow(workspace, gpus=[])
    qtbot.addWidget(manager)
    tab = manager.remote_tab

    async def scenario() -> None:
        await until(lambda: tab.tree.topLevelItemCount() == 1)
        top = tab.tree.topLevelItem(0)
        assert top is not None
        await until(lambda: top.childCount() > 0)
        assert top.text(0) == "lab · OpenAI-compatible"
        ids = [child.text(2) for i in range(top.childCount()) if (child := top.child(i))]
        assert ids == [
            "microsoft/phi-4",
            "microsoft/Phi-4-mini-instruct",
            "microsoft/Phi-4-reasoning-plus",
        ]
        first = top.child(0)
        assert first is not None and first.text(1) == "16,384 tokens"
        assert not tab.findChildren(QPushButton)  # nothing to pull, delete or place
        tab.show_all.setChecked(True)
        await until(lambda: (t := tab.tree.topLevelItem(0)) is not None and t.childCount() == 5)
        await manager.aclose()
        await workspace.close_engines()
        await workspace.aclose()

    drive(qt_loop, scenario())
