"""GUI-thread cost of the transcript's live patches during a 500 tokens/s stream.

Budget (docs/design.md): no frame of the transcript takes more than 16 ms of GUI-thread time, and
at most 60 view patches per second. A real TranscriptView (QtWebEngine + KaTeX, offscreen) shows
a 40-message chat; an answer from the math corpus then streams into it at 500 tokens/s (about
4 characters each) through a StreamRenderer the view pulls from. Prints the GUI-thread time per
patch (the renderer's take() plus handing the patch to the page) against the 16 ms budget, the
patch rate against 60/s, and the page-side time per patch (DOM update + KaTeX, in Chromium's
renderer process, not on the GUI thread).

    .venv/bin/python bench/view_patch.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from render_stream import answer  # noqa: E402

from app.gui.application import prepare_environment  # noqa: E402
from app.gui.transcript import TranscriptMessage, TranscriptView  # noqa: E402
from app.render import StreamRenderer, render_markdown  # noqa: E402

TOKENS_PER_SECOND = 500
BUDGET_MS = 16.0


class TimedView(TranscriptView):
    def __init__(self) -> None:
        self.flush_seconds: list[float] = []
        super().__init__()

    def _flush(self) -> None:
        before = self.patch_count
        started = time.perf_counter()
        super()._flush()
        if self.patch_count > before:
            self.flush_seconds.append(time.perf_counter() - started)


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def page_state(view: TranscriptView) -> dict[str, float]:
    box: list[str] = []
    view.page().runJavaScript("JSON.stringify(phidesk.state())", 0, box.append)
    while not box:
        wait(10)
    result: dict[str, float] = json.loads(box[0])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    prepare_environment(offscreen=os.environ["QT_QPA_PLATFORM"] == "offscreen")
    app = QApplication(sys.argv[:1])
    view = TimedView()
    view.resize(1000, 800)
    view.show()
    history = answer(3000)
    view.set_messages(
        [
            TranscriptMessage(f"m{i}", "user" if i % 2 else "assistant", render_markdown(history))
            for i in range(40)
        ]
    )
    while not view.loaded:
        wait(20)
    wait(500)
    view.append_message(TranscriptMessage("live", "assistant", ""))

    tokens = int(args.seconds * TOKENS_PER_SECOND)
    text = answer(tokens)
    pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
    renderer = StreamRenderer()
    view.begin_stream("live", renderer)
    sent = 0
    start = time.monotonic()
    push_seconds = 0.0
    while sent < len(pieces):
        due = min(len(pieces), int((time.monotonic() - start) * TOKENS_PER_SECOND))
        t0 = time.perf_counter()
        while sent < due:
            renderer.push(pieces[sent])
            sent += 1
        push_seconds += time.perf_counter() - t0
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 2)
    elapsed = time.monotonic() - start
    wait(100)
    view.end_stream(renderer.finish())
    wait(300)
    page = page_state(view)

    flushes = [s * 1000 for s in view.flush_seconds]
    worst = max(flushes)
    p95 = statistics.quantiles(flushes, n=20)[-1]
    rate = len(flushes) / elapsed
    print(f"streamed {len(text):,} characters ({tokens:,} tokens) in {elapsed:.1f} s")
    print(
        f"GUI-thread time per patch: median {statistics.median(flushes):.2f} ms, p95 {p95:.2f} ms,"
        f" max {worst:.2f} ms = {worst / BUDGET_MS:.2f}x the {BUDGET_MS:.0f} ms budget"
    )
    print(f"patches: {len(flushes)} = {rate:.1f}/s = {rate / 60:.2f}x the 60/s budget")
    print(f"GUI-thread time pushing tokens: {push_seconds * 1000:.1f} ms in total")
    print(
        f"page side per patch (DOM + KaTeX, renderer process): mean"
        f" {page['patchMs'] / max(1, page['patches']):.2f} ms, max {page['maxPatchMs']:.2f} ms"
    )
    view.close()
    del view
    app.processEvents()
    return 0 if worst <= BUDGET_MS and rate <= 60.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
