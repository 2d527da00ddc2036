"""The transcript view in a real QtWebEngine page with the real KaTeX from resources/web."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

import app.gui.transcript as transcript_module
from app.gui.transcript import TranscriptMessage, TranscriptView
from app.render import StreamRenderer, render_markdown
from app.resources import katex_dir

pytestmark = pytest.mark.web

LOAD_MS = 30_000
SUMMARY = "document.querySelector('article[data-id=a] summary').textContent"


def js(qtbot: QtBot, view: TranscriptView, expression: str) -> Any:
    """Evaluate `expression` in the page; JSON round trip keeps the result plain Python."""
    box: list[Any] = []
    view.page().runJavaScript(f"JSON.stringify({expression})", 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=LOAD_MS)
    raw = box[0]
    return None if raw in (None, "") else json.loads(raw)


def state(qtbot: QtBot, view: TranscriptView) -> dict[str, Any]:
    result: dict[str, Any] = js(qtbot, view, "phidesk.state()")
    return result


def wait_typeset(qtbot: QtBot, view: TranscriptView) -> dict[str, Any]:
    def done() -> bool:
        s = state(qtbot, view)
        return bool(s["math"]) and s["typeset"] + s["raw"] == s["math"]

    qtbot.waitUntil(done, timeout=LOAD_MS)
    return state(qtbot, view)


def make_view(qtbot: QtBot) -> TranscriptView:
    view = TranscriptView()
    view.open_links_externally = False
    view.copies_to_clipboard = False
    view.resize(900, 700)
    view.show()
    qtbot.waitUntil(lambda: view.loaded, timeout=LOAD_MS)
    qtbot.waitUntil(lambda: state(qtbot, view)["bridge"], timeout=LOAD_MS)
    return view


@pytest.fixture
def new_view(qtbot: QtBot) -> Iterator[Callable[[], TranscriptView]]:
    """Make loaded views; delete them while an event loop still runs (a page left to process
    exit makes QtWebEngine complain that its profile went first)."""
    made: list[TranscriptView] = []

    def make() -> TranscriptView:
        made.append(make_view(qtbot))
        return made[-1]

    yield make
    for view in made:
        view.close()
        view.deleteLater()
    qtbot.wait(50)


@pytest.fixture
def view(new_view: Callable[[], TranscriptView]) -> TranscriptView:
    return new_view()


def message(mid: str, text: str, role: str = "assistant") -> TranscriptMessage:
    return TranscriptMessage(mid, role, render_markdown(text), None, {})


def test_math_is_typeset_by_katex(qtbot: QtBot, view: TranscriptView) -> None:
    assert katex_dir() is not None, "KaTeX is missing: run scripts/setup"
    view.set_messages(
        [message("a", "Euler: $e^{i\\pi}+1=0$.\n\n$$\n\\frac{a}{b}\n$$\n\nIt costs $5 and $10.")]
    )
    s = wait_typeset(qtbot, view)
    assert s["katex"] and s["math"] == 2 and s["typeset"] == 2
    assert js(qtbot, view, "document.querySelectorAll('.katex').length") == 2
    assert js(qtbot, view, "document.querySelectorAll('.katex-display .mfrac').length") == 1
    text = js(qtbot, view, "document.querySelector('.body').innerText")
    assert "It costs $5 and $10." in text


def test_injected_markup_and_scripts_do_not_run(qtbot: QtBot, view: TranscriptView) -> None:
    rendered = render_markdown(
        '<script>window.pwned = 1</script>\n\n<img src=x onerror="window.pwned = 2">\n\n'
        "[click](javascript:window.pwned=3) $\\href{javascript:window.pwned=4}{x}$ "
        "and $\\def\\a{\\a\\a}\\a$"
    )
    # Even HTML that slipped past the renderer must not run: the page's CSP forbids inline code.
    raw = (
        '<img id="raw" src="x" onerror="window.pwned = 5"><a href="javascript:window.pwned=6">j</a>'
    )
    view.set_messages(
        [
            TranscriptMessage("a", "assistant", rendered, None, {}),
            TranscriptMessage("b", "assistant", raw, None, {}),
        ]
    )
    wait_typeset(qtbot, view)
    qtbot.wait(300)  # give the broken image time to fire its error handler
    assert js(qtbot, view, "document.getElementById('raw') !== null")
    assert js(qtbot, view, "typeof window.pwned") == "undefined"
    assert js(qtbot, view, "document.querySelectorAll('script:not([src])').length") == 0
    assert js(qtbot, view, "document.querySelectorAll('a[href^=\"javascript\"]').length") == 1
    # KaTeX with trust:false renders \href{javascript:…} as an error, not as a link.
    assert js(qtbot, view, "document.querySelectorAll('.katex a').length") == 0
    js(qtbot, view, "document.querySelector('#raw').nextElementSibling.click()")
    qtbot.wait(200)
    assert js(qtbot, view, "typeof window.pwned") == "undefined"
    assert view.url() == transcript_module.PAGE_URL


def click_element(qtbot: QtBot, view: TranscriptView, selector: str) -> None:
    rect = js(qtbot, view, f"document.querySelector('{selector}').getBoundingClientRect()")
    point = QPoint(int(rect["x"] + rect["width"] / 2), int(rect["y"] + rect["height"] / 2))
    target = view.focusProxy() or view
    QTest.mouseClick(target, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)


def test_a_link_click_does_not_navigate_the_view(qtbot: QtBot, view: TranscriptView) -> None:
    view.set_messages([message("a", "See [the docs](https://example.org/docs) and $x$.")])
    wait_typeset(qtbot, view)
    with qtbot.waitSignal(view.link_clicked, timeout=LOAD_MS) as clicked:
        click_element(qtbot, view, ".body a")
    assert clicked.args == [QUrl("https://example.org/docs")]
    qtbot.wait(300)
    assert view.url() == transcript_module.PAGE_URL
    assert state(qtbot, view)["messages"] == 1


def test_streaming_patches_only_the_live_block_and_ends_equal(
    qtbot: QtBot, view: TranscriptView
) -> None:
    text = (
        "Intro with $a^2$.\n\n## Steps\n\n1. one\n2. two\n\n$$\n\\sum_{i=1}^n i\n$$\n\n"
        "```python\nprint('$5')\n```\n\nSee [ref] for more, at $5 or $10.\n\n[ref]: https://example.org\n"
    )
    view.set_messages([message("q", "Question?", "user")])
    view.append_message(TranscriptMessage("a", "assistant", "", None, {}))
    renderer = StreamRenderer()
    view.begin_stream("a", renderer)
    start = time.monotonic()
    for i in range(0, len(text), 2):
        renderer.push(text[i : i + 2])
        if i % 16 == 0:
            qtbot.wait(1)
    qtbot.wait(100)
    elapsed = time.monotonic() - start
    view.end_stream(renderer.finish())
    assert 0 < view.patch_count <= 60 * elapsed + 2
    s = wait_typeset(qtbot, view)
    assert s["math"] == 2 and s["typeset"] == 2  # $a^2$ and the sum; $5 or $10 is money
    body = js(qtbot, view, "document.querySelector('article[data-id=\"a\"] .body').innerText")
    assert "Steps" in body and "print('$5')" in body and "at $5 or $10." in body
    assert js(qtbot, view, "document.querySelector('article[data-id=\"a\"] .body a').href") == (
        "https://example.org/"
    )
    assert not js(qtbot, view, "document.querySelector('article.streaming') !== null")


def test_pushed_updates_are_coalesced(qtbot: QtBot, view: TranscriptView) -> None:
    view.set_messages([])
    view.append_message(TranscriptMessage("a", "assistant", "", None, {}))
    view.begin_stream("a")
    renderer = StreamRenderer()
    text = "word " * 400
    for i in range(0, len(text), 3):
        view.apply(renderer.feed(text[i : i + 3]))
    qtbot.waitUntil(lambda: view.patch_count >= 1, timeout=LOAD_MS)
    view.end_stream(renderer.finish())
    assert view.patch_count <= 3  # 667 updates arrived within one frame or two
    body = js(qtbot, view, "document.querySelector('article[data-id=\"a\"] .body').innerText")
    assert body.strip() == text.strip()


def test_reasoning_block_out_of_context_and_actions(qtbot: QtBot, view: TranscriptView) -> None:
    view.set_messages([message("u", "Hi", "user"), message("a", "Hello $x$")])
    view.set_thinking("a", render_markdown("Let me think about $y$."), running=True, seconds=2.0)
    qtbot.waitUntil(
        lambda: (
            "Thinking"
            in js(qtbot, view, "document.querySelector('article[data-id=a] summary').textContent")
        ),
        timeout=LOAD_MS,
    )
    assert js(qtbot, view, "document.querySelector('article[data-id=a] details.thinking').open")
    view.set_thinking("a", render_markdown("Let me think about $y$."), running=False, seconds=7.5)
    qtbot.waitUntil(
        lambda: (
            js(qtbot, view, "document.querySelector('article[data-id=a] summary').textContent")
            == "Thought for 7.5 s"
        ),
        timeout=LOAD_MS,
    )
    # The answer started: the reasoning folds away by itself.
    assert not js(qtbot, view, "document.querySelector('article[data-id=a] details.thinking').open")
    view.mark_out_of_context(["u"])
    qtbot.waitUntil(
        lambda: (
            js(qtbot, view, "document.querySelector('article.out-of-context').dataset.id") == "u"
        ),
        timeout=LOAD_MS,
    )
    # The mark survives messages being shown again (a chat reloaded after an edit).
    view.set_messages([message("u", "Hi", "user"), message("a", "Hello $x$")])
    view.append_message(message("u2", "Next", "user"))
    qtbot.waitUntil(lambda: state(qtbot, view)["messages"] == 3, timeout=LOAD_MS)
    marked = js(
        qtbot,
        view,
        "Array.from(document.querySelectorAll('.out-of-context')).map(a => a.dataset.id)",
    )
    assert marked == ["u"]
    with qtbot.waitSignal(view.message_action, timeout=LOAD_MS) as action:
        js(
            qtbot,
            view,
            "document.querySelector('article[data-id=\"a\"] [data-action=regenerate]').click()",
        )
    assert action.args == ["regenerate", "a"]


def test_copy_code_and_latex(qtbot: QtBot, view: TranscriptView) -> None:
    view.set_messages([message("a", "```python\nx = '$5'\n```\n\n$$\n\\frac{1}{2}\n$$")])
    wait_typeset(qtbot, view)
    with qtbot.waitSignal(view.copy_requested, timeout=LOAD_MS) as copied:
        js(qtbot, view, "document.querySelector('button.copy-code').click()")
    assert copied.args == ["x = '$5'\n"]
    with qtbot.waitSignal(view.copy_requested, timeout=LOAD_MS) as copied:
        js(
            qtbot,
            view,
            "document.querySelector('.math.display .katex').dispatchEvent("
            "new MouseEvent('dblclick', {bubbles: true}))",
        )
    assert copied.args == ["\\frac{1}{2}"]


def test_a_long_chat_shows_its_end_first_then_all(qtbot: QtBot, view: TranscriptView) -> None:
    view.set_messages([message(f"m{i}", f"Message {i} with $x_{{{i}}}$") for i in range(200)])
    first = state(qtbot, view)["messages"]
    assert first <= transcript_module.FIRST_BATCH
    qtbot.waitUntil(lambda: state(qtbot, view)["messages"] == 200, timeout=LOAD_MS)
    ids = js(qtbot, view, "Array.from(document.querySelectorAll('article')).map(a => a.dataset.id)")
    assert ids == [f"m{i}" for i in range(200)]


def test_huge_and_deep_input_keeps_the_page_responsive(qtbot: QtBot, view: TranscriptView) -> None:
    line = "word $5 *a* " * 90_000
    view.set_messages(
        [
            message("a", line),
            message("b", ">" * 10_000 + " deep"),
            message("c", "".join("  " * i + "- x\n" for i in range(2_000))),
            message("d", "\u05e9\u05dc\u05d5\u05dd $x$ \ud800"),
            # A lone surrogate that never went through the renderer still reaches the page.
            TranscriptMessage("e", "assistant", "<p>raw \udc80 text</p>"),
        ]
    )
    s = wait_typeset(qtbot, view)
    assert s["messages"] == 5
    assert js(qtbot, view, "document.querySelector('article[data-id=\"a\"]').innerText.length") > (
        len(line) // 2
    )


def test_without_katex_the_latex_source_is_shown(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, new_view: Callable[[], TranscriptView]
) -> None:
    monkeypatch.setattr(transcript_module, "katex_dir", lambda: None)
    view = new_view()
    view.set_messages([message("a", "Inline $e^{i\\pi}$ and\n\n\\[\n\\frac{a}{b}\n\\]")])
    s = wait_typeset(qtbot, view)
    assert not s["katex"] and s["raw"] == 2 and s["typeset"] == 0
    text = js(qtbot, view, "document.querySelector('.body').innerText")
    assert "e^{i\\pi}" in text and "\\frac{a}{b}" in text


def test_the_scheme_serves_only_the_page_katex_and_styles(qtbot: QtBot) -> None:
    handler = transcript_module.TranscriptSchemeHandler()
    page = handler.content("chat.html")
    assert page is not None and page[0] == b"text/html"
    assert b"Content-Security-Policy" in page[1] and b"script-src 'self';" in page[1]
    css = handler.content("pygments.css")
    assert css is not None and b".theme-dark .hl" in css[1]
    font = handler.content("katex/fonts/KaTeX_Main-Regular.woff2")
    assert font is not None and font[0] == b"font/woff2"
    for path in ["../pyproject.toml", "katex/../../../../pyproject.toml", "package.json", "x.js"]:
        assert handler.content(path) is None, path


def test_the_words_after_a_very_deep_list_are_visible(qtbot: QtBot, view: TranscriptView) -> None:
    deep = "".join("  " * i + f"- level{i + 1}\n" for i in range(30))
    after = "The answer goes on after the list.\n\n```text\ncode after the list\n```\n"
    view.set_messages([message("a", deep + "\n" + after + "\n$$\nx + y\n$$\n")])
    qtbot.waitUntil(lambda: state(qtbot, view)["messages"] == 1, timeout=LOAD_MS)
    text = js(qtbot, view, "document.body.innerText")
    assert "level30" in text and "level1" in text
    assert "The answer goes on after the list." in text and "code after the list" in text
    s = wait_typeset(qtbot, view)
    assert s["math"] == 1 and s["typeset"] == 1
