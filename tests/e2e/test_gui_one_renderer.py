"""One Chromium renderer process serves every web view: PhiDesk started with the quick prompt
open (`phidesk quick`) shows the chat's transcript and the quick prompt's, and its process tree
never holds more than one renderer (one real process and its children, read from /proc)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.gui.application import USABLE
from tests.ollama_double.server import OllamaDouble

QUICK_SHOWN = "quick prompt shown"
WATCH_S = 4.0

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    return children


def process_type(pid: int) -> str:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return ""
    return next((a.removeprefix("--type=") for a in args if a.startswith("--type=")), "")


def renderers(root: int) -> set[int]:
    """Chromium's renderer processes under `root`: `--type=renderer`, or a process the zygote
    forked (it keeps the zygote's command line)."""
    children = children_of()
    found: set[int] = set()
    todo = [root]
    while todo:
        pid = todo.pop()
        kind = process_type(pid)
        for child in children.get(pid, []):
            if process_type(child) == "renderer" or (
                kind == "zygote" and process_type(child) == "zygote"
            ):
                found.add(child)
            todo.append(child)
    return found


def tree(root: int) -> list[tuple[int, int, str]]:
    """(parent, pid, --type) of every process under `root`, to say what was there."""
    children = children_of()
    found: list[tuple[int, int, str]] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append((pid, child, process_type(child)))
            todo.append(child)
    return found


def test_the_window_and_the_quick_prompt_share_one_renderer_process(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    log = data / "logs" / "phidesk.log"
    command = [sys.executable, "-m", "app", "--data-dir", str(data), "--host", ollama_double.url]
    process = subprocess.Popen(
        [*command, "quick"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    try:
        deadline = time.monotonic() + 90
        while not (log.exists() and all(t in log.read_text() for t in (USABLE, QUICK_SHOWN))):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, log.read_text()[-3000:] if log.exists() else ""
            time.sleep(0.05)
        seen: set[int] = set()
        most = 0
        # Watched for WATCH_S once a renderer is seen; on a loaded machine the first look at
        # /proc can come before the tree has settled, so looking goes on for up to 30 s.
        until = time.monotonic() + 30
        while time.monotonic() < until:
            now = renderers(process.pid)
            if now and not seen:
                until = min(until, time.monotonic() + WATCH_S)
            seen |= now
            most = max(most, len(now))
            time.sleep(0.1)
        assert seen, f"no renderer process was seen; the tree: {tree(process.pid)}"
        assert most == 1, f"{most} renderer processes at once"
        process.terminate()
        process.communicate(timeout=30)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
