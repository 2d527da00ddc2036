"""Front matter values: JSON values written as one-line scalars that JSON and YAML (1.1 and 1.2)
both read back as the same value."""

from __future__ import annotations

import json
import math
from typing import Any, Final


def _yaml_safe(ch: str) -> bool:
    """True if `ch` may stand unescaped inside a double-quoted scalar for YAML 1.1 and 1.2
    readers alike (no line breaks of either version, no characters YAML forbids)."""
    code = ord(ch)
    if code < 0x20 or ch in '"\\':
        return False
    if code < 0x7F:
        return True
    if code <= 0x9F or code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF):
        return False
    return not 0xD800 <= code <= 0xDFFF


_SHORT_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(text: str) -> str:
    """`text` as a double-quoted scalar that JSON and YAML both read back as `text`."""
    parts = ['"']
    for ch in text:
        if _yaml_safe(ch):
            parts.append(ch)
        else:
            parts.append(_SHORT_ESCAPES.get(ch) or f"\\u{ord(ch):04x}")
    parts.append('"')
    return "".join(parts)


def flow(value: Any) -> str:
    """A JSON value written as a one-line YAML flow value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, dict):
        items = ", ".join(f"{quote(str(k))}: {flow(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    raise TypeError(f"cannot export a value of type {type(value).__name__}")
