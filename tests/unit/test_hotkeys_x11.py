"""The X11 backend against a real X server (Xvfb), keys pressed through XTEST; and the portal
backend on a real D-Bus session bus that has no portal."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import select
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator

import pytest

from app.gui.hotkeys import parse_binding
from app.gui.hotkeys.portal import PortalHotkey
from app.gui.hotkeys.x11 import X11Grab, X11Hotkey, keysym_name

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Xvfb and dbus-daemon are Linux tools"
)


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.fail("Xvfb is not installed; run scripts/test, which installs the test packages")
    read, write = os.pipe()
    server = subprocess.Popen(
        [
            binary,
            "-displayfd",
            str(write),
            "-screen",
            "0",
            "640x480x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def press(display_name: str, combo: list[str]) -> None:
    """Press and release `combo` (keysym names) through XTEST, as a keyboard would."""
    from Xlib import XK, X, display
    from Xlib.ext import xtest

    d = display.Display(display_name)
    codes = [d.keysym_to_keycode(XK.string_to_keysym(name)) for name in combo]
    for code in codes:
        xtest.fake_input(d, X.KeyPress, code)
    for code in reversed(codes):
        xtest.fake_input(d, X.KeyRelease, code)
    d.sync()
    d.close()


def pump(grab: X11Grab, until: list[int], wanted: int) -> None:
    for _ in range(50):
        if len(until) >= wanted:
            return
        select.select([grab.fileno()], [], [], 0.1)
        grab.dispatch()


def test_the_grabbed_combination_calls_back_and_others_do_not(xvfb: str) -> None:
    hits: list[int] = []
    backend = X11Hotkey(xvfb)
    result = asyncio.run(backend.register(parse_binding("Ctrl+Alt+Space"), lambda: hits.append(1)))
    assert result.ok, result.message
    assert result.binding == "Ctrl+Alt+Space"
    grab = backend.grab
    assert grab is not None
    press(xvfb, ["Control_L", "space"])  # not ours: no Alt
    press(xvfb, ["Control_L", "Alt_L", "space"])
    pump(grab, hits, 1)
    assert hits == [1]
    press(xvfb, ["Control_L", "Alt_L", "space"])
    pump(grab, hits, 2)
    assert hits == [1, 1]
    backend.unregister()
    assert backend.grab is None


def test_a_taken_combination_is_reported_and_freed_on_unregister(xvfb: str) -> None:
    first = X11Hotkey(xvfb)
    second = X11Hotkey(xvfb)
    binding = parse_binding("Ctrl+Alt+K")
    assert asyncio.run(first.register(binding, lambda: None)).ok
    taken = asyncio.run(second.register(binding, lambda: None))
    assert not taken.ok
    assert "already taken" in taken.message and "Ctrl+Alt+K" in taken.message
    first.unregister()
    assert asyncio.run(second.register(binding, lambda: None)).ok
    second.unregister()


def test_no_display_is_a_clear_refusal() -> None:
    result = asyncio.run(X11Hotkey(":97").register(parse_binding("Ctrl+Alt+Q"), lambda: None))
    assert not result.ok and ":97" in result.message


def test_a_refused_display_leaves_no_unclosed_socket_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # python-xlib drops the sockets of a failed connection unclosed. Whatever the log keeps of
    # the refusal must not keep them alive until some later test frees them (CI failed so).
    caplog.set_level(logging.INFO)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        result = asyncio.run(X11Hotkey(":97").register(parse_binding("Ctrl+Alt+Q"), lambda: None))
        caplog.clear()  # what the next test's set-up does with the captured records
        gc.collect()
    assert not result.ok
    assert [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)] == []


def test_keysym_names_exist_in_x() -> None:
    from Xlib import XK

    for key in ("A", "9", "Space", "Return", "PageUp", "PageDown", "F12", "Print"):
        assert XK.string_to_keysym(keysym_name(key)), key


@pytest.fixture
def empty_session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    binary = shutil.which("dbus-daemon")
    if binary is None:
        pytest.fail("dbus-daemon is not installed; run scripts/test")
    bus = subprocess.Popen(
        [binary, "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE, text=True
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    try:
        yield address
    finally:
        bus.terminate()
        bus.wait(10)
        bus.stdout.close()


def test_portal_missing_from_the_session_bus_is_explained(empty_session_bus: str) -> None:
    async def attempt() -> None:
        backend = PortalHotkey()
        result = await backend.register(parse_binding("Ctrl+Alt+Space"), lambda: None)
        await backend.aclose()
        assert not result.ok
        assert "no global-shortcut portal" in result.message
        assert "phidesk quick" in result.message
        assert "org.freedesktop.portal.Desktop" in result.message

    asyncio.run(attempt())


def test_portal_without_any_session_bus_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    result = asyncio.run(PortalHotkey().register(parse_binding("Ctrl+Alt+Space"), lambda: None))
    assert not result.ok and "no global-shortcut portal" in result.message
