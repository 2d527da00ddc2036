"""Page time of the transcript's live patches for a paragraph full of inline math.

Budget (issue 17): a paragraph with 10,000 inline formulas, streamed in 40-character chunks,
with no patch over 50 ms of page time. A real TranscriptView (QtWebEngine + KaTeX) shows one
question; the answer streams through a StreamRenderer: `--chunks` 40-character pushes per
frame, one `take()` and one patch per frame (as the view does at 60 frames/s, only faster than
500 tokens/s so the run takes seconds, not minutes; every patch still carries the whole live
paragraph). The page measures each patch with performance.now() around its application (DOM
update and the typesetting slice it does at once): worst, mean and p95; the longest deferred
typesetting slice; and, through a PerformanceObserver, the page's tasks over 50 ms while the
answer streams (running a patch's script, the frame that lays out and paints what it changed,
typesetting, garbage collection); through another, its frames over 50 ms (a task and the
rendering after it) with their style-and-layout time, apart for the end of the stream (endStream
and the layout of the finished paragraph). Baseline, same run: the same paragraph with the
dollar signs left out (no math at all). Prints how it was run (offscreen or Xvfb, Chromium
sandbox on or off).

Then older pages (`--pages`, default 3): pages of 60 older messages (questions and answers
with inline and display math, every formula different) are added above a chat of 60 while the
user reads its end, as the history pager does on scrolling up; per page, 4 s after it is added:
KaTeX runs, typeset formulas against all in the page, and the page's tasks over 50 ms.

    .venv/bin/python bench/view_math.py [--formulas 10000] [--chunks 8] [--pages 3]

QtWebEngine as root needs QTWEBENGINE_DISABLE_SANDBOX=1; under `xvfb-run` set
QT_QPA_PLATFORM=xcb (the default here is offscreen).
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

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.gui.application import prepare_environment  # noqa: E402
from app.gui.transcript import TranscriptMessage, TranscriptView  # noqa: E402
from app.render import StreamRenderer, render_markdown  # noqa: E402

BUDGET_MS = 50.0
CHUNK = 40


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def evaluate(view: TranscriptView, expression: str) -> object:
    box: list[str] = []
    view.page().runJavaScript(f"JSON.stringify({expression})", 0, box.append)
    while not box:
        wait(5)
    return json.loads(box[0])


def paragraph(count: int, *, math: bool) -> str:
    mark = "$" if math else ""
    return " ".join(f"term {mark}x_{{{i}}}^2 + {i}{mark} and" for i in range(count))


# The bench's own watch in the page: the page's tasks over 50 ms with their start, and each
# patch's start with the JS heap's size then (Chromium runs with --enable-precise-memory-info).
# A task that carries a patch and after which the heap is 10 MB smaller than at the patch before
# held a major garbage collection.
WATCH = """(() => {
  window.benchWatch = { tasks: [], patches: [] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) benchWatch.tasks.push([e.startTime, e.duration]);
  }).observe({ entryTypes: ["longtask"] });
  const patchOf = phidesk.patch;
  phidesk.patch = function (...args) {
    const heap = performance.memory ? performance.memory.usedJSHeapSize : 0;
    benchWatch.patches.push([performance.now(), heap]);
    return patchOf.apply(this, args);
  };
  return 0;
})()"""


def patch_tasks(watch: dict[str, list[list[float]]]) -> tuple[int, float, int, float, float]:
    """Tasks over 50 ms that carry a patch: how many, the longest, how many of them held a
    major collection, the longest of those, and the JS heap (MB) at the last patch."""
    starts = [p[0] for p in watch["patches"]]
    heaps = [p[1] for p in watch["patches"]]
    count = gc_count = 0
    longest = gc_longest = 0.0
    for start, duration in watch["tasks"]:
        inside = [k for k, t in enumerate(starts) if start <= t <= start + duration]
        if not inside:
            continue
        count += 1
        longest = max(longest, duration)
        k = inside[0]
        if k > 0 and heaps[k - 1] - heaps[k] >= 10e6:
            gc_count += 1
            gc_longest = max(gc_longest, duration)
    return count, longest, gc_count, gc_longest, (heaps[-1] if heaps else 0) / 1e6


def stream(view: TranscriptView, text: str, chunks_per_frame: int, mid: str) -> dict[str, float]:
    """Stream `text` into a new answer `mid`; the page's stats of this stream only."""
    view.append_message(TranscriptMessage(mid, "assistant", ""))
    evaluate(view, "(benchWatch.tasks = [], benchWatch.patches = [], 0)")
    before = evaluate(view, "phidesk.state()")
    assert isinstance(before, dict)
    renderer = StreamRenderer()
    view.begin_stream(mid)  # patches are pushed below, one per frame
    step = CHUNK * chunks_per_frame
    for start in range(0, len(text), step):
        for i in range(start, min(len(text), start + step), CHUNK):
            renderer.push(text[i : i + CHUNK])
        view.apply(renderer.take())
        view._flush()  # one patch per frame, now
        evaluate(view, "0")  # the page has applied it
    view.end_stream(renderer.finish())
    started = time.monotonic()
    while True:
        s = evaluate(view, "phidesk.state()")
        assert isinstance(s, dict)
        if s["typeset"] + s["raw"] >= s["math"] or time.monotonic() - started > 120:
            break
        wait(100)
    wait(300)  # the page reports a frame after it ends
    s = evaluate(view, "phidesk.state()")
    assert isinstance(s, dict)
    patches = s["patches"] - before["patches"]
    times = s["times"] or [0.0]
    long_tasks = s["longTasks"]
    watch = evaluate(view, "benchWatch")
    assert isinstance(watch, dict)
    carrying, carrying_ms, collecting, collecting_ms, heap = patch_tasks(watch)
    frames = s.get("longFrames", [])  # an older page (before the bench's own) lacks these
    cut = s.get("endFrame", -1)
    cut = cut if cut >= 0 else len(frames)
    during = max(frames[:cut], default=[0, 0])
    after = max(frames[cut:], default=[0, 0])
    return {
        "patches": patches,
        "mean": (s["patchMs"] - before["patchMs"]) / max(1, patches),
        "p95": statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0],
        "worst": s["maxPatchMs"],
        "long": len(long_tasks),
        "longest": max(long_tasks, default=0),
        "slice": s["maxSliceMs"],
        "renders": s["renders"] - before["renders"],
        "typeset": s["typeset"] - before["typeset"],
        "settled": time.monotonic() - started,
        "over": len(s["slow"]),
        "frames": cut,
        "frame": during[0],
        "frameLayout": during[1],
        "end": s.get("endMs", float("nan")),
        "endFrame": after[0],
        "endLayout": after[1],
        "carrying": carrying,
        "carryingMs": carrying_ms,
        "collecting": collecting,
        "collectingMs": collecting_ms,
        "heap": heap,
    }


