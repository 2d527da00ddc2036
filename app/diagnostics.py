"""Logging to a rotating file, crash dumps through faulthandler, and start-up checks."""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import logging
import logging.handlers
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from app import MIN_PYTHON
from app.errors import PhiDeskError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
_crash_file: TextIO | None = None


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> None:
    if version[:2] < MIN_PYTHON:
        have = ".".join(str(p) for p in version[:3])
        need = ".".join(str(p) for p in MIN_PYTHON)
        raise PhiDeskError(
            f"PhiDesk needs Python {need} or newer, but this is Python {have}; "
            f"install Python {need}+ and reinstall PhiDesk with it"
        )


def _print_warning(sentence: str) -> None:
    print(f"phidesk: warning: {sentence}", file=sys.stderr)


class _LogFile(logging.handlers.RotatingFileHandler):
    """A rotating log file that, when writing fails (disk full, file removed, a folder in its
    place), says so once and then drops records, instead of a traceback for every record."""

    def __init__(self, path: Path, warn: Callable[[str], None]) -> None:
        super().__init__(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
        self._warn = warn
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        self.failed = True
        reason = _reason(sys.exc_info()[1])
        with contextlib.suppress(OSError):
            self.close()
        self._warn(f"cannot write the log file {self.baseFilename} ({reason}); going on without it")


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def setup_logging(
    log_file: Path, *, verbose: bool = False, warn: Callable[[str], None] = _print_warning
) -> str | None:
    """Send PhiDesk's log records to a rotating file (5 × 2 MB). Idempotent per file.

    Returns None, or the sentence saying why the file cannot be written; then nothing is logged
    to a file (and nothing is printed: the caller says it once). A file that fails later is
    reported once through `warn`.
    """
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)
    for handler in root.handlers:
        if isinstance(handler, _LogFile) and Path(handler.baseFilename) == log_file.absolute():
            return None
    try:
        handler = _LogFile(log_file, warn)
    except OSError as exc:
        return f"cannot write the log file {log_file} ({_reason(exc)}); going on without a log"
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    return None


def _close_crash_log() -> None:
    """At exit: stop writing tracebacks into the crash log, then close it (no unclosed file)."""
    if _crash_file is not None and not _crash_file.closed:
        faulthandler.disable()
        _crash_file.close()


atexit.register(_close_crash_log)


def enable_crash_log(crash_log: Path) -> str | None:
    """Hard crashes (a segfault in Qt, a fatal signal) leave a Python traceback in this file.

    Returns None, or the sentence saying why the file cannot be written.
    """
    global _crash_file
    if _crash_file is not None and not _crash_file.closed:
        if _crash_file.name == str(crash_log):
            return None
        _crash_file.close()
    try:
        _crash_file = open(crash_log, "a", encoding="utf-8")  # noqa: SIM115 - held for the process
    except OSError as exc:
        _crash_file = None
        return f"cannot write the crash log {crash_log} ({_reason(exc)}); going on without it"
    faulthandler.enable(file=_crash_file, all_threads=True)
    return None


def start_logging(
    log_file: Path,
    crash_log: Path,
    *,
    verbose: bool = False,
    warn: Callable[[str], None] = _print_warning,
) -> bool:
    """The log file and the crash log. When either cannot be written, one warning through
    `warn` (not one per record) and PhiDesk goes on; True if the log file is written."""
    problem = setup_logging(log_file, verbose=verbose, warn=warn)
    crash_problem = enable_crash_log(crash_log)
    if problem or crash_problem:
        warn(problem or crash_problem or "")
    return problem is None
