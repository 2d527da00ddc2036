"""A dialog asked for inside a running task (the export's save dialog, the rename prompt) must
not stop the app's other tasks: while it is open, another task's awaits still complete (an
answer streaming in the background keeps streaming), and the dialog's answer still arrives.
A dialog run with exec() inside a task step runs the loop's callbacks re-entrantly, asyncio
refuses to enter another task then, and that task never wakes again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QInputDialog, QLineEdit
from pytestqt.qtbot import QtBot

from app.gui.export_dialog import ask_export_target
from app.gui.main_window import MainWindow
from app.store import Database
from tests.gui.test_chat_window import app  # noqa: F401  (the window against the double)
from tests.qt_async import drive, until


def when_modal(answer: Callable[[QDialog], None]) -> None:
    """Once a dialog is up, hand it to `answer`, as a user would."""

    def look() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QDialog) and dialog.isVisible():
            answer(dialog)
        else:
            QTimer.singleShot(20, look)

    QTimer.singleShot(20, look)


async def ticks_while(opened: Callable[[], bool], *, count: int = 5) -> int:
    """Other work: count short sleeps that complete while `opened()` holds."""
    seen = 0
    while seen < count:
        await asyncio.sleep(0.01)
        if opened():
            seen += 1
    return seen


def dialog_open() -> bool:
    return isinstance(QApplication.activeModalWidget(), QDialog)


def close_dialogs_after(seconds: float) -> None:
    """A guard made of Qt alone: a dialog still up after `seconds` is cancelled, so a loop
    stuck inside it (as with exec() in a task) ends and the test fails instead of hanging."""

    def close() -> None:
        if isinstance(dialog := QApplication.activeModalWidget(), QDialog):
            dialog.reject()

    QTimer.singleShot(int(seconds * 1000), close)


def test_other_tasks_run_while_the_save_dialog_is_open(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    target = tmp_path / "chat.md"
    answered = asyncio.Event()

    def fill(dialog: QDialog) -> None:
        answered.set()

    async def scenario() -> None:
        close_dialogs_after(8)
        asking = asyncio.ensure_future(
            ask_export_target(None, "Export chat", target, "Markdown (*.md)", offer_branches=False)
        )
        when_modal(fill)
        await until(answered.is_set)
        other = asyncio.ensure_future(ticks_while(dialog_open))
        done, _ = await asyncio.wait([other], timeout=10)
        assert other in done, "another task stopped while the save dialog was open"
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QFileDialog)
        name = dialog.findChild(QLineEdit, "fileNameEdit")
        assert isinstance(name, QLineEdit)
        name.setText(str(target))
        dialog.accept()
        assert await asyncio.wait_for(asking, 10) == (target, False)

    drive(qt_loop, scenario())


def test_other_tasks_run_while_the_rename_prompt_is_open(
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],  # noqa: F811
) -> None:
    window, _ = app

    async def scenario() -> None:
        chat = await window.workspace.new_chat("phi4-mini:latest", title="Groceries")
        close_dialogs_after(8)
        window.rename_chat(chat.id)
        await until(lambda: isinstance(QApplication.activeModalWidget(), QInputDialog))
        other = asyncio.ensure_future(ticks_while(dialog_open))
        done, _ = await asyncio.wait([other], timeout=10)
        prompt = QApplication.activeModalWidget()
        assert isinstance(prompt, QInputDialog)
        prompt.setTextValue("Shopping list")
        prompt.accept()
        assert other in done, "another task stopped while the rename prompt was open"
        await until(
            lambda: (
                (row := window.sidebar.item_for(chat.id)) is not None
                and row.text() == "Shopping list"
            )
        )
        assert (await window.workspace.chat(chat.id)).title == "Shopping list"

    drive(qt_loop, scenario())
