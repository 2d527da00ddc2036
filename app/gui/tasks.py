"""Coroutines started from Qt slots on the qasync loop, kept alive and their errors logged."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtWidgets import QDialog

log = logging.getLogger(__name__)


async def answer_of(dialog: QDialog) -> int:
    """Show `dialog` (window-modal) and wait for its answer (a `QDialog.DialogCode` value)
    without leaving the loop. A task must never call a dialog's exec(): its nested loop runs
    the asyncio callbacks re-entrantly, asyncio refuses to enter any other task from inside
    this one, and that task never wakes again (an answer streaming meanwhile would stall)."""
    answered: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(code: int) -> None:
        if not answered.done():
            answered.set_result(code)

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await answered
    except asyncio.CancelledError:
        dialog.reject()
        raise


class Tasks:
    """Owns the asyncio tasks a widget starts, so they are not garbage-collected mid-flight and
    can all be cancelled when the widget goes away."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # The loop's exception handler logs the traceback and, in the app, tells the user
            # in one sentence (app.workspace.notices.install_exception_hooks).
            task.get_loop().call_exception_handler(
                {"message": f"background task {task.get_name()} failed", "exception": exc}
            )

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def cancel_and_wait(self) -> None:
        """Cancel every task and wait until each has run its cleanup (e.g. a turn saving its
        partial answer as stopped)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def running(self) -> int:
        return len(self._tasks)


def run_on_qt_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
    """`loop.run_until_complete(coro)` with what `asyncio.run` would also do: async generators
    that are garbage-collected get closed on the loop (qasync does not install those hooks, so
    an abandoned HTTP stream would be finalised with no loop running), and the remaining ones
    are shut down at the end."""
    firstiter = getattr(loop, "_asyncgen_firstiter_hook", None)
    finalizer = getattr(loop, "_asyncgen_finalizer_hook", None)
    previous = sys.get_asyncgen_hooks()
    if firstiter is not None and finalizer is not None:
        sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)
    try:
        result = loop.run_until_complete(coro)
        loop.run_until_complete(loop.shutdown_asyncgens())
        return result
    finally:
        sys.set_asyncgen_hooks(*previous)


class _LoopRunner:
    """What qasync needs of its "application": exec(), exit() and the event dispatcher.

    qasync runs the asyncio loop with QApplication.exec() and stops it with
    QCoreApplication.exit(), which emits aboutToQuit; once a QtWebEngine view exists, a second
    aboutToQuit in the same process crashes inside QtWebEngine. Running each
    `run_until_complete` in its own QEventLoop keeps the application's own quit for the real
    end of the program.
    """

    def __init__(self, app: QCoreApplication) -> None:
        self._app = app
        self._loops: list[QEventLoop] = []
        self.aboutToQuit = app.aboutToQuit

    def exec(self) -> int:
        loop = QEventLoop()
        self._loops.append(loop)
        try:
            return loop.exec()
        finally:
            self._loops.remove(loop)

    def exit(self, code: int = 0) -> None:
        if self._loops:
            self._loops[-1].exit(code)

    def eventDispatcher(self) -> Any:
        return self._app.eventDispatcher()


def new_qt_loop(app: QCoreApplication) -> asyncio.AbstractEventLoop:
    """A qasync event loop on `app` that never calls QCoreApplication.exit()."""
    import qasync

    loop: asyncio.AbstractEventLoop = qasync.QEventLoop(_LoopRunner(app))
    return loop
