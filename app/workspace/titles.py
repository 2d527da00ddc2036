"""Generated chat titles, as part of `Workspace` (a mixin): after the first answer of a chat the
window or the quick prompt sent, the chat's own model names the chat (`app.chat.titles`), unless
the preference `generated_titles` is off or the user renamed the chat meanwhile. A new turn in
the chat cancels a title still being written, so the user never waits for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from app.chat.session import ChatSession, title_from
from app.chat.titles import generate_title
from app.errors import PhiDeskError
from app.store import Chat, Database
from app.workspace.changes import ChatChange
from app.workspace.settings import Preferences
from app.workspace.turns import RunningTurn, TurnKind

log = logging.getLogger(__name__)
T = TypeVar("T")


class TitleOps:
    """Titles written by the model; front ends that want them set `auto_titles = True`."""

    db: Database
    auto_titles: bool = False
    """The window and the quick prompt turn this on; the command line does not."""
    _title_tasks: dict[int, asyncio.Task[None]]

    @property
    def prefs(self) -> Preferences:
        raise NotImplementedError

    def session(self, chat_id: int) -> ChatSession:
        raise NotImplementedError

    async def read(self, call: Callable[[], T]) -> T:
        raise NotImplementedError

    async def write(self, call: Callable[[], T]) -> T:
        raise NotImplementedError

    def _chats(self, how: ChatChange, *ids: int) -> None:
        raise NotImplementedError

    def _cancel_title(self, chat_id: int) -> None:
        task = self.__dict__.get("_title_tasks", {}).pop(chat_id, None)
        if task is not None:
            task.cancel()

    async def cancel_titles(self) -> None:
        """Stop every title still being written (when closing)."""
        tasks = list(self.__dict__.get("_title_tasks", {}).values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _after_turn(self, turn: RunningTurn) -> None:
        """A turn ended: title the chat if it was its first answer (see the module docstring)."""
        if not (self.auto_titles and self.prefs.generated_titles) or turn.kind is not TurnKind.SEND:
            return
        finished = turn.finished
        if (
            finished is None
            or finished.message.status != "complete"
            or not finished.message.content
        ):
            return
        tasks = self.__dict__.setdefault("_title_tasks", {})
        task = asyncio.ensure_future(self._title(turn.chat_id, turn.text))
        tasks[turn.chat_id] = task
        task.add_done_callback(
            lambda done: tasks.pop(turn.chat_id, None) if tasks.get(turn.chat_id) is done else None
        )

    async def _title(self, chat_id: int, question: str) -> None:
        chat: Chat = await self.read(lambda: self.db.get_chat(chat_id))
        if chat.message_count != 2 or chat.title != title_from(question):
            return  # not the first answer, or the user named the chat
        try:
            title = await generate_title(self.session(chat_id))
        except PhiDeskError as exc:
            log.info("no generated title for chat %s: %s", chat_id, exc)
            return
        if title is None or title == chat.title:
            return

        def store() -> bool:
            if self.db.get_chat(chat_id).title != chat.title:
                return False  # renamed while the model wrote
            self.db.update_chat(chat_id, title=title)
            return True

        if await self.write(store):
            self._chats(ChatChange.UPDATED, chat_id)
