"""Math in a streaming answer: the page typesets only what is new or changed in a patch, and a
patch that brings a lot of math at once is typeset over several frames, not in one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.gui.transcript import TranscriptMessage, TranscriptView
from app.render import StreamRenderer, StreamUpdate, render_markdown
from tests.web.test_transcript import LOAD_MS, js, make_view, state

pytestmark = pytest.mark.web


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[TranscriptView]:
    made = make_view(qtbot)
    yield made
    made.close()
    made.deleteLater()
    qtbot.wait(50)


def formulas(count: int) -> tuple[str, list[str]]:
    """One paragraph with `count` inline formulas, and their TeX in order."""
    tex = [f"x_{{{i}}}^2 + {i}" for i in range(count)]
    return " ".join(f"term ${t}$ and" for t in tex), tex


def patch_script(update: StreamUpdate, mid: str = "a") -> str:
    args = [mid, update.first_index, list(update.appended), [list(r) for r in update.revised]]
    return f"phidesk.patch({', '.join(json.dumps(a) for a in [*args, update.tail])});"


def run(qtbot: QtBot, view: TranscriptView, script: str) -> Any:
    box: list[Any] = []
    view.page().runJavaScript(f"JSON.stringify((() => {{ {script} }})())", 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=LOAD_MS)
    return None if box[0] in (None, "") else json.loads(box[0])


def start_answer(qtbot: QtBot, view: TranscriptView) -> None:
    view.set_messages([TranscriptMessage("q", "user", render_markdown("Go."), None, {})])
    view.append_message(TranscriptMessage("a", "assistant", "", None, {}))
    assert run(qtbot, view, "return phidesk.beginStream('a');") is True


def all_typeset(qtbot: QtBot, view: TranscriptView) -> Callable[[], bool]:
    def done() -> bool:
        s = state(qtbot, view)
        return bool(s["math"]) and s["typeset"] + s["raw"] == s["math"]

    return done


def shown_tex(qtbot: QtBot, view: TranscriptView) -> list[str]:
    found: list[str] = js(
        qtbot,
        view,
        "Array.from(document.querySelectorAll('article[data-id=\"a\"] .math.typeset'),"
        " (e) => e.dataset.tex)",
    )
    return found


def test_each_formula_of_a_streaming_paragraph_is_typeset_once(
    qtbot: QtBot, view: TranscriptView
) -> None:
    text, tex = formulas(400)
    start_answer(qtbot, view)
    renderer = StreamRenderer()
    before = state(qtbot, view)["renders"]
    for i in range(0, len(text), 40):
        view.page().runJavaScript(patch_script(renderer.feed(text[i : i + 40])), 0)
    run(qtbot, view, "return phidesk.endStream('a', null);")
    qtbot.waitUntil(all_typeset(qtbot, view), timeout=LOAD_MS)
    assert shown_tex(qtbot, view) == tex
    # A formula is typeset when it arrives and again only if the patch changed it (at most
    # the one cut by the end of a chunk); the whole growing paragraph is never typeset again.
    renders = state(qtbot, view)["renders"] - before
    assert len(tex) <= renders <= 2 * len(tex)
    full = render_markdown(text)
    assert renderer.html() == full


def test_a_patch_with_much_math_is_typeset_over_several_frames(
    qtbot: QtBot, view: TranscriptView
) -> None:
    text, tex = formulas(1500)
    start_answer(qtbot, view)
    update = StreamRenderer().feed(text)
    # Right after the patch, in the same task: only a first share is typeset, the rest is
    # left for the frames that follow (the page stays responsive meanwhile).
    right_after = run(qtbot, view, patch_script(update) + " return phidesk.state();")
    assert right_after["math"] == 1500
    assert 0 < right_after["typeset"] < 1500
    qtbot.waitUntil(all_typeset(qtbot, view), timeout=4 * LOAD_MS)
    assert shown_tex(qtbot, view) == tex


def test_a_changed_formula_is_typeset_again_and_the_rest_kept(
    qtbot: QtBot, view: TranscriptView
) -> None:
    start_answer(qtbot, view)
    renderer = StreamRenderer()
    run(qtbot, view, patch_script(renderer.feed("Let $a^2$ and $b")) + " return 0;")
    qtbot.waitUntil(all_typeset(qtbot, view), timeout=LOAD_MS)
    run(qtbot, view, "document.querySelector('.live .math').dataset.mark = 'kept'; return 0;")
    run(qtbot, view, patch_script(renderer.feed("^3$ then $c_1$.")) + " return 0;")
    qtbot.waitUntil(all_typeset(qtbot, view), timeout=LOAD_MS)
    assert shown_tex(qtbot, view) == ["a^2", "b^3", "c_1"]
    assert js(qtbot, view, "document.querySelector('.live .math').dataset.mark") == "kept"
    run(qtbot, view, "return phidesk.endStream('a', null);")
    body = js(qtbot, view, "document.querySelector('article[data-id=\"a\"] .body').innerText")
    assert body.startswith("Let ") and "then" in body


# The page's copy of the answer with what it added taken away (KaTeX output, copy buttons,
# its classes and attributes): to compare with the HTML app.render wrote.
NORMALISE = """
const strip = (root) => {
  for (const run of root.querySelectorAll('.run')) run.replaceWith(...run.childNodes);
  for (const b of root.querySelectorAll('button.copy-code')) b.remove();
  for (const el of root.querySelectorAll('.math')) {
    if (el.dataset.tex !== undefined) el.textContent = el.dataset.tex;
    el.classList.remove('typeset', 'raw', 'fits');
    el.removeAttribute('data-tex');
    el.removeAttribute('title');
  }
  for (const el of root.querySelectorAll('pre')) el.classList.remove('decorated');
  return root.innerHTML;
};
const shown = (body) => {
  const copy = body.cloneNode(true);
  const blocks = copy.querySelector(':scope > .blocks');
  const live = copy.querySelector(':scope > .live');
  if (!blocks) return strip(copy);
  return Array.from(blocks.children, (b) => strip(b)).join('') + strip(live);
};
const fresh = (html) => {
  const t = document.createElement('template');
  t.innerHTML = html;
  const box = document.createElement('div');
  box.appendChild(t.content);
  return strip(box);
};
"""


def same_as_full_render(qtbot: QtBot, view: TranscriptView, html: str) -> bool:
    script = (
        NORMALISE
        + "const body = document.querySelector('article[data-id=\"a\"] .body');"
        + f" return shown(body) === fresh({json.dumps(html)});"
    )
    return bool(run(qtbot, view, script))


def test_every_patch_shows_exactly_the_render_of_the_text_so_far(
    qtbot: QtBot, view: TranscriptView
) -> None:
    # Changes at the end, in the middle (a link closing over earlier text and math, emphasis
    # closing), a formula cut by a chunk, a second paragraph and a list after it.
    text = (
        "Let $a^2$ be [the square of $a$ here](https://example.org) and *so on $b_1$ "
        "until* the end $c^{3}$ of it, with `code $x$` and **bold $d$** then \\(e+f\\). "
        + " ".join(f"term ${t}$ and" for t in ("g", "h_2", "i^3", "j+k"))
        + "\n\nA second paragraph with $m$.\n\n- one $n$\n- two [link](https://x.org) $o$\n"
    )
    for size in (7, 13, 40):
        start_answer(qtbot, view)
        renderer = StreamRenderer()
        for i in range(0, len(text), size):
            run(qtbot, view, patch_script(renderer.feed(text[i : i + size])) + " return 0;")
            assert same_as_full_render(qtbot, view, renderer.html()), (size, i)
        qtbot.waitUntil(all_typeset(qtbot, view), timeout=LOAD_MS)
        assert same_as_full_render(qtbot, view, render_markdown(text))
        expected = ["a^2", "a", "b_1", "c^{3}", "d", "e+f", "g", "h_2", "i^3", "j+k", "m", "n", "o"]
        assert shown_tex(qtbot, view) == expected


def test_a_patch_that_only_appends_leaves_the_earlier_nodes_alone(
    qtbot: QtBot, view: TranscriptView
) -> None:
    text, tex = formulas(60)
    start_answer(qtbot, view)
    renderer = StreamRenderer()
    run(qtbot, view, patch_script(renderer.feed(text)) + " return 0;")
    qtbot.waitUntil(all_typeset(qtbot, view), timeout=LOAD_MS)
    run(
        qtbot,
        view,
        "window.earlier = Array.from(document.querySelector('.live p').childNodes);"
        " window.earlier.forEach((n, i) => (n.seen = i)); return 0;",
    )
    run(qtbot, view, patch_script(renderer.feed(" more $z^2$ words")) + " return 0;")
    qtbot.waitUntil(all_typeset(qtbot, view), timeout=LOAD_MS)
    # Every node before the last text node is the same node, still typeset; the text the
    # patch went on from is the only one changed, and the new formula is typeset.
    kept = run(
        qtbot,
        view,
        "const now = Array.from(document.querySelector('.live p').childNodes);"
        " return window.earlier.slice(0, -1).every((n, i) => now[i] === n && n.seen === i);",
    )
    assert kept is True
    assert shown_tex(qtbot, view) == [*tex, "z^2"]
    assert same_as_full_render(qtbot, view, renderer.html())


def test_inline_math_streaming_is_laid_out_apart_until_the_answer_ends(
    qtbot: QtBot, view: TranscriptView
) -> None:
    text, _ = formulas(5)
    start_answer(qtbot, view)
    renderer = StreamRenderer()
    run(qtbot, view, patch_script(renderer.feed(text)) + " return 0;")
    qtbot.waitUntil(all_typeset(qtbot, view), timeout=LOAD_MS)
    display = (
        "Array.from(document.querySelectorAll('article[data-id=\"a\"] .math'),"
        " (e) => getComputedStyle(e).display)"
    )
    assert set(js(qtbot, view, display)) == {"inline-block"}
    run(qtbot, view, "return phidesk.endStream('a', null);")
    # The finished answer flows as usual: a formula may break across lines again.
    assert set(js(qtbot, view, display)) == {"inline"}


def test_a_long_live_paragraph_is_laid_out_in_runs_until_the_answer_ends(
    qtbot: QtBot, view: TranscriptView
) -> None:
    text, tex = formulas(1200)
    start_answer(qtbot, view)
    renderer = StreamRenderer()
    before = state(qtbot, view)["renders"]
    for i in range(0, len(text), 320):
        view.page().runJavaScript(patch_script(renderer.feed(text[i : i + 320])), 0)
    qtbot.waitUntil(all_typeset(qtbot, view), timeout=4 * LOAD_MS)
    runs = "document.querySelectorAll('article[data-id=\"a\"] .live p > .run').length"
    assert js(qtbot, view, runs) > 0
    # A run out of sight is not rendered while the answer streams (it keeps its last size).
    skipped = "getComputedStyle(document.querySelector('.live .run')).contentVisibility"
    assert js(qtbot, view, skipped) == "auto"
    assert same_as_full_render(qtbot, view, renderer.html())
    run(qtbot, view, "return phidesk.endStream('a', null);")
    assert js(qtbot, view, runs) == 0
    # Without its runs the paragraph is the full render's, each formula typeset once.
    plain = js(qtbot, view, "document.querySelector('.live p').children.length")
    assert plain == len(tex)
    assert same_as_full_render(qtbot, view, render_markdown(text))
    assert shown_tex(qtbot, view) == tex
    assert state(qtbot, view)["renders"] - before == len(tex)


def test_a_patch_that_changes_text_inside_a_run_is_shown_exactly(
    qtbot: QtBot, view: TranscriptView
) -> None:
    # Patches written by hand: the second one changes the paragraph near its start, where the
    # first patch's children were already put into runs.
    words = [f"w{i} <em>e{i}</em>" for i in range(1000)]
    first = "<p>" + " ".join(words) + "</p>\n"
    words[3] = "changed <strong>here</strong>"
    second = "<p>" + " ".join(words) + " and more</p>\n"
    start_answer(qtbot, view)
    for tail in (first, second):
        run(qtbot, view, f"return phidesk.patch('a', 0, [], [], {json.dumps(tail)});")
        assert same_as_full_render(qtbot, view, tail)
        if tail is first:
            assert js(qtbot, view, "document.querySelectorAll('.live .run').length") > 0
    run(qtbot, view, "return phidesk.endStream('a', null);")
    assert same_as_full_render(qtbot, view, second)
