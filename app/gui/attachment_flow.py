"""Documents in the chat pane: files attached to the draft (button, drop, paste), sent with the
question after asking once per chat when they would leave this computer, shown as chips on the
question, and counted in the context meter's "documents" share.

The chat pane owns one `DocumentsFlow` (`pane.documents`) and calls `take()` when it sends,
`start()` to begin the turn, `chat_shown()` when it shows another chat and `show_share()` when it
updates the meter. Everything else (chips after a turn, a refused turn's files) it does itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot
from PySide6.QtWidgets import QBoxLayout, QFileDialog

from app.chat.context import ContextPlan
from app.chat.documents import DocumentRefused, Extracted
from app.errors import PhiDeskError
from app.gui.attachment_chips import AttachmentOpener, chip_payload
from app.gui.attachments import FileDropFilter, PendingFiles, ask_document_consent
from app.gui.tasks import Tasks
from app.store import Chat, Message
from app.store.records import SentPart
from app.workspace import ChatsChanged, RunningTurn, TurnRefusedEvent, sentence
from app.workspace.changes import Change, ChatChange
from app.workspace.documents import MAX_ATTACHMENTS
from app.workspace.turns import TurnEvent

if TYPE_CHECKING:
    from app.gui.chat_pane import ChatPane

DECLINED = "Nothing was sent: the documents stay on this computer."

Files = list[Extracted]
"""The files going with a message."""


class DocumentsFlow(QObject):
    """See the module docstring."""

    _changed = Signal(object)  # a workspace change, from whichever thread announced it

    def __init__(self, pane: ChatPane) -> None:
        super().__init__(pane)
        self.pane = pane
        self.workspace = pane.workspace
        self.bar = PendingFiles()
        self.opener = AttachmentOpener(pane.workspace, pane)
        self.file_dialog: QFileDialog | None = None
        self._tasks = Tasks()
        self._chips_wanted = False
        self._row: Chat | None = None
        """The chat's row as the meter last read it (for the consent question)."""
        inside = pane.composer.box.layout()
        if isinstance(inside, QBoxLayout):  # inside the composer's box, above the text
            inside.insertWidget(0, self.bar)
        edit = pane.composer.edit
        self.drops = FileDropFilter(self.attach_paths, pane, edit, edit.viewport(), pane.view)
        pane.view.page_ready.connect(self._watch_page)
        pane.composer.attachRequested.connect(self.choose_files)
        pane.view.attachment_opened.connect(self._chip_clicked)
        self.bar.changed.connect(pane._context_timer.start)
        self._changed.connect(self._on_change)
        self._unsubscribe = self.workspace.subscribe(self._changed.emit)
        self.destroyed.connect(self._unsubscribe)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.opener.close)

    @Slot()
    def _watch_page(self) -> None:
        proxy = self.pane.view.focusProxy()  # the widget QtWebEngine delivers drops to
        if proxy is not None:
            self.drops.watch(proxy)

    # --- attaching ------------------------------------------------------------------------

    @Slot()
    def choose_files(self) -> None:
        """The paperclip: pick files in a dialog that does not block the window."""
        if self.file_dialog is None:
            dialog = QFileDialog(self.pane, "Attach files")
            dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
            dialog.setNameFilters(
                [
                    "Documents (*.txt *.md *.markdown *.pdf *.html *.htm *.rst *.csv *.json "
                    "*.py *.js *.ts *.c *.h *.cpp *.rs *.go *.java *.sh *.toml *.yaml *.yml)",
                    "All files (*)",
                ]
            )
            dialog.filesSelected.connect(lambda names: self.attach_paths([Path(n) for n in names]))
            self.file_dialog = dialog
        self.file_dialog.open()

    def attach_paths(self, paths: Sequence[Path]) -> None:
        """Read `paths` on a worker thread and add them to the draft's files; a file that
        cannot be attached is said in one sentence and none of this batch is added."""
        paths = list(paths)
        if not paths:
            return
        self._tasks.start(self._attach(paths), name="attach files")

    async def _attach(self, paths: list[Path]) -> None:
        bar = self.bar
        if len(bar.files) + len(paths) > MAX_ATTACHMENTS:
            bar.show_refusal(
                sentence(f"A message can carry at most {MAX_ATTACHMENTS} files; attach fewer")
            )
            return
        names = ", ".join(p.name for p in paths[:3]) + ("…" if len(paths) > 3 else "")
        bar.set_busy(f"Reading {names}…")
        try:
            files = await self.workspace.prepare_attachments(paths)
        except DocumentRefused as exc:
            bar.set_busy("")
            bar.show_refusal(_refusal(str(exc), paths))
            return
        bar.set_busy("")
        bar.add(files)

    def take(self) -> list[Extracted]:
        """The draft's files, for the message being sent (the bar empties)."""
        return self.bar.take()

    def restore(self, files: Sequence[Extracted]) -> None:
        """Files of a message that was not sent go back to the draft."""
        if files:
            self.bar.add(files)

    # --- sending --------------------------------------------------------------------------

    async def start(
        self, chat_id: int, text: str, editing: int | None, files: Sequence[Extracted]
    ) -> RunningTurn:
        """Begin the turn (a new question with `files`, or an edit of `editing`), after asking
        once per chat when documents would leave this computer. Raises `PhiDeskError` when it
        cannot begin (declined: nothing is sent)."""
        if not await self.agreed(chat_id, files):
            raise PhiDeskError(DECLINED)
        if editing is not None:
            turn = self.workspace.edit(chat_id, editing, text)
        elif files:
            turn = self.workspace.send_with_attachments(chat_id, text, files)
        else:
            turn = self.workspace.send(chat_id, text)
        if files:
            turn.listen(lambda t, e: self._turn_event(t, e, list(files)))
        return turn

    def _turn_event(self, turn: RunningTurn, event: TurnEvent, files: list[Extracted]) -> None:
        if isinstance(event, TurnRefusedEvent) and turn.chat_id == self.pane.current_chat:
            self.restore(files)  # nothing was kept: the files wait for the next try

    async def agreed(self, chat_id: int, files: Sequence[Extracted] = ()) -> bool:
        """True when documents may go with the next turn of `chat_id`: none would, the engine
        is on this computer, the user agreed before in this chat, or agrees now."""
        known = self._known_row(chat_id)
        if not await self.workspace.needs_document_consent(chat_id, known):
            return True
        if not files and not await self.path_has_documents(chat_id):
            return True
        chat = known or await self.workspace.chat(chat_id)
        try:
            where = f"{chat.engine} ({self.workspace.engine_profile(chat.engine).url})"
        except PhiDeskError:
            where = chat.engine
        if not await ask_document_consent(self.pane, where):
            return False
        self.workspace.consent_to_documents(chat_id)
        return True

    def _known_row(self, chat_id: int) -> Chat | None:
        """The row the meter read of the chat on show, while its engine is still the one the
        picker shows (the only part of it asking needs); None: read it."""
        row = self._row
        if row is None or row.id != chat_id or chat_id != self.pane.current_chat:
            return None
        return row if row.engine == self.pane.picker.current_engine() else None

    async def path_has_documents(self, chat_id: int) -> bool:
        return bool(await self.workspace.attached_questions(chat_id))

    # --- chips on the questions -----------------------------------------------------------

    def chat_shown(self, chat_id: int | None) -> None:
        """Another chat is on screen: its chips, and no files from the last one's draft."""
        self.bar.clear()
        self.pane.view.set_attachments({})
        if chat_id is not None:
            self.refresh_chips()

    @Slot(object)
    def _on_change(self, change: Change) -> None:
        if not isinstance(change, ChatsChanged) or self.pane.current_chat not in change.chat_ids:
            return
        if change.how in (ChatChange.MESSAGES, ChatChange.EXTERNAL, ChatChange.RESTORED):
            self.refresh_chips()

    def refresh_chips(self) -> None:
        if not self._chips_wanted:
            self._chips_wanted = True
            self._tasks.start(self._refresh_chips(), name="attachment chips")

    async def _refresh_chips(self) -> None:
        self._chips_wanted = False
        chat_id = self.pane.current_chat
        if chat_id is None:
            return
        try:  # only the questions that carry files are asked about (not every one)
            chips = await self.workspace.path_chips(chat_id)
        except PhiDeskError:
            return
        payload = {str(question): chip_payload(found) for question, found in chips.items()}
        if chat_id == self.pane.current_chat:
            self.pane.view.set_attachments(payload)

    @Slot(str, str)
    def _chip_clicked(self, attachment_id: str, how: str) -> None:
        try:
            ident = int(attachment_id)
        except ValueError:
            return
        if how == "text":
            self._tasks.start(self.opener.show_text(ident, None), name="attachment text")
        else:
            self._tasks.start(self.opener.open_file(ident), name="open attachment")

    def open_part(self, part: SentPart) -> None:
        """Show the text of one part an answer's question carried (from the Info dialog)."""
        self._tasks.start(self.opener.show_part(part), name="attachment part")

    # --- the meter ------------------------------------------------------------------------

    async def show_share(self, chat: Chat, history: Sequence[Message]) -> ContextPlan | None:
        """When the chat's path or the draft has documents: the plan with their share, shown
        in the meter and the out-of-context marks (None: no documents, nothing changed).
        `history` is the chat's path as its session keeps it (`active_path`), which knows
        which of its messages carry files."""
        self._row = chat
        files = list(self.bar.files)
        if not files:
            paths = self.workspace.session(chat.id).paths
            if not paths.with_files(m.id for m in history if m.role == "user"):
                return None
        draft = self.pane.composer.draft()
        try:
            plan = await self.workspace.preview_documents(chat.id, draft or None, files)
        except PhiDeskError:
            return None
        if chat.id != self.pane.current_chat:
            return None
        session = self.workspace.session(chat.id)
        self.pane.composer.meter.show_plan(
            plan, measured_used=chat.context.used, loaded_context=session.loaded_context(chat.model)
        )
        self.pane.view.mark_out_of_context(str(i) for i in plan.excluded_ids)
        return plan

    def shutdown(self) -> None:
        self._unsubscribe()
        self._tasks.cancel_all()


def _refusal(text: str, paths: Sequence[Path]) -> str:
    """One sentence; a file name that starts it keeps its case ("blob.bin is a binary…")."""
    said = sentence(text)
    for path in paths:
        if text.startswith(path.name):
            return text + said[len(text) :]  # the full stop only
    return said
