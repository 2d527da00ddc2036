"""The ollama library, imported on first use with `OLLAMA_HOST` out of its sight; and how a
chat stream's caller hears that its request has left (`REQUEST_SENT`).

The library builds a default client from `OLLAMA_HOST` while it is imported, and a value it
cannot parse (`http://[::1`) raises there. PhiDesk never uses that default client (every client
it builds is given the host PhiDesk resolved, which reports a bad value as a usage error when it
is the host in use), so the variable is hidden for the import and put back after it.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


def load_ollama() -> None:
    """Import the ollama library if it is not imported yet; call before `import ollama`."""
    if "ollama" in sys.modules:
        return
    value = os.environ.pop("OLLAMA_HOST", None)
    try:
        importlib.import_module("ollama")
    finally:
        if value is not None:
            os.environ["OLLAMA_HOST"] = value


REQUEST_SENT: ContextVar[Callable[[], None] | None] = ContextVar("request_sent", default=None)
"""Told once a chat stream's request is written to the server's connection: set it in the
context the task that first iterates the stream is started in (`tell_sent` does the rest)."""


async def tell_sent(request: httpx.Request) -> None:
    """An httpx request hook: when `REQUEST_SENT` is set, have httpcore say when the request's
    body is written (its trace extension), and tell `REQUEST_SENT` then."""
    sent = REQUEST_SENT.get()
    if sent is None:
        return

    async def trace(name: str, _info: Mapping[str, Any]) -> None:
        if name.endswith("send_request_body.complete"):
            sent()

    request.extensions["trace"] = trace
