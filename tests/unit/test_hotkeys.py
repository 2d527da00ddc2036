"""Global-shortcut bindings, backend choice and the no-op fallback (no display needed)."""

from __future__ import annotations

import asyncio

import pytest

from app.gui.hotkeys import (
    BindingError,
    NoHotkey,
    choose_backend,
    parse_binding,
)
from app.gui.hotkeys.macos import MacHotkey, carbon_modifiers, keycode
from app.gui.hotkeys.portal import PortalHotkey, preferred_trigger
from app.gui.hotkeys.windows import WindowsHotkey, modifier_flags, virtual_key
from app.gui.hotkeys.x11 import X11Hotkey


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Ctrl+Alt+Space", "Ctrl+Alt+Space"),
        ("alt + ctrl + space", "Ctrl+Alt+Space"),
        ("Super+Shift+q", "Shift+Meta+Q"),
        ("Cmd+1", "Meta+1"),
        ("F9", "F9"),
        ("Ctrl+pgdown", "Ctrl+PageDown"),
    ],
)
def test_bindings_are_read_and_written_in_qts_notation(text: str, shown: str) -> None:
    assert str(parse_binding(text)) == shown


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("Ctrl+", "empty"),
        ("Q", "alone"),
        ("Hyper+Q", "not a modifier"),
        ("Ctrl+Alt+Ö", "not a key"),
        ("Ctrl++", r"\+ key"),
    ],
)
def test_bad_bindings_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(BindingError, match=words):
        parse_binding(text)


def test_each_platform_gets_its_backend() -> None:
    assert isinstance(choose_backend("win32", {}), WindowsHotkey)
    assert isinstance(choose_backend("darwin", {}), MacHotkey)
    wayland = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert isinstance(choose_backend("linux", wayland), PortalHotkey)
    x11 = choose_backend("linux", {"DISPLAY": ":3", "XDG_SESSION_TYPE": "x11"})
    assert isinstance(x11, X11Hotkey) and x11.display_name == ":3"
    assert isinstance(choose_backend("linux", {}), NoHotkey)


def test_the_fallback_registers_nothing_and_points_at_phidesk_quick() -> None:
    backend = choose_backend("linux", {})
    result = asyncio.run(backend.register(parse_binding("Ctrl+Alt+Space"), lambda: None))
    assert not result.ok
    assert "phidesk quick" in result.message and "Ctrl+Alt+Space" in result.message
    backend.unregister()


def test_native_backends_refuse_plainly_on_the_wrong_platform() -> None:
    binding = parse_binding("Ctrl+Alt+Space")
    for backend in (WindowsHotkey(), MacHotkey()):
        result = asyncio.run(backend.register(binding, lambda: None))
        assert not result.ok and "only on" in result.message
        backend.unregister()


def test_windows_codes_follow_the_virtual_key_table() -> None:
    # Values from Microsoft's "Virtual-Key Codes" and RegisterHotKey documentation.
    assert virtual_key("A") == 0x41 and virtual_key("7") == 0x37
    assert virtual_key("F1") == 0x70 and virtual_key("F24") == 0x87
    assert virtual_key("Space") == 0x20
    assert modifier_flags(parse_binding("Ctrl+Alt+Space")) == 0x0002 | 0x0001 | 0x4000
    assert modifier_flags(parse_binding("Shift+Meta+K")) == 0x0004 | 0x0008 | 0x4000


def test_mac_codes_follow_hitoolbox() -> None:
    # kVK_ANSI_* and modifier bits from HIToolbox/Events.h; Qt's Ctrl is the Command key.
    assert keycode("A") == 0x00 and keycode("Z") == 0x06 and keycode("0") == 0x1D
    assert keycode("Space") == 0x31 and keycode("F1") == 0x7A and keycode("Print") is None
    assert carbon_modifiers(parse_binding("Ctrl+Alt+Space")) == 0x0100 | 0x0800
    assert carbon_modifiers(parse_binding("Meta+Shift+P")) == 0x1000 | 0x0200


def test_portal_trigger_uses_the_shortcuts_spec_names() -> None:
    assert preferred_trigger(parse_binding("Ctrl+Alt+Space")) == "CTRL+ALT+space"
    assert preferred_trigger(parse_binding("Meta+Shift+PageUp")) == "SHIFT+LOGO+Prior"
