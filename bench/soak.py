"""Soak: SIGKILL `phidesk ask`, a regenerate, `phidesk import` and `phidesk export` at random
points, and fault the server under `phidesk ask`; count what was lost, duplicated or corrupted.

Real processes on real files: each scenario has a temporary data dir seeded through
`app.store.Database`, and the Ollama test double serves in a thread of this process (a fresh one
per run). After each kill a process opens the database for writing, as the next PhiDesk would
(that is what recovers answers left `streaming` and removes what a dead import staged), and only
then is the file checked:

- ask: `phidesk ask` (half the runs `--chat ID`) with a slow scripted reply, killed early (while
  Python starts or the chat is made), right after the question is stored, while `/api/show` is
  pending, mid-stream, near the end, or while the answer is being finished. The question is
  stored once (it must be there once the server was asked anything), at most one answer follows
  it, with a final status and a prefix of the scripted reply; no earlier message changed.
- regenerate: a Python process that opens a `Workspace` and awaits `regenerate(chat_id)`,
  killed at the same kinds of points, and just after `/api/show` (where the old answer is
  replaced). The question is intact, exactly one answer follows it: the old one, or a prefix of
  the new reply with a final status.
- import: `phidesk import` of a .zip exported by `phidesk export` (100 to 400 chats), killed
  after a random time, once a random number of chat rows is staged, or around the last
  transaction. None or all of its chats are listed; importing again lists each exactly once;
  the data dir's own chats are kept.
- export: `phidesk export --all -o OUT.zip` (or a folder) killed after a random time or once its
  temporary file exists. OUT.zip is absent or complete (every chat, each file parses with every
  message); every .md in a folder is complete (temporary `.part` files are not output); the
  database's rows are unchanged.
- faults: `phidesk ask --stall-timeout 1` against each fault of the double (dropped connection,
  stalls, HTTP 500/503/401/403, a line that is not JSON, an error line, out of memory, web pages
  in Ollama's place, slow tokens, split reasoning tags). A failure exits 1 with exactly one
  `phidesk: error:` line and no traceback, a recovered fault exits 0; the question is stored
  once, the answer has a final status, and it holds exactly what was printed, which is exactly
  what the server sent before the fault.

Every check in every scenario also runs `PRAGMA integrity_check`. Prints a table per scenario
(runs, SIGKILLs delivered, lost, duplicated, corrupt, rows left `streaming`, wrong exits), each
problem with its scenario and run, and a last line `lost 0, duplicated 0, corrupt 0` (or every
non-zero count). Exit status 1 if anything is non-zero.

    .venv/bin/python bench/soak.py [--runs 50] [--faults 30] [--seed S]
        [--scenario ask|regenerate|import|export|faults] [--run N]

`--runs` is the SIGKILLs to deliver per scenario: a run whose process ended before its kill
point is checked too and another run follows. Each run draws its parameters (kill point,
delays, chat, fault) from `--seed`, the scenario and its number, so `--seed S --scenario X
--run N` replays them (on a freshly seeded data dir; the instant of a kill depends on timing).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.chat.transfer import parse_markdown
from app.store import Database, Role
from tests.ollama_double import OllamaDouble

MODEL = "phi4-mini:latest"
FINAL = ("complete", "interrupted", "stopped", "error")
SCENARIOS = ("ask", "regenerate", "import", "export", "faults")
PY = sys.executable
REGENERATE = """
import asyncio, sys
from app.backend.client import OllamaClient
from app.config import Paths
from app.workspace import Workspace

async def main() -> None:
    paths = Paths.resolve(sys.argv[1]).ensure()
    workspace = Workspace.open(paths, OllamaClient(sys.argv[2]))
    try:
        turn = workspace.regenerate(int(sys.argv[3]))
        assert turn.task is not None
        await turn.task
        print(getattr(getattr(turn.finished, "message", None), "status", "refused"))
    finally:
        await workspace.aclose()

