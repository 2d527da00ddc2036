"""Latency the user sees when sending: Enter → own message on screen, Enter → request on the wire,
first token sent → first token on screen (budgets of issue 17: 16 ms, 10 ms, 20 ms).

The real main window (offscreen, QtWebEngine included) runs against the in-process Ollama double
and a real SQLite file prepared with `app.store.Database`: one chat of 20 messages and one of
1,000 (questions and answers, the answers with Ollama's counts). For each chat the bench sends
`--sends` questions after `--warmup` unmeasured ones, each by a Return key event into the
composer, and waits for the answer to finish before the next. Three clocks, all wall time
(`time.time()` in Python, `performance.timeOrigin + performance.now()` in the page):

- Enter: just before the key event is delivered to the composer;
- the page: a MutationObserver the bench adds to the transcript page notes when the question's
  text is first in the page's DOM, and when the answer's first token is (the view's patch);
- the double: its request handler notes when `/api/chat` arrives, and when the line with the
  first token has been written to the socket.

Each chat grows by two messages per send. Prints medians and 90th percentiles, their ratios to
the budgets, and the 1,000-message chat's medians minus the 20-message chat's.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/latency.py [--sends 20] [--warmup 3]
        [--long 1000] [--short 20]

As root, QtWebEngine needs QTWEBENGINE_DISABLE_SANDBOX=1 (the bench says how it ran).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.gui.application import prepare_environment  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
prepare_environment(offscreen=os.environ["QT_QPA_PLATFORM"] == "offscreen")

from gui_stall import run_in_window  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from app.backend.client import OllamaClient  # noqa: E402
from app.config import AppContext, Paths  # noqa: E402
from app.gui.connection import ConnectionMonitor  # noqa: E402
from app.gui.main_window import MainWindow  # noqa: E402
from app.store import Database, Provenance  # noqa: E402
from app.values import ChatStats  # noqa: E402
from app.workspace import Workspace  # noqa: E402
from tests.ollama_double import server as double_server  # noqa: E402
from tests.ollama_double.server import OllamaDouble, RecordedRequest  # noqa: E402

MODEL = "phi4-mini:latest"
BUDGETS_MS = {"own message": 16.0, "request": 10.0, "first token": 20.0}
QUESTION = "Explain, with one example, why $\\sum_{k=1}^{n} k = n(n+1)/2$ holds."
ANSWER = (
    "By pairing terms: $1 + n$, $2 + (n-1)$, … each pair sums to $n+1$ and there are $n/2$ "
    "pairs.\n\n```python\nprint(sum(range(1, 11)))  # 55\n```\n"
)

OBSERVER = """
(() => {
  if (window.__bench) return;
  const transcript = document.getElementById("transcript");
  const bench = window.__bench = {user: null, answer: null, marks: {}};
  const now = () => performance.timeOrigin + performance.now();
  new MutationObserver(() => {
    const stamp = now();
    const last = transcript.lastElementChild;
    for (const el of [last, last && last.previousElementSibling]) {
      if (!el || !el.classList) continue;
      for (const [key, role] of [[bench.user, "user"], [bench.answer, "assistant"]]) {
        if (key && !(key in bench.marks) && el.classList.contains(role)
            && el.textContent.includes(key)) bench.marks[key] = stamp;
      }
    }
  }).observe(transcript, {childList: true, subtree: true, characterData: true});
  const base = document.createElement("div");
  base.id = "bench-base";
  base.hidden = true;
  document.body.appendChild(base);
  new MutationObserver(() => { bench.marks[base.textContent] = now(); })
    .observe(base, {childList: true, subtree: true, characterData: true});
})();
"""
FLOORS = {"own message": "view floor", "request": "wire floor", "first token": "view floor"}
"""The same-run baseline of each measure: a bare script setting a text in the page (GUI thread
to DOM), and a bare `OllamaClient.chat` to the double (call to the handler)."""


class Stamps:
    """What the double's handler thread notes: when each /api/chat arrived, when its first
    token line was written."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[float] = []
        self.first_tokens: list[float] = []
        self._waiting_first = False

    def request(self) -> None:
        with self.lock:
            self.requests.append(time.time())
            self._waiting_first = True

    def line(self, data: bytes) -> None:
        if not self._waiting_first or b'"content": ""' in data or b'"content":""' in data:
            return
        if b'"content"' not in data:
            return
        with self.lock:
            if self._waiting_first:
                self.first_tokens.append(time.time())
                self._waiting_first = False


