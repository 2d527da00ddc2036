"""Reading an export line by line: the lines taken one at a time, the JSON of the comments
and front matter (bounded in depth), and the checks of their values, each failure a
`DamagedExport` that says where."""

from __future__ import annotations

import json
from typing import Any, Final

from app.chat.transfer.errors import DamagedExport
from app.chat.transfer.markers import META_PREFIX, META_SUFFIX


def _damaged(source: str, why: str) -> DamagedExport:
    return DamagedExport(f"{source} is damaged: it looks like a PhiDesk export, but {why}")


class _Lines:
    """The text's lines, taken one at a time. The text is never split into a list of lines: for
    a file of millions of short lines that list would take many times the file's size."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.index = 0
        """The number (from 0) of the next line."""
        self.offset = 0
        """Where the next line starts in `text`."""
        self.source = source

    def damaged(self, why: str) -> DamagedExport:
        return _damaged(
            self.source,
            f"{why} at line {self.index + 1} (was it edited by hand? only text inside a message "
            "may change)",
        )

    def _end(self) -> int:
        end = self.text.find("\n", self.offset)
        if end < 0:
            raise self.damaged("the file ends too early")
        return end

    def take(self) -> str:
        end = self._end()
        line = self.text[self.offset : end]
        self.index += 1
        self.offset = end + 1
        return line

    def skip(self) -> None:
        self.offset = self._end() + 1
        self.index += 1

    def expect(self, exact: str) -> None:
        end = self._end()
        if end - self.offset != len(exact) or not self.text.startswith(exact, self.offset):
            raise self.damaged(f"expected {exact!r}" if exact else "expected an empty line")
        self.index += 1
        self.offset = end + 1

    def block(self, facts: dict[str, Any], what: str) -> tuple[str, tuple[int, int]]:
        """A verbatim block, and where it starts and ends in the text (closers excluded)."""
        count = _get(facts, "lines", int, what, self)
        eol = _get(facts, "eol", bool, what, self, default=True)
        close = _get(facts, "close", int, what, self, default=0)
        if count < 0 or close < 0 or (count == 0 and (close or not eol)):
            raise self.damaged(f"the {what} has impossible line counts")
        start = self.offset
        if count == 0:
            return "", (start, start)
        for _ in range(count):
            self.skip()
        end = self.offset
        for _ in range(close):
            self.skip()
        self.expect("")
        return self.text[start : end if eol else end - 1], (start, end)

    @property
    def at_end(self) -> bool:
        return self.text.find("\n", self.offset) < 0


def _get(
    facts: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    what: str,
    lines: _Lines | None,
    *,
    default: Any = ...,
    source: str = "",
) -> Any:
    if key not in facts:
        if default is not ...:
            return default
        problem = f"the {what} has no {key!r}"
    else:
        value = facts[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        whole = isinstance(value, int) and not isinstance(value, bool)
        if whole and value not in _SQLITE_INTEGER:
            problem = f"the {what}'s {key!r} is too large"
        elif ok:
            return value
        elif float in kinds and whole:
            return float(value)
        else:
            problem = f"the {what}'s {key!r} is not a {' or '.join(k.__name__ for k in kinds)}"
    if lines is not None:
        raise lines.damaged(problem)
    raise _damaged(source, problem)


_SQLITE_INTEGER: Final = range(-(2**63), 2**63)
"""The whole numbers a database column can hold."""
_OPT_INT = (int, type(None))
_OPT_STR = (str, type(None))
_OPT_FLOAT = (float, type(None))
_OPT_BOOL = (bool, type(None))


_MAX_DEPTH: Final = 32
"""How deeply a value in an export may nest lists and objects (PhiDesk's own nest two deep)."""


class _TooDeep(ValueError):
    pass


def _json(text: str) -> Any:
    """The JSON value `text` holds. Raises ValueError (`_TooDeep` for one nested too deeply)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _TooDeep from None
    level = [value]
    for _ in range(_MAX_DEPTH):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return value
    raise _TooDeep


def _meta(line: str, lines: _Lines) -> dict[str, Any]:
    if not (line.startswith(META_PREFIX) and line.endswith(META_SUFFIX)):
        lines.index -= 1
        raise lines.damaged("a message heading is not followed by its PhiDesk comment")
    try:
        meta = _json(line[len(META_PREFIX) : -len(META_SUFFIX)])
        why = "is not readable"
    except ValueError as exc:
        meta = None
        why = "is nested too deeply" if isinstance(exc, _TooDeep) else "is not readable"
    if not isinstance(meta, dict):
        lines.index -= 1
        raise lines.damaged(f"a message's PhiDesk comment {why}")
    return meta
