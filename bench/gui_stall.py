"""The GUI thread's longest stall while the database is busy (budget: no stall over 50 ms).

Budget (docs/design.md): the GUI thread never stalls over 50 ms while another process holds the
write lock, or while exporting 1,000 chats.

The real main window (offscreen, QtWebEngine included) runs against the in-process Ollama double
and a real SQLite database in a temporary folder, seeded with chats. A QTimer fires every 5 ms on
the GUI thread; a stall is the gap between two ticks minus those 5 ms. Two scenarios:

1. Another process holds the write lock for 5 s (plain `sqlite3`: BEGIN IMMEDIATE, one row
   written, sleep, COMMIT). Meanwhile the window opens and switches chats, searches, pins a chat
   and sends a message. The same steps run once more with a process that holds no lock, as the
   baseline. Afterwards the database shows whether the message sent during the lock was stored
   (after the lock ended) or was handed back with a sentence in the message area.
2. Exporting 1,000 chats (4 messages each) to a .zip with `window.export_to` while the ticks run.

Prints, per run, the longest stall and the 99th percentile against the 50 ms budget, and the
three longest stalls: the step taken during (or last before) each, and how the GUI thread spent
it, from Linux's per-thread schedstat: running on a CPU (Python or Qt's C++), waiting for a CPU
(the machine is busy: on a shared machine much of a long gap can be this), or asleep (a lock,
the GIL). With --where, a sampling thread records the GUI thread's Python stack (and where the
other threads are) during each stall over budget, and a watcher process reads the GUI thread's
current system call every 0.5 ms (futex: asleep on a mutex such as the GIL; poll: Qt waiting
for events); both perturb the timing a little.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_stall.py [--scenario both|lock|export]
        [--chats 1000] [--where]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.gui.application import prepare_environment  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
prepare_environment(offscreen=os.environ["QT_QPA_PLATFORM"] == "offscreen")

from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.backend.client import OllamaClient  # noqa: E402
from app.config import AppContext, Paths  # noqa: E402
from app.gui.connection import ConnectionMonitor  # noqa: E402
from app.gui.main_window import MainWindow  # noqa: E402
from app.gui.tasks import new_qt_loop, run_on_qt_loop  # noqa: E402
from app.store import Chat, ChatSettings, ContextUsage, Database, Message, Provenance  # noqa: E402
from app.workspace import Workspace  # noqa: E402
from tests.ollama_double.server import OllamaDouble  # noqa: E402

BUDGET_MS = 50.0
TICK_MS = 5
LOCK_SECONDS = 5.0
MODEL = "phi4-mini:latest"
WORD = "eigenvalue"
REPLY = "The eigenvalues of a triangular matrix are its diagonal entries. " * 4

# Runs in another process: the standard sqlite3 module, nothing of PhiDesk.
HOLDER = """
import sqlite3, sys, time
path, seconds, lock = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "lock"
db = sqlite3.connect(path, isolation_level=None, timeout=30)
if lock:
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "UPDATE chats SET title = 'Renamed by another process'"
        " WHERE id = (SELECT max(id) FROM chats)"
    )
print("holding" if lock else "idle", flush=True)
time.sleep(seconds)
if lock:
    db.execute("COMMIT")
db.close()
print("released", flush=True)
"""

# Runs in another process with --where: every 0.5 ms, the system call the GUI thread is in
# (/proc/PID/task/TID/syscall: its number, or "running"). Needs no GIL of ours.
WATCHER = """
import sys, time
path, out = sys.argv[1], open(sys.argv[2], "w", buffering=1)
while True:
    try:
        with open(path) as f:
            now = f.read().split(None, 1)[0]
    except (OSError, IndexError):
        break
    out.write(f"{time.monotonic():.6f} {now}\\n")
    time.sleep(0.0005)
