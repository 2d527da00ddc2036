"""File names for exported chats that Windows, macOS and Linux all accept, distinct from each
other and from the files already in a folder."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final

from app.store import Chat

MAX_STEM_CHARS: Final = 80
MAX_STEM_BYTES: Final = 160

_FORBIDDEN = frozenset('<>:"/\\|?*')
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"0123456789", "¹", "²", "³"]}
)


def file_stem(title: str, *, fallback: str) -> str:
    """A file name (without extension) from a chat title that Windows, macOS and Linux all
    accept: no reserved characters or device names, no control or direction-override
    characters, no leading dot, no trailing dot or space, and short enough for every file
    system. Empty results become `fallback`."""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFC", title):
        category = unicodedata.category(ch)
        if ch.isspace() or category in ("Zl", "Zp"):
            kept.append(" ")
        elif ch in _FORBIDDEN:
            kept.append("_")
        elif category in ("Cc", "Cs", "Co", "Cn") or ch in _BIDI_CONTROLS or ch == "\ufeff":
            continue
        else:
            kept.append(ch)
    stem = " ".join("".join(kept).split())
    stem = stem[:MAX_STEM_CHARS]
    while len(stem.encode("utf-8")) > MAX_STEM_BYTES:
        stem = stem[:-1]
    stem = stem.strip(" .-")
    if not stem:
        stem = fallback
    if stem.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        stem = "_" + stem
    return stem


def _name_key(name: str) -> str:
    """Names that one of the three systems would treat as the same file get the same key."""
    return unicodedata.normalize("NFC", name).casefold()


def unique_names(
    chats: Sequence[Chat], *, taken: Iterable[str] = (), suffix: str = ".md"
) -> list[str]:
    """A distinct file name for each chat (case- and normalisation-insensitively, and unlike
    every name in `taken`): "Title.md", "Title (2).md", …"""
    used = {_name_key(n) for n in taken}
    names: list[str] = []
    for chat in chats:
        stem = file_stem(chat.title, fallback=f"chat-{chat.id}")
        name = stem + suffix
        n = 2
        while _name_key(name) in used:
            name = f"{stem} ({n}){suffix}"
            n += 1
        used.add(_name_key(name))
        names.append(name)
    return names


def suggested_file_name(chat: Chat) -> str:
    """The name a save dialog should offer for one chat."""
    return unique_names([chat])[0]
