"""Running turns: each answer streams in a task the application layer owns, so any front end
(the chat pane, the quick prompt, a second view of the same chat) can attach to it, detach, and
attach again while it streams, and quitting waits until every answer is saved."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from app.backend.events import ContentDelta, StreamStalled, ThinkingDelta
from app.chat.session import SessionEvent, Stored, TurnFinished, TurnStarted
from app.errors import PhiDeskError
from app.store import Message

log = logging.getLogger(__name__)


class TurnKind(StrEnum):
    SEND = "send"
    REGENERATE = "regenerate"
    EDIT = "edit"
    CONTINUE = "continue"


@dataclass(frozen=True)
class TurnRefusedEvent:
    """The turn never started (or failed before its answer row existed): `text` is the user's
    message to give back ("" when it is stored in the chat), `reason` one sentence ("" for a
    Stop)."""

    reason: str
    text: str


@dataclass(frozen=True)
class TurnEnded:
    """The turn's task is over, however it ended (always the last event)."""


TurnEvent = SessionEvent | TurnRefusedEvent | TurnEnded
TurnListener = Callable[["RunningTurn", TurnEvent], None]
TurnEvents = Callable[[Stored], AsyncIterator[SessionEvent]]
"""A session's turn (`send`, `edit_and_resend`…) given whom to tell when the message is stored."""


@dataclass
class RunningTurn:
    """One answer being produced: what has arrived so far, and who listens."""

    chat_id: int
    kind: TurnKind
    text: str
    """The user's message ("" for a regenerate)."""
    answer_id: int | None = None
    user_message_id: int | None = None
    """Set once the user's message is stored in the chat (before the server is asked)."""
    content: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    thinking_started: float | None = None
    answer_started: bool = False
    finished: TurnFinished | None = None
    refused: TurnRefusedEvent | None = None
    task: asyncio.Task[None] | None = None
    listeners: list[TurnListener] = field(default_factory=list)
    stored_listeners: list[Callable[[Message], None]] = field(default_factory=list)
    """Told of the user's message once it is committed, before the server is asked anything
    (a view shows it then rather than at `TurnStarted`)."""
    _running: bool = field(default=False, init=False, repr=False)
    _stop_requested: bool = field(default=False, init=False, repr=False)

    def listen(self, listener: TurnListener) -> Callable[[], None]:
        self.listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self.listeners:
                self.listeners.remove(listener)

        return unsubscribe

    def stop(self) -> None:
        if self.task is None or self.task.done():
            return
        if not self._running:
            # A task cancelled before its first step never enters `run`: nobody would hear
            # the end, get the text back, or free the chat. `run` stops at once instead.
            self._stop_requested = True
            return
        self.task.cancel()

    def stored(self, message: Message | None) -> None:
        """The session stored the user's message (None: a refusal removed it again)."""
        self.user_message_id = message.id if message is not None else None
        if message is None:
            return
        for listener in list(self.stored_listeners):
            try:
                listener(message)
            except Exception:
                log.exception("a listener of the stored question failed")

    @property
    def given_back(self) -> str:
        """The text to give back if the turn ends now: none once the message is in the chat."""
        return self.text if self.answer_id is None and self.user_message_id is None else ""

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()

    def _emit(self, event: TurnEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(self, event)
            except Exception:
                log.exception("a turn listener failed")

    def _record(self, event: SessionEvent) -> None:
        if isinstance(event, TurnStarted):
            self.answer_id = event.answer_message_id
            self.user_message_id = event.user_message_id
        elif isinstance(event, ThinkingDelta):
            if self.thinking_started is None:
                self.thinking_started = time.monotonic()
            self.thinking.append(event.text)
        elif isinstance(event, ContentDelta):
            self.answer_started = True
            self.content.append(event.text)
        elif isinstance(event, TurnFinished):
            self.finished = event
        elif isinstance(event, StreamStalled):
            pass

    async def run(self, events: AsyncIterator[SessionEvent], on_end: Callable[[], None]) -> None:
        self._running = True
        try:
            if self._stop_requested:
                raise asyncio.CancelledError
            async for event in events:
                self._record(event)
                self._emit(event)
        except PhiDeskError as exc:
            refused = TurnRefusedEvent(str(exc), self.given_back)
            self.refused = refused
            self._emit(refused)
        except asyncio.CancelledError:
            if self.given_back:
                # Stopped before the message was stored: it goes back to the user. Once
                # stored, the chat keeps the unanswered question.
                self.refused = TurnRefusedEvent("", self.given_back)
                self._emit(self.refused)
            raise
        except Exception as exc:
            log.exception("turn failed")
            self.refused = TurnRefusedEvent(
                f"the answer failed unexpectedly ({type(exc).__name__}); "
                "details are in the log file",
                self.given_back,
            )
            self._emit(self.refused)
        finally:
            on_end()
            self._emit(TurnEnded())


def start_turn(
    chat_id: int,
    kind: TurnKind,
    text: str,
    events: TurnEvents,
    *,
    touched: Callable[[], None],
    ended: Callable[[RunningTurn], None],
) -> RunningTurn:
    """A turn and its task on the running loop: `touched()` once the user's message is stored
    and once the answer starts (the chat's messages changed), `ended(turn)` when it is over.
    The answer's start is told once the request is out (at the answer's next event, or 100 ms
    later): what listens to the chat's changes (the chat list, the chips) works after it."""
    turn = RunningTurn(chat_id, kind, text)
    pending = 0

    def announce() -> None:
        nonlocal pending
        while pending:
            pending -= 1
            touched()

    def soon() -> None:
        nonlocal pending
        pending += 1
        asyncio.get_running_loop().call_later(0.1, announce)

    def stored(message: Message | None) -> None:
        turn.stored(message)
        touched()

    def started(_turn: RunningTurn, event: TurnEvent) -> None:
        if isinstance(event, TurnStarted):
            soon()
        else:
            announce()

    turn.listen(started)
    # ensure_future, not get_running_loop().create_task: under qasync a menu action (Ctrl+R)
    # may start a turn while Qt handles events outside the running loop.
    turn.task = asyncio.ensure_future(turn.run(events(stored), lambda: ended(turn)))
    turn.task.set_name(f"turn in chat {chat_id}")
    return turn
