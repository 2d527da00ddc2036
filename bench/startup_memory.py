"""Cold start to a usable window, a 2,000-message chat, and idle memory (budgets of docs/design.md).

Starts `phidesk` (offscreen unless QT_QPA_PLATFORM says otherwise) against an in-process Ollama
double, with a data dir whose last chat has 20 messages with math and code, and again with one of
2,000; beside each, in the same round, the baseline: an empty QWebEngineView window
(bench/webview_baseline.py) started with the same platform, Chromium flags and sandbox setting.
One warm-up round (it fills the OS file cache and Python's bytecode cache, as an installed
PhiDesk has them), then `--runs` rounds; each figure is the median over the rounds.

"Usable" is the moment PhiDesk logs "window usable": the window is shown, the chat list filled,
the transcript page ready and the last chat's newest messages are in the page. The baseline is
usable when its empty page has loaded. Memory is read after `--idle` seconds: RSS and PSS summed
over the process and its QtWebEngine (Chromium) processes.

    .venv/bin/python bench/startup_memory.py [--runs 5] [--idle 3] [--compare-flags="--flag ..."]

`--compare-flags` adds a fourth row: PhiDesk (20 messages) with those Chromium switches added, to
measure a switch against the same round's PhiDesk without it. Exit 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.gui.application import USABLE, chromium_environment  # noqa: E402
from app.store import Database  # noqa: E402
from tests.ollama_double.server import OllamaDouble  # noqa: E402

START_BUDGET_S = 1.0
LONG_CHAT_BUDGET_S = 0.3
PSS_BUDGET_MB = 250.0
SHORT, LONG = 20, 2000
SHOWN = "window shown"


def prepare(data: Path, messages: int) -> None:
    """A data dir whose last chat (reopened at start) has `messages` messages."""
    with Database.open(data / "phidesk.sqlite3") as db:
        for title in ("Older chat", "Another chat"):
            old = db.create_chat(title=title, model="phi4-mini:latest")
            db.add_message(old.id, "user", "Hello")
            db.add_message(old.id, "assistant", "Hello! How can I help?")
        chat = db.create_chat(title="Quadratics", model="phi4-mini:latest")
        for i in range(messages // 2):
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


def kind_of(pid: int) -> tuple[str, list[str]]:
    """The Chromium process type ("browser" for the Qt process itself) and the command line."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "gone", []
    for arg in args:
        if arg.startswith("--type="):
            kind = arg.removeprefix("--type=")
            for extra in args:
                if extra.startswith("--utility-sub-type="):
                    kind += " (" + extra.removeprefix("--utility-sub-type=").split(".")[-1] + ")"
            return kind, args
    return "browser", args


@dataclass
class Memory:
    rss_mb: float = 0.0
    pss_mb: float = 0.0
    by_kind: dict[str, float] = field(default_factory=dict)  # PSS per process type
    processes: int = 0
    sandboxed: bool | None = None  # Chromium's sandbox (None: no Chromium process seen)


def parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def memory_of(pid: int) -> Memory:
    memory = Memory()
    kinds: dict[int, str] = {}
    for p in descendants(pid):
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        kind, args = kind_of(p)
        if kind == "zygote" and kinds.get(parent_of(p)) == "zygote":
            kind = "renderer"  # forked by the zygote, it keeps the zygote's command line
        kinds[p] = kind
        memory.processes += 1
        for line in rollup:
            if line.startswith("Rss:"):
                memory.rss_mb += int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
                memory.pss_mb += pss
                memory.by_kind[kind] = memory.by_kind.get(kind, 0.0) + pss
        if kind != "browser":
            memory.sandboxed = "--no-sandbox" not in args
    return memory


@dataclass
class Result:
    seconds: list[float] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    shown: list[float] = field(default_factory=list)  # start to "window shown" (PhiDesk)

    def median_s(self) -> float:
        return statistics.median(self.seconds)

    def median_pss(self) -> float:
        return statistics.median(m.pss_mb for m in self.memory)

    def median_rss(self) -> float:
        return statistics.median(m.rss_mb for m in self.memory)