asyncio.run(main())
"""


@dataclass
class Tally:
    """What one scenario found."""

    name: str
    runs: int = 0
    kills: int = 0
    lost: int = 0
    duplicated: int = 0
    corrupt: int = 0
    streaming: int = 0
    wrong: int = 0
    points: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    run: int = 0

    def saw(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def bad(self, what: str, count: int, why: str) -> None:
        if count:
            setattr(self, what, getattr(self, what) + count)
            self.problems.append(f"{self.name} run {self.run}: {what} {count}: {why}")


# ---------------------------------------------------------------- files, processes, checks


def phidesk(data: Path, host: str, *args: str) -> list[str]:
    return [PY, "-m", "app", "--data-dir", str(data), "--host", host, *args]


def readonly(path: Path) -> closing[sqlite3.Connection]:
    """A plain sqlite3 connection that never writes (for polling and checking)."""
    return closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30))


def rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    try:
        with readonly(path) as db:
            return db.execute(sql, params).fetchall()
    except sqlite3.Error:  # not created yet
        return []


def recover(path: Path) -> None:
    """Open for writing and close, as the next PhiDesk process would."""
    Database.open(path).close()


def check_integrity(tally: Tally, path: Path) -> None:
    result = rows(path, "PRAGMA integrity_check")
    if result != [("ok",)]:
        tally.bad("corrupt", 1, f"integrity_check says {result[:3]}")


MESSAGES = "SELECT id, chat_id, role, content, status FROM messages ORDER BY id"


def messages(path: Path) -> dict[int, tuple[Any, ...]]:
    return {row[0]: row for row in rows(path, MESSAGES)}


def compare(tally: Tally, before: dict[Any, Any], after: dict[Any, Any], what: str) -> None:
    """Rows of `before` must be in `after` unchanged."""
    missing = [key for key in before if key not in after]
    changed = [key for key in before if key in after and after[key] != before[key]]
    tally.bad("lost", len(missing), f"{what} {missing[:5]} disappeared")
    tally.bad("corrupt", len(changed), f"{what} {changed[:5]} changed")


def strays(tally: Tally, before: dict[int, Any], after: dict[int, Any], *allowed: Any) -> None:
    """New messages other than `allowed` (the question and its answer)."""
    new = [key for key, row in after.items() if key not in before and row not in allowed]
    tally.bad("duplicated", len(new), f"unexpected new messages {new[:5]}")


def left_streaming(tally: Tally, path: Path) -> None:
    found = rows(path, "SELECT id FROM messages WHERE status = 'streaming'")
    tally.bad("streaming", len(found), f"answers {[r[0] for r in found]} still streaming")


def spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as err:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)


def wait_for(test: Callable[[], bool], child: subprocess.Popen[bytes], limit: float = 30) -> None:
    """Until `test()` holds, the child ends, or `limit` seconds passed."""
    end = time.monotonic() + limit
    while not test() and child.poll() is None and time.monotonic() < end:
        time.sleep(0.001)


def kill(tally: Tally, child: subprocess.Popen[bytes], pause: float = 0.0) -> bool:
    """SIGKILL the child after `pause` seconds; False if it had ended by itself first."""
    if pause > 0:
        with suppress(subprocess.TimeoutExpired):
            child.wait(timeout=pause)
    alive = child.poll() is None
    if alive:
        os.kill(child.pid, signal.SIGKILL)
        tally.kills += 1
    child.wait(timeout=60)
    return alive


@contextmanager
def double(delay: float = 0.0) -> Iterator[OllamaDouble]:
    server = OllamaDouble(token_delay=delay).start()
    try:
        yield server
    finally:
        server.stop()


def seen(server: OllamaDouble, path: str) -> Callable[[], bool]:
    return lambda: bool(server.requests_to(path))


def scripted_reply(rng: random.Random, run: int) -> tuple[str, int]:
    """A reply of 30-60 chunks (distinct per run) and its chunk size."""
    size = rng.randint(3, 5)
    words = (
        "the",
        "answer",
        "keeps",
        "streaming",
        "while",
        "nothing",
        "is",
        "lost",
        "or",
        "doubled",
    )
    text = f"Reply {run}: "
    while len(text) < size * rng.randint(30, 60):
        text += rng.choice(words) + " "
    return text, size


def seed_chats(path: Path, count: int, messages_each: int, label: str) -> dict[int, str]:
    """`count` chats of alternating questions and complete answers; id → title."""
    titles: dict[int, str] = {}
    with Database.open(path) as db:
        for n in range(1, count + 1):
            title = f"{label} {n}"
            chat = db.create_chat(title=title, model=MODEL)
            for m in range(messages_each):
                role: Role = "user" if m % 2 == 0 else "assistant"
                text = f"{title}, message {m}: " + "sums, $x^2$ and ```code```\n" * (m % 3 + 1)
                db.add_message(chat.id, role, text, thinking="hmm" if role != "user" else "")
            titles[chat.id] = title
    return titles


def pick(rng: random.Random, points: tuple[str, ...], tally: Tally) -> str:
    point = rng.choice(points)
    tally.points[point] = tally.points.get(point, 0) + 1
    return point


# ---------------------------------------------------------------- ask and regenerate


ASK_POINTS = ("early", "stored", "show", "stream", "end", "finish")
REGENERATE_POINTS = ("early", "show", "swap", "stream", "end", "finish")


def kill_turn(
    tally: Tally,
    rng: random.Random,
    point: str,
    server: OllamaDouble,
    child: subprocess.Popen[bytes],
    stored: Callable[[], bool],
    stream_seconds: float,
) -> None:
    """Kill a process running one turn at `point` (see ASK_POINTS / REGENERATE_POINTS)."""
    if point == "early":
        kill(tally, child, rng.uniform(0, 1.6))
    elif point == "stored":
        wait_for(stored, child)
        kill(tally, child, rng.uniform(0, 0.01))
    elif point in ("show", "swap"):
        wait_for(seen(server, "/api/show"), child)
        kill(tally, child, rng.uniform(0, 0.4) if point == "show" else rng.uniform(0, 0.03))
    elif point in ("stream", "end"):
        wait_for(seen(server, "/api/chat"), child)
        late = stream_seconds + rng.uniform(-0.15, 0.1)
        kill(tally, child, rng.uniform(0, stream_seconds) if point == "stream" else late)
    else:  # finish: the stream ended, the answer's provenance is asked and it is saved
        wait_for(seen(server, "/api/ps"), child)
        kill(tally, child, rng.uniform(0, 0.05))


def check_answers(
    tally: Tally, after: dict[int, tuple[Any, ...]], question: tuple[Any, ...], reply: str
) -> list[tuple[Any, ...]]:
    """The answers after `question` in its chat: at most one, final, a prefix of `reply`."""
    answers = [
        m for m in after.values() if m[1] == question[1] and m[0] > question[0] and m[2] != "user"
    ]
    tally.bad("duplicated", max(0, len(answers) - 1), f"{len(answers)} answers to one question")
    for answer in answers:
        if answer[4] not in FINAL and answer[4] != "streaming":
            tally.bad("corrupt", 1, f"answer {answer[0]} has status {answer[4]!r}")
    return answers


def run_ask(tally: Tally, rng: random.Random, data: Path, logs: Path) -> None:
    path = data / "phidesk.sqlite3"
    reply, size = scripted_reply(rng, tally.run)
    delay = rng.uniform(0.01, 0.03)
    question = f"Soak question {tally.run} ({rng.random():.6f}): will this be kept?"
    chats = [r[0] for r in rows(path, "SELECT id FROM chats WHERE deleted_at IS NULL")]
    chat = ["--chat", str(rng.choice(chats))] if chats and rng.random() < 0.5 else []
    point = pick(rng, ASK_POINTS, tally)
    before = messages(path)
    with double(delay) as server:
        server.script_reply(reply, chunk_size=size)
        if point == "show":
            server.set_fault("stall", path="/api/show", seconds=5)
        command = phidesk(data, server.url, "ask", "-m", MODEL, *chat, question)
        child = spawn(command, logs / f"ask-{tally.run}.err")

        def stored() -> bool:
            return bool(rows(path, "SELECT 1 FROM messages WHERE content = ?", question))

        stream = len(reply) / size * delay
        kill_turn(tally, rng, point, server, child, stored, stream)
        time.sleep(0.05)  # a request on its way is recorded
        asked = bool(server.requests_to("/api/show") or server.requests_to("/api/chat"))
    recover(path)
    check_integrity(tally, path)
    left_streaming(tally, path)
    after = messages(path)
    compare(tally, before, after, "messages")
    questions = [m for m in after.values() if m[2] == "user" and m[3] == question]
    if asked and not questions:
        tally.bad("lost", 1, "the server was asked, but the question is not stored")
    tally.bad("duplicated", max(0, len(questions) - 1), f"question stored {len(questions)} times")
    answers = check_answers(tally, after, questions[0], reply) if questions else []
    for answer in answers:
        if not reply.startswith(answer[3]):
            tally.bad("corrupt", 1, f"answer {answer[0]} is not a prefix of the reply")
    strays(tally, before, after, *questions, *answers)
    tally.saw(
        "question not stored"
        if not questions
        else "no answer"
        if not answers
        else f"answer {answers[0][4]}"
    )


def run_regenerate(tally: Tally, rng: random.Random, data: Path, logs: Path) -> None:
    path = data / "phidesk.sqlite3"
    reply, size = scripted_reply(rng, tally.run)
    delay = rng.uniform(0.01, 0.03)
    before = messages(path)
    chat_id = rng.choice(sorted({m[1] for m in before.values()}))
    in_chat = [m for m in before.values() if m[1] == chat_id]
    question = max((m for m in in_chat if m[2] == "user"), key=lambda m: m[0])
    old = [m for m in in_chat if m[0] > question[0]]
    point = pick(rng, REGENERATE_POINTS, tally)
    with double(delay) as server:
        server.script_reply(reply, chunk_size=size)
        if point == "show":
            server.set_fault("stall", path="/api/show", seconds=5)
        command = [PY, "-c", REGENERATE, str(data), server.url, str(chat_id)]
        child = spawn(command, logs / f"regenerate-{tally.run}.err")
        stream = len(reply) / size * delay
        kill_turn(tally, rng, point, server, child, lambda: True, stream)
    recover(path)
    check_integrity(tally, path)
    left_streaming(tally, path)
    after = messages(path)
    kept = {k: v for k, v in before.items() if v not in old}
    compare(tally, kept, after, "messages")
    answers = check_answers(tally, after, question, reply)
    strays(tally, before, after, *answers)
    if not answers:
        tally.bad("lost", 1, f"chat {chat_id}: the old answer was removed and no new one stored")
    for answer in answers:
        if answer not in old and not reply.startswith(answer[3]):
            tally.bad("corrupt", 1, f"answer {answer[0]} is neither the old one nor the reply")
        tally.saw("old answer kept" if answer in old else f"new answer {answer[4]}")


# ---------------------------------------------------------------- import


@dataclass
class Source:
    archive: Path
    titles: dict[str, int]  # title → messages
    seconds: float = 0.0


def make_sources(rng: random.Random, work: Path, host: str) -> list[Source]:
    """Three exports made by `phidesk export`, of 100-199, 200-299 and 300-400 chats."""
    sources = []
    for low, high in ((100, 199), (200, 299), (300, 400)):
        count = rng.randint(low, high)
        data = work / f"source-{count}"
        seed_chats(data / "phidesk.sqlite3", count, rng.choice((2, 4, 6)), f"Exported {count}")
        archive = work / f"export-{count}.zip"
        command = phidesk(data, host, "export", "--all", "-o", str(archive))
        subprocess.run(command, check=True, capture_output=True)
        counted = rows(data / "phidesk.sqlite3", "SELECT title, message_count FROM chats")
        source = Source(archive, dict(counted))
        began = time.monotonic()
        target = work / f"timing-{count}"
        subprocess.run(
            phidesk(target, host, "import", str(archive)), check=True, capture_output=True
        )
        source.seconds = time.monotonic() - began
        sources.append(source)
    return sources


IMPORT_POINTS = ("time", "rows", "unmark")
LISTED = "SELECT title, message_count FROM chats WHERE deleted_at IS NULL AND import_batch IS NULL"


def run_import(
    tally: Tally, rng: random.Random, work: Path, sources: list[Source], host: str
) -> None:
    source = rng.choice(sources)
    data = work / f"import-{tally.run}"
    path = data / "phidesk.sqlite3"
    own = seed_chats(path, 2, 2, "Own")
    before = messages(path)
    point = pick(rng, IMPORT_POINTS, tally)
    child = spawn(phidesk(data, host, "import", str(source.archive)), work / "import.err")
    total = len(source.titles)

    def staged(count: int) -> Callable[[], bool]:
        return lambda: bool(rows(path, f"SELECT 1 FROM chats LIMIT 1 OFFSET {count + 1}"))

    if point == "time":
        kill(tally, child, rng.uniform(0, source.seconds * 1.1))
    else:
        count = rng.randint(1, total - 1) if point == "rows" else total
        wait_for(staged(count), child, limit=120)
        kill(tally, child, rng.uniform(0, 0.05) if point == "rows" else rng.uniform(0, 0.15))
    recover(path)
    check_integrity(tally, path)
    with Database.open(path) as db:
        listed = [c.title for c in db.list_chats()]
    compare(tally, before, messages(path), "own messages")
    tally.bad("lost", len(set(own.values()) - set(listed)), "the data dir's own chats went")
    imported = [t for t in listed if t in source.titles]
    tally.saw({0: "none listed", total: "all listed"}.get(len(imported), "some listed"))
    if len(imported) not in (0, total):
        tally.bad("corrupt", 1, f"{len(imported)} of {total} chats visible after the kill")
    hidden = rows(path, "SELECT count(*) FROM chats WHERE import_batch IS NOT NULL")[0][0]
    tally.bad("corrupt", hidden, "staged chats of the dead import were not removed")
    again = subprocess.run(
        phidesk(data, host, "import", str(source.archive)), capture_output=True, text=True
    )
    if again.returncode != 0:
        tally.bad("wrong", 1, f"the import again exited {again.returncode}: {again.stderr!r}")
    check_integrity(tally, path)
    listed_rows = rows(path, LISTED)
    titles = [t for t, _ in listed_rows if t in source.titles]
    tally.bad("lost", len(set(source.titles) - set(titles)), "chats missing after the rerun")
    tally.bad("duplicated", len(titles) - len(set(titles)), "chats imported twice")
    short = [t for t, n in listed_rows if t in source.titles and n != source.titles[t]]
    tally.bad("lost", len(short), f"chats imported without all their messages: {short[:3]}")
    extra = rows(path, "SELECT count(*) FROM chats")[0][0] - len(own) - total
    tally.bad("duplicated", max(0, extra), "more chat rows than the data dir and the export hold")


# ---------------------------------------------------------------- export


EXPORT_POINTS = ("time", "part")
ALL_ROWS = (
    "SELECT 'chat', id, title, updated_at, message_count, deleted_at, import_batch FROM chats "
    "UNION ALL SELECT 'message', id, chat_id, role, content, thinking, status FROM messages"
)


def table(path: Path) -> dict[tuple[str, int], tuple[Any, ...]]:
    return {(r[0], r[1]): r for r in rows(path, ALL_ROWS)}


def parsed_counts(tally: Tally, name: str, data: bytes, counts: dict[str, int]) -> str | None:
    """The title of a complete export file, checked against the chat's message count."""
    try:
        export = parse_markdown(data.decode("utf-8"), source=name)
    except Exception as exc:  # any failure to read it back is the finding
        tally.bad("corrupt", 1, f"{name} does not read back: {exc}")
        return None
    title = export.chat.title
    if counts.get(title) != len(export.messages):
        tally.bad("corrupt", 1, f"{name}: {len(export.messages)} messages, not {counts.get(title)}")
    return title


