"""The answer's first token goes to the page as it is heard, not at the next frame of the view's
patch timer (the real window against the Ollama double)."""

from __future__ import annotations

import asyncio

import pytest
from pytestqt.qtbot import QtBot

from app.backend.events import ContentDelta
from app.chat.session import TurnStarted
from app.gui.main_window import MainWindow
from app.store import Database
from app.workspace import RunningTurn
from app.workspace.turns import TurnEvent
from tests.gui.test_chat_window import app, choose, js, settled, type_and_send
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web
__all__ = ["app"]  # the window fixture


def test_the_first_token_is_patched_into_the_page_when_it_is_heard(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
) -> None:
    window, _db = app
    view = window.pane.view
    presenter = window.pane.presenter
    # Patches before the presenter hears the first token, and after it did (with whether
    # its renderer still holds text for a later frame).
    before: list[int] = []
    after: list[tuple[int, bool]] = []

    def first_token(turn: RunningTurn, event: TurnEvent, into: list[int]) -> None:
        if isinstance(event, ContentDelta) and len(turn.content) == 1:
            into.append(view.patch_count)

    def heard(turn: RunningTurn, event: TurnEvent) -> None:
        if isinstance(event, ContentDelta) and len(turn.content) == 1:
            renderer = presenter.renderer
            after.append((view.patch_count, renderer is not None and renderer.pending))

    def started(_event: TurnStarted) -> None:
        turn = presenter.turn
        assert turn is not None
        turn.listeners.insert(0, lambda t, e: first_token(t, e, before))
        turn.listen(heard)

    presenter.started.connect(started)

    async def scenario() -> None:
        choose(window, "phi4-mini:latest")
        ollama_double.script_reply("Zebras first, then the rest of the answer.", chunk_size=7)
        type_and_send(qtbot, window, "which animal comes first?")
        await settled(window)
        await until(lambda: bool(after))
        assert len(before) == 1
        assert after == [(before[0] + 1, False)]
        shown = await js(window, "document.querySelector('article.assistant').textContent")
        assert "Zebras first, then the rest of the answer." in shown

    drive(qt_loop, scenario())
