"""A stall watchdog for any stream: `StreamStalled` while it is silent, and giving up after
`stall_timeout` seconds of silence (any silence: the wait for the answer's head and its first
token too), ending with the error `give_up(seconds)` makes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from app.backend.events import StreamStalled

log = logging.getLogger(__name__)


async def watched[T](
    source: AsyncIterator[T],
    *,
    stall_seconds: float,
    stall_timeout: float,
    give_up: Callable[[float], Exception],
) -> AsyncGenerator[T | StreamStalled, None]:
    """Items of `source`, plus a `StreamStalled` each `stall_seconds` without one (each half of
    `stall_timeout` when that is shorter, so one always comes before giving up). Closing this
    generator cancels the pending read and closes `source`."""

    async def next_item() -> T:
        return await anext(source)

    loop = asyncio.get_running_loop()
    every = min(stall_seconds, stall_timeout / 2)
    pending: asyncio.Task[T] | None = None
    waiting_since = note_at = 0.0
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(next_item())
                waiting_since, note_at = loop.time(), every
            quiet = min(note_at, stall_timeout)
            timeout = max(0.0, waiting_since + quiet - loop.time())
            done, _ = await asyncio.wait({pending}, timeout=timeout)
            if not done and quiet >= stall_timeout:
                raise give_up(stall_timeout)
            if not done:
                yield StreamStalled(quiet)
                note_at += every
                continue
            finished, pending = pending, None
            try:
                item = finished.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait({pending})
            if not pending.cancelled() and pending.exception() is not None:
                log.debug("stream ended with %r while closing", pending.exception())
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
