"""The first call to Ollama waits until the window is usable: PhiDesk, started as a user starts
it with a last chat to reopen, logs "window usable" (chat list, transcript page and the chat's
newest messages on screen) before its first request reaches Ollama. The model list is not
needed to read the chats, and loading the Ollama client's libraries on the GUI thread while the
transcript page loads would hold that page back (one real process, its log read as written)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from app.gui.application import USABLE
from app.store import Database
from tests.ollama_double.server import OllamaDouble

SHOWN = "window shown"
PROBE = "/api/version"


def index_of(lines: list[str], text: str) -> int:
    for number, line in enumerate(lines):
        if text in line:
            return number
    raise AssertionError(f"{text!r} was never logged:\n" + "\n".join(lines[-30:]))


def with_last_chat(data: Path) -> None:
    data.mkdir(parents=True)
    with Database.open(data / "phidesk.sqlite3") as db:
        chat = db.create_chat(title="Quadratics", model="phi4-mini:latest")
        for i in range(10):
            db.add_message(chat.id, "user", f"Question {i}: solve $x^2 - {i}x + 1 = 0$")
            db.add_message(chat.id, "assistant", f"$$x = \\frac{{{i} \\pm 1}}{{2}}$$")
    (data / "settings.json").write_text(f'{{"last_chat": {chat.id}}}')


def test_the_window_is_usable_before_the_first_call_to_ollama(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    with_last_chat(data)
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
        while not (log.exists() and all(text in log.read_text() for text in (USABLE, PROBE))):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, log.read_text()[-3000:] if log.exists() else ""
            time.sleep(0.05)
        lines = log.read_text().splitlines()
        usable = index_of(lines, USABLE)
        assert "the last chat on screen" in lines[usable]
        assert index_of(lines, SHOWN) < usable < index_of(lines, PROBE)
        process.terminate()
        process.communicate(timeout=30)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
