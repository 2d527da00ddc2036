"""How the chat window's transcript looks and behaves, in the real window against the Ollama
double: your messages as bubbles, answers headed by the model's friendly name, message actions
reachable by keyboard and by a context menu, the composer that grows, the jump to your message
on send, the "new text" pill, notice callouts with their actions, and starter prompts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.store import Database
from tests.gui.test_chat_window import choose, close, js, make_window, settled, type_and_send
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web

Window = tuple[MainWindow, Database]


@pytest.fixture
def app(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[Window]:
    window, db, client = make_window(qtbot, ollama_double.url)

    async def ready() -> None:
        await until(lambda: window.monitor.state.value == "connected")
        await until(lambda: len(window.pane.picker.models) >= 3)
        await until(lambda: window.pane.view.loaded)

    drive(qt_loop, ready())
    yield window, db
    close(qt_loop, window, client, db)


async def js_json(window: MainWindow, expression: str) -> Any:
    raw = await js(window, f"JSON.stringify({expression})")
    return None if raw in (None, "") else json.loads(raw)


async def eventually(window: MainWindow, expression: str, seconds: float = 10) -> Any:
    """The value of `expression` once it is truthy."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await js_json(window, expression)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never true: {expression}")
        await asyncio.sleep(0.05)


def page_widget(window: MainWindow) -> QWidget:
    proxy = window.pane.view.focusProxy()
    return proxy if proxy is not None else window.pane.view


async def one_turn(qtbot: QtBot, window: MainWindow, double: OllamaDouble, q: str, a: str) -> None:
    double.script_reply(a)
    type_and_send(qtbot, window, q)
    await settled(window)


def test_your_messages_are_bubbles_and_answers_carry_the_models_friendly_name(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, app: Window, ollama_double: OllamaDouble
) -> None:
    window, _db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        await one_turn(qtbot, window, ollama_double, "hi there", "Hello! How can I help?")
        look = await eventually(
            window,
            "(() => { const u = document.querySelector('article.user .body');"
            " const a = document.querySelector('article.assistant');"
            " const t = document.getElementById('transcript').getBoundingClientRect();"
            " if (!u || !a || !a.querySelector('.role')) return null;"
            " const r = u.getBoundingClientRect();"
            " return {left: r.left - t.left, right: t.right - r.right, width: t.width,"
            " bg: getComputedStyle(u).backgroundColor,"
            " name: a.querySelector('.role').textContent,"
            " detail: (a.querySelector('.detail') || {}).textContent,"
            " label: a.getAttribute('aria-label')}; })()",
        )
        assert look["right"] < 4, "your message sits at the right edge of the column"
        assert look["left"] > look["width"] * 0.3, "a short message is a bubble, not a full row"
        assert look["bg"] not in ("rgba(0, 0, 0, 0)", "transparent")
        assert look["name"] == "Phi-4 mini"
        assert look["detail"] == "phi4-mini:latest"
        assert "Phi-4 mini" in look["label"]

    drive(qt_loop, scenario())


def test_tab_reaches_every_action_of_every_message_and_each_is_named(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, app: Window, ollama_double: OllamaDouble
) -> None:
    window, _db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        await one_turn(qtbot, window, ollama_double, "first", "One answer.")
        await eventually(window, "document.querySelectorAll('article.message .role').length == 2")
        await js(window, "document.querySelector('article.message').focus()")
        window.pane.view.setFocus()
        seen: list[dict[str, str]] = []
        for _ in range(14):
            qtbot.keyClick(page_widget(window), Qt.Key.Key_Tab)
            await asyncio.sleep(0.05)
            focused = await js_json(
                window,
                "(() => { const e = document.activeElement; const a = e.closest('article');"
                " return {action: e.dataset.action || e.tagName, name: e.getAttribute('aria-label')"
                " || '', role: a ? a.className : '', shown: getComputedStyle(e).opacity}; })()",
            )
            seen.append(focused)
        user = [f["action"] for f in seen if "user" in f["role"] and f["action"] != "ARTICLE"]
        answer = [
            f["action"] for f in seen if "assistant" in f["role"] and f["action"] != "ARTICLE"
        ]
        assert user[:3] == ["copy-markdown", "edit", "delete"]
        assert answer[:4] == ["copy-markdown", "regenerate", "info", "delete"]
        for f in seen:
            if f["action"] != "ARTICLE" and f["role"]:
                assert f["name"], f"{f['action']} has no accessible name"
                assert float(f["shown"]) == 1.0, f"{f['action']} is invisible while focused"

    drive(qt_loop, scenario())


