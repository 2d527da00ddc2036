"""Closing a workspace in a process that can start no more threads (its address space is at
its limit, as after an import that ran out of memory): the writes queued before are finished,
the database is closed, and closing raises nothing; work asked of a thread that cannot start
is refused with a sentence that says so. A real child process, a real SQLite file;
threads are made impossible by a stack size larger than the address space left."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

from app.config import Paths
from tests.conftest import REPO

CHILD = textwrap.dedent(
    """
    import asyncio, resource, sys, threading, time
    from app.backend.client import OllamaClient
    from app.config import Paths
    from app.errors import PhiDeskError
    from app.workspace import Workspace

    def vm_size() -> int:
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
        raise SystemExit("no VmSize")

    async def main() -> None:
        paths = Paths.resolve(sys.argv[1]).ensure()
        workspace = Workspace.open(paths, OllamaClient("http://127.0.0.1:9"))
        chat = await workspace.new_chat("phi4-mini")
        # From here no thread can start: its stack would not fit in the address space left.
        threading.stack_size(1 << 30)
        resource.setrlimit(resource.RLIMIT_AS, (vm_size() + (256 << 20), resource.RLIM_INFINITY))
        try:
            threading.Thread(target=print).start()
        except RuntimeError:
            print("threads refused")
        def slow_rename() -> None:
            time.sleep(0.3)
            workspace.db.update_chat(chat.id, title="Renamed while closing")
        try:
            await workspace.read(lambda: 1)  # the reader's thread was never started
        except PhiDeskError as exc:
            print(exc)
        queued = asyncio.ensure_future(workspace.write(slow_rename))
        await asyncio.sleep(0)
        await workspace.aclose()
        await queued
        print("closed")

    asyncio.run(main())
    """
)


def test_closing_without_threads_finishes_queued_writes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "threads refused",
        "PhiDesk could not start a worker thread; the system is out of memory or threads",
        "closed",
    ], done.stdout
    database = Paths.resolve(data).database
    with closing(sqlite3.connect(database)) as db:
        titles = [row[0] for row in db.execute("SELECT title FROM chats")]
    assert titles == ["Renamed while closing"]
