"""Which Ollama PhiDesk starts: one already installed on this computer, or its own copy.

A server that already answers at the host is always used as it is (`ManagedServer.
ensure_running`); this module only decides which program to start when nothing answers. The
user's preference (`OllamaSource`):

- `auto` (the default): an Ollama installed on this computer (on PATH or where its installers
  put it) wins; PhiDesk's own copy is used only when none is found;
- `installed`: never PhiDesk's copy;
- `managed`: PhiDesk's copy even when another Ollama is installed.

PhiDesk's copy runs with its own models folder (`<data folder>/ollama/models`) unless the
server settings name one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from app.backend.ollama_setup.layout import ManagedOllama
from app.backend.server import ManagedServer, ServerSettings, find_ollama

log = logging.getLogger(__name__)

OllamaSource = Literal["auto", "installed", "managed"]
OLLAMA_SOURCES: tuple[OllamaSource, ...] = ("auto", "installed", "managed")
_VERSION = re.compile(r"version is v?([0-9][\w.\-+]*)")


@dataclass(frozen=True, slots=True)
class OllamaChoice:
    """The program to start (None: none found) and whether it is PhiDesk's own copy."""

    binary: Path | None
    managed: bool
    version: str | None = None
    """Known without running it for PhiDesk's copy (the release it came from)."""
    models_dir: Path | None = None


def choose_ollama(
    source: OllamaSource,
    managed: ManagedOllama,
    *,
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: Path | None = None,
) -> OllamaChoice:
    own = managed.current()
    installed = None if source == "managed" else find_ollama(env, platform, home)
    if installed is not None and not _inside(installed, managed.root):
        return OllamaChoice(binary=installed, managed=False)
    if own is not None and source != "installed":
        return OllamaChoice(
            binary=own.binary, managed=True, version=own.version, models_dir=managed.models
        )
    return OllamaChoice(binary=None, managed=False)


def _inside(path: Path, folder: Path) -> bool:
    with contextlib.suppress(ValueError, OSError):
        path.resolve().relative_to(folder.resolve())
        return True
    return False


def server_for(choice: OllamaChoice, settings: ServerSettings, *, log_dir: Path) -> ManagedServer:
    """The `ManagedServer` that starts `choice` (with the managed models folder for PhiDesk's
    own copy, unless the settings name a folder)."""
    if choice.managed and settings.models_dir is None:
        settings = replace(settings, models_dir=choice.models_dir)
    return ManagedServer(settings, log_dir=log_dir, binary=choice.binary)


def program_version(binary: Path, timeout: float = 10.0) -> str | None:
    """What `ollama --version` says (`ollama version is 0.6.2`, or `client version is …` when
    no server runs); None when it does not run or says nothing PhiDesk can read."""
    try:
        done = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0)
            if sys.platform == "win32"
            else 0,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("%s --version failed: %s", binary, exc)
        return None
    found = _VERSION.search(done.stdout + "\n" + done.stderr)
    return found.group(1) if found else None


def copy_in_use(managed: ManagedOllama) -> bool | None:
    """True when a process runs a program from PhiDesk's copy now, False when none does, None
    when this system cannot tell (only Linux's /proc is read)."""
    proc = Path("/proc")
    if not sys.platform.startswith("linux") or not proc.is_dir():
        return None
    try:
        root = str(managed.versions.resolve()) + os.sep
    except OSError:
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "exe").startswith(root):
                return True
            # A script (the test double, a wrapper) runs under its interpreter.
            args = (entry / "cmdline").read_bytes().split(b"\0")
            if any(a.decode(errors="replace").startswith(root) for a in args[:3]):
                return True
    return False
