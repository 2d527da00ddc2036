"""Logging to a rotating file, crash dumps through faulthandler, and start-up checks."""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import sys
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


def setup_logging(log_file: Path, *, verbose: bool = False) -> None:
    """Send PhiDesk's log records to a rotating file (5 × 2 MB). Idempotent per file."""
    root = logging.getLogger()
    for handler in root.handlers:
        if (
            isinstance(handler, logging.handlers.RotatingFileHandler)
            and Path(handler.baseFilename) == log_file.absolute()
        ):
            return
    handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)


def enable_crash_log(crash_log: Path) -> None:
    """Hard crashes (a segfault in Qt, a fatal signal) leave a Python traceback in this file."""
    global _crash_file
    if _crash_file is not None and not _crash_file.closed:
        if _crash_file.name == str(crash_log):
            return
        _crash_file.close()
    _crash_file = open(crash_log, "a", encoding="utf-8")  # noqa: SIM115 - held open for the process
    faulthandler.enable(file=_crash_file, all_threads=True)
