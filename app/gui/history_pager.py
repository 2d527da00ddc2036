"""Older pages of a long chat, loaded as the user scrolls up to them.

A chat opens with its newest page (the transcript sends the end first); when the page is
scrolled near its top it asks for more (`TranscriptView.older_wanted`), and the pager reads the
page before the oldest message shown, on the workspace's reader thread, and prepends it. Each
step hands the page at most one page of messages, so the GUI thread is never held for long.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from app.errors import PhiDeskError
from app.gui.tasks import Tasks
from app.gui.turn_view import transcript_items

if TYPE_CHECKING:
    from app.gui.chat_pane import ChatPane

log = logging.getLogger(__name__)

PAGE = 60  # messages per older page


class HistoryPager(QObject):
    """Loads a chat's older messages into the pane's transcript on demand."""

    def __init__(self, pane: ChatPane) -> None:
        super().__init__(pane)
        self._pane = pane
        self._tasks = Tasks()
        self._chat: int | None = None
        self._more = False
        self._loading = False
        pane.view.older_wanted.connect(self._older_wanted)

    def opened(self, chat_id: int | None, loaded: int, asked: int) -> None:
        """A chat was shown with `loaded` of the `asked` newest messages."""
        self._chat = chat_id
        self._more = chat_id is not None and loaded >= asked
        self._loading = False
        self._pane.view.set_has_older(self._more)

    def limit(self, at_least: int) -> int:
        """How many of the newest messages a reload must read to keep what is shown."""
        return max(at_least, self._pane.view.message_count)

    @Slot()
    def _older_wanted(self) -> None:
        view = self._pane.view
        if self._chat is None or not self._more or self._loading or not view.fully_sent:
            return
        oldest = view.first_message_id
        if oldest is None or not oldest.isdigit():
            return
        self._loading = True
        self._tasks.start(self._load(self._chat, int(oldest)), name="older messages")

    async def _load(self, chat_id: int, before: int) -> None:
        workspace = self._pane.workspace
        try:
            messages = await workspace.latest_messages(chat_id, PAGE, before=before)
        except PhiDeskError as exc:
            log.warning("older messages of chat %s: %s", chat_id, exc)
            self._loading = False
            return
        view = self._pane.view
        if chat_id != self._chat or view.first_message_id != str(before):
            return  # another chat, or the transcript was rebuilt meanwhile
        self._loading = False
        self._more = len(messages) >= PAGE
        view.prepend_messages(transcript_items(messages, self._pane.presenter.versions))
        view.set_has_older(self._more)

    def shutdown(self) -> None:
        self._tasks.cancel_all()
