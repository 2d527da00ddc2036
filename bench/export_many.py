"""Budget: exporting 1,000 chats takes well under a few seconds (docs/design.md).

Builds a database of 1,000 chats with 10 messages each (prose, code fences, `$` amounts, math,
an unclosed fence now and then, reasoning on the answers), then times exporting all of them to
a .zip and to a folder, against the time to merely read the same chats from the database.
Prints seconds and the ratio export / read (what the export itself adds).

    .venv/bin/python bench/export_many.py [--chats N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.chat.transfer import export_chats
from app.store import Chat, ChatSettings, ContextUsage, Database, Message, Provenance

USER = "How do I compute $\\sum_{i=1}^n i$? It costs $5 and $10 in my shop.\n"
ANSWER = (
    "The sum is $\\frac{n(n+1)}{2}$. Steps:\n\n1. Pair the terms.\n2. Count the pairs:\n\n"
    "   ```python\n   def total(n):\n       return n * (n + 1) // 2\n   ```\n\n"
    "$$\n\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}\n$$\n\n| n | sum |\n|---|-----|\n| 3 | 6 |\n"
) * 3
UNCLOSED = "Here is the start:\n\n````js\nconsole.log('```')\n"


def build(db: Database, chats: int) -> list[int]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for n in range(chats):
        moment = start + timedelta(minutes=n)
        chat = Chat(
            0, f"Chat {n % 50}: sums & $", "normal", "phi4-mini", "Be brief.",
            ChatSettings(num_ctx=8192), False, moment, moment, None, ContextUsage(), 0,
        )  # fmt: skip
        messages = []
        for m in range(10):
            when = moment + timedelta(seconds=m)
            answer = m % 2 == 1
            content = (UNCLOSED if m == 9 and n % 10 == 0 else ANSWER) if answer else USER
            messages.append(
                Message(
                    m + 1,
                    0,
                    "assistant" if answer else "user",
                    content,
                    "Let me think about sums.\n" * 5 if answer else "",
                    "complete",
                    None,
                    when,
                    when,
                    None,
                    Provenance(model="phi4-mini", quantization="Q4_K_M") if answer else None,
                )
            )
        ids.append(db.import_chat(chat, messages, keep_id=False).id)
    return ids


def timed(action: object) -> float:
    begin = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=1000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="phidesk-export-bench-"))
    try:
        with Database.open(folder / "bench.sqlite3") as db:
            ids = build(db, args.chats)
            read = timed(lambda: [(db.get_chat(i), db.messages(i)) for i in ids])
            to_zip = timed(lambda: export_chats(db, ids, folder / "all.zip"))
            to_folder = timed(lambda: export_chats(db, ids, folder / "out"))
            size = (folder / "all.zip").stat().st_size
        print(f"chats: {len(ids)} x 10 messages")
        print(f"read from the database: {read:.2f} s")
        print(f"export to .zip:         {to_zip:.2f} s  ({to_zip / read:.1f}x the read)")
        print(f"zip size:               {size // 1024} KiB")
        print(f"export to a folder:     {to_folder:.2f} s  ({to_folder / read:.1f}x the read)")
        verdict = "within" if max(to_zip, to_folder) < 3.0 else "OVER"
        print(
            f"budget: well under a few seconds for 1,000 chats -> {verdict} (3 s taken as the line)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
