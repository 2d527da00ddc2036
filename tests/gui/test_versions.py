"""Conversations as trees in the real main window (QtWebEngine and the Ollama double): every
message with versions shows `‹ n/m ›`, regenerate and edit add versions, switching (by mouse or
Alt+Left/Alt+Right) shows that branch, delete has an Undo, a cut-off answer can be continued,
and the meter and search hits follow the branch on show."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.store import Database
from tests.gui.test_chat_window import close, js, make_window, settled, type_and_send
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web


@pytest.fixture
def win(
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


def stored(window: MainWindow, count: int) -> bool:
    """Whether the chat on show holds `count` messages."""
    chat_id = window.pane.current_chat
    return chat_id is not None and len(window.workspace.db.messages(chat_id)) == count


async def chat_of_turns(qtbot: QtBot, window: MainWindow, double: OllamaDouble, turns: int) -> int:
    window.pane.picker.select("phi4-mini:latest")
    for i in range(1, turns + 1):
        double.script_reply(f"answer {i}")
        type_and_send(qtbot, window, f"question {i}")
        await settled(window)
        # Under load the turn may not have begun 50 ms after the send: wait for its answer.
        await until(partial(stored, window, 2 * i))
        await until(lambda: not window.pane.composer.streaming and not window.pane.live)
    chat_id = window.pane.current_chat
    assert chat_id is not None
    return chat_id


SHOWN = (
    "JSON.stringify(Array.from(document.querySelectorAll('article.message'),"
    " a => a.querySelector('.body').textContent.trim()))"
)


async def shown(window: MainWindow) -> list[str]:
    return list(json.loads(await js(window, SHOWN)))


async def shown_becomes(window: MainWindow, expected: list[str]) -> None:
    last: list[str] = []
    for _ in range(200):
        last = await shown(window)
        if last == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the transcript shows {last}, not {expected}")


async def switcher(window: MainWindow, message_id: int) -> dict[str, Any] | None:
    """What the `‹ n/m ›` of a message says (None when it has none)."""
    script = (
        f'(() => {{ const v = document.querySelector(\'article[data-id="{message_id}"]'
        " .versions'); if (!v) return null; const c = v.querySelector('.count');"
        " return JSON.stringify({text: c.textContent, label: c.getAttribute('aria-label'),"
        " buttons: Array.from(v.querySelectorAll('button'), b =>"
        " [b.getAttribute('aria-label'), b.disabled])}); })()"
    )
    value = await js(window, script)
    return dict(json.loads(value)) if value else None


async def click(window: MainWindow, message_id: int, selector: str) -> None:
    await js(
        window,
        f"document.querySelector('article[data-id=\"{message_id}\"] {selector}').click()",
    )


def test_regenerating_the_first_answer_adds_a_version_and_keeps_the_later_turns(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = win

    async def scenario() -> None:
        chat_id = await chat_of_turns(qtbot, window, ollama_double, 3)
        first_answer = db.messages(chat_id)[1]
        await shown_becomes(
            window, [t for i in (1, 2, 3) for t in (f"question {i}", f"answer {i}")]
        )
        ollama_double.script_reply("answer 1, again")
        await click(window, first_answer.id, "button[data-action=regenerate]")
        await settled(window)
        await shown_becomes(window, ["question 1", "answer 1, again"])
        new = db.messages(chat_id)[-1]
        assert new.id != first_answer.id and new.parent_id == first_answer.parent_id
        await until(lambda: window.pane.composer.send_button.text() == "Send")
        state = None
        for _ in range(100):
            state = await switcher(window, new.id)
            if state is not None:
                break
            await asyncio.sleep(0.05)
        assert state == {
            "text": "2/2",
            "label": "Version 2 of 2",
            "buttons": [["Previous version", False], ["Next version", True]],
        }
        await click(window, new.id, "button[data-action=previous-version]")
        await shown_becomes(
            window, [t for i in (1, 2, 3) for t in (f"question {i}", f"answer {i}")]
        )
        assert [m.content for m in db.messages(chat_id)][-1] == "answer 3"
        assert (await switcher(window, first_answer.id) or {}).get("text") == "1/2"
        assert await switcher(window, db.messages(chat_id)[2].id) is None

    drive(qt_loop, scenario())


def test_editing_a_question_keeps_both_branches_reachable(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = win

    async def scenario() -> None:
        chat_id = await chat_of_turns(qtbot, window, ollama_double, 2)
        question = db.messages(chat_id)[0]
        window.pane.view.message_action.emit("edit", str(question.id))
        await until(lambda: window.pane.composer.draft() == "question 1")
        assert window.pane.edit_note.text() == (
            "Sending makes a new version of this message; the old one stays (Esc cancels)."
        )
        ollama_double.script_reply("a better answer")
        type_and_send(qtbot, window, "a better question")
        await settled(window)
        await shown_becomes(window, ["a better question", "a better answer"])
        edited = db.messages(chat_id)[0]
        for _ in range(100):
            if await switcher(window, edited.id):
                break
            await asyncio.sleep(0.05)
        assert (await switcher(window, edited.id) or {}).get("text") == "2/2"
        await click(window, edited.id, "button[data-action=previous-version]")
        await shown_becomes(window, ["question 1", "answer 1", "question 2", "answer 2"])
        await click(window, question.id, "button[data-action=next-version]")
        await shown_becomes(window, ["a better question", "a better answer"])

    drive(qt_loop, scenario())


def test_regenerate_action_makes_a_version_of_the_last_answer(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = win

    async def scenario() -> None:
        chat_id = await chat_of_turns(qtbot, window, ollama_double, 2)
        last = db.messages(chat_id)[-1]
        ollama_double.script_reply("answer 2, again")
        window.regenerate_action.trigger()
        await settled(window)
        await shown_becomes(window, ["question 1", "answer 1", "question 2", "answer 2, again"])
        versions = await window.workspace.versions(chat_id)
        assert versions[last.id].count == 2

    drive(qt_loop, scenario())


def test_alt_left_and_alt_right_switch_the_focused_messages_version(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = win

    async def scenario() -> None:
        chat_id = await chat_of_turns(qtbot, window, ollama_double, 1)
        old = db.messages(chat_id)[-1]
        ollama_double.script_reply("second take")
        window.regenerate_action.trigger()
        await settled(window)
        await shown_becomes(window, ["question 1", "second take"])
        new = db.messages(chat_id)[-1]
        await until(lambda: window.pane.composer.send_button.text() == "Send")
        for _ in range(100):
            if await switcher(window, new.id):
                break
            await asyncio.sleep(0.05)
        target = window.pane.view.focusProxy() or window.pane.view
        target.setFocus()
        await js(window, f"document.querySelector('article[data-id=\"{new.id}\"]').focus()")
        qtbot.keyClick(target, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
        await shown_becomes(window, ["question 1", "answer 1"])
        focused = await js(window, "document.activeElement.closest('article')?.dataset.id")
        assert focused == str(old.id)
        announced = ""
        for _ in range(100):  # said a moment after the switch, for screen readers to notice
            announced = await js(window, "document.getElementById('announce').textContent")
            if announced:
                break
            await asyncio.sleep(0.05)
        assert announced == "Version 1 of 2"
        qtbot.keyClick(target, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
        await shown_becomes(window, ["question 1", "second take"])
        tabindex = await js(
            window, f"document.querySelector('article[data-id=\"{new.id}\"]').tabIndex"
        )
        assert tabindex == 0

    drive(qt_loop, scenario())


def test_delete_hides_the_message_and_what_follows_with_an_undo(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = win

    async def scenario() -> None:
        chat_id = await chat_of_turns(qtbot, window, ollama_double, 2)
        first_answer = db.messages(chat_id)[1]
        await click(window, first_answer.id, "button[data-action=delete]")
        await shown_becomes(window, ["question 1"])
        assert [m.content for m in db.messages(chat_id)] == ["question 1"]
        await until(lambda: "Deleted" in window.notice_text())
        assert window.notice_text() == "Deleted the message and the 2 after it."
        undo = window.notice_area.findChild(QPushButton, "NoticeAction-undo-delete-message")
        assert undo is not None and undo.text() == "Undo"
        qtbot.mouseClick(undo, Qt.MouseButton.LeftButton)
        await shown_becomes(window, ["question 1", "answer 1", "question 2", "answer 2"])
        assert len(db.messages(chat_id)) == 4

    drive(qt_loop, scenario())


def test_the_meter_follows_a_version_switch(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = win

    def measured(message_id: int) -> int:
        stats = db.get_message(message_id).stats
        assert stats is not None
        return (stats.prompt_eval_count or 0) + (stats.eval_count or 0)

    async def scenario() -> None:
        chat_id = await chat_of_turns(qtbot, window, ollama_double, 2)
        long_branch_end = db.messages(chat_id)[-1]
        first_answer = db.messages(chat_id)[1]
        ollama_double.script_reply("short")
        await click(window, first_answer.id, "button[data-action=regenerate]")
        await settled(window)
        await shown_becomes(window, ["question 1", "short"])
        short_end = db.messages(chat_id)[-1]
        assert measured(short_end.id) != measured(long_branch_end.id)
        await until(lambda: window.pane.composer.meter.used == measured(short_end.id))
        await click(window, short_end.id, "button[data-action=previous-version]")
        await shown_becomes(window, ["question 1", "answer 1", "question 2", "answer 2"])
        await until(lambda: window.pane.composer.meter.used == measured(long_branch_end.id))

    drive(qt_loop, scenario())


def test_a_search_hit_on_another_branch_opens_that_branch(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = win

    async def scenario() -> None:
        window.pane.picker.select("phi4-mini:latest")
        ollama_double.script_reply("answer 1")
        type_and_send(qtbot, window, "question 1")
        await settled(window)
        ollama_double.script_reply("zebras are striped")
        type_and_send(qtbot, window, "question 2")
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        first_answer = db.messages(chat_id)[1]
        ollama_double.script_reply("answer 1, again")
        await click(window, first_answer.id, "button[data-action=regenerate]")
        await settled(window)
        await shown_becomes(window, ["question 1", "answer 1, again"])
        window.new_chat()
        window.sidebar.search.setText("zebras")
        await until(lambda: window.sidebar.searching and window.sidebar.list.count() == 1)
        window.sidebar.list.setCurrentRow(0)
        await until(lambda: window.pane.current_chat == chat_id)
        await shown_becomes(window, ["question 1", "answer 1", "question 2", "zebras are striped"])

    drive(qt_loop, scenario())


def test_continue_appends_to_a_stopped_answer(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, db = win

    async def scenario() -> None:
        window.pane.picker.select("phi4-mini:latest")
        ollama_double.script_reply("word " * 300, chunk_size=5)
        ollama_double.set_fault("slow", delay=0.03, path="/api/chat", times=1)
        type_and_send(qtbot, window, "talk")
        await until(lambda: any(live.content for live in window.pane.live.values()))
        qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Escape)
        await settled(window)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        answer = db.messages(chat_id)[-1]
        assert answer.status == "stopped"
        kept = answer.content
        button = f'article[data-id="{answer.id}"] button[data-action=continue]'
        for _ in range(100):
            if await js(window, f"!!document.querySelector('{button}')"):
                break
            await asyncio.sleep(0.05)
        ollama_double.script_reply(" and the rest.")
        await click(window, answer.id, "button[data-action=continue]")
        await settled(window)
        after = db.get_message(answer.id)
        assert (after.content, after.status) == (kept + " and the rest.", "complete")
        assert len(db.messages(chat_id)) == 2
        await shown_becomes(window, ["talk", (kept + " and the rest.").strip()])

    drive(qt_loop, scenario())


def test_copy_chat_as_markdown_follows_the_branch_on_show(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    win: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    from PySide6.QtGui import QGuiApplication

    window, db = win

    async def scenario() -> None:
        chat_id = await chat_of_turns(qtbot, window, ollama_double, 2)
        first_answer = db.messages(chat_id)[1]
        ollama_double.script_reply("a fresh take")
        await click(window, first_answer.id, "button[data-action=regenerate]")
        await settled(window)
        await shown_becomes(window, ["question 1", "a fresh take"])
        window.copy_chat_action.trigger()
        await until(lambda: "a fresh take" in QGuiApplication.clipboard().text())
        assert "answer 2" not in QGuiApplication.clipboard().text()
        new = db.messages(chat_id)[-1]
        await click(window, new.id, "button[data-action=previous-version]")
        await shown_becomes(window, ["question 1", "answer 1", "question 2", "answer 2"])
        window.copy_chat_action.trigger()
        await until(lambda: "answer 2" in QGuiApplication.clipboard().text())
        assert "a fresh take" not in QGuiApplication.clipboard().text()

    drive(qt_loop, scenario())
