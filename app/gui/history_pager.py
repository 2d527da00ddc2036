"""A chat's history in the transcript: the newest screen first, older pages as the user scrolls.

Opening a chat shows its newest screen (`first_screen`: at most `FIRST_SCREEN_MESSAGES`), then
the pager prepends the rest of the first page (`opened(..., rest=...)`). When the page is
scrolled near its top it asks for more (`TranscriptView.older_wanted`), and the pager reads the
page before the oldest message shown, on the workspace's reader thread, and prepends it. The
Markdown, code and math of every page is rendered on a thread of its own (`render_items`), so
the GUI thread only hands finished HTML to the page, at most one page of messages at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from app.errors import PhiDeskError
from app.gui.tasks import Tasks
from app.gui.transcript import TranscriptMessage
from app.gui.turn_view import transcript_item
from app.store import Chat, Message
from app.store.records import Versions

if TYPE_CHECKING:
    from app.gui.chat_pane import ChatPane
    from app.workspace import Workspace

log = logging.getLogger(__name__)

PAGE = 60  # messages per older page
FIRST_SCREEN_MESSAGES = 12  # the most a chat shows before the rest of its first page
FIRST_SCREEN_CHARS = 3000  # ...and fewer when the newest ones already hold this much text
YIELD_SECONDS = 0.0005
"""The render thread lets go of the GIL this long after each message: a waiting GUI thread
takes it at once, instead of after the interpreter's 5 ms switch interval (often much more on
a busy machine, when the render thread is preempted while holding it)."""


@cache
def _render_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="history-render")


async def read_history(
    workspace: Workspace, chat_id: int, limit: int
) -> tuple[Chat, list[Message], dict[int, Versions]]:
    """What opening a chat reads: the chat, its newest `limit` messages on show and their
    versions, read side by side on the workspace's reader threads."""
    chat, messages, versions = await asyncio.gather(
        workspace.chat(chat_id),
        workspace.latest_messages(chat_id, limit=limit),
        workspace.versions(chat_id),
    )
    return chat, messages, versions


async def render_items(
    messages: Sequence[Message], versions: dict[int, Versions]
) -> list[TranscriptMessage]:
    """How `messages` look in the transcript (their Markdown, code and math rendered), worked
    out on the history's render thread so the GUI thread is not held by it."""
    shown = list(messages)
    if not shown:
        return []
    versions = dict(versions)  # a copy the GUI thread may not change meanwhile
    job = _render_thread().submit(_render, shown, versions)
    return await asyncio.wrap_future(job)


def _render(messages: list[Message], versions: dict[int, Versions]) -> list[TranscriptMessage]:
    items = []
    for message in messages:
        items.append(transcript_item(message, versions.get(message.id)))
        time.sleep(YIELD_SECONDS)
    return items


def first_screen(messages: Sequence[Message]) -> int:
    """Where the newest screen of `messages` begins: what is shown before anything older."""
    start = len(messages)
    chars = 0
    while start > 0 and len(messages) - start < FIRST_SCREEN_MESSAGES:
        if chars >= FIRST_SCREEN_CHARS:
            break
        start -= 1
        chars += len(messages[start].content) + len(messages[start].thinking)
    return start


class HistoryPager(QObject):
    """Loads a chat's older messages into the pane's transcript on demand."""

    def __init__(self, pane: ChatPane) -> None:
        super().__init__(pane)
        self._pane = pane
        self._tasks = Tasks()
        self._chat: int | None = None
        self._more = False
        self._loading = False
        self._opening = 0
        pane.view.older_wanted.connect(self._older_wanted)

    def opened(
        self, chat_id: int | None, loaded: int, asked: int, rest: Sequence[Message] = ()
    ) -> None:
        """A chat was shown with the newest of the `loaded` messages read for it (of `asked`);
        `rest`, the older ones of them not shown yet, follow once rendered."""
        self._opening += 1
        self._chat = chat_id
        self._more = chat_id is not None and loaded >= asked
        self._loading = bool(rest)
        view = self._pane.view
        if chat_id is not None and rest and view.first_message_id is not None:
            view.set_has_older(False)
            job = self._fill(chat_id, view.first_message_id, list(rest), self._opening)
            self._tasks.start(job, name="first page")
            return
        view.set_has_older(self._more)

    def limit(self, at_least: int) -> int:
        """How many of the newest messages a reload must read to keep what is shown."""
        return max(at_least, self._pane.view.message_count)

    async def _fill(self, chat_id: int, first: str, rest: list[Message], opening: int) -> None:
        """The rest of the first page, above the newest screen already shown."""
        try:
            items = await render_items(rest, self._pane.presenter.versions)
        finally:
            if opening == self._opening:
                self._loading = False
        view = self._pane.view
        if opening != self._opening or chat_id != self._chat:
            return  # another chat meanwhile
        if view.first_message_id == first:  # else the transcript was rebuilt meanwhile
            view.prepend_messages(items)
        view.set_has_older(self._more)

    @Slot()
    def _older_wanted(self) -> None:
        view = self._pane.view
        if self._chat is None or not self._more or self._loading or not view.fully_sent:
            return
        oldest = view.first_message_id
        if oldest is None or not oldest.isdigit():
            return
        self._loading = True
        job = self._load(self._chat, int(oldest), self._opening)
        self._tasks.start(job, name="older messages")

    async def _load(self, chat_id: int, before: int, opening: int) -> None:
        workspace = self._pane.workspace
        try:
            messages = await workspace.latest_messages(chat_id, PAGE, before=before)
            items = await render_items(messages, self._pane.presenter.versions)
        except PhiDeskError as exc:
            log.warning("older messages of chat %s: %s", chat_id, exc)
            if opening == self._opening:
                self._loading = False
            return
        view = self._pane.view
        if opening != self._opening or chat_id != self._chat:
            return  # another chat meanwhile
        self._loading = False
        if view.first_message_id != str(before):
            return  # the transcript was rebuilt meanwhile
        self._more = len(messages) >= PAGE
        view.prepend_messages(items)
        view.set_has_older(self._more)

    def shutdown(self) -> None:
        self._tasks.cancel_all()