def measure(
    command: list[str],
    env: dict[str, str],
    ready: Callable[[subprocess.Popen[str], float], bool],
    idle: float,
) -> tuple[float, Memory]:
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        while not ready(process, time.perf_counter() - started):
            if process.poll() is not None or time.perf_counter() - started > 120:
                raise SystemExit(f"{command[1:3]} did not become usable")
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        time.sleep(idle)
        return seconds, memory_of(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_phidesk(
    double: OllamaDouble, template: Path, env: dict[str, str], idle: float, shown: list[float]
) -> tuple[float, Memory]:
    """Start to usable; the start to "window shown" (the first paint) is added to `shown`."""
    data = Path(tempfile.mkdtemp(prefix="phidesk-bench-"))
    try:
        shutil.copytree(template, data, dirs_exist_ok=True)
        log = data / "logs" / "phidesk.log"
        seen: list[float] = []

        def usable(_process: subprocess.Popen[str], elapsed: float) -> bool:
            text = log.read_text() if log.exists() else ""
            if not seen and SHOWN in text:
                seen.append(elapsed)
            return USABLE in text

        command = [sys.executable, "-m", "app", "--data-dir", str(data), "--host", double.url]
        result = measure(command, env, usable, idle)
        shown.extend(seen[:1])
        return result
    finally:
        shutil.rmtree(data, ignore_errors=True)


def run_baseline(env: dict[str, str], idle: float) -> tuple[float, Memory]:

    def loaded(process: subprocess.Popen[str], _elapsed: float) -> bool:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the page reports, or the process ends
        if line.strip() == "failed":
            raise SystemExit("the baseline web view failed to load its page")
        return line.strip() == "loaded"

    command = [sys.executable, str(REPO / "bench" / "webview_baseline.py")]
    return measure(command, env, loaded, idle)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle before memory")
    parser.add_argument("--compare-flags", default="", help="Chromium switches to try")
    args = parser.parse_args()

    offscreen = os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen"
    pycache = Path(tempfile.mkdtemp(prefix="phidesk-bench-pyc-"))
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    # An installed PhiDesk has its bytecode compiled; this checkout's is kept apart (and made
    # by the warm-up round) so no __pycache__ lands in the repository.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    baseline_env = dict(env, **chromium_environment(env, offscreen=offscreen))
    tried_env = dict(env)
    if args.compare_flags:
        flags = env.get("QTWEBENGINE_CHROMIUM_FLAGS", "") + " " + args.compare_flags
        tried_env["QTWEBENGINE_CHROMIUM_FLAGS"] = flags.strip()

    templates = Path(tempfile.mkdtemp(prefix="phidesk-bench-data-"))
    for messages in (SHORT, LONG):
        (templates / str(messages)).mkdir()
        prepare(templates / str(messages), messages)
    load_before = os.getloadavg()
    rows: dict[str, Result] = {
        "empty QWebEngineView": Result(),
        f"PhiDesk, {SHORT} messages": Result(),
        f"PhiDesk, {LONG:,} messages": Result(),
    }
    if args.compare_flags:
        rows[f"PhiDesk, {SHORT}, + flags"] = Result()
    names = list(rows)
    shown = [rows[name].shown for name in names] + [[]]
    try:
        with OllamaDouble() as double:
            runners: list[Callable[[], tuple[float, Memory]]] = [
                lambda: run_baseline(baseline_env, args.idle),
                lambda: run_phidesk(double, templates / str(SHORT), env, args.idle, shown[1]),
                lambda: run_phidesk(double, templates / str(LONG), env, args.idle, shown[2]),
                lambda: run_phidesk(double, templates / str(SHORT), tried_env, args.idle, shown[3]),
            ]
            for round_no in range(args.runs + 1):
                for name, runner in zip(names, runners, strict=False):
                    seconds, memory = runner()
                    if round_no:  # round 0 is the warm-up
                        rows[name].seconds.append(seconds)
                        rows[name].memory.append(memory)
                    else:
                        rows[name].shown.clear()
    finally:
        shutil.rmtree(templates, ignore_errors=True)
        shutil.rmtree(pycache, ignore_errors=True)
    load_after = os.getloadavg()

    base, short, long = (rows[n] for n in names[:3])
    sandbox = {m.sandboxed for r in rows.values() for m in r.memory}
    platform = env["QT_QPA_PLATFORM"]
    print("How it was run:")
    print(
        f"  platform {platform}"
        + (" (no display)" if platform == "offscreen" else f", DISPLAY={os.environ.get('DISPLAY')}")
        + "; Chromium sandbox "
        + ("on" if sandbox == {True} else "OFF (Chromium's processes run with --no-sandbox)")
        + (" because this runs as root" if hasattr(os, "geteuid") and os.geteuid() == 0 else "")
    )
    print(f"  Chromium flags: {baseline_env.get('QTWEBENGINE_CHROMIUM_FLAGS') or '(none)'}")
    if args.compare_flags:
        print(f"  + flags row adds: {args.compare_flags}")
    print(
        f"  1 warm-up round + {args.runs} rounds, each round: baseline, then PhiDesk with the "
        "chat of each length; Python bytecode cached after the warm-up"
    )
    print(
        f"  {os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; memory read after {args.idle:g} s idle"
    )
    print()
    print(f"{'':26} {'start median (min-max)':>26} {'PSS':>8} {'RSS':>8} {'processes':>10}")
    for name, result in rows.items():
        span = f"{ms(result.median_s())} ({min(result.seconds) * 1000:,.0f}-"
        span += f"{max(result.seconds) * 1000:,.0f})"
        processes = statistics.median(m.processes for m in result.memory)
        print(
            f"{name:26} {span:>26} {result.median_pss():>5.0f} MB {result.median_rss():>5.0f} MB "
            f"{processes:>10.0f}"
        )
    print()
    start = short.median_s()
    print(
        f"start to usable window ({SHORT} messages): {ms(start)}; "
        f"ratio to the {START_BUDGET_S:.1f} s budget {start / START_BUDGET_S:.2f}; "
        f"{start / base.median_s():.2f}x the baseline ({ms(start - base.median_s())} more)"
    )
    if short.shown:
        first = statistics.median(short.shown)
        print(
            f"  of which start to the window shown (first paint, chat list on its way): "
            f"{ms(first)}; ratio to the budget {first / START_BUDGET_S:.2f}"
        )
    extra = statistics.median(b - a for a, b in zip(short.seconds, long.seconds, strict=True))
    print(
        f"a {LONG:,}-message chat: {ms(extra)} slower than {SHORT} messages (median of the "
        f"rounds' differences); ratio to the {LONG_CHAT_BUDGET_S * 1000:.0f} ms budget "
        f"{extra / LONG_CHAT_BUDGET_S:.2f}"
    )
    pss = short.median_pss()
    print(
        f"idle PSS, one chat open: {pss:.0f} MB; ratio to the {PSS_BUDGET_MB:.0f} MB budget "
        f"{pss / PSS_BUDGET_MB:.2f}; {pss / base.median_pss():.2f}x the baseline "
        f"({pss - base.median_pss():.0f} MB more)"
    )
    for name in names:
        last = rows[name].memory[-1]
        parts = ", ".join(f"{k} {v:.0f}" for k, v in sorted(last.by_kind.items()))
        print(f"  PSS by process, {name}, last round (MB): {parts}")
    if args.compare_flags:
        tried = rows[names[3]]
        print(
            f"+ flags: start {tried.median_s() / start:.2f}x, "
            f"PSS {tried.median_pss() - pss:+.0f} MB ({tried.median_pss() / pss:.2f}x) "
            "against PhiDesk without them in the same rounds"
        )
    missed = start > START_BUDGET_S or extra > LONG_CHAT_BUDGET_S or pss > PSS_BUDGET_MB
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