def test_menu_key_opens_a_context_menu_of_the_messages_actions(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, app: Window, ollama_double: OllamaDouble
) -> None:
    window, _db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        await one_turn(qtbot, window, ollama_double, "first", "One answer.")
        await eventually(window, "!!document.querySelector('article.assistant .role')")
        await js(window, "document.querySelector('article.assistant').focus()")
        window.pane.view.setFocus()
        qtbot.keyClick(page_widget(window), Qt.Key.Key_Menu)
        items = await eventually(
            window,
            "(() => { const m = document.querySelector('[role=menu]');"
            " if (!m || m.hidden) return null;"
            " return Array.from(m.querySelectorAll('[role=menuitem]'), i => i.textContent); })()",
        )
        assert items[:4] == ["Copy as Markdown", "Regenerate", "Info", "Delete"] or (
            "Delete" in items and "Regenerate" in items
        )
        focused = await js(window, "document.activeElement.getAttribute('role')")
        assert focused == "menuitem"
        qtbot.keyClick(page_widget(window), Qt.Key.Key_Escape)
        await eventually(
            window,
            "(() => { const m = document.querySelector('[role=menu]'); return !m || m.hidden; })()",
        )
        back = await js(window, "document.activeElement.className")
        assert "assistant" in back

    drive(qt_loop, scenario())


def test_composer_grows_with_its_text_and_stops_at_forty_percent(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, app: Window
) -> None:
    window, _db = app

    async def scenario() -> None:
        composer = window.pane.composer
        window.resize(1000, 800)
        await asyncio.sleep(0.1)
        empty = composer.height()
        composer.set_draft("one\ntwo\nthree\nfour")
        await asyncio.sleep(0.1)
        four = composer.height()
        assert four > empty
        composer.set_draft("\n".join(f"line {n}" for n in range(200)))
        await asyncio.sleep(0.1)
        assert four < composer.height() <= 0.4 * window.height() + 1
        composer.set_draft("")
        await asyncio.sleep(0.1)
        assert composer.height() == empty
        assert composer.send_button.accessibleName() == "Send message"
        assert composer.send_button.toolTip() == "Send (Enter)"

    drive(qt_loop, scenario())


def test_sending_while_scrolled_up_shows_your_message(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, app: Window, ollama_double: OllamaDouble
) -> None:
    window, _db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        long = "\n\n".join(f"Paragraph {n} of a long answer." for n in range(60))
        await one_turn(qtbot, window, ollama_double, "long please", long)
        await js(window, "document.scrollingElement.scrollTop = 0")
        await asyncio.sleep(0.1)
        await one_turn(qtbot, window, ollama_double, "and now this", "Short.")
        visible = await eventually(
            window,
            "(() => { const all = document.querySelectorAll('article.user');"
            " const u = all[all.length - 1]; if (!u || all.length < 2) return null;"
            " const r = u.getBoundingClientRect();"
            " return r.top >= 0 && r.bottom <= innerHeight ? 'yes' : null; })()",
        )
        assert visible == "yes"

    drive(qt_loop, scenario())


def test_new_text_pill_shows_while_streaming_scrolled_up_and_goes_at_the_bottom(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, app: Window, ollama_double: OllamaDouble
) -> None:
    window, _db = app

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        lines = "\n\n".join(f"Line {n} of many." for n in range(400))
        ollama_double.script_reply(lines, chunk_size=6)
        ollama_double.set_fault("slow", delay=0.02, path="/api/chat")
        type_and_send(qtbot, window, "talk a lot")
        await eventually(window, "document.scrollingElement.scrollHeight > innerHeight * 2")
        await js(window, "document.scrollingElement.scrollTop = 0")
        pill = await eventually(
            window,
            "(() => { const p = document.getElementById('new-text');"
            " return p && !p.hidden ? p.textContent.trim() : null; })()",
        )
        assert "new text" in pill.lower()
        await js(window, "document.getElementById('new-text').click()")
        await eventually(window, "document.getElementById('new-text').hidden")
        ollama_double.clear_faults()
        window.pane.stop()
        await settled(window)

    drive(qt_loop, scenario())