def run_export(
    tally: Tally, rng: random.Random, data: Path, work: Path, seconds: dict[str, float], host: str
) -> None:
    path = data / "phidesk.sqlite3"
    counts = dict(rows(path, LISTED))
    before = table(path)
    kind = "zip" if rng.random() < 0.6 else "folder"
    out = work / f"out-{tally.run}"
    out.mkdir()
    target = out / ("chats.zip" if kind == "zip" else "chats")
    point = pick(rng, EXPORT_POINTS, tally)
    child = spawn(phidesk(data, host, "export", "--all", "-o", str(target)), work / "export.err")
    if point == "time":
        kill(tally, child, rng.uniform(0, seconds[kind] * 1.1))
    else:
        where = out if kind == "zip" else target

        def part() -> bool:
            return where.is_dir() and any(p.suffix == ".part" for p in where.iterdir())

        wait_for(part, child)
        kill(tally, child, rng.uniform(0, 0.05 if kind == "folder" else 0.3))
    if not target.exists():
        tally.saw(f"no {kind}")
    elif kind == "folder":
        written = sum(1 for p in target.iterdir() if not p.name.startswith("."))
        whole = written == len(counts)
        tally.saw("all files" if whole else "some files" if written else "no files")
    else:
        tally.saw("complete zip")
    if kind == "zip" and target.exists():
        try:
            with zipfile.ZipFile(target) as archive:
                bad = archive.testzip()
                entries = [(n, archive.read(n)) for n in archive.namelist()]
        except (zipfile.BadZipFile, OSError) as exc:
            tally.bad("corrupt", 1, f"{target.name} exists but is not a readable zip: {exc}")
        else:
            tally.bad("corrupt", int(bad is not None), f"{bad} in {target.name} is damaged")
            titles = [parsed_counts(tally, n, text, counts) for n, text in entries]
            if sorted(t for t in titles if t) != sorted(counts):
                tally.bad("corrupt", 1, f"{target.name} holds {len(titles)} of {len(counts)} chats")
    elif kind == "folder" and target.exists():
        files = [p for p in target.iterdir() if not p.name.startswith(".")]
        titles = [parsed_counts(tally, p.name, p.read_bytes(), counts) for p in files]
        tally.bad("duplicated", len(titles) - len(set(titles)), "a chat exported twice")
    recover(path)
    check_integrity(tally, path)
    after = table(path)
    compare(tally, before, after, "rows")
    tally.bad("duplicated", len(after.keys() - before.keys()), "rows added by an export")


