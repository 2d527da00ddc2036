"""Every transcript (the chat's, the quick prompt's, a comparison's columns) uses one
off-the-record web profile, so Chromium can serve them all from one renderer process; each page
still loads the transcript with KaTeX and its bridge."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
import shiboken6
from pytestqt.qtbot import QtBot

from app.gui.transcript import TranscriptMessage, TranscriptView
from app.render import render_markdown

pytestmark = pytest.mark.web

LOAD_MS = 30_000


def js(qtbot: QtBot, view: TranscriptView, expression: str) -> Any:
    box: list[Any] = []
    view.page().runJavaScript(f"JSON.stringify({expression})", 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=LOAD_MS)
    return None if box[0] in (None, "") else json.loads(box[0])


def typeset_once(qtbot: QtBot, view: TranscriptView) -> bool:
    return bool(js(qtbot, view, "document.querySelectorAll('.katex').length") == 1)


def test_every_transcript_shares_one_off_the_record_profile_and_each_still_works(
    qtbot: QtBot,
) -> None:
    views = [TranscriptView() for _ in range(3)]
    try:
        for number, view in enumerate(views):
            view.show()
            qtbot.waitUntil(partial(getattr, view, "loaded"), timeout=LOAD_MS)
            text = f"Answer {number}: $x^{number + 2}$"
            view.set_messages(
                [TranscriptMessage("a", "assistant", render_markdown(text), None, {})]
            )
        profiles = {shiboken6.getCppPointer(v.page().profile())[0] for v in views}
        assert len(profiles) == 1
        assert views[0].page().profile().isOffTheRecord()
        for view in views:
            qtbot.waitUntil(partial(typeset_once, qtbot, view), timeout=LOAD_MS)
            assert js(qtbot, view, "phidesk.state().bridge")
    finally:
        for view in views:
            view.close()
            view.deleteLater()
        qtbot.wait(50)
