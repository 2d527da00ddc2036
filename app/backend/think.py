"""Separate `<think>…</think>` reasoning from the answer in a streamed `content` field.

phi4-reasoning (and other models without Ollama's `thinking` capability) write their reasoning
inline: `<think>` … `</think>` then the answer (docs/ollama-behaviour.md §4). The tags may be split
across chunks, and the opening tag may be absent when the chat template already wrote it; the caller
says so with `starts_in_thinking`. Only a `<think>` at the very start of the reply (after
whitespace) opens a reasoning block: a model that talks *about* the tag later is left alone.
"""

from __future__ import annotations

from app.backend.events import ContentDelta, ThinkingDelta

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

_UNDECIDED = 0  # nothing but whitespace seen so far
_THINKING = 1
_AFTER_THINKING = 2  # skipping the whitespace that separates reasoning from the answer
_CONTENT = 3
_OPENED = 4  # just after <think>: skipping the newlines before the reasoning


def _held_prefix(text: str, tag: str) -> int:
    """Length of the longest tail of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Feed content chunks in; get `ThinkingDelta` / `ContentDelta` pieces out, in order."""

    def __init__(self, *, starts_in_thinking: bool = False) -> None:
        self._starts_in_thinking = starts_in_thinking
        self._state = _UNDECIDED
        self._pending = ""  # text held back until we know what it is

    @property
    def in_thinking(self) -> bool:
        return self._state in (_OPENED, _THINKING)

    def feed(self, chunk: str) -> list[ThinkingDelta | ContentDelta]:
        out: list[ThinkingDelta | ContentDelta] = []
        text = self._pending + chunk
        self._pending = ""
        while text:
            if self._state == _UNDECIDED:
                stripped = text.lstrip()
                if not stripped:
                    self._pending = text
                    return out
                if stripped.startswith(OPEN_TAG):
                    self._state = _OPENED
                    text = stripped[len(OPEN_TAG) :]
                    continue
                if OPEN_TAG.startswith(stripped):
                    self._pending = text
                    return out
                self._state = _THINKING if self._starts_in_thinking else _CONTENT
                if self._state == _THINKING:
                    text = stripped
                continue
            if self._state == _OPENED:
                text = text.lstrip("\n")
                if not text:
                    return out
                self._state = _THINKING
                continue
            if self._state == _THINKING:
                end = text.find(CLOSE_TAG)
                if end >= 0:
                    if end:
                        out.append(ThinkingDelta(text[:end]))
                    text = text[end + len(CLOSE_TAG) :]
                    self._state = _AFTER_THINKING
                    continue
                hold = _held_prefix(text, CLOSE_TAG)
                if len(text) > hold:
                    out.append(ThinkingDelta(text[: len(text) - hold]))
                self._pending = text[len(text) - hold :] if hold else ""
                return out
            if self._state == _AFTER_THINKING:
                text = text.lstrip()
                if not text:
                    return out
                self._state = _CONTENT
                continue
            out.append(ContentDelta(text))
            return out
        return out

    def flush(self) -> list[ThinkingDelta | ContentDelta]:
        """The stream ended: whatever was held back goes out as what it most likely was."""
        text, self._pending = self._pending, ""
        if not text:
            return []
        if self._state == _THINKING:
            return [ThinkingDelta(text)]
        if self._state == _UNDECIDED and (self._starts_in_thinking or not text.strip()):
            return [] if not text.strip() else [ThinkingDelta(text.strip())]
        return [ContentDelta(text)]
