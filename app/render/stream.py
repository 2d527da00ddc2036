"""Incremental rendering of a streamed answer: finished blocks once, then only the live tail.

The text so far is split into *committed* chunks (rendered once, never re-parsed) and the *tail*
(everything after the last commit, re-rendered when the consumer asks). A chunk is committed
when a later top-level block has started on a complete line: everything before that block is
final, because

- a block starting on the line still being written decides nothing yet (`2` may still become
  `2.` and turn a tight list loose), nor does a table whose delimiter row is incomplete;
- a display-math opener whose closer may still arrive (`$$`, `\\[`, `\\begin{…}` with no blank
  line after it yet) holds back the block it is in (see `app.render.math`);
- reference-link definitions are the one case where later text rightly changes earlier blocks:
  each committed chunk remembers the labels it mentions, and when the set of definitions
  changes, exactly those chunks are rendered again and reported as `revised`.

So at every point `html()` equals `render_markdown(text so far)`, and `finish()` does one full
render, equal to it by construction and byte-identical to `render_markdown(final text)`.

Cost: `push()` only appends. `take()`/`html()` parse and render the tail once; a chunk that
becomes final is rendered from those same tokens, so each committed character is parsed about
once over the whole stream. A view that calls `take()` at most 60 times a second therefore does
work proportional to the live block per frame, never to the whole answer. `feed()` is
`push()` + `take()`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from markdown_it.common.utils import normalizeReference
from markdown_it.token import Token

from app.render.markdown import new_env, normalize, render_markdown, shared_markdown
from app.render.math import UNCLOSED_MATH_KEY

# Blocks whose start is only known once a later line is complete (their closing line).
_LOOKAHEAD_BLOCKS = frozenset({"math_block", "math_block_label", "amsmath"})
_BRACKETED = re.compile(r"\[((?:[^\[\]\\]|\\.){0,999})\]", re.DOTALL)


@dataclass(frozen=True, slots=True)
class StreamUpdate:
    """What changed since the previous update.

    `appended` are finished blocks to append after the message's existing blocks (the first of
    them has index `first_index`); `revised` are earlier blocks, by index, whose HTML changed
    (only when a reference-link definition arrives); `tail` replaces the live block.
    """

    first_index: int
    appended: tuple[str, ...]
    revised: tuple[tuple[int, str], ...]
    tail: str


def _reference_key(value: Any) -> tuple[str, str]:
    if isinstance(value, dict):
        return (str(value.get("href", "")), str(value.get("title", "")))
    return ("", "")


def _labels(tokens: list[Token]) -> frozenset[str]:
    found: set[str] = set()
    for token in tokens:
        if token.type == "inline" and "[" in token.content:
            for match in _BRACKETED.finditer(token.content):
                found.add(normalizeReference(match.group(1)))
    return frozenset(found)


def _line_offset(text: str, line: int) -> int:
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


class StreamRenderer:
    """Render one answer as it streams. See the module docstring for the guarantees."""

    def __init__(self) -> None:
        self._md = shared_markdown()
        self._sources: list[str] = []  # committed chunks, in order
        self._blocks: list[str] = []  # their HTML
        self._block_labels: list[frozenset[str]] = []
        self._references: dict[str, Any] = {}  # definitions in the committed chunks
        self._effective: dict[str, tuple[str, str]] = {}  # definitions in all text so far
        self._tail = ""
        self._tail_html = ""
        self._dirty = False
        self._drop_newline = False  # the previous chunk ended with "\r"
        self._delivered = 0  # blocks handed out through take()
        self._revised: set[int] = set()
        self._final: str | None = None

    # -- input ---------------------------------------------------------------------------
    def push(self, delta: str) -> None:
        """Append streamed text. Cheap: nothing is parsed until `take()` or `html()`."""
        if self._final is not None:
            raise RuntimeError("the stream has already finished")
        if not delta:
            return
        if self._drop_newline and delta.startswith("\n"):
            delta = delta[1:]
        self._drop_newline = delta.endswith("\r")
        delta = normalize(delta)
        if delta:
            self._tail += delta
            self._dirty = True

    def feed(self, delta: str) -> StreamUpdate:
        """Append streamed text and return what changed."""
        self.push(delta)
        return self.take()

    # -- output --------------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """True when text arrived that `take()` has not reported yet."""
        return self._dirty or self._delivered < len(self._blocks) or bool(self._revised)

    def take(self) -> StreamUpdate:
        """What changed since the previous `take()` (or `feed()`)."""
        self._refresh()
        first = self._delivered
        appended = tuple(self._blocks[first:])
        revised = tuple((i, self._blocks[i]) for i in sorted(self._revised) if i < first)
        self._delivered = len(self._blocks)
        self._revised.clear()
        return StreamUpdate(first, appended, revised, self._tail_html)

    def html(self) -> str:
        """Committed blocks plus the live tail: equal to `render_markdown(text so far)`."""
        if self._final is not None:
            return self._final
        self._refresh()
        return "".join(self._blocks) + self._tail_html

    def text(self) -> str:
        """The (normalized) text so far."""
        return "".join(self._sources) + self._tail

    def finish(self) -> str:
        """End the stream with one canonical full render of the whole text, and return it."""
        if self._final is None:
            self._final = render_markdown(self.text())
        return self._final

    # -- work ----------------------------------------------------------------------------
    def _refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        tail = self._tail
        env = new_env(self._references)
        tokens = self._md.parse(tail, env)
        references: dict[str, Any] = env["references"]
        cut = self._cut(tail, tokens, env)
        render = self._md.renderer.render
        if cut is None:
            self._tail_html = render(tokens, self._md.options, env)
        else:
            index, line = cut
            offset = _line_offset(tail, line)
            region, head = tail[:offset], tokens[:index]
            self._tail = tail[offset:]
            for label, value in references.items():
                ref_map = value.get("map") if isinstance(value, dict) else None
                if label not in self._references and ref_map and ref_map[0] < line:
                    self._references[label] = value
            self._sources.append(region)
            self._blocks.append(render(head, self._md.options, env))
            self._block_labels.append(_labels(head) if "[" in region else frozenset())
            self._tail_html = render(tokens[index:], self._md.options, env)
        self._revise(references)

    def _cut(self, tail: str, tokens: list[Token], env: dict[str, Any]) -> tuple[int, int] | None:
        """Where the final part of the tail ends: (token index, line), or None.

        Blocks before a top-level block that starts on a complete line are final, unless a
        display-math opener among them may still be closed. A table whose delimiter row, or a
        display equation whose closing line, is still being written does not count as started.
        """
        complete_lines = tail.count("\n")
        unclosed: list[int] = env.get(UNCLOSED_MATH_KEY, [])
        limit = min(unclosed) if unclosed else sys.maxsize
        best: tuple[int, int] | None = None
        first = True
        for index, token in enumerate(tokens):
            if token.level != 0 or token.nesting < 0 or token.map is None:
                continue
            if first:
                first = False
                continue
            start, end = token.map
            if start >= complete_lines or start > limit:
                break
            if token.type == "table_open" and start + 1 >= complete_lines:
                break
            if token.type in _LOOKAHEAD_BLOCKS and end >= complete_lines:
                break
            best = (index, start)
        return best

    def _revise(self, references: dict[str, Any]) -> None:
        effective = {label: _reference_key(value) for label, value in references.items()}
        if effective == self._effective:
            return
        changed = {
            label
            for label in effective.keys() | self._effective.keys()
            if effective.get(label) != self._effective.get(label)
        }
        self._effective = effective
        for index, labels in enumerate(self._block_labels):
            if labels & changed:
                env = new_env(references)
                html = self._md.render(self._sources[index], env)
                if html != self._blocks[index]:
                    self._blocks[index] = html
                    self._revised.add(index)
