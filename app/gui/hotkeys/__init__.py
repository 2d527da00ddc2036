"""Global shortcuts for the quick prompt, one backend per platform behind `HotkeyBackend`.

    hotkey = QuickHotkey()                  # owns the backend for this platform
    hotkey.activated.connect(quick.show_prompt)
    hotkey.apply("Ctrl+Alt+Space")          # or "" to turn it off; result comes in `changed`
    hotkey.result.message                   # what the settings show: the real binding or why not

Backends: Windows (RegisterHotKey), macOS (Carbon RegisterEventHotKey), X11 (XGrabKey with
python-xlib), Wayland (the XDG GlobalShortcuts portal), and `NoHotkey` everywhere else. Every
platform also has `phidesk quick`, which users can bind in their desktop's own settings.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from PySide6.QtCore import QObject, Signal

from app.gui.hotkeys.base import (
    DEFAULT_BINDING,
    Binding,
    BindingError,
    HotkeyBackend,
    HotkeyResult,
    NoHotkey,
    parse_binding,
)
from app.gui.tasks import Tasks

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_BINDING",
    "Binding",
    "BindingError",
    "HotkeyBackend",
    "HotkeyResult",
    "NoHotkey",
    "QuickHotkey",
    "choose_backend",
    "parse_binding",
]


def choose_backend(
    platform: str | None = None, environ: Mapping[str, str] | None = None
) -> HotkeyBackend:
    """The backend for this desktop (platform as in `sys.platform`)."""
    platform = sys.platform if platform is None else platform
    env = os.environ if environ is None else environ
    if platform.startswith("win"):
        from app.gui.hotkeys.windows import WindowsHotkey

        return WindowsHotkey()
    if platform == "darwin":
        from app.gui.hotkeys.macos import MacHotkey

        return MacHotkey()
    wayland = env.get("XDG_SESSION_TYPE") == "wayland" or bool(env.get("WAYLAND_DISPLAY"))
    if wayland:
        # An X11 grab through XWayland only sees keys while an X11 window has the focus.
        from app.gui.hotkeys.portal import PortalHotkey

        return PortalHotkey()
    if env.get("DISPLAY"):
        from app.gui.hotkeys.x11 import X11Hotkey

        return X11Hotkey(env["DISPLAY"])
    return NoHotkey("this session has no X11 or Wayland display to take a global shortcut from")


class QuickHotkey(QObject):
    """The quick prompt's global shortcut: registers it on the platform's backend, reports the
    outcome in `result` (and `changed`), and emits `activated` when the user presses it."""

    activated = Signal()
    changed = Signal()

    def __init__(self, backend: HotkeyBackend | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.backend = backend if backend is not None else choose_backend()
        self.result = HotkeyResult(False, "No global shortcut is set.")
        self._tasks = Tasks()

    def apply(self, text: str) -> None:
        """Register `text` ("" turns the shortcut off). Finishes on the event loop."""
        self._tasks.cancel_all()
        self.backend.unregister()
        if not text.strip():
            self._report(HotkeyResult(False, "No global shortcut is set."))
            return
        try:
            binding = parse_binding(text)
        except BindingError as exc:
            self._report(HotkeyResult(False, f"{exc}."))
            return
        self._tasks.start(self._register(binding), name="register hotkey")

    async def _register(self, binding: Binding) -> None:
        try:
            result = await self.backend.register(binding, self.activated.emit)
        except Exception as exc:  # a backend must never take the app down
            log.exception("registering %s failed", binding)
            result = HotkeyResult(False, f"{binding} could not be registered ({exc})")
        self._report(result)

    def _report(self, result: HotkeyResult) -> None:
        if result.ok:
            log.info("global shortcut: %s", result.message)
        else:
            log.info("no global shortcut: %s", result.message)
        self.result = result
        self.changed.emit()

    def close(self) -> None:
        self._tasks.cancel_all()
        self.backend.unregister()
