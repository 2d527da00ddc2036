"""A stored comparison in the real main window's chat list, against the Ollama double over a real
socket: one row among the chats (its targets' chats hidden), opened in the compare view filled
with the stored answers and figures, found by search, deleted from its row menu with Undo."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidgetItem
from pytestqt.qtbot import QtBot

from app.chat.compare_figures import CompareSettings, Target
from app.gui.compare_window import CompareWindow
from app.gui.main_window import MainWindow
from app.gui.sidebar import ChatSidebar
from app.gui.sidebar_rows import CHAT_ID, COMPARISON_ID, SUBTITLE
from app.store import Database
from app.store.comparisons import Comparison
from tests.gui.test_chat_window import close, make_window
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, run_js, until

pytestmark = pytest.mark.web

PROMPT = "Which identity did Euler find for $e^{i\\pi}$?"
ANSWERS = ("Euler: $$e^{i\\pi} + 1 = 0$$", "It is $e^{i\\pi} = -1$.")
MODELS = ("phi4:latest", "phi4-mini:latest")


@pytest.fixture
def app(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[tuple[MainWindow, Database]]:
    window, db, client = make_window(qtbot, ollama_double.url)
    window.workspace.gpus_for_comparisons = list

    async def ready() -> None:
        await until(lambda: window.monitor.state.value == "connected")
        await until(lambda: len(window.pane.picker.models) >= 3)
        await until(lambda: window.pane.view.loaded)

    drive(qt_loop, ready())
    yield window, db
    close(qt_loop, window, client, db)


async def stored_comparison(window: MainWindow, ollama_double: OllamaDouble) -> Comparison:
    for answer in ANSWERS:
        ollama_double.script_reply(answer)
    ws = window.workspace
    running = await ws.start_comparison(
        PROMPT, [Target(m) for m in MODELS], CompareSettings(warm_up=False)
    )
    results = await running.wait()
    assert [r.status for r in results] == ["complete", "complete"]
    return await ws.comparison(running.comparison.id)


def comparison_rows(sidebar: ChatSidebar) -> list[QListWidgetItem]:
    items = [sidebar.list.item(row) for row in range(sidebar.list.count())]
    return [i for i in items if isinstance(i.data(COMPARISON_ID), int)]


def chat_rows(sidebar: ChatSidebar) -> list[int]:
    items = [sidebar.list.item(row) for row in range(sidebar.list.count())]
    return [i.data(CHAT_ID) for i in items if isinstance(i.data(CHAT_ID), int)]


def test_a_comparison_is_one_row_opened_filled_found_by_search_and_deleted_with_undo(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app
    sidebar = window.sidebar

    async def scenario() -> None:
        ws = window.workspace
        other = await ws.new_chat("phi4:latest", title="Groceries")
        comparison = await stored_comparison(window, ollama_double)
        hidden = [t.chat_id for t in comparison.targets]
        window.refresh_chats()
        await until(lambda: len(comparison_rows(sidebar)) == 1)
        # One row, among the chats, under its date section; its targets' chats stay hidden.
        row = comparison_rows(sidebar)[0]
        assert row.data(COMPARISON_ID) == comparison.id
        assert row.text() == comparison.title
        assert all(m in str(row.data(SUBTITLE)) for m in MODELS)
        assert chat_rows(sidebar) == [other.id]
        assert not set(hidden) & set(chat_rows(sidebar))
        assert sidebar.list.row(row) == 0  # the newest activity first, in "Today"
        assert "comparison" in str(row.data(Qt.ItemDataRole.AccessibleTextRole))

        # Opening it: the compare view filled with the stored comparison.
        sidebar.list.setCurrentItem(row)
        await until(lambda: isinstance(getattr(window, "_compare", None), CompareWindow))
        compare = window._compare
        assert isinstance(compare, CompareWindow)
        await until(lambda: compare.isVisible() and compare.shown_comparison == comparison.id)
        assert compare.prompt.toPlainText() == PROMPT
        assert len(compare.active) == 2
        await until(lambda: all(c.result is not None for c in compare.active))
        for column, model, answer in zip(compare.active, MODELS, ANSWERS, strict=True):
            assert column.picker.current_model() == model
            assert column.result is not None and column.result.status == "complete"
            assert column.result.answer == answer
            assert column.values["gen"].text() != "—"
            assert column.values["tokens"].text() != "—"
            assert column.pick_button.isEnabled() and column.continue_button.isEnabled()
        assert any(c.marks.isVisible() for c in compare.active)
        await until(lambda: all(c.view.loaded for c in compare.active))
        for column in compare.active:
            for _ in range(100):
                if await run_js(column.view, "document.querySelectorAll('.katex').length"):
                    break
                await asyncio.sleep(0.05)
            assert await run_js(column.view, "document.querySelectorAll('.katex').length")
        # Pick and Continue work on a stored comparison too.
        qtbot.mouseClick(compare.active[1].pick_button, Qt.MouseButton.LeftButton)
        assert ws.prefs.compare_picks.get("phi4-mini") == "phi4-mini:latest"
        qtbot.mouseClick(compare.active[0].continue_button, Qt.MouseButton.LeftButton)
        await until(lambda: window.pane.current_chat == hidden[0])
        await until(lambda: hidden[0] in chat_rows(sidebar))
        assert len(comparison_rows(sidebar)) == 1
        compare.close()

        # Search finds the comparison (by its prompt), one row, which opens it.
        sidebar.search.setText("identity")
        await until(lambda: sidebar.searching and len(comparison_rows(sidebar)) == 1)
        hit = comparison_rows(sidebar)[0]
        assert hit.data(COMPARISON_ID) == comparison.id
        compare.shown_comparison = None
        sidebar.list.setCurrentItem(hit)
        await until(lambda: compare.isVisible() and compare.shown_comparison == comparison.id)
        compare.close()
        sidebar.search.clear()
        await until(lambda: not sidebar.searching and len(comparison_rows(sidebar)) == 1)

        # Delete from its row menu, then Undo.
        menu = sidebar.row_menu(comparison_rows(sidebar)[0])
        texts = [a.text() for a in menu.actions() if a.text()]
        assert "Delete" in texts and "Rename…" not in texts
        next(a for a in menu.actions() if a.text() == "Delete").trigger()
        await until(lambda: not comparison_rows(sidebar))
        assert (await ws.list_comparisons(deleted=True))[0].id == comparison.id
        assert sidebar.undo_bar.isVisible() and comparison.title in sidebar.undo_label.full_text
        qtbot.mouseClick(sidebar.undo_button, Qt.MouseButton.LeftButton)
        await until(lambda: len(comparison_rows(sidebar)) == 1)
        assert [c.id for c in await ws.list_comparisons()] == [comparison.id]
        assert db.get_comparison(comparison.id).deleted_at is None

    drive(qt_loop, scenario())
