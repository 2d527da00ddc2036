"""Waiting for another process's lock: SQLite waits `BUSY_TIMEOUT_MS` at a time (its busy
handler), and `Waiting.run` tries again until `BUSY_WAIT` seconds have passed, saying once
after the first `BUSY_TIMEOUT_MS` that it is waiting. Only then is "busy" reported.

Every lock is taken at the start of a transaction (`BEGIN IMMEDIATE` for writes; for reads a
first read right after `BEGIN`, see `app.store.engine`), so trying again never repeats work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from app.store import failures

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 2_000
"""How long SQLite itself waits for a lock before it says busy; the note comes after it."""
BUSY_WAIT = 30.0
"""Seconds a lock is waited for in all before "busy" is reported."""
PAUSE = 0.05
"""Seconds between tries when SQLite said busy without waiting (it does for some locks)."""


class Waiting:
    """How one `Database` waits for locks, and whom it tells that it is waiting.

    `on_wait` is called with one sentence (at most once per operation, after about two seconds
    of waiting), from the thread that waits: it must be thread-safe. Without it the sentence
    goes to the log as a warning.
    """

    def __init__(
        self,
        path: Path,
        *,
        seconds: float = BUSY_WAIT,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.seconds = seconds
        self.on_wait = on_wait

    def run[T](self, attempt: Callable[[], T]) -> T:
        """`attempt()`, tried again while it fails because another connection holds a lock,
        for up to `seconds` in all; then its last busy error is raised."""
        started = time.monotonic()
        noted = False
        note_after = BUSY_TIMEOUT_MS / 1000 * 0.9  # SQLite's own wait, give or take the clock
        while True:
            tried = time.monotonic()
            try:
                return attempt()
            except Exception as exc:
                if not failures.is_busy(exc):
                    raise
                now = time.monotonic()
                if now - started >= self.seconds:
                    raise
                if not noted and now - started >= note_after:
                    noted = True
                    self.note()
                if now - tried < note_after / 2:  # refused at once, without SQLite's wait
                    time.sleep(PAUSE)

    def note(self) -> None:
        sentence = (
            f"the database {self.path} is busy in another process; waiting up to "
            f"{self.seconds:g} seconds for it"
        )
        if self.on_wait is None:
            log.warning("%s", sentence)
            return
        log.info("%s", sentence)
        try:
            self.on_wait(sentence)
        except Exception:
            log.exception("the wait note could not be given")
