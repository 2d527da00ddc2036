"""Open the main window against an in-process Ollama double, by hand or for screenshots.

    mkdir -p build/shots
    xvfb-run -a -s "-screen 0 1400x900x24" env QT_QPA_PLATFORM=xcb \
        .venv/bin/python -m tests.manual.chat_window_demo --scene midstream \
        --theme dark --screenshot build/shots/chat-midstream-dark.png

Scenes: `midstream` (reasoning then an answer with math, code and a table, caught while it
streams), `context` (a small num_ctx, older messages marked "not in context", the warning
banner), `info` (an answer's info dialog), `onboarding` (no Ollama reachable), `notice` (a
message too long for the window), `versions` (an answer regenerated twice, showing `‹ 2/3 ›`
beside its actions, and an edited question showing `‹ 2/2 ›`), `empty` (a new chat's starter
prompts for a reasoning model), `stopped` (an answer stopped inside its code block: the callout
with Continue and Retry), `documents` (a question with a whole file and a long PDF of which
some parts were sent: the chips, the meter's documents share, a file waiting above the composer;
the answer's Info listing the parts is saved beside it as `-info.png`), `search` (chats under
Pinned / Today / Yesterday / Previous 7 days / Older, one answering, the hovered row's ⋯, saved
as `-sections.png`; then a search, one row per chat, and its hit opened and highlighted),
`preferences` and `about` (File > Preferences… and Help > About PhiDesk, the dialog alone).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from app.backend.client import OllamaClient
from app.config import AppContext, Paths, Settings
from app.gui.application import prepare_environment
from app.gui.connection import ConnectionMonitor
from app.gui.dialogs import AnswerInfoDialog
from app.gui.main_window import MainWindow
from app.gui.tasks import new_qt_loop, run_on_qt_loop
from app.gui.transcript import register_scheme
from app.store import ChatSettings
from app.workspace import Workspace
from tests.ollama_double.server import OllamaDouble

THINKING = (
    "The user wants the roots of a quadratic. Complete the square: divide by $a$, move $c/a$ "
    "across, add $(b/2a)^2$ to both sides, then take square roots."
)
ANSWER = r"""For $ax^2 + bx + c = 0$ with $a \neq 0$, completing the square gives

$$x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}$$

The discriminant $\Delta = b^2 - 4ac$ decides the kind of roots:

| $\Delta$ | roots |
| --- | --- |
| $> 0$ | two real |
| $= 0$ | one double |
| $< 0$ | two complex |

```python
import cmath

def roots(a: float, b: float, c: float) -> tuple[complex, complex]:
    d = cmath.sqrt(b * b - 4 * a * c)
    return (-b + d) / (2 * a), (-b - d) / (2 * a)
```

