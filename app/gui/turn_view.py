"""How messages and running turns look in a transcript: one presenter for every window that
shows an answer as it streams (the chat pane and the quick prompt).

    presenter = TurnPresenter(view, workspace)
    presenter.attach(turn)            # a RunningTurn from the workspace; replays what arrived
    presenter.ended.connect(...)      # the turn is over and the view shows its final state
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.backend.events import ContentDelta, StreamStalled, ThinkingDelta
from app.errors import PhiDeskError
from app.gui.model_names import friendly_name
from app.gui.tasks import Tasks
from app.gui.transcript import TranscriptMessage, TranscriptView
from app.render import StreamRenderer, render_markdown
from app.store import Message
from app.store.records import Versions
from app.workspace import (
    RunningTurn,
    TurnEnded,
    TurnFinished,
    TurnKind,
    TurnRefusedEvent,
    TurnStarted,
    Workspace,
)
from app.workspace.turns import TurnEvent

THINKING_REFRESH_MS = 100
STATUS_WORDS = {
    "stopped": "stopped",
    "interrupted": "interrupted",
    "error": "failed",
    "streaming": "streaming",
}
THOUGHT_SECONDS: dict[int, float] = {}
"""How long each answer of this run reasoned (answer id -> seconds), kept for the header's
"Thought for 2.9 s" after the answer is saved; answers of earlier runs read it from their
provenance (`thinking_seconds`)."""
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def caption_of(message: Message) -> str:
    parts: list[str] = []
    if message.role == "assistant":
        if message.provenance is not None:
            tps = message.provenance.tokens_per_second
            if tps:
                parts.append(f"{tps:.1f} tok/s")
        word = STATUS_WORDS.get(message.status)
        if word:
            parts.append(word)
    return " · ".join(parts)


def model_meta(model: str) -> dict[str, str]:
    """The header of an answer: the model's friendly name, its raw tag as detail."""
    if not model:
        return {}
    return {"model_name": friendly_name(model), "model_tag": model}


def missing_model(error: str | None) -> bool:
    """Whether a stored error says the model is not on the server."""
    return bool(error) and "is not installed" in (error or "")


def notice_meta(message: Message) -> dict[str, str]:
    """The callout under an answer that did not complete: its kind, sentence and actions."""
    if message.status == "complete" or message.role != "assistant":
        return {}
    kind: str = message.status
    actions: list[str] = []
    if message.status == "stopped":
        text = "You stopped this answer."
    elif message.status == "interrupted":
        text = "This answer was interrupted; what arrived is kept."
    elif message.status == "streaming":
        text = "This answer is still arriving."
    else:
        text = "The answer failed."
        actions.append("retry")
    if message.status in ("stopped", "interrupted"):
        actions = ["continue", "retry"] if can_continue(message) else ["retry"]
    model = message.provenance.model if message.provenance is not None else ""
    if missing_model(message.error):
        kind = "missing"
        text = f"The model {model} is not installed on this server." if model else text
        actions = ["pull-model", "retry"]
    elif message.error:
        text = f"{text[:-1]}: {message.error.rstrip('.')}."
    meta = {"notice": text, "notice_kind": kind, "notice_actions": ",".join(actions)}
    if model:
        meta["notice_model"] = model
    return meta


def with_closed_fence(text: str) -> str:
    """`text` with its last code block closed if the answer was cut off inside it, so the
    block is highlighted like a finished one."""
    fence: str | None = None
    for line in text.splitlines():
        found = _FENCE.match(line)
        if found is None:
            continue
        mark = found.group(1)
        if fence is None:
            fence = mark
        elif mark[0] == fence[0] and len(mark) >= len(fence) and not line.strip()[len(mark) :]:
            fence = None
    return text if fence is None else f"{text.rstrip(chr(10))}\n{fence}\n"


def can_continue(message: Message) -> bool:
    """A cut-off answer with some text: the model may go on with it."""
    return (
        message.role == "assistant"
        and message.status in ("stopped", "interrupted")
        and bool(message.content)
    )


