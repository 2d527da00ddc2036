"""The GUI as a user starts it: the self-test's full turn, and the single-instance guard."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from app.config import Paths
from app.instance import instance_name, socket_path
from tests.ollama_double.server import OllamaDouble


def gui_env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def test_self_test_with_a_host_does_a_full_turn_with_math(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "--data-dir",
            str(tmp_path / "d"),
            "--host",
            ollama_double.url,
            "--self-test",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=gui_env(),
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("self-test:")]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test: chat turn: ok" in lines
    assert "self-test: answer math typeset: ok" in lines
    assert all(line.endswith(": ok") for line in lines)
    chats = ollama_double.requests_to("/api/chat")
    assert chats, "the self-test never asked the server"
    assert chats[-1].body is not None
    assert chats[-1].body["options"]["num_ctx"] > 0


def test_a_second_launch_hands_over_to_the_running_window(tmp_path: Path) -> None:
    data = tmp_path / "d"
    first = subprocess.Popen(
        [sys.executable, "-m", "app", "--data-dir", str(data), "--host", "http://127.0.0.1:9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=gui_env(),
    )
    try:
        name = socket_path(instance_name(Paths.resolve(data)))
        deadline = time.monotonic() + 60
        while not Path(name).exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first PhiDesk never listened"
            time.sleep(0.1)
        second = subprocess.run(
            [sys.executable, "-m", "app", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
            env=gui_env(),
            check=False,
        )
        assert second.returncode == 0
        assert "already running" in second.stderr
        log = data / "logs" / "phidesk.log"
        deadline = time.monotonic() + 20
        while "bringing the window to the front" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        assert first.poll() is None  # the first one keeps running
        first.terminate()
        first.communicate(timeout=30)
        assert first.returncode == 0  # SIGTERM closes the window like the user would
        assert "GUI exited with status 0" in log.read_text()
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate(timeout=30)