"""
SYSCALLS = {"0": "read", "1": "write", "7": "poll", "202": "futex", "232": "epoll_wait",
            "271": "ppoll", "-1": "in the kernel", "running": "running"}  # fmt: skip
"""x86-64 system call numbers the GUI thread is seen in."""

USER_TEXT = (
    "How do I find the eigenvalue of a 2x2 matrix? And what does $\\det(A - \\lambda I) = 0$ "
    "mean for the eigenvalue problem?\n"
)
ANSWER_TEXT = (
    "Solve the characteristic polynomial $\\lambda^2 - \\operatorname{tr}(A)\\lambda + "
    "\\det A = 0$. Each root is an eigenvalue.\n\n```python\nimport numpy as np\n"
    "print(np.linalg.eigvals([[2, 1], [1, 2]]))\n```\n\n$$\n\\lambda = \\frac{\\operatorname{tr}"
    " A \\pm \\sqrt{(\\operatorname{tr} A)^2 - 4\\det A}}{2}\n$$\n"
) * 2


def start_holder(path: Path, lock: bool) -> subprocess.Popen[str]:
    """Another process on the same database file; it prints a line once it holds the lock
    (or, without `lock`, once it has opened the file) and another when it lets go."""
    mode = "lock" if lock else "idle"
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(LOCK_SECONDS), mode],
        stdout=subprocess.PIPE,
        text=True,
    )


def seed(db: Database, chats: int, messages: int = 4) -> list[int]:
    """`chats` chats of `messages` messages each (user and assistant in turn)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for n in range(chats):
        moment = start + timedelta(minutes=n)
        chat = Chat(
            0, f"Linear algebra {n}", "normal", MODEL, "", ChatSettings(num_ctx=8192), False,
            moment, moment, None, ContextUsage(), 0,
        )  # fmt: skip
        rows = []
        for m in range(messages):
            when = moment + timedelta(seconds=m)
            answer = m % 2 == 1
            rows.append(
                Message(
                    m + 1,
                    0,
                    "assistant" if answer else "user",
                    ANSWER_TEXT if answer else USER_TEXT,
                    "",
                    "complete",
                    None,
                    when,
                    when,
                    None,
                    Provenance(model=MODEL) if answer else None,
                )
            )
        ids.append(db.import_chat(chat, rows, keep_id=False).id)
    return ids


def _gil_holding_pread() -> Callable[[int, ctypes.Array[ctypes.c_char], int, int], int]:
    """libc's pread called without releasing the GIL (ctypes.PyDLL keeps it; os.read would
    drop it). A tick that dropped the GIL would have to win it back from the worker threads,
    and the measurement would add GIL hand-offs of its own to the stalls it measures."""
    libc = ctypes.PyDLL(None)
    pread = libc.pread
    pread.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long]
    pread.restype = ctypes.c_ssize_t
    return pread


_pread = _gil_holding_pread()