def chat_message(n: int) -> TranscriptMessage:
    if n % 2 == 0:
        text = f"Question {n}: where is $f(x) = x^{{{n % 7 + 2}}} - {n}x$ smallest?"
        return TranscriptMessage(f"m{n}", "user", render_markdown(text))
    steps = " ".join(
        f"Step {k}: $x_{{{n}}}^{{{k}}} + \\frac{{{n}}}{{{k + 1}}}$." for k in range(10)
    )
    text = f"{steps}\n\n$$\n\\int_0^{{{n}}} x^{{{n % 5 + 1}}}\\,dx = \\frac{{{n}}}{{2}}\n$$\n"
    return TranscriptMessage(f"m{n}", "assistant", render_markdown(text))


def older_pages(view: TranscriptView, pages: int) -> None:
    """Add `pages` pages of 60 older messages above a chat of 60 while its end is shown."""
    total = 60 * (pages + 1)
    view.set_messages([chat_message(n) for n in range(total - 60, total)])
    wait(4000)
    for page in range(pages):
        reset_stats(view)
        before = evaluate(view, "phidesk.state()")
        assert isinstance(before, dict)
        end = total - 60 * (page + 1)
        view.prepend_messages([chat_message(n) for n in range(end - 60, end)])
        wait(4000)
        s = evaluate(view, "phidesk.state()")
        assert isinstance(s, dict)
        added = s["math"] - before["math"]
        print(
            f"older page {page + 1}: {added} formulas added ({s['math']} in the page,"
            f" {s['typeset']} typeset); KaTeX runs {s['renders'] - before['renders']};"
            f" page tasks over 50 ms {len(s['longTasks'])}"
            f" (longest {max(s['longTasks'], default=0)} ms)"
        )


