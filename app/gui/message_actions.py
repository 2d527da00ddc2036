"""What the buttons on a message do (and Alt+Left/Alt+Right on a focused one, and its context
menu): copy, edit, regenerate that answer (also Retry on its callout), continue a cut-off
answer, pull a missing model, switch versions, delete with an Undo.

The chat pane owns one `MessageActions`; everything goes through the `Workspace`.
"""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication

from app.errors import PhiDeskError
from app.gui.dialogs import AnswerInfoDialog
from app.store.records import DeletedMessages
from app.workspace import Level, NoticeAction, Scope

if TYPE_CHECKING:
    from app.gui.chat_pane import ChatPane

UNDO_DELETE = "undo-delete-message"
EDIT_NOTE = "Sending makes a new version of this message; the old one stays (Esc cancels)."


def deleted_sentence(deleted: DeletedMessages) -> str:
    after = len(deleted.ids) - 1
    if after == 0:
        return "Deleted the message."
    if after == 1:
        return "Deleted the message and the one after it."
    return f"Deleted the message and the {after} after it."


class MessageActions:
    def __init__(self, pane: ChatPane) -> None:
        self.pane = pane
        self.workspace = pane.workspace
        self._deleted: dict[str, DeletedMessages] = {}
        self._tokens = count(1)

    def _tell(self, text: str, level: Level = Level.INFO) -> None:
        self.pane._tell(text, level)

    async def act(self, action: str, message_id: int) -> None:
        try:
            message = await self.workspace.message(message_id)
        except PhiDeskError:
            return
        pane = self.pane
        if message.chat_id != pane.current_chat:
            return
        if action == "copy-markdown":
            QGuiApplication.clipboard().setText(message.content)
            self._tell("Copied the message as Markdown.")
        elif action == "edit" and message.role == "user":
            pane.editing = message.id
            pane.composer.set_draft(message.content)
            pane.edit_note.setText(EDIT_NOTE)
            pane.edit_note.show()
            pane.composer.edit.setFocus()
        elif action in ("regenerate", "retry") and message.role == "assistant":
            pane.regenerate_answer(message.id)
        elif action == "pull-model" and message.provenance is not None:
            pane.flows.pullRequested.emit(message.provenance.model)
        elif action == "continue" and message.role == "assistant":
            self.continue_answer(message.id, message.content)
        elif action == "info":
            AnswerInfoDialog(message, pane).open()
        elif action == "delete":
            await self.delete(message.id)
        elif action in ("previous-version", "next-version"):
            await self.switch_version(message.id, -1 if action == "previous-version" else 1)

    async def regenerate(self, answer_id: int | None) -> None:
        """A new version of `answer_id` (None: the last answer), once the user agreed that the
        chat's documents may go to its engine (asked only for an engine off this computer)."""
        pane = self.pane
        chat_id = pane.current_chat
        if chat_id is None or not await pane.documents.agreed(chat_id):
            return
        if chat_id != pane.current_chat or chat_id in pane.live:
            return
        try:
            turn = self.workspace.regenerate(chat_id, answer_id)
        except PhiDeskError as exc:
            self._tell(str(exc))
            return
        pane.follow(turn)

    def continue_answer(self, answer_id: int, kept: str) -> None:
        chat_id = self.pane.current_chat
        if chat_id is not None and chat_id not in self.pane.live:
            self.pane._tasks.start(self._continue(chat_id, answer_id, kept), name="continue")

    async def _continue(self, chat_id: int, answer_id: int, kept: str) -> None:
        pane = self.pane
        if not await pane.documents.agreed(chat_id):
            return
        if chat_id != pane.current_chat or chat_id in pane.live:
            return
        pane.presenter.prefixes[answer_id] = kept
        try:
            turn = self.workspace.continue_answer(chat_id, answer_id)
        except PhiDeskError as exc:
            pane.presenter.prefixes.pop(answer_id, None)
            self._tell(str(exc))
            return
        pane.follow(turn)

    async def switch_version(self, message_id: int, step: int) -> None:
        """Show the previous (-1) or next (+1) version of a message, and its branch."""
        pane = self.pane
        chat_id = pane.current_chat
        if chat_id is None:
            return
        if chat_id in pane.live:
            self._tell("An answer is streaming in this chat; stop it before switching versions.")
            return
        versions = (await self.workspace.versions(chat_id)).get(message_id)
        if versions is None or not 0 <= versions.index + step < versions.count:
            return
        index = versions.index + step
        sibling = versions.ids[index]
        try:
            await self.workspace.show_version(sibling)
        except PhiDeskError as exc:
            self._tell(str(exc))
            return
        await pane.refresh(focus=sibling)
        pane.view.announce(f"Version {index + 1} of {versions.count}")

    async def delete(self, message_id: int) -> None:
        pane = self.pane
        if pane.current_chat is None or pane.current_chat in pane.live:
            return
        try:
            deleted = await self.workspace.delete_message(message_id)
        except PhiDeskError as exc:
            self._tell(str(exc))
            return
        await pane.refresh()
        token = str(next(self._tokens))
        self._deleted[token] = deleted
        self.workspace.notices.post(
            Level.INFO,
            deleted_sentence(deleted),
            scope=Scope.CHAT,
            target=deleted.chat_id,
            actions=(NoticeAction("Undo", UNDO_DELETE, token),),
        )

    async def undo_delete(self, token: str) -> None:
        deleted = self._deleted.pop(token, None)
        if deleted is None:
            return
        try:
            await self.workspace.restore_messages(deleted)
        except PhiDeskError as exc:
            self._tell(str(exc), Level.ERROR)
            return
        if deleted.chat_id == self.pane.current_chat:
            await self.pane.refresh()
