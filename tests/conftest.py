"""Shared fixtures: an isolated data dir per test, Qt offscreen, a real Secret Service."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Qt and Chromium read these before the first QApplication exists; set them before pytest-qt
# makes one. Widget and web tests run offscreen; Chromium needs --no-sandbox as root.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu")
if hasattr(os, "geteuid") and os.geteuid() == 0:
    os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"

REPO = Path(__file__).resolve().parent.parent

# CI gates a submission: there, property tests draw the same examples on every run, so a
# result can be reproduced; on developers' machines they keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

pytest_plugins = ["tests.ollama_double.fixtures", "tests.openai_double.fixtures"]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own PhiDesk data dir, and no stray OLLAMA_HOST from the machine."""
    directory = tmp_path / "phidesk-data"
    monkeypatch.setenv("PHIDESK_DATA_DIR", str(directory))
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    return directory


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed; run scripts/test, which installs the test packages")
    return path


@pytest.fixture(scope="session")
def secret_service() -> Iterator[str]:
    """A real freedesktop Secret Service: a private D-Bus session bus with gnome-keyring on it.

    Yields the bus address. The process environment points at that bus while the session lasts,
    and keyring re-detects its backend, so code under test finds the Secret Service on its own.
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("the Secret Service fixture needs Linux (D-Bus and gnome-keyring)")
    dbus_daemon = _need("dbus-daemon")
    keyring_daemon = _need("gnome-keyring-daemon")
    home = Path(tempfile.mkdtemp(prefix="phidesk-keyring-home-"))
    bus = subprocess.Popen(
        [dbus_daemon, "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()
    saved = {
        k: os.environ.get(k)
        for k in ("DBUS_SESSION_BUS_ADDRESS", "XDG_DATA_HOME", "XDG_RUNTIME_DIR")
    }
    runtime = home / "run"
    runtime.mkdir(mode=0o700)
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
    os.environ["XDG_DATA_HOME"] = str(home)  # the keyring file goes here, not into ~
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    daemon = subprocess.Popen(
        [keyring_daemon, "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert daemon.stdin is not None and daemon.stdout is not None
    daemon.stdin.write("phidesk-test-password")
    daemon.stdin.close()
    daemon.stdout.readline()  # it prints its control socket once it is ready
    import keyring
    import keyring.backend
    import keyring.core

    previous_backend = keyring.get_keyring()
    # keyring caches which backends are viable once per process; a test that asked before the
    # bus existed would otherwise hide the Secret Service from everything after it.
    keyring.backend.get_all_keyring.reset()  # type: ignore[attr-defined]
    keyring.core.init_backend()
    try:
        yield address
    finally:
        daemon.terminate()
        bus.terminate()
        daemon.wait(10)
        bus.wait(10)
        daemon.stdout.close()
        bus.stdout.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        keyring.set_keyring(previous_backend)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def qt_loop(qapp: object) -> Iterator[object]:
    """One qasync event loop on the test QApplication, for GUI code that awaits."""
    import asyncio

    from app.gui.tasks import new_qt_loop

    loop = new_qt_loop(qapp)  # type: ignore[arg-type]
    asyncio.set_event_loop(loop)
    # As asyncio.run does (qasync does not): garbage-collected async generators are closed on
    # this loop instead of being finalised with no loop running.
    previous = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook,  # type: ignore[attr-defined]
        finalizer=loop._asyncgen_finalizer_hook,  # type: ignore[attr-defined]
    )
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        sys.set_asyncgen_hooks(*previous)
        loop.close()
        asyncio.set_event_loop(None)
