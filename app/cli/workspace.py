"""The application layer as the command line uses it: one `Workspace` per command, closed
(answers saved, writes finished, database closed) however the command ends."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from app.backend.hosts import HostProfiles
from app.cli.text import safe
from app.config import AppContext
from app.workspace import Level, Notice, Workspace


@asynccontextmanager
async def open_workspace(ctx: AppContext, *, readonly: bool = False) -> AsyncIterator[Workspace]:
    """The database in `ctx.paths` and the Ollama at `ctx.host` (with its saved token).
    `readonly` for commands that only read: they never write, not even crash recovery, so they
    work while another process holds the write lock."""
    client = HostProfiles(ctx.paths, local_url=ctx.host).client_for_url(ctx.host)
    workspace = Workspace.open(ctx.paths, client, readonly=readonly, on_wait=print_wait)
    workspace.notices.subscribe(print_notice)
    try:
        yield workspace
    finally:
        await workspace.aclose()


def print_notice(notice: Notice) -> None:
    """The command line's side of the one notification channel: one line on stderr."""
    word = {Level.ERROR: "error", Level.WARNING: "warning"}.get(notice.level, "note")
    text = notice.text[:1].lower() + notice.text[1:] if notice.text[1:2].islower() else notice.text
    # Notices may carry a title or a server's words: no terminal controls reach the terminal.
    print(f"phidesk: {word}: {safe(text.rstrip('.'))}", file=sys.stderr)


def print_wait(sentence: str) -> None:
    """Said once when another process keeps the database busy for a while."""
    print(f"phidesk: note: {safe(sentence.rstrip('.'))}", file=sys.stderr)


def run_with_workspace[T](
    ctx: AppContext, work: Callable[[Workspace], Awaitable[T]], *, readonly: bool = False
) -> T:
    """`asyncio.run` of `work(workspace)` inside `open_workspace(ctx)`."""

    async def main() -> T:
        async with open_workspace(ctx, readonly=readonly) as workspace:
            return await work(workspace)

    return asyncio.run(main())
