"""The httpx `event_hooks` every answer from Ollama passes first (`answer_guard`).

They refuse, as they arrive, answers Ollama never gives (a web page, an encoding that was not
asked for, a line longer than `MAX_LINE_BYTES`, a plain answer longer than `MAX_ANSWER_BYTES`),
so a hostile body is never read whole into memory. Apart from `app.backend.failures` because it
subclasses an httpx class: the client imports this module when it is built, not at start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from app.backend.failures import MAX_LINE_BYTES, UnlikeOllama


class _BoundedStream(httpx.AsyncByteStream):
    """The body of one answer, refused as soon as it breaks a limit: memory stays bounded."""

    def __init__(self, inner: httpx.AsyncByteStream, *, max_total: int | None) -> None:
        self._inner = inner
        self._max_total = max_total

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = 0
        since_newline = 0
        async for chunk in self._inner:
            total += len(chunk)
            if self._max_total is not None and total > self._max_total:
                raise UnlikeOllama(f"sent more than {self._max_total // 2**20} MB at once")
            newline = chunk.rfind(b"\n")
            since_newline = len(chunk) - newline - 1 if newline >= 0 else since_newline + len(chunk)
            if since_newline > MAX_LINE_BYTES:
                raise UnlikeOllama(
                    f"sent more than {MAX_LINE_BYTES // 2**20} MB without a line break"
                )
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


ResponseHook = Callable[[httpx.Response], Awaitable[None]]


def answer_guard(*, max_total: int | None) -> dict[str, list[ResponseHook]]:
    """httpx `event_hooks` that refuse, when its head arrives, an answer that cannot be
    Ollama's, and bound how much of any other answer is read (`max_total` bytes, and never a
    line longer than `MAX_LINE_BYTES`). Hooks, not a transport, so proxies are guarded too."""

    async def check(response: httpx.Response) -> None:
        problem = _unlike_ollama(response)
        if problem is not None:
            raise UnlikeOllama(problem)  # httpx closes the response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _BoundedStream(response.stream, max_total=max_total)

    return {"response": [check]}


def _unlike_ollama(response: httpx.Response) -> str | None:
    """Why the answer's head shows it is not Ollama's, or None. A redirect is followed and a
    401/403 is about the token, whatever their bodies; Ollama never sends HTML, and is asked
    for no compression (a server that compresses anyway could not be bounded)."""
    status = response.status_code
    if (300 <= status < 400 and "location" in response.headers) or status in (401, 403):
        return None
    if "html" in response.headers.get("content-type", "").lower():
        return "sent a web page" if status == 200 else f"answered {status} with a web page"
    if response.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
        return "sent a compressed answer it was not asked for"
    return None