A price of $5 and $10 stays plain text, as it should.
"""


async def until(predicate: Callable[[], object], seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(str(predicate))
        await asyncio.sleep(0.05)


def save(widget: QWidget, path: str) -> None:
    if not widget.grab().save(path, "PNG"):
        raise SystemExit(f"could not write {path}")
    print(path)


def send(window: MainWindow, text: str) -> None:
    window.pane.composer.set_draft(text)
    window.pane.composer._submit()


async def scene(name: str, window: MainWindow, double: OllamaDouble | None, shot: str) -> None:
    if name == "onboarding":
        await until(lambda: window.monitor.state.value == "unreachable")
        await asyncio.sleep(0.5)
        save(window, shot)
        return
    assert double is not None
    await until(lambda: window.monitor.state.value == "connected")
    await until(lambda: len(window.pane.picker.models) >= 3 and window.pane.view.loaded)
    if name == "midstream":
        window.pane.picker.select("phi4-mini-reasoning:latest")
        double.script_reply(ANSWER, thinking=THINKING, chunk_size=4)
        double.set_fault("slow", delay=0.03, path="/api/chat")
        send(window, "How do I solve a quadratic equation? Show the formula and code.")
        await until(lambda: any(len("".join(lv.content)) > 330 for lv in window.pane.live.values()))
        await asyncio.sleep(0.6)
        save(window, shot)
        double.clear_faults()
        window.pane.stop()
        return
    if name == "context":
        db = window.workspace.db
        chat = db.create_chat(model="phi4-mini:latest", settings=ChatSettings(num_ctx=1024))
        window.refresh_chats()
        window.open_chat(chat.id)
        topics = ("eigenvalues", "the determinant", "a basis", "the rank")
        for i, topic in enumerate(topics):
            double.script_reply(f"About {topic}: " + "a line of explanation. " * 22)
            send(window, f"Question {i + 1}: explain {topic} " + "in detail, please. " * 12)
            await asyncio.sleep(0.1)
            await until(lambda: not window.pane.live)
        window.pane.composer.set_draft("And how do they relate? " + "Please be thorough. " * 14)
        window.pane.update_context()
        await asyncio.sleep(0.5)
        window.pane.view.page().runJavaScript(
            "document.querySelector('article.out-of-context')?.scrollIntoView()", 0
        )
        await asyncio.sleep(0.5)
        save(window, shot)
        return
    if name == "info":
        double.script_reply(ANSWER)
        window.pane.picker.select("phi4:latest")
        send(window, "Quadratic formula, please.")
        await asyncio.sleep(0.1)
        await until(lambda: not window.pane.live)
        chat_id = window.pane.current_chat
        assert chat_id is not None
        dialog = AnswerInfoDialog(window.workspace.db.messages(chat_id)[-1], window)
        dialog.show()
        await asyncio.sleep(0.8)
        save(dialog, shot)
        save(window, shot.replace(".png", "-window.png"))
        return
    if name == "notice":
        db = window.workspace.db
        chat = db.create_chat(model="phi4-mini:latest", settings=ChatSettings(num_ctx=600))
        window.refresh_chats()
        window.open_chat(chat.id)
        await asyncio.sleep(0.3)
        send(window, "Please review this draft: " + "a long paragraph of text " * 120)
        await until(lambda: window.notice_area.isVisible())
        await asyncio.sleep(0.5)
        save(window, shot)
        return
    if name == "versions":
        await versions_scene(window, double, shot)
        return
    if name == "empty":
        window.pane.picker.select("phi4-mini-reasoning:latest")
        window.pane.flows.model_shown()
        await asyncio.sleep(0.6)
        save(window, shot)
        return
    if name == "stopped":
        await stopped_scene(window, double, shot)
        return
    if name == "documents":
        await documents_scene(window, double, shot)
        return
    if name == "offline":
        await offline_scene(window, double, shot)
        return
    if name == "search":
        await search_scene(window, double, shot)
        return
    if name in ("preferences", "about"):
        action = window.preferences_action if name == "preferences" else window.about_action
        action.trigger()
        opened: QWidget = window._preferences if name == "preferences" else window._about
        await asyncio.sleep(0.8)
        save(opened, shot)
        opened.close()
        return
    raise SystemExit(f"unknown scene {name}")


async def versions_scene(window: MainWindow, double: OllamaDouble, shot: str) -> None:
    window.pane.picker.select("phi4:latest")

    async def turn(start: Callable[[], None], reply: str) -> None:
        double.script_reply(reply)
        start()
        await asyncio.sleep(0.1)
        await until(lambda: not window.pane.live)

    await turn(lambda: send(window, "What's an eigenvalue"), "A number.")
    chat_id = window.pane.current_chat
    assert chat_id is not None
    window.pane.editing = window.workspace.db.messages(chat_id)[0].id  # as Edit does
    await turn(
        lambda: send(window, "What is an eigenvalue of a matrix?"),
        "A scalar $\\lambda$ with $Av = \\lambda v$ for some vector $v \\neq 0$.",
    )
    await turn(
        lambda: send(window, "Give an example."),
        "Take $A = \\begin{pmatrix} 2 & 0 \\\\ 0 & 3 \\end{pmatrix}$: its eigenvalues are 2 and 3.",
    )
    await turn(
        window.pane.regenerate, "For a diagonal matrix the eigenvalues are its diagonal entries."
    )
    await turn(
        window.pane.regenerate,
        "The identity matrix: every vector is an eigenvector, with eigenvalue 1.",
    )
    answer = window.workspace.db.messages(chat_id)[-1]
    versions = (await window.workspace.versions(chat_id))[answer.id]
    await window.workspace.show_version(versions.ids[1])
    await window.pane.refresh()
    await asyncio.sleep(0.6)
    window.pane.view.page().runJavaScript(
        f"document.querySelector('article[data-id=\"{versions.ids[1]}\"]').focus()", 0
    )
    await asyncio.sleep(0.4)
    save(window, shot)


async def stopped_scene(window: MainWindow, double: OllamaDouble, shot: str) -> None:
    """A stopped answer cut off inside a code block: its callout with Continue and Retry."""
    window.pane.picker.select("phi4:latest")
    double.script_reply(ANSWER, chunk_size=4)
    double.set_fault("slow", delay=0.03, path="/api/chat")
    send(window, "How do I solve a quadratic equation? Show the formula and code.")
    await until(lambda: any("def roots" in "".join(lv.content) for lv in window.pane.live.values()))
    window.pane.stop()
    await until(lambda: not window.pane.live)
    double.clear_faults()
    await asyncio.sleep(1.0)
    window.pane.view.page().runJavaScript("document.scrollingElement.scrollTop = 1e6", 0)
    await asyncio.sleep(0.3)
    save(window, shot)


async def offline_scene(window: MainWindow, double: OllamaDouble, shot: str) -> None:
    """A chat with an answer, then Ollama goes away: the chat stays readable, the banner says
    so and Send waits with a draft kept."""
    await until(lambda: window.monitor.state.value == "connected")
    await until(lambda: len(window.pane.picker.models) >= 3 and window.pane.view.loaded)
    window.pane.picker.select("phi4-mini:latest")
    double.script_reply(ANSWER)
    send(window, "Solve x² − 5x + 6 = 0 and tabulate the roots.")
    await until(lambda: window.pane.current_chat is not None)
    chat_id = window.pane.current_chat
    assert chat_id is not None
    db = window.workspace.db
    await until(lambda: [m.status for m in db.messages(chat_id)] == ["complete"] * 2, 30)
    await asyncio.sleep(0.5)
    double.stop()
    window.monitor.check_now()
    await until(lambda: window.offline_banner.isVisible())
    window.pane.composer.set_draft("And the vertex of the parabola?")
    await asyncio.sleep(1.0)
    save(window, shot)


async def documents_scene(window: MainWindow, double: OllamaDouble, shot: str) -> None:
    from tests.documents_pdf import make_pdf, report_pages

    folder = Path(tempfile.mkdtemp(prefix="phidesk-demo-files-"))
    report = folder / "halvorsen-report.pdf"
    report.write_bytes(make_pdf(report_pages(60, answer_page=42)))
    notes = folder / "site-notes.md"
    notes.write_text("# Site notes\n\nCoolant loop B was refilled in March.\n", "utf-8")
    later = folder / "inspection-plan.txt"
    later.write_text("Spring inspection: loops A and B, sensors T1–T4.\n", "utf-8")
    chat = await window.workspace.new_chat("phi4:latest", settings=ChatSettings(num_ctx=4096))
    window.refresh_chats()
    window.open_chat(chat.id)
    await until(lambda: window.pane.current_chat == chat.id)
    flow = window.pane.documents
    flow.attach_paths([report, notes])
    await until(lambda: len(flow.bar.files) == 2)
    double.script_reply(
        "The Halvorsen reactor's coolant reached **451 kelvin** (page 42 of the report); "
        "the site notes add that loop B was refilled in March."
    )
    send(window, "What coolant temperature did the Halvorsen reactor reach?")
    await asyncio.sleep(0.1)
    await until(lambda: not window.pane.live)
    flow.attach_paths([later])
    await until(lambda: len(flow.bar.files) == 1)
    window.pane.composer.set_draft("Which sensors does the spring inspection cover?")
    await until(lambda: window.pane.composer.meter.documents > 0)
    await asyncio.sleep(0.8)
    save(window, shot)
    answer = window.workspace.db.messages(chat.id)[-1]
    dialog = AnswerInfoDialog(answer, window.pane)
    dialog.show()
    await asyncio.sleep(0.6)
    save(dialog, shot.replace(".png", "-info.png"))


SEARCH_CHATS = (
    ("Study plan", 40, True, ["Plan my linear algebra revision", "Week 1: vectors and matrices."]),
    (
        "Characteristic polynomial",
        0,
        False,
        [
            "What is a characteristic polynomial?",
            "The **characteristic polynomial** of $A$ is $p(t) = \\det(A - tI)$; its roots are the "
            "eigenvalues.",
            "- and for a 2x2 matrix? the polynomial is short",
            "It is $t^2 - (a + d)t + (ad - bc)$.",
        ],
    ),
    ("Quadratic formula", 0, False, ["How do I solve a quadratic?", "Complete the square."]),
    (
        "Fast polynomial multiplication",
        1,
        False,
        [
            "How do FFTs multiply a polynomial quickly?",
            "Evaluate both at roots of unity, multiply pointwise, interpolate back.",
        ],
    ),
    ("Python generators", 3, False, ["What does yield do?", "It pauses the function."]),
    ("Rust borrow checker", 5, False, ["Why does my borrow fail?", "Two mutable borrows."]),
    (
        "Old notes on interpolation",
        30,
        False,
        [
            "Lagrange interpolation of a polynomial through n points",
            "Build the basis polynomials and sum them.",
        ],
    ),
)


async def search_scene(window: MainWindow, double: OllamaDouble, shot: str) -> None:
    import sqlite3
    from contextlib import closing
    from datetime import UTC, datetime, timedelta

    db = window.workspace.db
    now = datetime.now(UTC)
    ids = {}
    for title, days, pinned, contents in SEARCH_CHATS:
        chat = db.create_chat(title=title, model="phi4-mini:latest", pinned=pinned)
        for i, content in enumerate(contents):
            db.add_message(chat.id, "user" if i % 2 == 0 else "assistant", content)
        ids[title] = chat.id
        stamp = (now - timedelta(days=days, minutes=len(ids))).strftime("%Y-%m-%d %H:%M:%S.%f")
        with closing(sqlite3.connect(db.path)) as raw, raw:
            raw.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (stamp, chat.id))
    window.refresh_chats()
    window.open_chat(ids["Quadratic formula"])
    await asyncio.sleep(0.5)
    double.script_reply("Complete the square, step by step. " * 40)
    double.set_fault("slow", delay=0.05, path="/api/chat")
    send(window, "Show me each step.")
    await until(lambda: bool(window.pane.live))
    await asyncio.sleep(0.6)
    if not window.sidebar.collapsed:
        hovered = window.sidebar.item_for(ids["Python generators"])
        assert hovered is not None
        window.sidebar._hover(window.sidebar.list.row(hovered))
    await asyncio.sleep(0.3)
    save(window, shot.replace(".png", "-sections.png"))
    window.pane.stop()
    double.clear_faults()
    await until(lambda: not window.pane.live)
    window.focus_search()
    window.sidebar.search.setText("polynomial")
    await until(lambda: window.sidebar.searching and window.sidebar.list.count() >= 3)
    await asyncio.sleep(0.3)
    window.sidebar.list.setCurrentRow(1)
    await asyncio.sleep(0.8)
    save(window, shot)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scene",
        choices=(
            "midstream",
            "context",
            "info",
            "onboarding",
            "notice",
            "versions",
            "empty",
            "stopped",
            "documents",
            "offline",
            "search",
            "preferences",
            "about",
        ),
        default="midstream",
    )
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument(
        "--size", default="1280x820", metavar="WxH", help="window size (e.g. 720x560, the smallest)"
    )
    parser.add_argument("--screenshot", required=True, metavar="PATH")
    args = parser.parse_args(argv)
    prepare_environment(offscreen=False)
    register_scheme()
    app = QApplication(sys.argv[:1])
    loop = new_qt_loop(app)
    asyncio.set_event_loop(loop)
    double = None if args.scene == "onboarding" else OllamaDouble().start()
    host = double.url if double else "http://127.0.0.1:9"
    data = Path(tempfile.mkdtemp(prefix="phidesk-demo-"))
    ctx = AppContext(paths=Paths.resolve(data).ensure(), host=host)
    Settings(theme=args.theme).save(ctx.paths.settings_file)
    workspace = Workspace.open(ctx.paths, OllamaClient(host))
    window = MainWindow(ctx, workspace, ConnectionMonitor(workspace.connection, None))
    width, height = (int(n) for n in args.size.split("x"))
    window.resize(width, height)
    window.show()
    window.monitor.check_now()

    async def everything() -> None:
        try:
            await asyncio.wait_for(scene(args.scene, window, double, args.screenshot), 90)
        finally:
            window.close()
            await window.aclose()
            await workspace.aclose()

    try:
        run_on_qt_loop(loop, everything())
    finally:
        loop.close()
        if double is not None:
            double.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