STAMPS = Stamps()


class TimedDouble(OllamaDouble):
    def _record(self, request: RecordedRequest) -> None:
        if request.path == "/api/chat":
            STAMPS.request()
        super()._record(request)


def _timed_write(original: Callable[[Any, bytes], None]) -> Callable[[Any, bytes], None]:
    def write(handler: Any, data: bytes) -> None:
        original(handler, data)
        if getattr(handler, "api_path", "") == "/api/chat":
            STAMPS.line(data)

    return write


double_server._Handler._write_raw_line = _timed_write(  # type: ignore[method-assign,assignment]
    double_server._Handler._write_raw_line
)


def prepare(path: Path, sizes: list[int]) -> list[int]:
    """One chat per size, with that many messages (question and counted answer in turn)."""
    ids = []
    with Database.open(path) as db:
        for size in sizes:
            chat = db.create_chat(title=f"Sums ({size} messages)", model=MODEL)
            for n in range(size // 2):
                db.add_message(chat.id, "user", f"{QUESTION} (#{n})")
                answer = db.add_message(chat.id, "assistant", "", status="streaming")
                db.finish_message(
                    answer.id,
                    content=ANSWER,
                    stats=ChatStats(prompt_eval_count=40 + 60 * n, eval_count=60),
                    provenance=Provenance(model=MODEL, requested_num_ctx=4096),
                )
            ids.append(chat.id)
    return ids


async def until(predicate: Callable[[], object], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition never held: {predicate}")
        await asyncio.sleep(0.005)


async def js(window: MainWindow, script: str) -> Any:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def result(value: Any) -> None:
        if not done.done():
            done.set_result(value)

    window.pane.view.page().runJavaScript(script, 0, result)
    return await asyncio.wait_for(done, 10)


async def open_window(folder: Path, url: str) -> MainWindow:
    ctx = AppContext(paths=Paths.resolve(folder).ensure(), host=url)
    client = OllamaClient(url, stall_seconds=30)
    workspace = Workspace.open(ctx.paths, client)
    window = MainWindow(ctx, workspace, ConnectionMonitor(workspace.connection, None))
    window.show()
    window.monitor.check_now()
    await until(lambda: window.monitor.state.value == "connected")
    await until(lambda: len(window.pane.picker.models) >= 1)
    await until(lambda: window.pane.view.loaded)
    await asyncio.sleep(1.0)
    return window


async def floors(window: MainWindow, client: OllamaClient, key: str) -> tuple[float, float]:
    """(view floor, wire floor) in ms, measured now."""
    requests_before = len(STAMPS.requests)
    start = time.time()
    async for _event in client.chat(MODEL, [{"role": "user", "content": key}], num_ctx=4096):
        pass
    wire = (STAMPS.requests[requests_before] - start) * 1000
    start = time.time()
    await js(window, f"document.getElementById('bench-base').textContent = {json.dumps(key)}; 1")
    await asyncio.sleep(0.05)
    marks = json.loads(await js(window, "JSON.stringify(window.__bench.marks)"))
    return marks[key] - start * 1000, wire


async def measure_chat(
    window: MainWindow,
    double: OllamaDouble,
    client: OllamaClient,
    chat_id: int,
    sends: int,
    warmup: int,
) -> dict[str, list[float]]:
    pane = window.pane
    window.open_chat(chat_id)
    await until(lambda: pane.title.text().startswith("Sums"))
    await asyncio.sleep(0.5)
    await js(window, OBSERVER)
    found: dict[str, list[float]] = {
        "own message": [], "request": [], "first token": [], "view floor": [], "wire floor": [],
    }  # fmt: skip
    for n in range(warmup + sends):
        key = f"q{chat_id}x{n}z"
        first = f"Zebra{chat_id}x{n}"
        double.script_reply(f"{first} {ANSWER}", chunk_size=len(first) + 1)
        await js(window, f"window.__bench.user = {json.dumps(key)};"
                 f"window.__bench.answer = {json.dumps(first)}; 1")  # fmt: skip
        pane.composer.set_draft(f"{QUESTION} ({key})")
        requests_before = len(STAMPS.requests)
        tokens_before = len(STAMPS.first_tokens)
        await asyncio.sleep(0.5)  # the context meter (200 ms after the draft changed) settles
        enter = time.time()
        QTest.keyClick(pane.composer.edit, Qt.Key.Key_Return)
        await until(partial(arrived, tokens_before))
        await until(lambda: chat_id not in window.workspace.turns)
        await asyncio.sleep(0.3)
        marks = await js(window, "JSON.stringify(window.__bench.marks)")
        stamps = json.loads(marks)
        view, wire = await floors(window, client, f"base{chat_id}x{n}")
        if n < warmup:
            continue
        found["view floor"].append(view)
        found["wire floor"].append(wire)
        if key not in stamps or first not in stamps:
            raise SystemExit(f"send {n} in chat {chat_id}: the page never showed {stamps}")
        found["own message"].append(stamps[key] - enter * 1000)
        found["request"].append((STAMPS.requests[requests_before] - enter) * 1000)
        found["first token"].append(stamps[first] - STAMPS.first_tokens[tokens_before] * 1000)
    return found


def arrived(before: int) -> bool:
    """A first token was written since `before` of them."""
    return len(STAMPS.first_tokens) > before


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace, work: Path) -> int:
    sizes = [args.short, args.long]
    ids = prepare(work / "phidesk.sqlite3", sizes)
    double = TimedDouble().start()
    window = await open_window(work, double.url)
    client = OllamaClient(double.url)
    results: dict[int, dict[str, list[float]]] = {}
    try:
        for size, chat_id in zip(sizes, ids, strict=True):
            results[size] = await measure_chat(
                window, double, client, chat_id, args.sends, args.warmup
            )
    finally:
        await client.aclose()
        window.close()
        await window.aclose()
        await window.workspace.aclose()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        double.stop()
    sandbox = "off" if os.environ.get("QTWEBENGINE_DISABLE_SANDBOX") else "on"
    print(
        f"{os.environ['QT_QPA_PLATFORM']}, QtWebEngine sandbox {sandbox}; {args.sends} sends per "
        f"chat after {args.warmup} warm-up; each chat grows by 2 messages per send"
    )
    print(f"{'measure':<13} {'messages':>8} {'median ms':>10} {'p90 ms':>8} {'budget':>7} "
          f"{'median/budget':>14} {'floor ms':>9} {'median-floor':>13}")  # fmt: skip
    over = False
    for name, budget in BUDGETS_MS.items():
        for size in sizes:
            values = results[size][name]
            median = statistics.median(values)
            floor = statistics.median(results[size][FLOORS[name]])
            over = over or median > budget
            print(
                f"{name:<13} {size:>8} {median:>10.1f} {p90(values):>8.1f} {budget:>7.0f} "
                f"{median / budget:>14.2f} {floor:>9.1f} {median - floor:>13.1f}"
            )
    print(
        "floor: the same-run median of a bare page script setting a text (view floor: own "
        "message, first token) or of a bare OllamaClient.chat to the double (wire floor: request)"
    )
    for name in BUDGETS_MS:
        short = statistics.median(results[args.short][name])
        long = statistics.median(results[args.long][name])
        print(f"{name}: {args.long} messages minus {args.short}: {long - short:+.1f} ms (median)")
    print("within budget (medians)" if not over else "OVER BUDGET")
    return 1 if over else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--short", type=int, default=20)
    parser.add_argument("--long", type=int, default=1000)
    args = parser.parse_args()
    return run_in_window(run, args, "latency")


if __name__ == "__main__":
    raise SystemExit(main())
