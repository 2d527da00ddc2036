"""Database budgets of docs/design.md at scale: 2,000 chats / 200,000 messages.

Builds the database in a temporary folder through `Database.open` (so the real schema, indexes and
FTS triggers are used), bulk-inserts the messages, then times through the store's own API:
  - opening a chat: its latest 200 messages          budget < 50 ms
  - full-text search with snippets (50 hits)         budget < 50 ms
  - the chat list (all chats, counts, context meter) budget < 30 ms
Each figure is a median over repeated runs, printed with its ratio to the budget (≤ 1.00 is in
budget). Run: .venv/bin/python bench/db_scale.py [--chats N] [--messages N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.store import Database

BUDGETS_MS = {"open chat (latest 200)": 50.0, "search with snippets": 50.0, "chat list": 30.0}
COMMON = [
    "the",
    "model",
    "context",
    "window",
    "token",
    "answer",
    "question",
    "python",
    "rust",
    "code",
    "memory",
    "graph",
    "function",
    "value",
    "error",
    "string",
    "list",
    "number",
    "system",
    "prompt",
    "user",
    "thread",
    "file",
    "data",
    "time",
    "result",
    "test",
]


def _vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(size)}
    return sorted(words)


def _chat_sizes(rng: random.Random, chats: int, messages: int) -> list[int]:
    """A few long chats (≥ 1,000 messages, so "latest 200" is a real cut), the rest shorter."""
    big = max(1, chats // 20)
    big_size = max(200, min(1000, messages // (2 * big)))
    rest = messages - big * big_size
    small = chats - big
    sizes = [big_size] * big + [rest // small] * small
    sizes[-1] += messages - sum(sizes)
    rng.shuffle(sizes)
    return sizes


def build(path: Path, chats: int, messages: int, seed: int = 7) -> list[int]:
    """Create the database and fill it. Returns the ids of the longest chats."""
    rng = random.Random(seed)
    Database.open(path).close()  # schema, indexes and FTS triggers from the migrations
    vocabulary = _vocabulary(rng)
    sizes = _chat_sizes(rng, chats, messages)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = OFF")  # bulk load only; the app uses NORMAL
    connection.execute("BEGIN")
    message_id = 0
    for chat_id, size in enumerate(sizes, start=1):
        created = start + timedelta(minutes=chat_id * 97)
        updated = created + timedelta(minutes=size)
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        connection.execute(
            "INSERT INTO chats (id, title, kind, model, system_prompt, num_ctx, extra_options,"
            " pinned, created_at, updated_at, context_used, context_limit)"
            " VALUES (?, ?, 'normal', 'phi4:14b', '', 16384, '{}', ?, ?, ?, ?, 16384)",
            (
                chat_id,
                " ".join(rng.choices(vocabulary, k=4)),
                int(chat_id % 97 == 0),
                created.strftime(fmt),
                updated.strftime(fmt),
                rng.randint(500, 16000),
            ),
        )
        rows = []
        for i in range(size):
            message_id += 1
            words = rng.choices(vocabulary, k=rng.randint(15, 70))
            words += rng.choices(COMMON, k=rng.randint(2, 8))
            rng.shuffle(words)
            when = (created + timedelta(minutes=i)).strftime(fmt)
            assistant = i % 2 == 1
            rows.append(
                (
                    message_id,
                    chat_id,
                    message_id - 1 if i else None,
                    "assistant" if assistant else "user",
                    " ".join(words),
                    when,
                    when,
                    rng.randint(100, 9000) if assistant else None,
                    rng.randint(20, 900) if assistant else None,
                    "stop" if assistant else None,
                )
            )
        connection.executemany(
            "INSERT INTO messages (id, chat_id, parent_id, role, content, thinking, status,"
            " created_at, updated_at, prompt_eval_count, eval_count, done_reason)"
            " VALUES (?, ?, ?, ?, ?, '', 'complete', ?, ?, ?, ?, ?)",
            rows,
        )
        # Each chat is one path ending at its newest message (the store keeps these counts).
        connection.execute(
            "UPDATE chats SET active_leaf_id = ?, message_count = ? WHERE id = ?",
            (message_id if size else None, size, chat_id),
        )
    connection.execute("COMMIT")
    connection.execute("PRAGMA optimize")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    big = max(sizes)
    return [i for i, size in enumerate(sizes, start=1) if size == big]


def median_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm the page cache and statement caches once
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--keep", type=Path, help="build here and keep the database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="phidesk-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "phidesk.sqlite3"
    path.unlink(missing_ok=True)
    try:
        began = time.perf_counter()
        long_chats = build(path, args.chats, args.messages)
        built_s = time.perf_counter() - began
        size_mb = path.stat().st_size / 1e6

        began = time.perf_counter()
        db = Database.open(path)
        open_ms = (time.perf_counter() - began) * 1000
        try:
            rng = random.Random(11)
            chats = db.list_chats()
            assert len(chats) == args.chats, len(chats)
            assert sum(c.message_count for c in chats) == args.messages

            def open_chat() -> None:
                messages = db.latest_messages(rng.choice(long_chats), 200)
                assert len(messages) == 200

            queries = ["context window", "memory", "pyth", "rust error", "token answer model"]

            def search() -> None:
                hits = db.search(rng.choice(queries), limit=50)
                assert hits and all(h.highlights for h in hits)

            figures = {
                "open chat (latest 200)": median_ms(open_chat, args.repeat),
                "search with snippets": median_ms(search, args.repeat),
                "chat list": median_ms(db.list_chats, args.repeat),
            }
            rare = db.search("needle-that-is-not-there")
            assert rare == []
        finally:
            db.close()

        print(
            f"built {args.chats} chats / {args.messages} messages in {built_s:.1f} s "
            f"({size_mb:.0f} MB); Database.open of it: {open_ms:.1f} ms"
        )
        print(f"{'what':<26}{'median':>10}{'budget':>10}{'ratio':>8}")
        for name, value in figures.items():
            budget = BUDGETS_MS[name]
            print(f"{name:<26}{value:>8.2f}ms{budget:>8.0f}ms{value / budget:>8.2f}")
        if args.json:
            print(json.dumps({k: round(v, 3) for k, v in figures.items()}))
        return 0 if all(figures[k] <= BUDGETS_MS[k] for k in figures) else 1
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
