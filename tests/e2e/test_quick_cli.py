"""`phidesk quick` as a user runs it: it reaches a running PhiDesk (two real processes over the
single-instance channel), or starts PhiDesk with the quick prompt open.

"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.config import Paths
from app.instance import instance_name, socket_path
from tests.ollama_double.server import OllamaDouble

pytestmark = [
    pytest.mark.skipif(sys.platform.startswith("win"), reason="the socket check is POSIX"),
]
CONSOLE_SCRIPT = Path(sys.executable).with_name("phidesk")
SHOWN = "quick prompt shown"


def wait_for(predicate: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(0.1)


@pytest.fixture
def env() -> dict[str, str]:
    values = dict(os.environ)
    values["QT_QPA_PLATFORM"] = "offscreen"
    return values


def log_text(data: Path) -> str:
    log = data / "logs" / "phidesk.log"
    return log.read_text(encoding="utf-8") if log.is_file() else ""


@pytest.fixture
def gui(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def quick(data: Path, host: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONSOLE_SCRIPT), "--data-dir", str(data), "--host", host, "quick"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )


def test_quick_reaches_the_running_instance(
    tmp_path: Path,
    env: dict[str, str],
    ollama_double: OllamaDouble,
    gui: list[subprocess.Popen[str]],
) -> None:
    data = tmp_path / "d"
    first = subprocess.Popen(
        [str(CONSOLE_SCRIPT), "--data-dir", str(data), "--host", ollama_double.url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    gui.append(first)
    channel = Path(socket_path(instance_name(Paths.resolve(str(data)))))
    wait_for(channel.exists)
    assert SHOWN not in log_text(data)
    result = quick(data, ollama_double.url, env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    wait_for(lambda: SHOWN in log_text(data), 30)
    assert first.poll() is None  # still the one PhiDesk


def test_quick_starts_phidesk_with_the_prompt_open_when_none_runs(
    tmp_path: Path,
    env: dict[str, str],
    ollama_double: OllamaDouble,
    gui: list[subprocess.Popen[str]],
) -> None:
    data = tmp_path / "d"
    process = subprocess.Popen(
        [str(CONSOLE_SCRIPT), "--data-dir", str(data), "--host", ollama_double.url, "quick"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    gui.append(process)
    wait_for(lambda: SHOWN in log_text(data))
    assert process.poll() is None  # it is the GUI now, not a one-shot command
    second = quick(data, ollama_double.url, env)
    assert second.returncode == 0, second.stderr
    wait_for(lambda: log_text(data).count(SHOWN) == 2, 30)
