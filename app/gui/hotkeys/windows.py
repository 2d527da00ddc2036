"""Windows: RegisterHotKey through ctypes.

Registered with no window (hWnd NULL), Windows posts WM_HOTKEY to the GUI thread's message
queue; Qt hands such thread messages to native event filters as "windows_generic_MSG", where
`_HotkeyFilter` picks ours out.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Any

from PySide6.QtCore import QAbstractNativeEventFilter, QByteArray, QCoreApplication

from app.gui.hotkeys.base import Binding, Callback, HotkeyBackend, HotkeyResult

log = logging.getLogger(__name__)

WM_HOTKEY = 0x0312
MOD_ALT = 0x0001
MOD_CONTROL = 0x0002
MOD_SHIFT = 0x0004
MOD_WIN = 0x0008
MOD_NOREPEAT = 0x4000
ERROR_HOTKEY_ALREADY_REGISTERED = 1409
_PLATFORM: str = sys.platform  # a plain str: checked at run time, not by mypy
HOTKEY_ID = 0x5048  # "PH"; ids 0x0000–0xBFFF are the application's own

_MODIFIERS = {"ctrl": MOD_CONTROL, "alt": MOD_ALT, "shift": MOD_SHIFT, "meta": MOD_WIN}
_NAMED_VK = {
    "Space": 0x20,
    "Return": 0x0D,
    "Tab": 0x09,
    "Insert": 0x2D,
    "Home": 0x24,
    "End": 0x23,
    "PageUp": 0x21,
    "PageDown": 0x22,
    "Pause": 0x13,
    "Print": 0x2C,
}


def virtual_key(key: str) -> int:
    """The Windows virtual-key code of a binding's key."""
    if len(key) == 1:
        return ord(key)  # VK_A..VK_Z and VK_0..VK_9 are the ASCII codes of A–Z and 0–9
    if key.startswith("F") and key[1:].isdigit():
        return 0x70 + int(key[1:]) - 1  # VK_F1 = 0x70 … VK_F24 = 0x87
    return _NAMED_VK[key]


def modifier_flags(binding: Binding) -> int:
    flags = MOD_NOREPEAT
    for name in binding.modifiers:
        flags |= _MODIFIERS[name]
    return flags


class _HotkeyFilter(QAbstractNativeEventFilter):
    def __init__(self, callback: Callback) -> None:
        super().__init__()
        self.callback = callback

    def nativeEventFilter(
        self, eventType: QByteArray | bytes | bytearray | memoryview, message: int
    ) -> Any:
        kind = bytes(eventType.data()) if isinstance(eventType, QByteArray) else bytes(eventType)
        if kind != b"windows_generic_MSG":
            return False, 0
        from ctypes import wintypes

        msg = wintypes.MSG.from_address(int(message))
        if msg.message == WM_HOTKEY and msg.wParam == HOTKEY_ID:
            self.callback()
            return True, 0
        return False, 0


class WindowsHotkey(HotkeyBackend):
    name = "windows"

    def __init__(self) -> None:
        self._filter: _HotkeyFilter | None = None

    async def register(self, binding: Binding, callback: Callback) -> HotkeyResult:
        self.unregister()
        if not _PLATFORM.startswith("win"):
            return HotkeyResult(False, "RegisterHotKey exists only on Windows")
        user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        ok = user32.RegisterHotKey(
            None, HOTKEY_ID, modifier_flags(binding), virtual_key(binding.key)
        )
        if not ok:
            code = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
            if code == ERROR_HOTKEY_ALREADY_REGISTERED:
                return HotkeyResult(
                    False, f"{binding} is already taken by another program; choose another"
                )
            return HotkeyResult(False, f"Windows refused {binding} (error {code})")
        app = QCoreApplication.instance()
        self._filter = _HotkeyFilter(callback)
        if app is not None:
            app.installNativeEventFilter(self._filter)
        return HotkeyResult(True, f"{binding} opens the quick prompt", str(binding))

    def unregister(self) -> None:
        if self._filter is None:
            return
        app = QCoreApplication.instance()
        if app is not None:
            app.removeNativeEventFilter(self._filter)
        self._filter = None
        if _PLATFORM.startswith("win"):
            ctypes.WinDLL("user32").UnregisterHotKey(None, HOTKEY_ID)  # type: ignore[attr-defined,unused-ignore]