def transcript_item(message: Message, versions: Versions | None = None) -> TranscriptMessage:
    """How a stored message looks; `versions` (when it has siblings) gives its `‹ n/m ›`."""
    content = message.content
    if message.role == "assistant" and message.status != "complete":
        content = with_closed_fence(content)
    body = render_markdown(content)
    thinking = render_markdown(message.thinking) if message.thinking.strip() else None
    meta = {"caption": caption_of(message), "status": message.status}
    if message.role == "assistant" and message.provenance is not None:
        meta.update(model_meta(message.provenance.model))
    meta.update(notice_meta(message))
    stored = message.provenance.thinking_seconds if message.provenance is not None else None
    seconds = THOUGHT_SECONDS.get(message.id) or stored
    if thinking is not None and seconds:
        meta["thinking_seconds"] = f"{seconds:.3f}"
    if versions is not None and versions.count > 1:
        meta["version"] = str(versions.index + 1)
        meta["versions"] = str(versions.count)
    if can_continue(message):
        meta["can_continue"] = "1"
    return TranscriptMessage(str(message.id), message.role, body, thinking, meta)


def transcript_items(
    messages: list[Message], versions: dict[int, Versions], *, leave_out: int | None = None
) -> list[TranscriptMessage]:
    return [transcript_item(m, versions.get(m.id)) for m in messages if m.id != leave_out]


def user_item(message_id: int, text: str) -> TranscriptMessage:
    """A just-sent message, shown from the text the user typed (no database read)."""
    return TranscriptMessage(str(message_id), "user", render_markdown(text), None, {"caption": ""})


