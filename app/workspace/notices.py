"""One way to tell the user something: a `Notice` (level, one sentence, scope, actions).

Every front end listens to the same `Notices` board: the window shows them in its message area,
the CLI prints them on stderr. `sentence()` gives every user-visible sentence the same shape
(capital first letter, one full stop). `install_exception_hooks()` routes exceptions nobody
caught (in a Qt slot, a thread, an asyncio task) to the log with their traceback and to the user
as one sentence.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)


class Level(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class Scope(StrEnum):
    APP = "app"
    ENGINE = "engine"
    CHAT = "chat"
    MESSAGE = "message"


@dataclass(frozen=True)
class NoticeAction:
    """A button on a notice: what it says and what it does (`key` tells the front end)."""

    label: str
    key: str
    """e.g. "retry", "continue", "pull-model", "set-up-ollama"."""
    argument: str = ""


@dataclass(frozen=True)
class Notice:
    level: Level
    text: str
    """One sentence, already shaped by `sentence()`."""
    scope: Scope = Scope.APP
    target: int | None = None
    """The chat or message id when the scope is CHAT or MESSAGE."""
    actions: tuple[NoticeAction, ...] = field(default=())


def sentence(text: str) -> str:
    """One user-visible sentence: stripped, first letter capital, ending in one full stop
    (or the `?`, `!` or `…` it already ends with)."""
    text = " ".join(text.split())
    if not text:
        return text
    first = text[0]
    if first.islower():
        text = first.upper() + text[1:]
    if text[-1] not in ".?!…":
        text += "."
    return text


NoticeListener = Callable[[Notice], None]
LoopHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class Notices:
    """The board every part posts to and every front end listens on. Thread-safe to post."""

    def __init__(self) -> None:
        self._listeners: list[NoticeListener] = []
        self.history: list[Notice] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: NoticeListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def post(
        self,
        level: Level,
        text: str,
        *,
        scope: Scope = Scope.APP,
        target: int | None = None,
        actions: Sequence[NoticeAction] = (),
    ) -> Notice:
        notice = Notice(level, sentence(text), scope, target, tuple(actions))
        with self._lock:
            self.history.append(notice)
            del self.history[:-100]
        if level is Level.ERROR:
            log.info("told the user: %s", notice.text)
        for listener in list(self._listeners):
            try:
                listener(notice)
            except Exception:
                log.exception("a notice listener failed")
        return notice

    def info(self, text: str, **kwargs: Any) -> Notice:
        return self.post(Level.INFO, text, **kwargs)

    def success(self, text: str, **kwargs: Any) -> Notice:
        return self.post(Level.SUCCESS, text, **kwargs)

    def warning(self, text: str, **kwargs: Any) -> Notice:
        return self.post(Level.WARNING, text, **kwargs)

    def error(self, text: str, **kwargs: Any) -> Notice:
        return self.post(Level.ERROR, text, **kwargs)


def describe_unexpected(exc: BaseException, log_file: object | None) -> str:
    """The sentence for an exception nobody expected: what failed, and where the details are."""
    from app.errors import PhiDeskError

    if isinstance(exc, PhiDeskError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        what = f"a file operation failed: {exc.strerror}{where}"
    else:
        what = f"something went wrong unexpectedly ({type(exc).__name__})"
    if log_file is not None:
        return f"{what}; details are in {log_file}"
    return what


class ExceptionHooks:
    """Installed hooks; `uninstall()` puts the previous ones back (tests use it)."""

    def __init__(self, notices: Notices, log_file: object | None) -> None:
        self.notices = notices
        self.log_file = log_file
        self._previous_sys = sys.excepthook
        self._previous_thread = threading.excepthook
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_loop_handler: LoopHandler | None = None

    def report(self, exc: BaseException, where: str) -> None:
        log.error("unhandled exception in %s", where, exc_info=(type(exc), exc, exc.__traceback__))
        self.notices.error(describe_unexpected(exc, self.log_file))

    def _sys_hook(
        self,
        kind: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._previous_sys(kind, exc, tb)
            return
        self.report(exc, "the main thread")

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "a thread"
        self.report(args.exc_value, name)

    def loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException) and not isinstance(exc, asyncio.CancelledError):
            self.report(exc, str(context.get("message") or "an asyncio task"))
        else:
            loop.default_exception_handler(context)

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> ExceptionHooks:
        self._previous_sys = sys.excepthook
        self._previous_thread = threading.excepthook
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        if loop is not None:
            self._loop = loop
            self._previous_loop_handler = loop.get_exception_handler()
            loop.set_exception_handler(self.loop_handler)
        return self

    def uninstall(self) -> None:
        sys.excepthook = self._previous_sys
        threading.excepthook = self._previous_thread
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.set_exception_handler(self._previous_loop_handler)


def install_exception_hooks(
    notices: Notices, log_file: object | None, loop: asyncio.AbstractEventLoop | None = None
) -> ExceptionHooks:
    """Route uncaught exceptions (slots, threads, tasks) to the log and to one notice."""
    return ExceptionHooks(notices, log_file).install(loop)
