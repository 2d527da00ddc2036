"""The workspace's worker threads: handing them work, and letting them finish when it closes,
with one sentence for every way that can fail (closed, or no thread can be started)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from app.errors import PhiDeskError

log = logging.getLogger(__name__)


def submit[R](executor: ThreadPoolExecutor, call: Callable[[], R]) -> Future[R]:
    """`executor.submit`, with one sentence (a PhiDeskError, which front ends expect) for work
    asked of a workspace that has closed, e.g. by a window task finishing during shutdown, or
    of a pool whose thread cannot be started."""
    try:
        return executor.submit(call)
    except RuntimeError as exc:
        if "shutdown" in str(exc):  # "cannot schedule new futures after shutdown"
            raise PhiDeskError("PhiDesk is closing; the database is closed") from None
        # "can't start new thread": the pool had no thread yet and none could be started.
        raise PhiDeskError(
            "PhiDesk could not start a worker thread; the system is out of memory or threads"
        ) from exc


async def shut_down(pool: ThreadPoolExecutor) -> None:
    """Let `pool` finish its queued calls and end, waited for on a thread of its own so that the
    loop goes on; in this thread when no thread can be started (a process at its memory limit,
    e.g. after an import that ran out of memory), since what is queued must still be saved."""
    finished: Future[None] = Future()

    def shut() -> None:
        try:
            pool.shutdown(wait=True)
        except BaseException as exc:  # handed to the awaiting task
            finished.set_exception(exc)
        else:
            finished.set_result(None)

    try:
        threading.Thread(target=shut, name="phidesk-close", daemon=True).start()
    except RuntimeError:
        log.warning("no thread could be started to close the workers; closing them here")
        pool.shutdown(wait=True)
        return
    await asyncio.wrap_future(finished)