def test_a_stopped_answer_shows_a_callout_with_retry_and_continue(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, app: Window, ollama_double: OllamaDouble
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
        ollama_double.clear_faults()
        chat_id = window.pane.current_chat
        assert chat_id is not None
        answer = db.messages(chat_id)[-1]
        callout = await eventually(
            window,
            f'(() => {{ const c = document.querySelector(\'article[data-id="{answer.id}"]'
            " .callout'); if (!c) return null; return {text: c.textContent, role:"
            " c.getAttribute('role'), actions: Array.from(c.querySelectorAll('button'),"
            " b => b.dataset.action)}; })()",
        )
        assert "You stopped this answer" in callout["text"]
        assert callout["actions"] == ["continue", "retry"]
        ollama_double.script_reply("A fresh answer.")
        await js(
            window,
            f'document.querySelector(\'article[data-id="{answer.id}"] .callout'
            " button[data-action=retry]').click()",
        )
        await asyncio.sleep(0.1)
        await settled(window)
        newest = db.messages(chat_id)[-1]
        assert (newest.content, newest.status) == ("A fresh answer.", "complete")
        assert newest.id != answer.id

    drive(qt_loop, scenario())


def test_a_missing_model_offers_pull_model_and_refreshes_the_picker(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, app: Window, ollama_double: OllamaDouble
) -> None:
    window, db = app

    async def scenario() -> None:
        with ollama_double.lock:
            ollama_double.installed.pop("phi4-mini:latest")
        chat = db.create_chat(model="phi4-mini:latest")
        window.refresh_chats()
        window.open_chat(chat.id)
        await asyncio.sleep(0.2)
        tags_before = len(ollama_double.requests_to("/api/tags"))
        type_and_send(qtbot, window, "are you there")
        await until(lambda: window.notice_area.notice is not None)
        await settled(window)
        notice = window.notice_area.notice
        assert notice is not None
        assert "phi4-mini:latest" in notice.text
        assert "Phi4-mini" not in notice.text and "phidesk pull" not in notice.text
        assert [a.label for a in notice.actions] == ["Pull model"]
        await until(lambda: len(ollama_double.requests_to("/api/tags")) > tags_before)
        button = window.notice_area.findChild(QWidget, "NoticeAction-pull-model")
        assert button is not None
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        await until(lambda: getattr(window, "_manager", None) is not None)
        manager = window._manager
        await until(lambda: manager.isVisible())
        card = manager.catalog_tab.cards["phi4-mini"]
        assert "phi4-mini:latest" in card.variant.names
        assert manager.tabs.currentWidget() is manager.catalog_tab
        await until(lambda: card.pull_button.hasFocus())
        manager.close()

    drive(qt_loop, scenario())


def test_a_stopped_answer_keeps_highlighting_its_unclosed_code_block(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, app: Window
) -> None:
    window, db = app

    async def scenario() -> None:
        chat = db.create_chat(model="phi4-mini:latest")
        question = db.add_message(chat.id, "user", "code please")
        db.add_message(
            chat.id,
            "assistant",
            "Here:\n\n```python\ndef f(x):\n    return x",
            status="stopped",
            parent_id=question.id,
        )
        window.refresh_chats()
        window.open_chat(chat.id)
        spans = await eventually(
            window, "document.querySelectorAll('article.assistant pre code span').length"
        )
        assert spans > 3

    drive(qt_loop, scenario())


def test_starter_prompts_suit_the_model_and_fill_the_composer(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, app: Window
) -> None:
    window, _db = app

    async def scenario() -> None:
        window.open_chat(None)
        picker = window.pane.picker
        await asyncio.sleep(0.2)
        picker.setCurrentIndex(picker.findData("phi4-mini-reasoning:latest"))  # as a user picks
        starters = await eventually(
            window,
            "(() => { const s = document.querySelectorAll('#starters button:not([hidden])');"
            " return s.length ? Array.from(s, b => b.dataset.prompt) : null; })()",
        )
        assert any("prove" in s.lower() or "solve" in s.lower() for s in starters)
        await js(window, "document.querySelector('#starters button').click()")
        await until(lambda: window.pane.composer.draft() == starters[0])

    drive(qt_loop, scenario())
