"""The one small interface every global-shortcut backend implements, and the no-op fallback.

A binding is written the way Qt's QKeySequence writes it ("Ctrl+Alt+Space"): any of Ctrl,
Alt, Shift and Meta (Super, Win and Cmd are read as Meta) and one key: a letter, a digit,
F1–F24, Space, Return, Tab, Insert, Home, End, PageUp, PageDown, Pause or Print.
"""

from __future__ import annotations

import string
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

MODIFIER_ORDER = ("ctrl", "alt", "shift", "meta")
_MODIFIER_NAMES = {
    "ctrl": "ctrl",
    "control": "ctrl",
    "alt": "alt",
    "option": "alt",
    "shift": "shift",
    "meta": "meta",
    "super": "meta",
    "win": "meta",
    "windows": "meta",
    "cmd": "meta",
    "command": "meta",
    "logo": "meta",
}
_LABELS = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "meta": "Meta"}
NAMED_KEYS = (
    "Space",
    "Return",
    "Tab",
    "Insert",
    "Home",
    "End",
    "PageUp",
    "PageDown",
    "Pause",
    "Print",
)
_KEY_ALIASES = {"enter": "Return", "pgup": "PageUp", "pgdown": "PageDown", "ins": "Insert"}
FUNCTION_KEYS = tuple(f"F{n}" for n in range(1, 25))
DEFAULT_BINDING = "Ctrl+Alt+Space"


class BindingError(ValueError):
    """The text is not a binding PhiDesk can register."""


@dataclass(frozen=True)
class Binding:
    modifiers: frozenset[str]
    key: str

    def __str__(self) -> str:
        mods = [_LABELS[m] for m in MODIFIER_ORDER if m in self.modifiers]
        return "+".join([*mods, self.key])


def _canonical_key(text: str) -> str:
    if len(text) == 1 and text in string.ascii_letters + string.digits:
        return text.upper()
    for name in (*NAMED_KEYS, *FUNCTION_KEYS):
        if text.lower() == name.lower():
            return name
    alias = _KEY_ALIASES.get(text.lower())
    if alias is not None:
        return alias
    raise BindingError(
        f"“{text}” is not a key PhiDesk can bind globally; use a letter, a digit, F1–F24, "
        "Space, Return, Tab, Insert, Home, End, PageUp, PageDown, Pause or Print"
    )


def parse_binding(text: str) -> Binding:
    """Read "Ctrl+Alt+Space" (case and spaces do not matter). Raises BindingError."""
    parts = [p.strip() for p in text.replace(" ", "").split("+")]
    if text.strip().endswith("++"):  # "Ctrl++" would be the plus key, which we do not offer
        raise BindingError("the + key cannot be part of a global shortcut")
    if not parts or not parts[-1]:
        raise BindingError("the shortcut is empty; type modifiers and a key, e.g. Ctrl+Alt+Space")
    modifiers: set[str] = set()
    for part in parts[:-1]:
        name = _MODIFIER_NAMES.get(part.lower())
        if name is None:
            raise BindingError(f"“{part}” is not a modifier; use Ctrl, Alt, Shift or Meta")
        modifiers.add(name)
    key = _canonical_key(parts[-1])
    if not modifiers and not key.startswith("F"):
        raise BindingError(
            f"{key} alone would take the key from every other program; add Ctrl, Alt or Meta"
        )
    return Binding(frozenset(modifiers), key)


@dataclass(frozen=True)
class HotkeyResult:
    """What became of a registration, in words a user can act on."""

    ok: bool
    message: str
    binding: str = ""  # what the platform really bound (the portal may pick another)


Callback = Callable[[], None]


class HotkeyBackend(ABC):
    """One way of owning a global shortcut. `register` replaces any earlier binding of this
    backend; `unregister` gives it back. Both are safe to call more than once."""

    name: ClassVar[str]

    @abstractmethod
    async def register(self, binding: Binding, callback: Callback) -> HotkeyResult: ...

    @abstractmethod
    def unregister(self) -> None: ...


class NoHotkey(HotkeyBackend):
    """Where no backend can work: registers nothing and says why and what to do instead."""

    name = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def register(self, binding: Binding, callback: Callback) -> HotkeyResult:
        return HotkeyResult(
            False,
            f"{self.reason}. Bind the command “phidesk quick” to {binding} in your "
            "desktop's keyboard settings instead.",
        )

    def unregister(self) -> None:
        return None