def reset_stats(view: TranscriptView) -> None:
    evaluate(view, "(phidesk.resetStats(), 0)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formulas", type=int, default=10_000)
    parser.add_argument("--chunks", type=int, default=8, help="40-character pushes per frame")
    parser.add_argument("--pages", type=int, default=3, help="older pages of 60 messages")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
    os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = f"{flags} --enable-precise-memory-info".strip()
    prepare_environment(offscreen=os.environ["QT_QPA_PLATFORM"] == "offscreen")
    app = QApplication(sys.argv[:1])
    view = TranscriptView()
    view.resize(1000, 800)
    view.show()
    view.set_messages([TranscriptMessage("q", "user", render_markdown("Sum these."))])
    while not view.loaded:
        wait(20)
    wait(300)
    evaluate(view, WATCH)
    sandbox = "off" if os.environ.get("QTWEBENGINE_DISABLE_SANDBOX") == "1" else "on"
    print(
        f"run: QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}, Chromium sandbox {sandbox};"
        f" {args.formulas:,} formulas, {CHUNK}-character chunks, {args.chunks} per patch;"
        f" Chromium flags {os.environ['QTWEBENGINE_CHROMIUM_FLAGS']}"
    )
    results = {}
    for name, math in (("baseline (no math)", False), ("inline math", True)):
        reset_stats(view)
        text = paragraph(args.formulas, math=math)
        results[name] = stream(view, text, args.chunks, "math" if math else "plain")
        r = results[name]
        print(
            f"{name:>20}: {len(text):,} characters, {r['patches']:.0f} patches;"
            f" page time per patch mean {r['mean']:.2f} ms, p95 {r['p95']:.1f} ms,"
            f" worst {r['worst']:.1f} ms;"
            f" page tasks over 50 ms {r['long']:.0f} (longest {r['longest']:.0f} ms);"
            f" longest deferred typesetting slice {r['slice']:.1f} ms;"
            f" KaTeX runs {r['renders']:.0f} for {r['typeset']:.0f} formulas;"
            f" all typeset {r['settled']:.1f} s after the end;"
            f" {r['over']} patches over {BUDGET_MS:.0f} ms"
        )
        print(
            f"{'':>20}  frames over 50 ms while streaming {r['frames']:.0f} (longest"
            f" {r['frame']:.0f} ms, of it style and layout {r['frameLayout']:.0f} ms);"
            f" end of stream: endStream {r['end']:.1f} ms, longest frame after it"
            f" {r['endFrame']:.0f} ms (style and layout {r['endLayout']:.0f} ms)"
        )
        print(
            f"{'':>20}  tasks over 50 ms that carry a patch {r['carrying']:.0f} (longest"
            f" {r['carryingMs']:.0f} ms), of them with a major garbage collection"
            f" {r['collecting']:.0f} (longest {r['collectingMs']:.0f} ms);"
            f" JS heap at the last patch {r['heap']:.0f} MB"
        )
    worst = results["inline math"]["worst"]
    base = results["baseline (no math)"]["worst"]
    print(
        f"worst patch {worst:.1f} ms = {worst / BUDGET_MS:.2f}x the {BUDGET_MS:.0f} ms budget"
        f" (baseline without math {base:.1f} ms, ratio {worst / max(base, 0.1):.1f}x)"
    )
    if args.pages:
        older_pages(view, args.pages)
    print(f"machine load average at the end: {os.getloadavg()[0]:.1f}")
    view.close()
    del view
    app.processEvents()
    return 0 if worst <= BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
