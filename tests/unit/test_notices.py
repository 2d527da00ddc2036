"""Notices and the hooks that turn exceptions nobody caught into one logged traceback and one
sentence for the user."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from app.errors import PhiDeskError
from app.workspace.notices import (
    ExceptionHooks,
    Level,
    Notice,
    NoticeAction,
    Notices,
    Scope,
    install_exception_hooks,
    sentence,
)

# --- sentence() ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shaped"),
    [
        ("the model is not installed", "The model is not installed."),
        ("Already a sentence.", "Already a sentence."),
        ("is Ollama running?", "Is Ollama running?"),
        ("it worked!", "It worked!"),
        ("still loading…", "Still loading…"),
        ("  lots \n of\t space   here ", "Lots of space here."),
        ("ünïcode first letter", "Ünïcode first letter."),
        ("42 models found", "42 models found."),
        ("phi4 is Loaded", "Phi4 is Loaded."),
        ("", ""),
        ("   \n\t ", ""),
    ],
)
def test_sentence_shapes_user_visible_text(raw: str, shaped: str) -> None:
    assert sentence(raw) == shaped


def test_sentence_is_idempotent() -> None:
    for raw in ("x", "done.", "why?", "  a  b ", "wait…"):
        assert sentence(sentence(raw)) == sentence(raw)


# --- the board -------------------------------------------------------------------------------


def test_post_shapes_the_text_and_tells_every_listener() -> None:
    notices = Notices()
    heard: list[Notice] = []
    notices.subscribe(heard.append)
    action = NoticeAction("Retry", "retry")
    notice = notices.post(
        Level.WARNING, "the answer stopped early", scope=Scope.CHAT, target=7, actions=[action]
    )
    assert notice == Notice(Level.WARNING, "The answer stopped early.", Scope.CHAT, 7, (action,))
    assert heard == [notice]
    assert notices.history == [notice]
    assert [n.level for n in (notices.info("a"), notices.success("b"), notices.error("c"))] == [
        Level.INFO,
        Level.SUCCESS,
        Level.ERROR,
    ]
    assert len(heard) == 4


def test_a_failing_listener_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notices = Notices()
    heard: list[Notice] = []

    def broken(_notice: Notice) -> None:
        raise RuntimeError("listener bug")

    notices.subscribe(broken)
    notices.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger="app.workspace.notices"):
        notice = notices.info("saved")
    assert heard == [notice]
    failure = next(r for r in caplog.records if r.getMessage() == "a notice listener failed")
    assert failure.exc_info is not None and "listener bug" in str(failure.exc_info[1])


def test_unsubscribe_stops_the_notices() -> None:
    notices = Notices()
    heard: list[Notice] = []
    unsubscribe = notices.subscribe(heard.append)
    notices.info("one")
    unsubscribe()
    unsubscribe()  # twice is harmless
    notices.info("two")
    assert [n.text for n in heard] == ["One."]


def test_history_keeps_the_last_hundred() -> None:
    notices = Notices()
    for i in range(130):
        notices.info(f"notice {i}")
    assert len(notices.history) == 100
    assert notices.history[0].text == "Notice 30."
    assert notices.history[-1].text == "Notice 129."


# --- exception hooks -------------------------------------------------------------------------


class Board:
    """A real `Notices` with the hooks installed on it, and what it heard."""

    def __init__(self, log_file: Path) -> None:
        self.notices = Notices()
        self.heard: list[Notice] = []
        self.notices.subscribe(self.heard.append)
        self.log_file = log_file

    def only_error(self) -> Notice:
        assert len(self.heard) == 1, self.heard
        notice = self.heard[0]
        assert notice.level is Level.ERROR
        return notice


@pytest.fixture
def board(tmp_path: Path) -> Board:
    return Board(tmp_path / "logs" / "phidesk.log")


def assert_one_sentence_naming_the_log(notice: Notice, log_file: Path) -> None:
    text = notice.text
    assert sentence(text) == text
    assert text[0].isupper()
    assert text.endswith(".")
    assert "\n" not in text
    assert str(log_file) in text


def assert_logged_with_traceback(
    caplog: pytest.LogCaptureFixture, exc_type: type[BaseException], where: str
) -> None:
    records = [r for r in caplog.records if r.name == "app.workspace.notices"]
    unhandled = [r for r in records if r.getMessage().startswith("unhandled exception in")]
    assert len(unhandled) == 1, [r.getMessage() for r in records]
    record = unhandled[0]
    assert record.levelno == logging.ERROR
    assert where in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is exc_type
    assert record.exc_text is None or exc_type.__name__ in record.exc_text
    assert "Traceback" in caplog.text
    assert exc_type.__name__ in caplog.text


def failure() -> ValueError:
    """A ValueError with a real traceback."""
    try:
        raise ValueError("bad value deep inside")
    except ValueError as exc:
        return exc


def test_an_exception_given_to_sys_excepthook_is_logged_and_told(
    board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = install_exception_hooks(board.notices, board.log_file)
    try:
        exc = failure()
        with caplog.at_level(logging.INFO, logger="app.workspace.notices"):
            sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        hooks.uninstall()
    assert_logged_with_traceback(caplog, ValueError, "the main thread")
    notice = board.only_error()
    assert_one_sentence_naming_the_log(notice, board.log_file)
    assert "ValueError" in notice.text


def test_an_exception_in_a_thread_is_logged_and_told(
    board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    def work() -> None:
        raise KeyError("missing")

    hooks = install_exception_hooks(board.notices, board.log_file)
    try:
        with caplog.at_level(logging.INFO, logger="app.workspace.notices"):
            thread = threading.Thread(target=work, name="model-scan")
            thread.start()
            thread.join()
    finally:
        hooks.uninstall()
    assert_logged_with_traceback(caplog, KeyError, "model-scan")
    assert_one_sentence_naming_the_log(board.only_error(), board.log_file)


def test_a_thread_ending_with_system_exit_is_not_reported(board: Board) -> None:
    def work() -> None:
        raise SystemExit(0)

    hooks = install_exception_hooks(board.notices, board.log_file)
    try:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    finally:
        hooks.uninstall()
    assert board.heard == []


def test_a_task_exception_never_retrieved_is_logged_and_told(
    board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom() -> None:
        raise ZeroDivisionError("division by zero in a task")

    async def main() -> None:
        hooks = install_exception_hooks(board.notices, board.log_file, asyncio.get_running_loop())
        try:
            task = asyncio.get_running_loop().create_task(boom())
            await asyncio.wait([task])
            del task  # nobody ever looks at its exception
            gc.collect()
        finally:
            hooks.uninstall()

    with caplog.at_level(logging.INFO, logger="app.workspace.notices"):
        asyncio.run(main())
    assert_logged_with_traceback(caplog, ZeroDivisionError, "never retrieved")
    assert_one_sentence_naming_the_log(board.only_error(), board.log_file)


def test_a_loop_error_without_an_exception_goes_to_the_default_handler(
    board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        hooks = install_exception_hooks(board.notices, board.log_file, loop)
        try:
            loop.call_exception_handler({"message": "a plain complaint"})
        finally:
            hooks.uninstall()

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(main())
    assert board.heard == []
    assert "a plain complaint" in caplog.text


def test_uninstall_puts_the_previous_hooks_back(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[type[BaseException]] = []

    def previous_sys(
        kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        seen.append(kind)

    def previous_thread(args: threading.ExceptHookArgs) -> None:
        seen.append(args.exc_type)

    monkeypatch.setattr(sys, "excepthook", previous_sys)
    monkeypatch.setattr(threading, "excepthook", previous_thread)

    def previous_loop(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        pass

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(previous_loop)
        hooks = ExceptionHooks(board.notices, board.log_file).install(loop)
        assert sys.excepthook is not previous_sys
        assert threading.excepthook is not previous_thread
        assert loop.get_exception_handler() == hooks.loop_handler
        # Ctrl+C is not an error to report: it goes to the hook that was there before.
        interrupt = KeyboardInterrupt()
        sys.excepthook(KeyboardInterrupt, interrupt, None)
        hooks.uninstall()
        assert loop.get_exception_handler() is previous_loop

    asyncio.run(main())
    assert sys.excepthook is previous_sys
    assert threading.excepthook is previous_thread
    assert seen == [KeyboardInterrupt]
    assert board.heard == []


def test_a_full_disk_is_told_as_a_failed_file_operation(board: Board) -> None:
    path = board.log_file.parent / "phidesk.sqlite3"
    exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    hooks = install_exception_hooks(board.notices, board.log_file)
    try:
        sys.excepthook(OSError, exc, None)
    finally:
        hooks.uninstall()
    notice = board.only_error()
    assert notice.text == (
        f"A file operation failed: No space left on device ({path}); "
        f"details are in {board.log_file}."
    )


def test_a_phidesk_error_is_told_as_its_own_sentence(board: Board) -> None:
    hooks = install_exception_hooks(board.notices, board.log_file)
    try:
        exc = PhiDeskError("the database is locked by another program")
        sys.excepthook(PhiDeskError, exc, None)
    finally:
        hooks.uninstall()
    assert board.only_error().text == "The database is locked by another program."


def test_without_a_log_file_the_sentence_says_what_failed(board: Board) -> None:
    hooks = install_exception_hooks(board.notices, None)
    try:
        exc = failure()
        sys.excepthook(ValueError, exc, exc.__traceback__)
    finally:
        hooks.uninstall()
    assert board.only_error().text == "Something went wrong unexpectedly (ValueError)."