@dataclass
class Ticks:
    """A 5 ms QTimer on the GUI thread; records when each tick came."""

    stamps: list[float] = field(default_factory=list)
    sched: list[tuple[int, int]] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    sample: bool = False
    timer: QTimer = field(default_factory=QTimer)

    def __post_init__(self) -> None:
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self._running = False
        self._main = threading.get_ident()
        self._native = threading.get_native_id()
        self._watcher: subprocess.Popen[bytes] | None = None
        self._native_log = Path()
        self.native: list[tuple[float, str]] = []
        self._sampler: threading.Thread | None = None
        stat = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")
        self._sched_fd = os.open(stat, os.O_RDONLY) if stat.is_file() else None
        self._sched_buffer = ctypes.create_string_buffer(128)

    def _tick(self) -> None:
        self.stamps.append(time.perf_counter())
        self.sched.append(self._schedstat())

    def _schedstat(self) -> tuple[int, int]:
        """Nanoseconds the GUI thread has run on a CPU, and has waited for one (Linux)."""
        if self._sched_fd is None:
            return (0, 0)
        size = _pread(self._sched_fd, self._sched_buffer, len(self._sched_buffer), 0)
        on_cpu, waiting, _ = self._sched_buffer.raw[:size].split()
        return (int(on_cpu), int(waiting))

    def mark(self, step: str) -> None:
        self.marks.append((time.perf_counter(), step))

    def start(self) -> None:
        self.stamps = [time.perf_counter()]
        self.sched = [self._schedstat()]
        self.marks = []
        self.samples = []
        self._running = True
        self.timer.start()
        if self.sample:
            self._sampler = threading.Thread(target=self._watch, daemon=True)
            self._sampler.start()
            task = f"/proc/{os.getpid()}/task/{self._native}/syscall"
            if os.path.exists(task):
                self._native_log = Path(tempfile.mkstemp(prefix="gui-stall-", suffix=".log")[1])
                self._watcher = subprocess.Popen(
                    [sys.executable, "-c", WATCHER, task, str(self._native_log)]
                )

    def stop(self) -> None:
        self.timer.stop()
        self._running = False
        if self._sampler is not None:
            self._sampler.join()
            self._sampler = None
        self.native = []
        if self._watcher is not None:
            self._watcher.terminate()
            self._watcher.wait(10)
            self._watcher = None
            for line in self._native_log.read_text().splitlines():
                at, call = line.split()
                self.native.append((float(at), SYSCALLS.get(call, f"system call {call}")))
            self._native_log.unlink()

    def native_during(self, begin: float, end: float) -> str:
        """How the GUI thread's time between `begin` and `end` splits over system calls."""
        seen = [call for at, call in self.native if begin < at <= end]
        if not seen:
            return ""
        counts: dict[str, int] = {}
        for call in seen:
            counts[call] = counts.get(call, 0) + 1
        parts = sorted(counts.items(), key=lambda item: -item[1])
        return ", ".join(f"{call} {100 * n / len(seen):.0f}%" for call, n in parts)

    def _watch(self) -> None:
        """Record the GUI thread's stack, and the innermost frame of every other thread,
        whenever no tick came for 30 ms (at most every 10 ms)."""
        while self._running:
            time.sleep(0.002)
            now = time.perf_counter()
            if now - self.stamps[-1] <= 0.030 or (
                self.samples and now - self.samples[-1].at <= 0.010
            ):
                continue
            frames = sys._current_frames()
            names = {t.ident: t.name for t in threading.enumerate()}
            frame = frames.get(self._main)
            if frame is None:
                continue
            stack = traceback.format_list(traceback.extract_stack(frame)[-4:])
            others = []
            for ident, other in frames.items():
                if ident in (self._main, threading.get_ident()):
                    continue
                inner = traceback.extract_stack(other)[-1]
                where = f"{Path(inner.filename).name}:{inner.name}"
                if where not in IDLE_FRAMES:
                    others.append(f"{names.get(ident, ident)} in {where}")
            self.samples.append(Sample(now, [line.rstrip() for line in stack], others))

    def stalls(self) -> list[Stall]:
        """Every gap between ticks, with what the GUI thread did meanwhile."""
        begin = self.stamps[0]
        found = []
        for i, (a, b) in enumerate(zip(self.stamps, self.stamps[1:], strict=False)):
            gap = (b - a) * 1000
            on_cpu = (self.sched[i + 1][0] - self.sched[i][0]) / 1e6
            waiting = (self.sched[i + 1][1] - self.sched[i][1]) / 1e6
            samples = [x for x in self.samples if a < x.at <= b]
            found.append(
                Stall(
                    a - begin,
                    max(0.0, gap - TICK_MS),
                    on_cpu,
                    waiting,
                    self.step_at(a, b),
                    samples,
                    self.native_during(a, b),
                )
            )
        return found

    def step_at(self, begin: float, end: float) -> str:
        """The steps taken during the gap from `begin` to `end`, or the last one before it."""
        during = [step for t, step in self.marks if begin < t <= end]
        if during:
            return "during " + ", ".join(f"'{step}'" for step in during)
        before = [(t, step) for t, step in self.marks if t <= begin]
        if not before:
            return "before the first step"
        t, step = before[-1]
        return f"{(begin - t) * 1000:.0f} ms after '{step}'"


IDLE_FRAMES = {
    "threading.py:wait",
    "thread.py:_worker",
    "selectors.py:select",
    "socketserver.py:serve_forever",
    "threading.py:_wait_for_tstate_lock",
    "socket.py:readinto",
}
"""Innermost frames of threads that are idle (waiting for work); left out of --where."""


@dataclass
class Sample:
    at: float
    gui_stack: list[str]
    others: list[str]


@dataclass
class Stall:
    at: float
    """Seconds since the run began."""
    ms: float
    on_cpu_ms: float
    """Of the gap, the GUI thread ran this long on a CPU (Python or Qt's C++)."""
    runqueue_ms: float
    """...waited this long for a CPU (the machine was busy); the rest it slept (a lock, the GIL)."""
    step: str
    samples: list[Sample]
    native: str
    """With --where: the GUI thread's time in the gap by system call (futex: asleep on a mutex,
    such as the GIL; poll: Qt waiting for events; running: on a CPU)."""

    @property
    def gap_ms(self) -> float:
        return self.ms + TICK_MS