def time_exports(data: Path, work: Path, host: str) -> dict[str, float]:
    seconds = {}
    for kind, name in (("zip", "timing.zip"), ("folder", "timing")):
        began = time.monotonic()
        subprocess.run(
            phidesk(data, host, "export", "--all", "-o", str(work / name)),
            check=True,
            capture_output=True,
        )
        seconds[kind] = time.monotonic() - began
    return seconds


# ---------------------------------------------------------------- server faults


def fault_cases(k: int) -> list[tuple[str, dict[str, Any], bool, int | None]]:
    """(what, set_fault arguments, expected to fail, content chunks the answer must hold)."""
    chat = "/api/chat"
    return [
        ("connection dropped before any reply", {"kind": "disconnect", "path": chat}, True, 0),
        ("connection dropped mid-stream", {"kind": "disconnect", "after": k}, True, k),
        ("silence before the first token", {"kind": "stall", "seconds": 4}, True, 0),
        ("silence mid-stream", {"kind": "stall", "after": k, "seconds": 4}, True, k),
        ("a short pause mid-stream", {"kind": "stall", "after": k, "seconds": 0.3}, False, None),
        (
            "/api/show never answers",
            {"kind": "stall", "path": "/api/show", "seconds": 4},
            False,
            None,
        ),
        ("HTTP 500 for everything", {"kind": "status", "status": 500}, True, 0),
        ("HTTP 503 for everything", {"kind": "status", "status": 503}, True, 0),
        ("HTTP 500 for the chat", {"kind": "status", "status": 500, "path": chat}, True, 0),
        ("HTTP 503 for the chat", {"kind": "status", "status": 503, "path": chat}, True, 0),
        ("HTTP 401", {"kind": "status", "status": 401}, True, 0),
        ("HTTP 403", {"kind": "status", "status": 403}, True, 0),
        ("a line that is not JSON mid-stream", {"kind": "malformed", "after": k}, True, k),
        ("a line that is not JSON first", {"kind": "malformed", "after": 0}, True, 0),
        ("an error line mid-stream", {"kind": "error_line", "after": k}, True, k),
        ("an error before the first token", {"kind": "error_line", "after": 0}, True, 0),
        ("out of memory loading the model", {"kind": "oom"}, True, 0),
        ("a web page for everything", {"kind": "html"}, True, 0),
        ("a web page with HTTP 502", {"kind": "html", "status": 502}, True, 0),
        ("a web page for the chat", {"kind": "html", "path": chat}, True, 0),
        ("a web page for /api/show", {"kind": "html", "path": "/api/show"}, False, None),
        ("slow tokens", {"kind": "slow", "delay": 0.03}, False, None),
        ("reasoning tags split across chunks", {"kind": "think_tags"}, False, None),
    ]


