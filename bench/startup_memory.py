"""Cold start to a usable window, and idle memory with one chat open (budgets of docs/design.md).

Starts `phidesk` (offscreen) against an in-process Ollama double, with a data dir holding one
chat of 20 messages with math and code, `RUNS` times. "Usable" is the moment the log says the
transcript page is ready (the window is shown, the chat list filled, the web view loaded; Ollama
is probed on the asyncio loop, not the GUI thread). Memory is read after 3 s idle: RSS and PSS
summed over PhiDesk and its QtWebEngine (Chromium) processes.

    .venv/bin/python bench/startup_memory.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.store import Database  # noqa: E402
from tests.ollama_double.server import OllamaDouble  # noqa: E402

RUNS = 5
START_BUDGET_S = 1.5
RSS_BUDGET_MB = 300.0
READY = "window usable: transcript ready"


def prepare(data: Path) -> None:
    with Database.open(data / "phidesk.sqlite3") as db:
        chat = db.create_chat(title="Quadratics", model="phi4-mini:latest")
        for i in range(10):
            db.add_message(chat.id, "user", f"Question {i}: solve $x^2 - {i}x + 1 = 0$")
            db.add_message(
                chat.id,
                "assistant",
                f"$$x = \\frac{{{i} \\pm \\sqrt{{{i}^2 - 4}}}}{{2}}$$\n\n"
                f"```python\nprint({i})\n```",
            )
    (data / "settings.json").write_text(f'{{"last_chat": {chat.id}}}')


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def memory_mb(pid: int) -> tuple[float, float, int]:
    rss = pss = 0
    pids = descendants(pid)
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024, len(pids)


def one_run(double: OllamaDouble, measure_memory: bool) -> tuple[float, tuple[float, float, int]]:
    data = Path(tempfile.mkdtemp(prefix="phidesk-bench-"))
    prepare(data)
    log = data / "logs" / "phidesk.log"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--data-dir", str(data), "--host", double.url],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if log.exists() and READY in log.read_text():
                ready = time.perf_counter() - started
                break
            if process.poll() is not None or time.perf_counter() - started > 60:
                raise SystemExit("PhiDesk did not become usable")
            time.sleep(0.005)
        memory = (0.0, 0.0, 0)
        if measure_memory:
            time.sleep(3)
            memory = memory_mb(process.pid)
        return ready, memory
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    with OllamaDouble() as double:
        one_run(double, False)  # warm the OS file cache: later runs are what a user sees
        times = []
        memory = (0.0, 0.0, 0)
        for run in range(RUNS):
            ready, mem = one_run(double, measure_memory=(run == 0))
            times.append(ready)
            if run == 0:
                memory = mem
    median = statistics.median(times)
    print(
        f"start to usable window: median {median * 1000:.0f} ms over {RUNS} runs "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})"
    )
    print(f"  ratio to the {START_BUDGET_S:.1f} s budget: {median / START_BUDGET_S:.2f}")
    rss, pss, count = memory
    print(f"idle memory, one chat open, {count} processes: RSS {rss:.0f} MB, PSS {pss:.0f} MB")
    print(
        f"  RSS ratio to the {RSS_BUDGET_MB:.0f} MB budget: {rss / RSS_BUDGET_MB:.2f}; "
        f"PSS ratio: {pss / RSS_BUDGET_MB:.2f}"
    )


if __name__ == "__main__":
    main()