@dataclass
class Result:
    name: str
    seconds: float
    ticks: int
    longest_ms: float
    p99_ms: float
    over: list[Stall]
    longest_net_ms: float
    """The longest stall less the time the GUI thread waited for a CPU within it (what is left
    on an idle machine: work on the GUI thread, or sleeping on a lock or the GIL)."""
    worst: list[Stall]
    """The three longest stalls."""


def summarise(name: str, ticks: Ticks) -> Result:
    stalls = ticks.stalls()
    values = sorted(s.ms for s in stalls)
    p99 = statistics.quantiles(values, n=100)[-1] if len(values) > 1 else values[0]
    over = [s for s in stalls if s.ms > BUDGET_MS]
    net = max(max(0.0, s.ms - s.runqueue_ms) for s in stalls)
    seconds = ticks.stamps[-1] - ticks.stamps[0]
    worst = sorted(stalls, key=lambda s: s.ms, reverse=True)[:3]
    return Result(name, seconds, len(ticks.stamps), values[-1], p99, over, net, worst)


async def until(predicate: Callable[[], object], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition never held: {predicate}")
        await asyncio.sleep(0.02)


class Bench:
    def __init__(self, double: OllamaDouble, sample: bool) -> None:
        self.double = double
        self.ticks = Ticks(sample=sample)
        self.io = ThreadPoolExecutor(1, thread_name_prefix="bench-pipe")
        self.export_seconds = 0.0
        self.export_files = 0

    # --- the window -----------------------------------------------------------------------

    async def open_window(self, folder: Path) -> MainWindow:
        ctx = AppContext(paths=Paths.resolve(folder).ensure(), host=self.double.url)
        client = OllamaClient(self.double.url, stall_seconds=30)
        workspace = Workspace.open(ctx.paths, client)
        window = MainWindow(ctx, workspace, ConnectionMonitor(workspace.connection, None))
        window.show()
        window.monitor.check_now()
        await until(lambda: window.monitor.state.value == "connected")
        await until(lambda: len(window.pane.picker.models) >= 3)
        await until(lambda: window.pane.view.loaded)
        await asyncio.sleep(1.0)  # the first chat list, model info and the page settle
        return window

    async def close_window(self, window: MainWindow) -> None:
        window.close()
        await window.aclose()
        await window.workspace.aclose()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        await asyncio.sleep(0.05)

    # --- scenario 1 -----------------------------------------------------------------------

    async def steps(self, window: MainWindow, ids: list[int], text: str) -> int:
        """Switch chats, search, pin, send; returns the chat the message went to."""
        mark = self.ticks.mark
        for chat_id in ids[:3]:
            mark(f"open chat {chat_id}")
            window.open_chat(chat_id)
            await asyncio.sleep(0.25)
        mark(f"search '{WORD}'")
        window.search(WORD)
        await until(lambda: window.sidebar.searching and window.sidebar.list.count() > 0)
        await asyncio.sleep(0.25)
        mark("search cleared")
        window.search("")
        await asyncio.sleep(0.25)
        mark(f"pin chat {ids[1]}")
        window.toggle_pin(ids[1])
        await asyncio.sleep(0.25)
        target = ids[3]
        mark(f"open chat {target}")
        window.open_chat(target)
        await until(lambda: window.pane.title.text() != "New chat")
        await asyncio.sleep(0.25)
        mark(f"send in chat {target}")
        window.pane.picker.select(MODEL)
        self.double.script_reply(REPLY, chunk_size=6)
        window.pane.send(text)
        await asyncio.sleep(0.25)
        mark(f"open chat {ids[0]}")
        window.open_chat(ids[0])
        await asyncio.sleep(0.25)
        mark(f"back to chat {target}")
        window.open_chat(target)
        return target

    async def locked_run(
        self, window: MainWindow, ids: list[int], lock: bool, label: str
    ) -> tuple[Result, str, int]:
        path = window.workspace.db.path
        holder = start_holder(path, lock)
        assert holder.stdout is not None
        out = holder.stdout
        text = f"Sent while another process {'holds' if lock else 'does not hold'} the lock"
        self.ticks.start()
        try:
            ready = await asyncio.wrap_future(self.io.submit(out.readline))
            self.ticks.mark(f"other process {ready.strip()}")
            target = await self.steps(window, ids, text)
            released = await asyncio.wrap_future(self.io.submit(out.readline))
            self.ticks.mark(f"other process {released.strip()}")
            released_at = datetime.now(UTC)
            await until(lambda: target not in window.workspace.turns, 30)
            self.ticks.mark("answer finished")
            await asyncio.sleep(1.0)
        finally:
            self.ticks.stop()
            holder.wait(30)
            out.close()
        outcome = self.outcome(window, target, text, released_at, lock)
        return summarise(label, self.ticks), outcome, target

    def outcome(
        self, window: MainWindow, chat_id: int, text: str, released_at: datetime, lock: bool
    ) -> str:
        messages = window.workspace.db.messages(chat_id)
        user = next((m for m in messages if m.role == "user" and m.content == text), None)
        notice = window.notice_text()
        if user is None:
            return f"NOT stored; the window said: {notice or '(nothing)'}"
        answer = messages[-1]
        when = (user.created_at - released_at).total_seconds()
        timing = (
            f"{when:+.2f} s from the lock's end"
            if lock
            else f"{when:+.2f} s from the idle process's end"
        )
        said = f"; message area: {notice}" if notice else ""
        return f"stored ({timing}), answer {answer.status}, {len(answer.content)} chars{said}"

    # --- scenario 2 -----------------------------------------------------------------------

    async def export_run(self, window: MainWindow, ids: list[int], zip_path: Path) -> Result:
        self.ticks.start()
        try:
            await asyncio.sleep(0.2)
            self.ticks.mark(f"export {len(ids)} chats")
            began = time.perf_counter()
            written = await window.export_to(ids, zip_path)
            self.export_seconds = time.perf_counter() - began
            self.ticks.mark("export finished")
            await asyncio.sleep(0.3)
        finally:
            self.ticks.stop()
        if not written:
            raise RuntimeError(f"the export failed: {window.notice_text()}")
        with zipfile.ZipFile(zip_path) as archive:
            self.export_files = len(archive.namelist())
        return summarise("export 1,000 chats", self.ticks)


def verdict(result: Result) -> str:
    return "met" if result.longest_ms <= BUDGET_MS else "NOT met"


def print_table(results: list[Result]) -> None:
    print()
    header = (
        f"{'run':<28} {'seconds':>7} {'ticks':>6} {'max gap':>8} {'max stall':>9} "
        f"{'p99 stall':>9} {'>50 ms':>6} {'max/budget':>10} {'max net*':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<28} {r.seconds:>7.2f} {r.ticks:>6} {r.longest_ms + TICK_MS:>6.1f}ms "
            f"{r.longest_ms:>7.1f}ms {r.p99_ms:>7.1f}ms {len(r.over):>6} "
            f"{r.longest_ms / BUDGET_MS:>9.2f}x {r.longest_net_ms:>7.1f}ms"
        )
    print(
        "* max net: the longest stall less the time the GUI thread waited for a CPU inside it"
        f" (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print()


def describe(stall: Stall) -> str:
    asleep = max(0.0, stall.ms - stall.on_cpu_ms - stall.runqueue_ms)
    return (
        f"{stall.ms:.0f} ms at +{stall.at:.2f} s, {stall.step} (GUI thread on a CPU "
        f"{stall.on_cpu_ms:.0f} ms, waiting for a CPU {stall.runqueue_ms:.0f} ms, asleep "
        f"{asleep:.0f} ms)"
    )


def print_worst(result: Result) -> None:
    print(f"{result.name}, longest stalls:")
    for stall in result.worst:
        print(f"  {describe(stall)}")
        if stall.native:
            print(f"    GUI thread's system calls meanwhile: {stall.native}")


def print_over(result: Result) -> None:
    for stall in result.over:
        print(f"  {result.name}: {describe(stall)}")
        if stall.native:
            print(f"    GUI thread's system calls meanwhile: {stall.native}")
        shown: list[list[str]] = []
        for sample in stall.samples:
            if sample.gui_stack in shown:
                continue
            shown.append(sample.gui_stack)
            print("    GUI thread's stack (innermost last):")
            for line in sample.gui_stack:
                print("      " + line.replace("\n", "\n      "))
            if sample.others:
                print("    other threads running: " + "; ".join(sample.others))


async def lock_scenario(bench: Bench, work: Path) -> tuple[list[Result], list[str]]:
    """Scenario 1: a small database, another process holding the write lock."""
    folder = work / "locked"
    with Database.open(Paths.resolve(folder).ensure().database) as db:
        ids = seed(db, 40)
    window = await bench.open_window(folder)
    try:
        await bench.steps(window, ids[20:], "warm-up")  # first-time costs, not measured
        await until(lambda: not window.workspace.turns)
        await asyncio.sleep(1.0)
        baseline, base_outcome, _ = await bench.locked_run(window, ids, False, "no lock (baseline)")
        locked, lock_outcome, _ = await bench.locked_run(
            window, ids[5:], True, f"write lock held {LOCK_SECONDS:.0f} s"
        )
        pinned = window.workspace.db.get_chat(ids[6]).pinned
    finally:
        await bench.close_window(window)
    ratio = locked.longest_ms / max(baseline.longest_ms, 0.1)
    return [baseline, locked], [
        f"scenario 1, message sent without a lock: {base_outcome}",
        f"scenario 1, message sent during the lock: {lock_outcome}",
        f"scenario 1, chat pinned during the lock: {'pinned' if pinned else 'NOT pinned'}",
        f"scenario 1, lock / baseline longest stall: {ratio:.2f}x",
    ]


async def export_scenario(bench: Bench, work: Path, chats: int) -> tuple[list[Result], list[str]]:
    """Scenario 2: exporting many chats."""
    folder = work / "export"
    began = time.perf_counter()
    with Database.open(Paths.resolve(folder).ensure().database) as db:
        ids = seed(db, chats)
    seeded = time.perf_counter() - began
    window = await bench.open_window(folder)
    try:
        exported = await bench.export_run(window, ids, work / "all.zip")
        exported.name = f"export {len(ids):,} chats to .zip"
    finally:
        await bench.close_window(window)
    return [exported], [
        f"scenario 2: {len(ids):,} chats x 4 messages (seeded in {seeded:.1f} s), export took "
        f"{bench.export_seconds:.2f} s, {bench.export_files:,} files in the zip"
    ]


async def run(args: argparse.Namespace, work: Path) -> int:
    double = OllamaDouble().start()
    bench = Bench(double, args.where)
    results: list[Result] = []
    notes: list[str] = []
    try:
        if args.scenario in ("both", "lock"):
            found, said = await lock_scenario(bench, work)
            results += found
            notes += said
        if args.scenario in ("both", "export"):
            found, said = await export_scenario(bench, work, args.chats)
            results += found
            notes += said
    finally:
        double.stop()
        bench.io.shutdown()

    print_table(results)
    for result in results:
        print_worst(result)
    print()
    for note in notes:
        print(note)
    for result in results:
        print(
            f"budget: no stall over {BUDGET_MS:.0f} ms — {verdict(result)} ({result.name}: "
            f"{result.longest_ms:.1f} ms = {result.longest_ms / BUDGET_MS:.2f}x)"
        )
    if any(r.over for r in results):
        print("\nstalls over budget:")
        for result in results:
            print_over(result)
    return 0 if all(not r.over for r in results) else 1


def run_in_window(
    run: Callable[[argparse.Namespace, Path], Coroutine[Any, Any, int]],
    args: argparse.Namespace,
    name: str,
) -> int:
    """Run a bench's `run(args, work)` on a Qt application's asyncio loop, with a scratch folder
    for its data (removed after) and PHIDESK_DATA_DIR pointing inside it."""
    app = QApplication(sys.argv[:1])
    loop = new_qt_loop(app)
    asyncio.set_event_loop(loop)
    work = Path(tempfile.mkdtemp(prefix=f"phidesk-{name}-"))
    os.environ["PHIDESK_DATA_DIR"] = str(work / "unused")
    try:
        code = run_on_qt_loop(loop, run(args, work))
    finally:
        loop.close()
        shutil.rmtree(work, ignore_errors=True)
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000, help="chats to export (scenario 2)")
    parser.add_argument("--scenario", choices=("both", "lock", "export"), default="both")
    parser.add_argument(
        "--where", action="store_true", help="sample the GUI thread's stack during long gaps"
    )
    args = parser.parse_args()
    return run_in_window(run, args, "gui-stall")


if __name__ == "__main__":
    raise SystemExit(main())
