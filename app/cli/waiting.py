"""How the commands that wait on a stream (`ask`, `pull`) wait: `--stall-timeout` and the note
printed while nothing arrives (a model may take minutes to load, but a server that stopped
answering must not keep the command waiting forever), and SIGTERM taken as a stop, like Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
from types import TracebackType

log = logging.getLogger(__name__)

EXIT_TERMINATED = 128 + signal.SIGTERM
"""The status of a command stopped by SIGTERM (143), as a shell reports a process it killed."""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of seconds")
    return value


def add_stall_timeout(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--stall-timeout",
        type=_seconds,
        metavar="SECONDS",
        help=f"give up when no {what} arrives for this long, a model loading included "
        "(default: the stall_timeout setting, 300)",
    )


def stall_note(host: str, seconds: float, timeout: float) -> str:
    """The note printed each time the watchdog reports silence."""
    return (
        f"nothing has arrived from {host} for {seconds:g} s; still waiting, and giving up "
        f"after {timeout:g} s (--stall-timeout)"
    )


class TerminateAsStop:
    """While entered (in a task on the running loop), SIGTERM cancels that task, as Ctrl-C
    cancels `asyncio.run`'s main task: whatever it awaits is stopped and saved, instead of the
    process dying with the answer half written. `received` tells the caller to exit 143."""

    def __init__(self) -> None:
        self.received = False
        self._task: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> TerminateAsStop:
        self._task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGTERM, self._stop)
        except (NotImplementedError, RuntimeError):  # no signal handlers in this loop (Windows)
            return self
        self._loop = loop
        return self

    def _stop(self) -> None:
        log.info("SIGTERM: stopping as Ctrl-C does")
        self.received = True
        if self._task is not None:
            self._task.cancel()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGTERM)
            self._loop = None