def run_fault(tally: Tally, rng: random.Random, data: Path) -> str:
    path = data / "phidesk.sqlite3"
    reply, size = scripted_reply(rng, tally.run)
    chunks = -(-len(reply) // size)
    cases = fault_cases(rng.randint(1, chunks - 2))
    what, fault, fails, kept = cases[tally.run % len(cases)]
    question = f"Fault question {tally.run}: {what}?"
    before = messages(path)
    with double() as server:
        server.script_reply(reply, chunk_size=size)
        server.set_fault(**fault)
        command = phidesk(data, server.url, "ask", "--stall-timeout", "1", "-m", MODEL, question)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            tally.bad("wrong", 1, f"{what}: still running after 60 s")
            return f"{what}: still running after 60 s"
        tally.bad("wrong", len(server.errors), f"the double itself failed: {server.errors[:1]}")
    errors = [line for line in done.stderr.splitlines() if line.startswith("phidesk: error:")]
    if fails:
        right = done.returncode == 1 and len(errors) == 1 and "unexpected" not in errors[0]
    else:
        right = done.returncode == 0 and not errors
    if not right or "Traceback" in done.stderr:
        tally.bad("wrong", 1, f"{what}: exit {done.returncode}, stderr {done.stderr!r}")
    check_integrity(tally, path)
    left_streaming(tally, path)
    after = messages(path)
    compare(tally, before, after, "messages")
    questions = [m for m in after.values() if m[2] == "user" and m[3] == question]
    tally.bad("lost", int(not questions), f"{what}: the question is not stored")
    tally.bad("duplicated", max(0, len(questions) - 1), f"{what}: the question stored twice")
    answers = check_answers(tally, after, questions[0], reply) if questions else []
    strays(tally, before, after, *questions, *answers)
    # What the server sent before the fault (all of it when the fault is survived).
    sent = reply if kept is None else reply[: kept * size]
    for _, _, _, content, status in answers:
        if fails == (status == "complete"):
            tally.bad("corrupt", 1, f"{what}: the answer is saved as {status}")
        if done.stdout not in (content, content + "\n"):
            tally.bad("lost", 1, f"{what}: printed {done.stdout!r} but kept {content!r}")
        if content != sent and fault["kind"] != "think_tags":
            tally.bad("lost", 1, f"{what}: kept {content!r}; the server sent {sent!r}")
    status = ", ".join(f"{a[4]} ({len(a[3])} of {len(reply)} chars)" for a in answers)
    said = errors[0].removeprefix("phidesk: error: ") if errors else ""
    return f"{what}: exit {done.returncode}, answer {status or 'none'}" + (
        f": {said[:90]}{'…' if len(said) > 90 else ''}" if said else ""
    )


# ---------------------------------------------------------------- the run


def replay_rng(seed: int, scenario: str, run: int) -> random.Random:
    return random.Random(f"{seed}:{scenario}:{run}")


def soak(scenario: str, args: argparse.Namespace, work: Path) -> Tally:
    tally = Tally(scenario)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    data = work / scenario
    host = "http://127.0.0.1:9"  # import and export never ask a server
    setup = replay_rng(args.seed, scenario, 0)
    sources: list[Source] = []
    seconds: dict[str, float] = {}
    if scenario in ("ask", "faults"):
        seed_chats(data / "phidesk.sqlite3", 4, 4, "Seeded")
    elif scenario == "regenerate":
        seed_chats(data / "phidesk.sqlite3", args.runs * 2, 4, "Seeded")
    elif scenario == "import":
        sources = make_sources(setup, work, host)
    else:
        seed_chats(data / "phidesk.sqlite3", 300, 6, "Chat")
        seconds = time_exports(data, work, host)
    wanted = args.faults if scenario == "faults" else args.runs
    numbers: Iterator[int] = iter([args.run]) if args.run else iter(range(1, wanted * 3))
    kinds: dict[str, str] = {}
    for number in numbers:
        if args.run is None and (tally.runs if scenario == "faults" else tally.kills) >= wanted:
            break
        tally.run, tally.runs = number, tally.runs + 1
        rng = replay_rng(args.seed, scenario, number)
        if scenario == "ask":
            run_ask(tally, rng, data, logs)
        elif scenario == "regenerate":
            run_regenerate(tally, rng, data, logs)
        elif scenario == "import":
            run_import(tally, rng, work, sources, host)
        elif scenario == "export":
            run_export(tally, rng, data, work, seconds, host)
        else:
            outcome = run_fault(tally, rng, data)
            kinds.setdefault(outcome.split(":")[0], outcome)
        if args.verbose:
            print(f"  {scenario} run {number}: {len(tally.problems)} problems so far", flush=True)
    if kinds:
        tally.points = {"kinds of fault": len(kinds)}
        tally.details = sorted(kinds.values())
    return tally


COLUMNS = ("runs", "kills", "lost", "duplicated", "corrupt", "streaming", "wrong")


def report(tallies: list[Tally], seed: int) -> int:
    print(f"{'scenario':<12}" + "".join(f"{c:>11}" for c in COLUMNS))
    for t in tallies:
        print(f"{t.name:<12}" + "".join(f"{getattr(t, c):>11}" for c in COLUMNS))
    for t in tallies:
        points = ", ".join(f"{k} {v}" for k, v in sorted(t.points.items()))
        print(f"{t.name} kill points: {points}" if t.name != "faults" else f"faults: {points}")
        if t.outcomes:
            seen = ", ".join(f"{k} {v}" for k, v in sorted(t.outcomes.items()))
            print(f"{t.name} outcomes: {seen}")
        for detail in t.details:
            print(f"  {detail}")
    problems = [p for t in tallies for p in t.problems]
    for problem in problems:
        print(f"PROBLEM (seed {seed}): {problem}")
    sums = {c: sum(getattr(t, c) for t in tallies) for c in COLUMNS[2:]}
    line = f"lost {sums['lost']}, duplicated {sums['duplicated']}, corrupt {sums['corrupt']}"
    extra = {"left streaming": sums["streaming"], "wrong exits": sums["wrong"]}
    line += "".join(f", {name} {count}" for name, count in extra.items() if count)
    print(line)
    return 1 if any(sums.values()) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description="SIGKILLs and server faults; nothing lost.")
    parser.add_argument("--runs", type=int, default=50, help="SIGKILLs per scenario (50)")
    parser.add_argument("--faults", type=int, default=30, help="server faults (30)")
    parser.add_argument("--seed", type=int, default=None, help="replay this seed")
    parser.add_argument("--scenario", choices=SCENARIOS, action="append", help="only these")
    parser.add_argument("--run", type=int, default=None, help="only this run (with --scenario)")
    parser.add_argument("--verbose", action="store_true", help="a line per run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4))
    print(f"soak: seed {args.seed} (replay: bench/soak.py --seed {args.seed})", flush=True)
    began = time.monotonic()
    tallies = []
    work_root = Path(tempfile.mkdtemp(prefix="phidesk-soak-"))
    try:
        for scenario in args.scenario or SCENARIOS:
            started = time.monotonic()
            work = work_root / scenario
            work.mkdir()
            tallies.append(soak(scenario, args, work))
            print(
                f"{scenario}: {tallies[-1].runs} runs in {time.monotonic() - started:.0f} s",
                flush=True,
            )
    finally:
        if args.keep:
            print(f"kept {work_root}")
        else:
            subprocess.run(["rm", "-rf", str(work_root)], check=False)
    print(f"{time.monotonic() - began:.0f} s in all")
    return report(tallies, args.seed)


if __name__ == "__main__":
    sys.exit(main())
