"""The conversation side of the main window: header, transcript, context warning, composer.

Everything goes through the `Workspace` (its worker threads do the database work). Several chats
may stream at once: the pane's `TurnPresenter` shows only the one of the chat on screen.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.backend.catalog import Catalog
from app.backend.fit import describe_context_cost
from app.backend.models import ModelInfo
from app.chat.context import ContextPlan
from app.errors import PhiDeskError
from app.gui.attachment_flow import DocumentsFlow, Files
from app.gui.chat_flows import ChatFlows
from app.gui.chat_settings import ChatSettingsDialog, open_chat_settings
from app.gui.composer import Composer
from app.gui.context_banner import ContextBanner, show_context
from app.gui.elided_label import ElidedLabel
from app.gui.history_pager import HistoryPager, first_screen, read_history, render_items
from app.gui.message_actions import UNDO_DELETE, MessageActions
from app.gui.models_picker import ModelPicker
from app.gui.tasks import Tasks
from app.gui.transcript import TranscriptView
from app.gui.turn_view import TurnPresenter, transcript_items
from app.store import Chat
from app.workspace import (
    Level,
    RunningTurn,
    Scope,
    TurnEnded,
    TurnFinished,
    TurnKind,
    TurnRefusedEvent,
    TurnStarted,
    TurnState,
    Workspace,
)
from app.workspace.turns import TurnEvent

log = logging.getLogger(__name__)

HISTORY_SHOWN = 60  # the newest messages a chat opens with; older pages load on scrolling up


class ChatPane(QWidget):
    chatsChanged = Signal()
    chatCreated = Signal(int)

    def __init__(
        self,
        workspace: Workspace,
        catalog: Catalog | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.catalog = catalog
        self.current_chat: int | None = None
        self.editing: int | None = None
        self.banner_dismissed_for = ""
        self._plan: ContextPlan | None = None
        self._tasks = Tasks()
        self._opening = 0
        self._closing = False
        self.settings_dialog: ChatSettingsDialog | None = None
        self.history_shown: dict[int, int] = {}  # chat -> messages its next opening loads

        self.picker = ModelPicker()
        self.title = ElidedLabel("New chat")  # a long title never widens the window
        self.title.setObjectName("ChatTitle")
        title_font = self.title.font()
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.settings_button = QPushButton("Settings…")
        self.settings_button.setObjectName("ChatSettingsButton")
        self.settings_button.setToolTip("Chat settings (Ctrl+Shift+,)")
        header = QHBoxLayout()
        header.setContentsMargins(8, 6, 8, 0)
        header.addWidget(self.title, 1)
        header.addWidget(QLabel("Model"))
        header.addWidget(self.picker)
        header.addWidget(self.settings_button)

        self.view = TranscriptView()
        self.presenter = TurnPresenter(self.view, workspace, self)
        self.message_actions = MessageActions(self)
        self.banner = ContextBanner()
        self.edit_note = QLabel()
        self.edit_note.setObjectName("EditNote")
        self.edit_note.hide()
        self.composer = Composer()
        self.picker.guard(self.composer)  # read-only while the chat's engine is gone
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.banner)
        layout.addWidget(self.edit_note)
        layout.addWidget(self.composer)

        self._context_timer = QTimer(self)
        self._context_timer.setSingleShot(True)
        self._context_timer.setInterval(200)
        self._context_timer.timeout.connect(self.update_context)

        self.composer.sendRequested.connect(self.send)
        self.composer.stopRequested.connect(self.stop)
        self.composer.draftChanged.connect(self._context_timer.start)
        self.settings_button.clicked.connect(self.edit_settings)
        self.picker.currentIndexChanged.connect(self._model_chosen)
        self.view.message_action.connect(self._message_action)
        self.banner.raiseRequested.connect(self.raise_context)
        self.banner.summaryRequested.connect(self.new_chat_with_summary)
        self.banner.dismissed.connect(self._dismiss_banner)
        self.presenter.historyNeeded.connect(self._reload_under_turn)
        self.presenter.ended.connect(self._presented_turn_ended)
        self.flows = ChatFlows(self)
        self.documents = DocumentsFlow(self)  # attached files: bar, drops, chips, meter share
        self.pager = HistoryPager(self)

    @property
    def live(self) -> dict[int, RunningTurn]:
        """The chats with an answer streaming now."""
        return self.workspace.turns

    def _tell(self, text: str, level: Level = Level.INFO) -> None:
        """Say something about this chat in the window's one message area."""
        self.workspace.notices.post(level, text, scope=Scope.CHAT, target=self.current_chat)

    # --- chats ----------------------------------------------------------------------------

    def open_chat(self, chat_id: int | None) -> None:
        """Show a chat (None: a fresh, not yet saved chat)."""
        self.presenter.detach()
        self.current_chat = chat_id
        self.editing = None
        self.edit_note.hide()
        self.banner.hide()
        self._opening += 1
        self.documents.chat_shown(chat_id)
        if chat_id is None:
            self.title.setText("New chat")
            self.view.set_messages([])
            self.pager.opened(None, 0, 0)
            self.picker.select_default()
            self.flows.model_shown()
            self.composer.set_streaming(False)
            self._context_timer.start()
            return
        self.composer.set_streaming(chat_id in self.live)
        self._tasks.start(self._load_chat(chat_id, self._opening), name="open chat")

    async def _load_chat(self, chat_id: int, opening: int) -> None:
        try:
            hit = chat_id in self.history_shown  # a search hit: all back to it in one go
            wanted = self.history_shown.pop(chat_id, HISTORY_SHOWN)  # more for a search hit
            chat, messages, versions = await read_history(self.workspace, chat_id, wanted)
            split = 0 if hit else first_screen(messages)  # the newest screen first
            items = await render_items(messages[split:], versions)  # off the GUI thread
        except PhiDeskError as exc:
            if opening == self._opening:
                self._tell(str(exc))
            return
        if opening != self._opening:
            return  # the user moved on meanwhile
        self.title.setText(chat.title or "New chat")
        self.picker.select(chat.model, chat.engine)
        self.flows.model_shown()
        turn = self.live.get(chat_id)
        continued = turn is not None and turn.kind is TurnKind.CONTINUE  # stays in place
        live_id = turn.answer_id if turn is not None and not continued else None
        self.presenter.versions = versions
        self.view.set_messages([item for item in items if item.id != str(live_id)])
        self.pager.opened(chat_id, len(messages), wanted, rest=messages[:split])
        if turn is not None:
            self.presenter.attach(turn)
        self.composer.set_streaming(turn is not None)
        if chat.model:
            self._tasks.start(self._learn_model(chat_id, chat.model), name="model info")
        self._context_timer.start()

    async def _learn_model(self, chat_id: int, model: str) -> None:
        session = self.workspace.session(chat_id)
        await session.model_info(model)
        await session.refresh_loaded(model)
        if chat_id == self.current_chat:
            self._context_timer.stop()  # now, and once: the pending update would repeat it
            self.update_context()

    @Slot(int)
    def _model_chosen(self, _index: int) -> None:
        model = self.picker.current_model()
        if self.current_chat is None or not model:
            self._context_timer.start()
            return
        chat_id = self.current_chat
        self._tasks.start(self._set_model(chat_id, model), name="set model")

    async def _set_model(self, chat_id: int, model: str) -> None:
        try:
            await self.workspace.set_chat_engine(chat_id, self.picker.current_engine(), model)
        except PhiDeskError as exc:
            self._tell(str(exc))
            return
        await self._learn_model(chat_id, model)
        self.chatsChanged.emit()

    # --- turns ----------------------------------------------------------------------------

    @Slot(str)
    def send(self, text: str) -> None:
        if self.current_chat is not None and self.current_chat in self.live:
            return
        model = self.picker.current_model()
        if not model and self.current_chat is None:
            self._tell("Choose a model first (or pull one with the model manager).")
            return
        editing = self.editing
        self.editing = None
        self.edit_note.hide()
        self.banner.hide()
        self.composer.set_draft("")  # taken now; given back if the turn is refused
        self.composer.set_streaming(True)
        files = self.documents.take() if editing is None else []  # an edit keeps its files
        self._tasks.start(self._send(text, model, editing, files), name="send")

    async def _send(self, text: str, model: str, editing: int | None, files: Files) -> None:
        chat_id = self.current_chat
        try:
            if chat_id is None:
                chat = await self.workspace.new_chat(model, engine=self.picker.current_engine())
                chat_id = chat.id
                if self.current_chat is None:
                    self.current_chat = chat_id
                    self.chatCreated.emit(chat_id)
            turn = await self.documents.start(chat_id, text, editing, files)
        except PhiDeskError as exc:
            self._tell(str(exc), Level.WARNING)
            self._give_back(chat_id, text)
            self.documents.restore(files)
            self.composer.set_streaming(chat_id in self.live)
            return
        self.follow(turn)

    @Slot()
    def regenerate(self) -> None:
        """The window's Regenerate: a new version of the last answer shown."""
        self.regenerate_answer(None)

    def regenerate_answer(self, answer_id: int | None) -> None:
        """A new version of `answer_id` (None: the last answer), streamed in its place."""
        if self.current_chat is not None and self.current_chat not in self.live:
            self._tasks.start(self.message_actions.regenerate(answer_id), name="regenerate")

    def follow(self, turn: RunningTurn) -> None:
        self.flows.follow(turn, self._turn_event)
        if turn.chat_id == self.current_chat:
            self.presenter.attach(turn)
            self.composer.set_streaming(True)
        self.chatsChanged.emit()

    def _turn_event(self, turn: RunningTurn, event: TurnEvent) -> None:
        """Events of every turn this pane started, shown or not."""
        if isinstance(event, TurnRefusedEvent):
            self.flows.refused(turn.chat_id, event.reason)
            self._give_back(turn.chat_id, event.text)
        elif (
            isinstance(event, TurnFinished)
            and event.state is TurnState.FAILED
            and event.error is not None
        ):
            self.flows.failed(turn.chat_id, str(event.error))
        elif isinstance(event, TurnEnded):
            if turn.chat_id == self.current_chat:
                self.composer.set_streaming(False)
                self._context_timer.start()
                if turn.answer_id is None:
                    # Refused, or stopped before the answer began: the title, and a question
                    # stored before the Stop, are shown as the chat now holds them.
                    self._tasks.start(self._load_chat(turn.chat_id, self._opening), name="chat")
            self.chatsChanged.emit()
        elif isinstance(event, TurnStarted) and turn.chat_id == self.current_chat:
            self._tasks.start(self._refresh_title(turn.chat_id), name="title")
            self.chatsChanged.emit()

    async def _refresh_title(self, chat_id: int) -> None:
        try:
            chat = await self.workspace.chat(chat_id)
        except PhiDeskError:
            return
        if chat_id == self.current_chat:
            self.title.setText(chat.title or "New chat")

    def _give_back(self, chat_id: int | None, text: str) -> None:
        """A refused turn: put the user's text back where it was typed, unless they moved on."""
        if text and chat_id == self.current_chat and not self.composer.draft():
            self.composer.set_draft(text)

    @Slot(object)
    def _reload_under_turn(self, turn: object) -> None:
        if isinstance(turn, RunningTurn):
            self._tasks.start(self._reload(turn), name="reload history")

    async def _reload(self, turn: RunningTurn) -> None:
        """A regenerate, edit or continue began: show the branch it is on (rebuilding only
        what changed), then its answer streaming."""
        limit = self.pager.limit(HISTORY_SHOWN)
        messages = await self.workspace.latest_messages(turn.chat_id, limit=limit)
        versions = await self.workspace.versions(turn.chat_id)
        if turn.chat_id != self.current_chat or self.presenter.turn is not turn:
            return
        live = None if turn.kind is TurnKind.CONTINUE else turn.answer_id
        self.presenter.versions = versions
        self.view.sync_messages(transcript_items(messages, versions, leave_out=live))
        self.presenter.show_live()

    async def refresh(self, focus: int | None = None) -> None:
        """Show the branch as it is now, rebuilding only what changed; `focus` keeps focus."""
        chat_id = self.current_chat
        if chat_id is None or chat_id in self.live:
            return
        try:
            limit = self.pager.limit(HISTORY_SHOWN)
            messages = await self.workspace.latest_messages(chat_id, limit=limit)
            versions = await self.workspace.versions(chat_id)
        except PhiDeskError as exc:
            self._tell(str(exc))
            return
        if chat_id != self.current_chat or chat_id in self.live:
            return
        self.presenter.versions = versions
        self.view.sync_messages(
            transcript_items(messages, versions), focus=None if focus is None else str(focus)
        )
        self._context_timer.start()
        self.chatsChanged.emit()

    @Slot(object)
    def _presented_turn_ended(self, _turn: object) -> None:
        self.composer.set_streaming(False)

    @Slot()
    def stop(self) -> None:
        if self.editing is not None and self.current_chat not in self.live:
            self.editing = None
            self.edit_note.hide()
            self.composer.set_draft("")
            return
        if self.current_chat is not None:
            self.workspace.stop(self.current_chat)

    def stop_all(self) -> None:
        for turn in list(self.live.values()):
            turn.stop()

    # --- actions from the transcript ------------------------------------------------------

    @Slot(str, str)
    def _message_action(self, action: str, message_id: str) -> None:
        try:
            ident = int(message_id)
        except ValueError:
            return
        self._tasks.start(self.message_actions.act(action, ident), name=f"message {action}")

    @Slot(str, str)
    def notice_action(self, key: str, argument: str) -> None:
        """A button on a notice in the window's message area (Undo of a message delete)."""
        if key == UNDO_DELETE:
            self._tasks.start(self.message_actions.undo_delete(argument), name="undo delete")
        self.flows.notice_action(key, argument)

    # --- settings and the context window --------------------------------------------------

    def _model_info(self, chat: Chat) -> ModelInfo | None:
        if not chat.model:
            return None
        return self.workspace.session(chat.id).cached_model_info(chat.model)

    def _vram_cost(self, chat: Chat, info: ModelInfo | None, num_ctx: int) -> str | None:
        installed = self.picker.installed(chat.model)
        if info is None or installed is None:
            return None
        return describe_context_cost(info, installed.size, num_ctx)

    @Slot()
    def edit_settings(self) -> None:
        self._tasks.start(self._edit_settings(), name="chat settings")

    async def _edit_settings(self) -> None:
        if self.current_chat is None:
            model, engine = self.picker.current_model(), self.picker.current_engine()
            chat = await self.workspace.new_chat(model, engine=engine)
            self.current_chat = chat.id
            self.chatCreated.emit(chat.id)
        chat = await self.workspace.chat(self.current_chat)
        info = self._model_info(chat)
        self.settings_dialog = open_chat_settings(
            self,
            self.workspace,
            chat,
            info,
            lambda n: self._vram_cost(chat, info, n),
            on_saved=self._context_timer.start,
        )

    @Slot()
    def update_context(self) -> None:
        """Recompute the meter, the out-of-context marks and the warning banner."""
        if self._closing:
            return
        if self.current_chat is None:
            self._plan = None
            self.composer.meter.label.setText("–")
            self.view.mark_out_of_context([])
            return
        self._tasks.start(self._update_context(self.current_chat), name="context")

    async def _update_context(self, chat_id: int) -> None:
        session = self.workspace.session(chat_id)  # its path planned as it keeps it (no copy)
        try:
            chat = await self.workspace.chat(chat_id)
            history = session.paths.path(chat) or await session.active_path()
        except PhiDeskError:
            return
        if chat_id != self.current_chat:
            return
        info = self._model_info(chat)
        self._plan = show_context(
            self,
            session,
            chat,
            info,
            history,
            lambda n: self._vram_cost(chat, info, n),
        )
        self._plan = await self.documents.show_share(chat, history) or self._plan

    @Slot()
    def _dismiss_banner(self) -> None:
        self.banner_dismissed_for = self.composer.draft()
        self.banner.hide()

    @Slot(int)
    def raise_context(self, num_ctx: int) -> None:
        if self.current_chat is None:
            return
        self.banner.hide()
        self._tasks.start(self._raise_context(self.current_chat, num_ctx), name="raise context")

    async def _raise_context(self, chat_id: int, num_ctx: int) -> None:
        try:
            await self.workspace.raise_context(chat_id, num_ctx)
        except PhiDeskError as exc:
            self._tell(str(exc))
            return
        self._tell(
            f"This chat now asks for a {num_ctx:,}-token window; "
            "the model reloads on the next turn."
        )
        self.update_context()

    @Slot()
    def new_chat_with_summary(self) -> None:
        if self.current_chat is None:
            return
        self.banner.hide()
        self._tasks.start(self._summarise_into_new_chat(self.current_chat), name="summary chat")

    async def _summarise_into_new_chat(self, chat_id: int) -> None:
        draft = self.composer.draft()
        self._tell("Summarising this chat for a new one…")
        try:
            new = await self.workspace.summarise_into_new_chat(chat_id)
        except PhiDeskError as exc:
            self._tell(f"Could not summarise the chat: {exc}", Level.ERROR)
            return
        self.chatCreated.emit(new.id)
        if not self.composer.draft():
            self.composer.set_draft(draft)
        self._tell("Started a new chat that carries a summary of the old one.")

    def shutdown(self) -> None:
        self._closing = True
        self._context_timer.stop()
        self.presenter.detach()
        self.pager.shutdown()
        self._tasks.cancel_all()

    async def aclose(self) -> None:
        """Stop every stream and wait until each answer is saved."""
        await self._tasks.cancel_and_wait()
        await self.presenter.aclose()
        await self.workspace.stop_all()