class TurnPresenter(QObject):
    """Binds one running turn to one transcript view.

    For a regenerate, an edit or a continue the view's history changes under the turn: the
    owner reloads it (`historyNeeded`), then calls `show_live()`; until then deltas only
    accumulate in the turn. The owner keeps `versions` (of the chat shown) current, so that a
    finished answer shows its `‹ n/m ›`, and sets `prefixes[answer_id]` to the text a continued
    answer already had."""

    started = Signal(object)
    """TurnStarted, after the user's message and the empty answer are on screen."""
    stalled = Signal(float)
    ended = Signal(object)
    """The RunningTurn, once the view shows how it ended."""
    historyNeeded = Signal(object)
    """The RunningTurn: reload the history (without its answer), then call show_live()."""

    def __init__(
        self, view: TranscriptView, workspace: Workspace, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.view = view
        self.workspace = workspace
        self._tasks = Tasks()
        self.turn: RunningTurn | None = None
        self.renderer: StreamRenderer | None = None
        self.thinking_renderer: StreamRenderer | None = None
        self._unsubscribe: list[object] = []
        self.versions: dict[int, Versions] = {}
        self.prefixes: dict[int, str] = {}
        self.model_source: Callable[[], str] | None = None
        """Tells the model answering (its friendly name heads the live answer)."""
        self._waiting_for_history = False
        self._thinking_timer = QTimer(self)
        self._thinking_timer.setSingleShot(True)
        self._thinking_timer.setInterval(THINKING_REFRESH_MS)
        self._thinking_timer.timeout.connect(self._refresh_thinking)

    def attach(self, turn: RunningTurn) -> None:
        """Show `turn` in the view from now on; what already arrived is replayed."""
        self._release()
        self.turn = turn
        self._unsubscribe.append(turn.listen(self._on_event))
        if turn.answer_id is not None:
            self.show_live()

    def detach(self) -> None:
        """Stop showing the turn (another chat is on screen); the turn goes on. A stopped
        answer's final form still being read belongs to the view being left: dropped too."""
        self._tasks.cancel_all()
        self._release()

    def _release(self) -> None:
        for unsubscribe in self._unsubscribe:
            if callable(unsubscribe):
                unsubscribe()
        self._unsubscribe = []
        self.turn = None
        self.renderer = None
        self.thinking_renderer = None
        self._waiting_for_history = False
        self._thinking_timer.stop()

    def _text(self, turn: RunningTurn) -> str:
        """All of the answer so far (for a continue: what it had, then what arrived)."""
        prefix = self.prefixes.get(turn.answer_id or 0, "")
        return prefix + "".join(turn.content)

    def _item(self, message: Message) -> TranscriptMessage:
        return transcript_item(message, self.versions.get(message.id))

    @property
    def live_id(self) -> int | None:
        return self.turn.answer_id if self.turn is not None else None

    def show_live(self) -> None:
        """Put the streaming answer (with what arrived so far) at the end of the view."""
        turn = self.turn
        if turn is None or turn.answer_id is None:
            return
        self._waiting_for_history = False
        model = self.model_source() if self.model_source is not None else ""
        meta = {"caption": "streaming", **model_meta(model)}
        self.view.append_message(
            TranscriptMessage(str(turn.answer_id), "assistant", "", None, meta)
        )
        self.renderer = StreamRenderer()
        self.renderer.push(self._text(turn))
        self.view.begin_stream(str(turn.answer_id), self.renderer)
        # Reasoning can run to tens of thousands of tokens: render it incrementally too.
        self.thinking_renderer = StreamRenderer()
        self.thinking_renderer.push("".join(turn.thinking))
        if turn.thinking:
            self._refresh_thinking()
        if turn.finished is not None:
            self._finish(turn.finished)

    def _on_event(self, turn: RunningTurn, event: TurnEvent) -> None:
        if turn is not self.turn:
            return
        if isinstance(event, TurnStarted):
            if turn.kind is TurnKind.SEND:
                self.view.append_message(user_item(event.user_message_id, turn.text))
                self.show_live()
            else:
                self._waiting_for_history = True
                self.historyNeeded.emit(turn)
            self.started.emit(event)
        elif self._waiting_for_history and not isinstance(event, TurnEnded):
            return  # accumulated in the turn; shown by show_live()
        elif isinstance(event, ThinkingDelta):
            if self.thinking_renderer is not None:
                self.thinking_renderer.push(event.text)
            if not self._thinking_timer.isActive():
                self._thinking_timer.start()
        elif isinstance(event, ContentDelta):
            if len(turn.content) == 1 and turn.thinking:
                self._remember_thought(turn)
                self._refresh_thinking()  # collapses: the answer has started
            if self.renderer is not None:
                self.renderer.push(event.text)
        elif isinstance(event, StreamStalled):
            self.stalled.emit(event.seconds)
        elif isinstance(event, TurnFinished):
            self._finish(event)
        elif isinstance(event, TurnRefusedEvent):
            pass  # the owner gives the text back
        elif isinstance(event, TurnEnded):
            self._ended(turn)

    def _remember_thought(self, turn: RunningTurn) -> None:
        if turn.answer_id is not None and turn.thinking_started is not None:
            THOUGHT_SECONDS[turn.answer_id] = time.monotonic() - turn.thinking_started

    def _finish(self, event: TurnFinished) -> None:
        if self.turn is not None and self.turn.thinking and not self.turn.answer_started:
            self._remember_thought(self.turn)  # reasoning and no answer (stopped, or empty)
        if self.renderer is not None:
            self.view.end_stream(self.renderer.finish())
            self.renderer = None
            self.view.append_message(self._item(event.message))

    def _ended(self, turn: RunningTurn) -> None:
        if turn.thinking and not turn.answer_started:
            self._remember_thought(turn)
        if self.renderer is not None and turn.answer_id is not None:
            # Stopped or failed before TurnFinished: show what was kept, then how it ended.
            self.view.end_stream(render_markdown(self._text(turn)))
            self.renderer = None
            self._tasks.start(self._show_final(turn.answer_id), name="show stopped answer")
        self._thinking_timer.stop()
        self.prefixes.pop(turn.answer_id or 0, None)
        self._release()
        self.ended.emit(turn)

    async def _show_final(self, answer_id: int) -> None:
        try:
            final = await self.workspace.message(answer_id)
        except PhiDeskError:
            return
        self.view.append_message(self._item(final))

    async def aclose(self) -> None:
        await self._tasks.cancel_and_wait()

    @Slot()
    def _refresh_thinking(self) -> None:
        turn = self.turn
        if turn is None or turn.answer_id is None:
            return
        started = turn.thinking_started or time.monotonic()
        renderer = self.thinking_renderer
        self.view.set_thinking(
            str(turn.answer_id),
            renderer.html() if renderer is not None else render_markdown("".join(turn.thinking)),
            running=not turn.answer_started,
            seconds=THOUGHT_SECONDS.get(turn.answer_id, time.monotonic() - started),
        )
