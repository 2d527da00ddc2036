"""Text from a model, a server or a file, made safe to print on a terminal.

A chat title, a model name or a server's error can carry terminal controls: `ESC ] 0 ; … BEL`
retitles the terminal, `ESC [ 2 J` clears it, an 8-bit CSI (U+009B) does the same on some
terminals, and bidi overrides make text read differently from what it is. Everything the command
line prints that it did not write itself goes through `safe()` (or `safe_json()` for JSON); the
answer `phidesk ask` streams is the product and is printed as the model wrote it.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"

# Bidi embeddings, overrides, isolates and marks; lone surrogates (they cannot even be encoded
# for output); DEL and the C1 controls.
_INVISIBLE = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\x7f-\x9f"
_BREAKS = "\u2028\u2029"
_ONE_LINE = re.compile(f"[\x00-\x1f{_INVISIBLE}{_BREAKS}]")
_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f{_INVISIBLE}]")
_SPACES = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85" + _BREAKS)


def safe(text: object, *, multiline: bool = False) -> str:
    """`text` with every terminal control replaced.

    One-line fields (the default: titles, names, error sentences) get a space for each tab and
    line break, so a title cannot break the columns or the line it is printed in. With
    `multiline`, tabs and line feeds stay (a CR LF becomes a line feed). Every other control
    becomes U+FFFD, which shows that something was there.
    """
    if multiline:
        return _MULTILINE.sub(_replacement, str(text).replace("\r\n", "\n"))
    return _ONE_LINE.sub(_replacement, str(text))


def _replacement(match: re.Match[str]) -> str:
    return " " if match.group() in _SPACES else REPLACEMENT


# Inside JSON text these can only occur in strings, where `\uXXXX` means the same character:
# the data stays exact and the terminal sees no control. (json.dumps escapes C0 itself.)
_JSON_UNSAFE = re.compile(f"[{_INVISIBLE}{_BREAKS}]")


def safe_json(value: Any, *, indent: int | None = 2) -> str:
    """`json.dumps(value, ensure_ascii=False)` with terminal controls written as `\\uXXXX`."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
