"""A comparison's files in the real main window, against the Ollama double over a real socket:
its row menu saves it as one Markdown file through the real save dialog (figures table and
every answer), and Import… given a comparison export made in another data folder adds the
comparison with its chats as one row and opens it in the compare view; a comparison export
chosen together with chats is refused with one sentence, and nothing is imported."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit

from app.backend.client import OllamaClient
from app.chat.compare_figures import CompareSettings, Target
from app.config import Paths
from app.gui.compare_window import CompareWindow
from app.gui.main_window import MainWindow
from app.store import Database
from app.workspace import Level, Notice, Workspace
from tests.gui.test_compare_sidebar import app, comparison_rows  # noqa: F401  (the window)
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web

PROMPT = "Which identity did Euler find for $e^{i\\pi}$?"
ANSWERS = ("Euler: $$e^{i\\pi} + 1 = 0$$", "It is $e^{i\\pi} = -1$.")
MODELS = ("phi4:latest", "phi4-mini:latest")


async def compare_in(workspace: Workspace, double: OllamaDouble) -> int:
    for answer in ANSWERS:
        double.script_reply(answer)
    running = await workspace.start_comparison(
        PROMPT, [Target(m) for m in MODELS], CompareSettings(warm_up=False)
    )
    results = await running.wait()
    assert [r.status for r in results] == ["complete", "complete"]
    return running.comparison.id


def said(window: MainWindow) -> list[Notice]:
    heard: list[Notice] = []
    window.workspace.notices.subscribe(heard.append)
    return heard


def answer_save_dialog(path: Path) -> None:
    """Once the save dialog is up, type `path` into it and accept, as a user would."""

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(20, answer)
            return
        name = dialog.findChild(QLineEdit, "fileNameEdit")  # Qt's own dialog: type the path
        assert isinstance(name, QLineEdit)
        name.setText(str(path))
        dialog.accept()

    QTimer.singleShot(20, answer)


def test_a_comparison_is_exported_from_its_row_menu_through_the_save_dialog(
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],  # noqa: F811
    ollama_double: OllamaDouble,
    tmp_path: Path,
) -> None:
    window, _ = app
    heard = said(window)
    target = tmp_path / "euler.md"

    async def scenario() -> None:
        await compare_in(window.workspace, ollama_double)
        window.refresh_chats()
        await until(lambda: len(comparison_rows(window.sidebar)) == 1)
        menu = window.sidebar.row_menu(comparison_rows(window.sidebar)[0])
        texts = [a.text() for a in menu.actions() if not a.isSeparator()]
        assert texts == ["Open", "Export as Markdown…", "Delete"]
        answer_save_dialog(target)
        next(a for a in menu.actions() if a.text() == "Export as Markdown…").trigger()
        try:
            await until(lambda: any(n.text.startswith("Exported the") for n in heard))
        finally:
            if isinstance(left := QApplication.activeModalWidget(), QFileDialog):
                left.reject()  # a failure here must not leave the window in a modal loop
        assert [n.level for n in heard if n.text.startswith("Exported the")] == [Level.SUCCESS]
        text = target.read_text(encoding="utf-8")
        assert text.startswith("---\nphidesk_export: 2\ncomparison: true\n")
        assert "| target | TTFT |" in text
        for answer in ANSWERS:
            assert answer in text
        assert f"Exported the comparison to {target}." in [n.text for n in heard]

    drive(qt_loop, scenario())


def test_import_adds_a_comparison_export_as_one_row_and_opens_it(
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],  # noqa: F811
    ollama_double: OllamaDouble,
    tmp_path: Path,
) -> None:
    window, _ = app
    heard = said(window)
    exported = tmp_path / "from elsewhere.md"

    async def scenario() -> None:
        # Made in another data folder, as on another computer.
        elsewhere = Workspace.open(
            Paths.resolve(tmp_path / "elsewhere").ensure(), OllamaClient(ollama_double.url)
        )
        elsewhere.gpus_for_comparisons = list
        try:
            made = await compare_in(elsewhere, ollama_double)
            await elsewhere.export_comparison(made, exported)
        finally:
            await elsewhere.aclose()
        assert comparison_rows(window.sidebar) == []

        # Chosen together with a chat export: refused, nothing imported.
        chat = tmp_path / "chat.md"
        groceries = await window.workspace.new_chat("phi4:latest", title="Groceries")
        chat.write_text(await window.workspace.chat_markdown(groceries.id), encoding="utf-8")
        before = len(await window.workspace.list_chats())
        await window.import_from([exported, chat])
        assert heard[-1].level is Level.ERROR
        assert heard[-1].text == "Import comparison exports on their own, not together with chats."
        assert await window.workspace.list_comparisons() == []
        assert len(await window.workspace.list_chats()) == before

        await window.import_from([exported])
        listed = await window.workspace.list_comparisons()
        assert len(listed) == 1
        assert heard[-1].level is Level.SUCCESS
        assert heard[-1].text == f"Imported the comparison “{listed[0].title}”."
        await until(lambda: len(comparison_rows(window.sidebar)) == 1)
        compare = window._compare
        assert isinstance(compare, CompareWindow)
        await until(lambda: compare.isVisible() and compare.shown_comparison == listed[0].id)
        await until(lambda: all(c.result is not None for c in compare.active))
        assert [c.result.answer for c in compare.active if c.result] == list(ANSWERS)
        compare.close()

    drive(qt_loop, scenario(), 120)
