"""macOS: Carbon's RegisterEventHotKey through ctypes.

Carbon hot keys need no Accessibility or Input Monitoring permission (unlike a CGEventTap),
and Qt's Cocoa event loop delivers them to the application event target, where our handler
runs on the GUI thread. As in Qt on macOS, "Ctrl" in a binding is the Command key and "Meta"
is the Control key.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from typing import Any

from app.gui.hotkeys.base import Binding, Callback, HotkeyBackend, HotkeyResult

log = logging.getLogger(__name__)

_PLATFORM: str = sys.platform  # a plain str: checked at run time, not by mypy
CMD_KEY = 0x0100
SHIFT_KEY = 0x0200
OPTION_KEY = 0x0800
CONTROL_KEY = 0x1000
EVENT_HOT_KEY_EXISTS = -9878
_MODIFIERS = {"ctrl": CMD_KEY, "alt": OPTION_KEY, "shift": SHIFT_KEY, "meta": CONTROL_KEY}

# Virtual key codes of the ANSI keyboard (HIToolbox/Events.h, kVK_*).
_KEYCODES = {
    **dict(
        zip("ASDFHGZXCV", (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09), strict=True)
    ),
    **dict(zip("BQWERYT", (0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11), strict=True)),
    **dict(zip("123465", (0x12, 0x13, 0x14, 0x15, 0x16, 0x17), strict=True)),
    **dict(zip("9780", (0x19, 0x1A, 0x1C, 0x1D), strict=True)),
    **dict(zip("OUIPLJKNM", (0x1F, 0x20, 0x22, 0x23, 0x25, 0x26, 0x28, 0x2D, 0x2E), strict=True)),
    "Return": 0x24,
    "Tab": 0x30,
    "Space": 0x31,
    "Insert": 0x72,  # the Help key sits where Insert is
    "Home": 0x73,
    "PageUp": 0x74,
    "End": 0x77,
    "PageDown": 0x79,
    "F1": 0x7A,
    "F2": 0x78,
    "F3": 0x63,
    "F4": 0x76,
    "F5": 0x60,
    "F6": 0x61,
    "F7": 0x62,
    "F8": 0x64,
    "F9": 0x65,
    "F10": 0x6D,
    "F11": 0x67,
    "F12": 0x6F,
    "F13": 0x69,
    "F14": 0x6B,
    "F15": 0x71,
    "F16": 0x6A,
    "F17": 0x40,
    "F18": 0x4F,
    "F19": 0x50,
    "F20": 0x5A,
}


def _four(code: bytes) -> int:
    return int.from_bytes(code, "big")


class _HotKeyID(ctypes.Structure):
    _fields_ = [("signature", ctypes.c_uint32), ("id", ctypes.c_uint32)]


class _EventTypeSpec(ctypes.Structure):
    _fields_ = [("eventClass", ctypes.c_uint32), ("eventKind", ctypes.c_uint32)]


_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
SIGNATURE = _four(b"PhiD")
K_EVENT_CLASS_KEYBOARD = _four(b"keyb")
K_EVENT_HOT_KEY_PRESSED = 5


def keycode(key: str) -> int | None:
    return _KEYCODES.get(key)


def carbon_modifiers(binding: Binding) -> int:
    flags = 0
    for name in binding.modifiers:
        flags |= _MODIFIERS[name]
    return flags


class MacHotkey(HotkeyBackend):
    name = "macos"

    def __init__(self) -> None:
        self._carbon: Any = None
        self._hotkey = ctypes.c_void_p()
        self._handler_ref = ctypes.c_void_p()
        self._handler: Any = None  # keeps the C callback alive

    async def register(self, binding: Binding, callback: Callback) -> HotkeyResult:
        self.unregister()
        if _PLATFORM != "darwin":
            return HotkeyResult(False, "Carbon hot keys exist only on macOS")
        code = keycode(binding.key)
        if code is None:
            return HotkeyResult(False, f"{binding.key} has no key code on a Mac keyboard")
        path = ctypes.util.find_library("Carbon")
        if path is None:
            return HotkeyResult(False, "the Carbon framework was not found")
        carbon = ctypes.cdll.LoadLibrary(path)
        carbon.GetApplicationEventTarget.restype = ctypes.c_void_p
        target = carbon.GetApplicationEventTarget()

        def on_event(_call: Any, _event: Any, _data: Any) -> int:
            try:
                callback()
            except Exception:
                log.exception("quick-prompt shortcut handler failed")
            return 0

        self._handler = _HANDLER(on_event)
        spec = _EventTypeSpec(K_EVENT_CLASS_KEYBOARD, K_EVENT_HOT_KEY_PRESSED)
        carbon.InstallEventHandler.argtypes = [
            ctypes.c_void_p,
            _HANDLER,
            ctypes.c_ulong,
            ctypes.POINTER(_EventTypeSpec),
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_void_p),
        ]
        status = carbon.InstallEventHandler(
            target, self._handler, 1, ctypes.byref(spec), None, ctypes.byref(self._handler_ref)
        )
        if status != 0:
            return HotkeyResult(False, f"macOS refused the shortcut handler (error {status})")
        carbon.RegisterEventHotKey.argtypes = [
            ctypes.c_uint32,
            ctypes.c_uint32,
            _HotKeyID,
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.POINTER(ctypes.c_void_p),
        ]
        status = carbon.RegisterEventHotKey(
            code,
            carbon_modifiers(binding),
            _HotKeyID(SIGNATURE, 1),
            target,
            0,
            ctypes.byref(self._hotkey),
        )
        self._carbon = carbon
        if status != 0:
            self.unregister()
            if status == EVENT_HOT_KEY_EXISTS:
                return HotkeyResult(False, f"{binding} is already taken; choose another shortcut")
            return HotkeyResult(False, f"macOS refused {binding} (error {status})")
        return HotkeyResult(True, f"{binding} opens the quick prompt", str(binding))

    def unregister(self) -> None:
        carbon = self._carbon
        if carbon is None:
            return
        if self._hotkey.value:
            carbon.UnregisterEventHotKey(self._hotkey)
            self._hotkey = ctypes.c_void_p()
        if self._handler_ref.value:
            carbon.RemoveEventHandler(self._handler_ref)
            self._handler_ref = ctypes.c_void_p()
        self._carbon = None
        self._handler = None
