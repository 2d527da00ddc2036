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

Most frames parse less than the live part (each path checks that it applies, else the next
is tried): an unclosed fence's new lines are escaped (`LiveBlock.fence_frame`); a table's new
rows are built from its fixed columns (`app.render.rows`); a frame that adds no line break to
a settled paragraph line re-runs only the inline parser (`app.render.fastpath`), and so does
one that starts a list's next item or continues a quote's paragraph (`app.render.items`).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from markdown_it.common.utils import normalizeReference
from markdown_it.token import Token

from app.render.fastpath import InlineFrame, rebased, settled_frame
from app.render.items import next_item, next_quote_child, next_quote_line
from app.render.live import LiveBlock, last_final, open_live
from app.render.live import line_offset as _line_offset
from app.render.markdown import new_env, normalize, render_markdown, shared_markdown
from app.render.math import UNCLOSED_MATH_KEY
from app.render.parts import closing, ended_by_blank
from app.render.rows import table_frame

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


def _limit(env: dict[str, Any]) -> int:
    """The first line of a display-math opener that may still be closed (nothing from its
    block on is final), or sys.maxsize."""
    unclosed: list[int] = env.get(UNCLOSED_MATH_KEY, [])
    return min(unclosed) if unclosed else sys.maxsize


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
        self._arrived: list[str] = []  # pushed text not yet added to `_tail`
        self._tail_html = ""
        self._dirty = False
        self._drop_newline = False  # the previous chunk ended with "\r"
        self._delivered = 0  # blocks handed out through take()
        self._revised: set[int] = set()
        self._final: str | None = None
        self._live: LiveBlock | None = None  # the finished part of the live block
        self._frame: InlineFrame | None = None  # the last parse, when its last line is settled
        # The last such frame, kept through full parses that commit nothing, with the number of
        # committed chunks then: a frame whose last line is not settled (a new item's marker
        # alone) may still be followed by one that `next_item` can start from it.
        self._spare: tuple[InlineFrame, int] | None = None
        self.live_size = 0  # characters the last refresh parsed (the live part)
        self.revision_frames = 0  # refreshes that rendered finished text again
        self.inline_frames = 0  # refreshes that parsed only the line being written

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
        if not delta.isascii() or "\r" in delta or "\0" in delta:
            delta = normalize(delta)  # (plain ASCII text is left as it is by normalize)
        if delta:
            # Appending to the tail copies it whole, so pushes are joined once per refresh.
            self._arrived.append(delta)
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
        self._gather()
        return "".join(self._sources) + self._tail

    def finish(self) -> str:
        """End the stream with one canonical full render of the whole text, and return it."""
        if self._final is None:
            self._final = render_markdown(self.text())
        return self._final

    # -- work ----------------------------------------------------------------------------
    def _gather(self) -> None:
        if self._arrived:
            self._tail += "".join(self._arrived)
            self._arrived.clear()

    def _refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._gather()
        if self._live is not None:
            fence = self._live.fence_frame(self._tail)
            if fence is not None:
                self._tail_html = fence
                self.live_size = len(self._tail) - self._live.offset
                self._frame = None
                return
        if self._live is not None and self._live.kind == "table":
            env = new_env({**self._live.references, **self._references})
            table = table_frame(self._md, self._live, self._tail, env, _labels, _reference_key)
            if table is not None:
                self._tail_html = table
                self.live_size = len(self._tail) - self._live.offset
                self._frame = None
                self.inline_frames += 1
                return
        if self._refresh_inline():
            return
        if self._live is not None and self._refresh_live(self._live):
            return
        if self._live is not None:
            # Rendering the whole block again is a revision only if part of it was finished.
            self.revision_frames += bool(self._live.parts)
            self._live = None
        tail = self._tail
        env = new_env(self._references)
        tokens = self._md.parse(tail, env)
        self.live_size = len(tail)
        references: dict[str, Any] = env["references"]
        cut = self._cut(tail, tokens, env)
        render = self._md.renderer.render
        if cut is None:
            self._tail_html = render(tokens, self._md.options, env)
            self._live = open_live(self._md, tokens)
            if self._live is not None:
                self._live.advance(
                    tail, tokens, env, set(references), _labels, _reference_key, _limit(env)
                )
            self._frame = self._settled(tail, tokens, env)
        else:
            index, line = cut
            offset = _line_offset(tail, line)
            head = tokens[:index]
            self._commit(tail[:offset], render(head, self._md.options, env), head, env, line, {})
            self._tail = tail[offset:]
            self._tail_html = render(tokens[index:], self._md.options, env)
        self._revise(references)

    def _owner(self) -> tuple[int, int, str]:
        live = self._live
        return (0, 0, "") if live is None else (id(live), live.offset, live.prefix)

    def _settled(self, source: str, tokens: list[Token], env: dict[str, Any]) -> InlineFrame | None:
        """The parse of `source` kept for inline-only frames, if the next source extends it."""
        live = self._live
        spare, self._spare = self._spare, None
        current = source if live is None else live.source(self._tail)
        frame = self._settled_parse(current, source, tokens, env)
        if frame is None and spare is not None and spare[1] == len(self._sources):
            kept = spare[0]
            if kept.owner == self._owner() and current.startswith(kept.source):
                return kept
        return frame

    def _settled_parse(
        self, current: str, source: str, tokens: list[Token], env: dict[str, Any]
    ) -> InlineFrame | None:
        live = self._live
        if current != source:
            # The live block committed part of it: keep what is left, when that is a suffix.
            if live is None or live.kind not in ("list", "quote") or not source.endswith(current):
                return None
            lines = source.count("\n", 0, len(source) - len(current))
            rest = rebased(tokens, lines)
            if rest is None:
                return None
            source, tokens = current, rest
        return settled_frame(source, tokens, env, self._owner())

    def _refresh_inline(self) -> bool:
        """Re-parse only the line being written (see `app.render.fastpath`); False when a
        full parse is needed."""
        frame, self._frame = self._frame, None
        if frame is None or frame.owner != self._owner():
            return False
        self._spare = (frame, len(self._sources))
        live = self._live
        source = self._tail if live is None else live.source(self._tail)
        if not frame.extend(self._md, source):
            return live is not None and self._refresh_next_item(live, frame, source)
        tokens, env = frame.tokens, frame.env
        render = self._md.renderer.render
        if live is None:
            self._tail_html = render(tokens, self._md.options, env)
        else:
            composed = live.compose(source, tokens, env, _reference_key)
            if composed is None:
                return False
            block_html, after = composed
            self._tail_html = block_html + render(tokens[after:], self._md.options, env)
            if live.kind == "paragraph":
                live.advance(source, tokens, env, set(), _labels, _reference_key, _limit(env))
        self.live_size = len(tokens[frame.index].content) - frame.done
        self.inline_frames += 1
        if frame.owner == self._owner():
            self._frame = frame
        return True

    def _refresh_next_item(self, live: LiveBlock, frame: InlineFrame, source: str) -> bool:
        """Start a list's next item or a quote's next paragraph, or continue a quote's
        paragraph, by parsing the new line alone (see `app.render.items`), committing the
        parts before it; False when a full parse is needed."""
        if frame.env.get(UNCLOSED_MATH_KEY):
            return False  # the new line may close display math opened above it
        if live.kind == "quote":
            if self._refresh_quote_line(live, frame, source):
                return True
            tokens = next_quote_child(self._md, frame, source)
        elif live.kind == "list":
            tokens = next_item(self._md, frame, source)
        else:
            return False
        if tokens is None:
            return False
        env = frame.env
        known = set(live.references) | set(self._references)
        revisions = live.revisions
        composed = live.compose(source, tokens, env, _reference_key)
        if composed is None:
            return False
        self.revision_frames += live.revisions - revisions
        self._tail_html = composed[0]
        live.advance(source, tokens, env, known, _labels, _reference_key, _limit(env), True)
        self._frame = self._settled(source, tokens, env)
        self.live_size = len(source) - source.rfind("\n") - 1
        self.inline_frames += 1
        return True

    def _refresh_quote_line(self, live: LiveBlock, frame: InlineFrame, source: str) -> bool:
        """Continue a quote's last paragraph on a new quoted line (see `app.render.items`)."""
        after = next_quote_line(self._md, frame, source)
        if after is None:
            return False
        self._spare = None  # its tokens now describe `source`
        composed = live.compose(source, after.tokens, after.env, _reference_key)
        if composed is None:
            return False
        self._tail_html = composed[0]
        self._frame = after
        self.live_size = len(after.tokens[after.index].content) - after.done
        self.inline_frames += 1
        return True

    def _refresh_live(self, live: LiveBlock) -> bool:
        """Parse only the live part of the live block; False when it must be parsed whole."""
        tail = self._tail
        source = live.source(tail)
        initial = {**live.references, **self._references}
        env = new_env(initial)
        tokens = self._md.parse(source, env)
        revisions = live.revisions
        composed = live.compose(source, tokens, env, _reference_key)
        if composed is None:
            return False
        self.live_size = len(source)
        self.revision_frames += live.revisions - revisions
        block_html, after = composed
        references: dict[str, Any] = env["references"]
        cut = self._cut(source, tokens, env)
        render = self._md.renderer.render
        if cut is None:
            self._tail_html = block_html + render(tokens[after:], self._md.options, env)
            live.advance(source, tokens, env, set(initial), _labels, _reference_key, _limit(env))
            self._frame = self._settled(source, tokens, env)
        else:
            index, line = cut
            offset = live.tail_offset(source, line)
            rest = tokens[after:index]
            html = block_html + render(rest, self._md.options, env)
            labels = frozenset(live.label_keys) | _labels(tokens[:index])
            self._commit(tail[:offset], html, labels, env, line, live.references)
            self._tail = tail[offset:]
            self._tail_html = render(tokens[index:], self._md.options, env)
            self._live = None
        self._revise(references)
        return True

    def _commit(
        self,
        region: str,
        html: str,
        head: list[Token] | frozenset[str],
        env: dict[str, Any],
        line: int,
        earlier: dict[str, Any],
    ) -> None:
        """Append a final chunk: its source, HTML, the labels it uses and its definitions."""
        for label, value in earlier.items():
            self._references.setdefault(label, value)
        for label, value in env["references"].items():
            ref_map = value.get("map") if isinstance(value, dict) else None
            if label not in self._references and ref_map and ref_map[0] < line:
                self._references[label] = value
        self._sources.append(region)
        self._blocks.append(html)
        if isinstance(head, frozenset):
            labels = head
        else:
            labels = _labels(head) if "[" in region else frozenset()
        self._block_labels.append(labels)

    def _cut(self, tail: str, tokens: list[Token], env: dict[str, Any]) -> tuple[int, int] | None:
        """Where the final part of the tail ends: (token index, line), or None.

        Blocks before a top-level block that starts on a complete line are final, unless a
        display-math opener among them may still be closed. A table whose delimiter row, or a
        display equation whose closing line, is still being written does not count as started.
        A paragraph, heading, closed fence or display equation followed by a complete blank
        line is final too (see `ended_by_blank`): the next block need not have started.
        """
        starts = [
            index
            for index, token in enumerate(tokens)
            if token.level == 0 and token.nesting >= 0 and token.map is not None
        ]
        complete_lines = tail.count("\n")
        limit = _limit(env)
        chosen = last_final(tokens, starts, complete_lines, limit)
        # Everything before the block at `chosen` is final; the block itself too, if ended.
        index = starts[0 if chosen is None else chosen] if starts else -1
        end = None if index < 0 else ended_by_blank(tokens, index, tail, complete_lines, limit)
        if end is not None:
            after = index + 1 if tokens[index].nesting == 0 else closing(tokens, index) + 1
            return after, end
        if chosen is None:
            return None
        start = tokens[starts[chosen]].map
        assert start is not None
        return starts[chosen], start[0]

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
        revised = False
        for index, labels in enumerate(self._block_labels):
            if labels & changed:
                env = new_env(references)
                html = self._md.render(self._sources[index], env)
                if html != self._blocks[index]:
                    self._blocks[index] = html
                    self._revised.add(index)
                    revised = True
        self.revision_frames += revised
