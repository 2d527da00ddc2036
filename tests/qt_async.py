"""Helpers for GUI tests that drive coroutines on the session's qasync loop (`qt_loop`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWebEngineWidgets import QWebEngineView


def drive(
    loop: asyncio.AbstractEventLoop, scenario: Coroutine[Any, Any, None], seconds: float = 90
) -> None:
    """Run a test scenario on the loop, failing it after `seconds`."""
    loop.run_until_complete(asyncio.wait_for(scenario, seconds))


async def until(predicate: Callable[[], object], seconds: float = 20.0) -> None:
    """Wait (letting the loop run) until `predicate()` holds; fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition never held: {predicate}")
        await asyncio.sleep(0.02)


async def run_js(view: QWebEngineView, script: str) -> Any:
    """The value of `script` evaluated in the view's page."""
    result: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def done(value: Any) -> None:
        if not result.done():
            result.set_result(value)

    view.page().runJavaScript(script, 0, done)
    return await asyncio.wait_for(result, 10)
