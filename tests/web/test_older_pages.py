"""Older pages of a long chat: the page typesets the math of the messages near what the user
looks at, not every formula of a page of older messages at once (KaTeX takes about a
millisecond a formula, and a page of 60 answers holds hundreds), and what the user looks at
stays in place while older messages and their math arrive above it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.gui.transcript import TranscriptMessage, TranscriptView
from tests.web.test_transcript import LOAD_MS, js, make_view, message, wait_typeset

pytestmark = pytest.mark.web


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[TranscriptView]:
    made = make_view(qtbot)
    yield made
    made.close()
    made.deleteLater()
    qtbot.wait(50)


def answer(n: int) -> TranscriptMessage:
    formulas = " ".join(f"${n}x^{{{k}}} + y_{{{n}}}$ then" for k in range(12))
    return message(f"m{n}", f"Answer {n}: {formulas} done.\n\n$$\n\\frac{{{n}}}{{z}}\n$$")


def typeset_in(qtbot: QtBot, view: TranscriptView, mid: str) -> int:
    found: int = js(
        qtbot, view, f"document.querySelectorAll('article[data-id=\"{mid}\"] .math.typeset').length"
    )
    return found


def top_of(qtbot: QtBot, view: TranscriptView, mid: str) -> float:
    found: float = js(
        qtbot,
        view,
        f"document.querySelector('article[data-id=\"{mid}\"]').getBoundingClientRect().top",
    )
    return found


def test_an_older_page_typesets_only_the_math_near_the_viewport(
    qtbot: QtBot, view: TranscriptView
) -> None:
    view.set_messages([answer(n) for n in range(100, 104)])
    wait_typeset(qtbot, view)
    anchor = top_of(qtbot, view, "m100")
    view.prepend_messages([answer(n) for n in range(40, 100)])
    # The message just above what was shown is typeset soon ...
    qtbot.waitUntil(lambda: typeset_in(qtbot, view, "m99") == 13, timeout=LOAD_MS)
    qtbot.wait(3000)
    # ... the oldest, many screens above, is not: nobody looks at it.
    assert typeset_in(qtbot, view, "m40") == 0
    # What the user looked at did not move.
    assert abs(top_of(qtbot, view, "m100") - anchor) < 2
    # Scrolled to, it is typeset; everything shown is the full render's math.
    js(qtbot, view, "(document.scrollingElement.scrollTop = 0, 0)")
    qtbot.waitUntil(lambda: typeset_in(qtbot, view, "m40") == 13, timeout=LOAD_MS)
    assert js(
        qtbot, view, "document.querySelector('article[data-id=\"m40\"] .math').dataset.tex"
    ) == ("40x^{0} + y_{40}")
