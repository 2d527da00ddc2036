"""The compare view in the real main window (Chat > Compare…) against the Ollama double over a
real socket, each model streaming at its own pace: answers stream into columns, figures under
them with the fastest marked, Stop stops every target, a failing target shows its sentence while
the others finish, Continue as a chat opens the answer in the main window, Pick this one sets
the preference."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.gui.compare_column import CompareColumn
from app.gui.compare_window import PARALLEL, CompareWindow
from app.gui.main_window import MainWindow
from app.store import Database
from tests.gui.test_chat_window import close, make_window
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, run_js, until

pytestmark = pytest.mark.web

PROMPT = "What is $e^{i\\pi}$?"
ANSWERS = (
    "Euler: $$e^{i\\pi} + 1 = 0$$ so it is $-1$.",
    "It is $-1$, since $e^{i\\theta} = \\cos\\theta + i\\sin\\theta$.",
    "With $\\theta = \\pi$: $$e^{i\\pi} = -1$$",
)


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


async def open_compare(window: MainWindow, targets: list[str]) -> CompareWindow:
    window.compare_action.trigger()
    compare = window._compare
    assert isinstance(compare, CompareWindow) and compare.isVisible()
    compare.count.setValue(len(targets))
    await until(lambda: all(len(c.picker.models) >= 3 for c in compare.active))
    for index, model in enumerate(targets):
        compare.choose(index, model)
    await until(lambda: all(c.view.loaded for c in compare.active))
    compare.prompt.setPlainText(PROMPT)
    return compare


def text(column: CompareColumn, key: str) -> str:
    return column.values[key].text()


async def katex_in(column: CompareColumn) -> Any:
    return await run_js(column.view, "document.querySelectorAll('.katex').length")


def test_three_targets_one_after_another_with_figures_pick_and_continue(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app
    ollama_double.set_token_delay("phi4", 0.05)
    ollama_double.set_token_delay("phi4-mini", 0.0)
    ollama_double.set_token_delay("phi4-mini-reasoning", 0.02)
    for answer in ANSWERS:
        ollama_double.script_reply(answer)

    async def scenario() -> None:
        models = ["phi4:latest", "phi4-mini:latest", "phi4-mini-reasoning:latest"]
        compare = await open_compare(window, models)
        assert compare.warm_up.isChecked() and compare.order.currentText() != PARALLEL
        qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
        first, second, third = compare.active
        # One after another: while the first streams, the others wait.
        await until(lambda: first.content)
        assert second.answer_id is None and third.answer_id is None
        assert compare.stop_button.isEnabled() and not compare.run_button.isEnabled()
        await until(lambda: not compare.is_running and compare.run_button.isEnabled(), 60)
        for column in compare.active:
            assert column.result is not None and column.result.status == "complete"
            for key in ("ttft", "load", "prompt", "gen", "gpu", "memory", "context", "tokens"):
                assert text(column, key) != "—", key
            assert text(column, "gpu") == "100 % GPU"
            assert not column.status.isVisible()
        sent = [r.body for r in ollama_double.requests_to("/api/chat") if r.body.get("messages")]
        assert [b["model"] for b in sent] == models
        assert second.marks.isVisible() and "Fastest" in second.marks.text()
        assert not first.marks.text().count("Fastest") and "Fastest" not in third.marks.text()
        await asyncio.sleep(0.3)
        for column in compare.active:
            assert await katex_in(column) >= 1
        # Pick this one: the variant of its family for new chats.
        qtbot.mouseClick(second.pick_button, Qt.MouseButton.LeftButton)
        assert window.workspace.prefs.compare_picks.get("phi4-mini") == "phi4-mini:latest"
        assert "phi4-mini:latest" in compare.message.text()
        # Continue as a chat: the answer opens as a normal chat in the main window.
        assert await window.workspace.list_chats() == []
        assert first.result is not None and first.result.chat_id is not None
        chat_id = first.result.chat_id
        qtbot.mouseClick(first.continue_button, Qt.MouseButton.LeftButton)
        await until(lambda: window.pane.current_chat == chat_id)
        assert [c.id for c in await window.workspace.list_chats()] == [chat_id]
        shown: list[Any] = []

        async def articles() -> Any:
            shown.append(
                await run_js(window.pane.view, "document.querySelectorAll('article').length")
            )
            return shown[-1]

        for _ in range(100):
            if await articles() == 2:
                break
            await asyncio.sleep(0.05)
        assert shown[-1] == 2
        assert [m.content for m in db.messages(chat_id)] == [PROMPT, ANSWERS[0]]

    drive(qt_loop, scenario())


def test_stop_stops_every_target_and_keeps_what_arrived(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = app
    for model in ("phi4", "phi4-mini", "phi4-mini-reasoning"):
        ollama_double.set_token_delay(model, 0.1)
        ollama_double.script_reply("A long answer, word by word. " * 40)

    async def scenario() -> None:
        compare = await open_compare(
            window, ["phi4:latest", "phi4-mini:latest", "phi4-mini-reasoning:latest"]
        )
        compare.order.setCurrentText(PARALLEL)
        compare.warm_up.setChecked(False)
        qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
        await until(lambda: all(c.content for c in compare.active), 30)
        qtbot.mouseClick(compare.stop_button, Qt.MouseButton.LeftButton)
        await until(lambda: not compare.is_running and compare.run_button.isEnabled(), 30)
        for column in compare.active:
            assert column.result is not None and column.result.status == "stopped"
            assert column.status.text() == "Stopped; what arrived is kept."
            assert column.continue_button.isEnabled() and not column.pick_button.isEnabled()
            assert column.result.chat_id is not None
            answer = db.messages(column.result.chat_id)[-1]
            assert answer.status == "stopped" and answer.content

    drive(qt_loop, scenario())


def test_a_failing_target_shows_its_sentence_while_the_others_finish(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, _db = app

    async def scenario() -> None:
        compare = await open_compare(
            window, ["phi4-mini:latest", "no-such-model:latest", "phi4:latest"]
        )
        qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
        await until(lambda: not compare.is_running and compare.run_button.isEnabled(), 60)
        ok, failed, other = compare.active
        assert failed.result is not None and failed.result.status == "failed"
        shown = failed.status.text()
        assert failed.status.isVisible() and "no-such-model" in shown
        assert shown.endswith(".") and "\n" not in shown
        assert text(failed, "gen") == "—" and not failed.pick_button.isEnabled()
        for column in (ok, other):
            assert column.result is not None and column.result.status == "complete"
            assert text(column, "gen") != "—" and not column.status.isVisible()
        assert not compare.message.isVisible()

    drive(qt_loop, scenario())
