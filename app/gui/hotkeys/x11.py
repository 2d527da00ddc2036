"""X11: XGrabKey on the root window through python-xlib.

Why python-xlib and not XCB through Qt's native event filter: the grab lives on a connection
of its own, so it works whatever Qt's platform plugin is (xcb, or offscreen in tests) and can be
tested against a real X server (Xvfb) with XTEST key presses, without a QApplication. Key
events arrive on that connection's socket; `X11Hotkey` watches it with a QSocketNotifier, and
`X11Grab` (Qt-free) does the X part.
"""

from __future__ import annotations

import gc
import logging
import os
import warnings
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QSocketNotifier, QTimer

from app.gui.hotkeys.base import Binding, Callback, HotkeyBackend, HotkeyResult

log = logging.getLogger(__name__)

_KEYSYM_NAMES = {
    "Space": "space",
    "Return": "Return",
    "Tab": "Tab",
    "Insert": "Insert",
    "Home": "Home",
    "End": "End",
    "PageUp": "Prior",
    "PageDown": "Next",
    "Pause": "Pause",
    "Print": "Print",
}


def keysym_name(key: str) -> str:
    """The X keysym name of a binding's key ("A" -> "a", "Space" -> "space")."""
    if len(key) == 1:
        return key.lower()
    return _KEYSYM_NAMES.get(key, key)


class X11Grab:
    """A key grab on the root window of $DISPLAY (or `display_name`), Qt-free."""

    def __init__(self, display_name: str | None = None) -> None:
        from Xlib import X, display, error

        self._X = X
        self._error = error
        self.display: Any = display.Display(display_name)
        self.root: Any = self.display.screen().root
        self.root.change_attributes(event_mask=X.KeyPressMask)
        self._grabbed: list[tuple[int, int]] = []
        self._keycode = 0
        self._mask = 0
        self._callback: Callback | None = None

    def _modifier_mask(self, binding: Binding) -> int:
        X = self._X
        bits = {"ctrl": X.ControlMask, "alt": X.Mod1Mask, "shift": X.ShiftMask, "meta": X.Mod4Mask}
        mask = 0
        for name in binding.modifiers:
            mask |= bits[name]
        return mask

    def grab(self, binding: Binding, callback: Callback) -> HotkeyResult:
        from Xlib import XK

        self.ungrab()
        X = self._X
        keysym = XK.string_to_keysym(keysym_name(binding.key))
        keycode = self.display.keysym_to_keycode(keysym) if keysym else 0
        if not keycode:
            return HotkeyResult(False, f"this X keyboard layout has no key for {binding}")
        mask = self._modifier_mask(binding)
        # The grab must also hold with Caps Lock and Num Lock (Mod2) on.
        variants = [mask, mask | X.LockMask, mask | X.Mod2Mask, mask | X.LockMask | X.Mod2Mask]
        catch = self._error.CatchError(self._error.BadAccess)
        for variant in variants:
            self.root.grab_key(keycode, variant, True, X.GrabModeAsync, X.GrabModeAsync, catch)
            self._grabbed.append((keycode, variant))
        self.display.sync()
        if catch.get_error() is not None:
            self.ungrab()
            return HotkeyResult(
                False,
                f"{binding} is already taken by another program on this X display; "
                "choose another shortcut",
            )
        self._keycode, self._mask, self._callback = keycode, mask, callback
        return HotkeyResult(True, f"{binding} opens the quick prompt (X11)", str(binding))

    def ungrab(self) -> None:
        for keycode, modifiers in self._grabbed:
            self.root.ungrab_key(keycode, modifiers)
        if self._grabbed:
            self.display.sync()
        self._grabbed.clear()
        self._callback = None

    def fileno(self) -> int:
        return int(self.display.fileno())

    def dispatch(self) -> int:
        """Handle the events that have arrived; returns how many were our shortcut."""
        X = self._X
        relevant = X.ControlMask | X.Mod1Mask | X.ShiftMask | X.Mod4Mask
        hits = 0
        while self.display.pending_events():
            event = self.display.next_event()
            if (
                event.type == X.KeyPress
                and event.detail == self._keycode
                and (event.state & relevant) == self._mask
                and self._callback is not None
            ):
                hits += 1
                self._callback()
        return hits

    def close(self) -> None:
        self.ungrab()
        self.display.close()


class X11Hotkey(HotkeyBackend):
    name = "x11"

    def __init__(self, display_name: str | None = None) -> None:
        self.display_name = display_name
        self._grab: X11Grab | None = None
        self._notifier: QSocketNotifier | None = None
        self._owner = QObject()

    async def register(self, binding: Binding, callback: Callback) -> HotkeyResult:
        self.unregister()
        failure = ""
        # python-xlib drops the sockets of a failed connection without closing them; keep
        # their ResourceWarnings from surfacing at some random later moment.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                grab = X11Grab(self.display_name)
            except Exception as exc:  # Xlib raises its own DisplayError family and OSError
                failure = str(exc) or type(exc).__name__
                # Log the sentence, not the exception: a log record keeps its arguments (a test's
                # log capture holds them until the next test), and the exception's traceback
                # holds those unclosed sockets alive past the collection below.
                log.info("no X display for the global shortcut: %s", failure)
            gc.collect()
        if failure:
            where = self.display_name or os.environ.get("DISPLAY", "")
            return HotkeyResult(False, f"cannot reach the X display {where!r} ({failure})")
        result = grab.grab(binding, callback)
        if not result.ok:
            grab.close()
            return result
        self._grab = grab
        if QCoreApplication.instance() is not None:
            notifier = QSocketNotifier(grab.fileno(), QSocketNotifier.Type.Read, self._owner)
            notifier.activated.connect(self._readable)
            self._notifier = notifier
            QTimer.singleShot(0, self._readable)  # events Xlib already buffered
        return result

    def _readable(self) -> None:
        if self._grab is not None:
            self._grab.dispatch()

    @property
    def grab(self) -> X11Grab | None:
        return self._grab

    def unregister(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._grab is not None:
            self._grab.close()
            self._grab = None
