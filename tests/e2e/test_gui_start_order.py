"""PhiDesk as a user starts it shows its window first: the quick prompt, the tray, the global
shortcut and the first call to Ollama come after the window is on screen (one real process, its
log read as written)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from app.gui.application import USABLE
from tests.ollama_double.server import OllamaDouble

SHOWN = "window shown"
QUICK_READY = "quick access ready"
PROBE = "/api/version"


def index_of(lines: list[str], text: str) -> int:
    for number, line in enumerate(lines):
        if text in line:
            return number
    raise AssertionError(f"{text!r} was never logged:\n" + "\n".join(lines[-30:]))


def test_the_window_shows_before_the_tray_the_shortcut_and_ollama(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    log = data / "logs" / "phidesk.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--data-dir", str(data), "--host", ollama_double.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    try:
        deadline = time.monotonic() + 90
        while not (
            log.exists() and all(text in log.read_text() for text in (USABLE, QUICK_READY, PROBE))
        ):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, log.read_text()[-3000:] if log.exists() else ""
            time.sleep(0.05)
        lines = log.read_text().splitlines()
        shown = index_of(lines, SHOWN)
        assert shown < index_of(lines, QUICK_READY)
        assert shown < index_of(lines, PROBE)
        process.terminate()
        process.communicate(timeout=30)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
