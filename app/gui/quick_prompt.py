"""The quick prompt: a small always-on-top window to ask one thing without the main window.

    quick = QuickPrompt(workspace, catalog)
    quick.continueInMain.connect(lambda chat_id: show_chat_in(window, chat_id))
    quick.show_prompt()     # from the tray, the global shortcut or `phidesk quick`

Enter sends, Esc stops the answer and hides the window, "Continue in PhiDesk" hands the chat to
the main window. Each quick prompt is stored as a normal chat with kind="quick", made by the
workspace like any other chat (the model's chat defaults and offload choice apply); showing the
window again after it was hidden starts a new one.

Everything goes through the `Workspace`: the quick prompt holds no client (so a host switch
needs nothing from it) and never touches the database. Its messages go to a `Notices` board of
its own, shown in its own `NoticeArea`: they are about this small window ("choose a model
first"), so they do not belong in the main window's message area.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QSizeF, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.backend.catalog import Catalog
from app.errors import PhiDeskError
from app.gui.models_picker import ModelPicker, refresh_picker
from app.gui.notice_area import NoticeArea
from app.gui.tasks import Tasks
from app.gui.theme import current_scheme
from app.gui.transcript import TranscriptView
from app.gui.turn_view import TurnPresenter, user_item
from app.workspace import (
    Notices,
    Preferences,
    RunningTurn,
    TurnEnded,
    TurnFinished,
    TurnRefusedEvent,
    TurnState,
    Workspace,
)
from app.workspace.turns import TurnEvent

log = logging.getLogger(__name__)

QUICK_KIND = "quick"
WIDTH = 640
"""The bar's width (px); its height is the input and the model row until an answer arrives."""
GROWS_TO = 0.6
"""The share of the screen's height the window may grow to as the answer arrives."""


class QuickPrompt(QWidget):
    """See the module docstring. `current_chat` is the quick chat on screen (None before the
    first question); `streaming` is True from the moment a question is sent until its answer
    has ended."""

    continueInMain = Signal(int)
    answered = Signal(int)  # chat id, after each finished (or stopped) answer

    def __init__(
        self,
        workspace: Workspace,
        catalog: Catalog | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window | Qt.WindowType.WindowStaysOnTopHint)
        self._view: TranscriptView | None = None
        """Made when the prompt is first shown: a web view costs a Chromium renderer."""
        self._presenter: TurnPresenter | None = None
        self.workspace = workspace
        self.catalog = catalog
        self.notices = Notices()
        self.current_chat: int | None = None
        self._starting: asyncio.Task[Any] | None = None
        self._turn: RunningTurn | None = None
        self._unlisten: Callable[[], None] | None = None
        self._has_messages = False
        """Something is on screen in the transcript (else it stays hidden)."""
        self._tasks = Tasks()
        self.setObjectName("QuickPrompt")
        self.setWindowTitle("PhiDesk quick prompt")

        self.input = QLineEdit()
        self.input.setObjectName("QuickInput")
        self.input.setPlaceholderText("Ask Phi-4…  (Enter sends, Esc closes)")
        self.input.setAccessibleName("Question")
        self.input.setClearButtonEnabled(True)
        font = self.input.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.input.setFont(font)
        self.input.setMinimumHeight(36)
        self.picker = ModelPicker()
        self.picker.setMinimumContentsLength(18)
        self.continue_button = QPushButton("Continue in PhiDesk")
        self.continue_button.setObjectName("ContinueButton")
        self.continue_button.setToolTip("Open this chat in the main window")
        self.continue_button.setEnabled(False)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("QuickStopButton")
        self.stop_button.setVisible(False)
        self.notice_area = NoticeArea()
        self.notice_area.setObjectName("QuickNotice")
        self.notice_area.connect_to(self.notices)
        top = QHBoxLayout()
        top.addWidget(self.picker, 1)
        top.addWidget(self.stop_button)
        top.addWidget(self.continue_button)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(10, 10, 10, 10)
        self._layout.addWidget(self.input)
        self._layout.addLayout(top)
        self._layout.addWidget(self.notice_area)

        self.input.returnPressed.connect(self._submit)
        self.continue_button.clicked.connect(self.continue_in_main)
        self.stop_button.clicked.connect(self.stop)
        self.picker.currentIndexChanged.connect(self._model_chosen)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.hide_prompt)
        self._compact()

    # --- the transcript, made on first use -------------------------------------------------

    @property
    def view(self) -> TranscriptView:
        """The answer's transcript (a web view), made the first time it is needed."""
        if self._view is None:
            view = TranscriptView()
            view.setObjectName("QuickTranscript")
            view.setVisible(False)
            view.set_theme(current_scheme())
            view.page().contentsSizeChanged.connect(self._grow)
            self._layout.addWidget(view, 1)
            self._view = view
            presenter = TurnPresenter(view, self.workspace, self)
            presenter.started.connect(self._turn_started)
            presenter.ended.connect(self._turn_ended)
            self._presenter = presenter
        return self._view

    @property
    def presenter(self) -> TurnPresenter:
        """Shows the running turn in `view` (made with it)."""
        if self._presenter is None:
            _ = self.view
        assert self._presenter is not None
        return self._presenter

    # --- size and theme -------------------------------------------------------------------

    def _compact(self) -> None:
        """The bar: the input and the model row, no empty transcript."""
        layout = self.layout()
        if layout is not None:
            layout.activate()
        self.resize(WIDTH, self.sizeHint().height())

    @Slot(QSizeF)
    def _grow(self, size: QSizeF) -> None:
        """Grow (never shrink while a chat is on screen) to the answer's height, within
        GROWS_TO of the screen; past that the transcript scrolls."""
        if self._view is None or not self._view.isVisible():
            return
        chrome = self.height() - self.view.height()
        screen = self.screen().availableGeometry().height()
        wanted = min(chrome + round(size.height()) + 4, round(screen * GROWS_TO))
        if wanted > self.height():
            self.resize(self.width(), wanted)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if self._view is not None and event.type() in (
            QEvent.Type.PaletteChange,
            QEvent.Type.ApplicationPaletteChange,
        ):
            self._view.set_theme(current_scheme())  # the theme the main window applied

    # --- showing --------------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self._starting is not None or self._turn is not None

    @Slot()
    def show_prompt(self) -> None:
        """Show the window, in front and focused, ready for a question."""
        log.info("quick prompt shown")
        if not self.isVisible() and not self.streaming:
            self.reset()
        self.show()
        self.raise_()
        self.activateWindow()
        self.input.setFocus()
        self.input.selectAll()
        self._tasks.start(self._load_models(), name="quick models")

    def reset(self) -> None:
        """Start over: the next question opens a new quick chat."""
        self.presenter.detach()
        self.current_chat = None
        self._has_messages = False
        self.continue_button.setEnabled(False)
        self.notice_area.dismiss()
        self.view.set_messages([])
        self.view.setVisible(False)
        self.input.clear()
        self._compact()

    @Slot()
    def hide_prompt(self) -> None:
        """Esc: stop any answer and hide."""
        self.stop()
        self.hide()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.hide_prompt()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)

    # --- models ---------------------------------------------------------------------------

    async def _load_models(self) -> None:
        """Every engine's models, grouped as in the main window's picker."""
        local = await refresh_picker(self.picker, self.workspace, self.catalog)
        if local.problem:
            self.notices.warning(f"Ollama is not reachable: {local.problem}")
        prefs = self.workspace.prefs
        wanted = prefs.quick.model or prefs.default_model
        engine = self.picker.engine_of(wanted)
        if self.current_chat is not None:
            with contextlib.suppress(PhiDeskError):  # deleted from the main window meanwhile
                chat = await self.workspace.chat(self.current_chat)
                wanted, engine = chat.model or wanted, chat.engine
        if wanted and engine is not None:
            self.picker.select(wanted, engine)
        else:
            self.picker.select_default()

    @Slot(int)
    def _model_chosen(self, _index: int) -> None:
        model = self.picker.current_model()
        if model and self.current_chat is not None and not self.streaming:
            self._tasks.start(self._set_model(self.current_chat, model), name="quick model")

    async def _set_model(self, chat_id: int, model: str) -> None:
        try:
            await self.workspace.set_chat_engine(chat_id, self.picker.current_engine(), model)
        except PhiDeskError as exc:
            self.notices.error(str(exc))

    def _remember_model(self, model: str) -> None:
        def change(prefs: Preferences) -> Preferences:
            return dataclasses.replace(prefs, quick=dataclasses.replace(prefs.quick, model=model))

        try:
            self.workspace.settings.update(change)
        except OSError as exc:
            log.warning("could not save the quick prompt's model: %s", exc)

    # --- asking ---------------------------------------------------------------------------

    @Slot()
    def _submit(self) -> None:
        text = self.input.text().strip()
        if text:
            self.send(text)

    def send(self, text: str) -> bool:
        """Ask `text` (a follow-up if a quick chat is on screen). False if it cannot go now.
        The answer streams in a task; `streaming` is True from now until it has ended."""
        if self.streaming:
            return False
        model = self.picker.current_model()
        if not model:
            self.notices.warning("Choose a model first (pull one with PhiDesk's model manager).")
            return False
        self._remember_model(model)
        self.notice_area.dismiss()
        self.input.clear()
        self.view.setVisible(True)
        self._grow(self.view.page().contentsSize())
        self._starting = self._tasks.start(self._start(model, text), name="quick turn")
        self._set_streaming(True)
        return True

    async def _start(self, model: str, text: str) -> None:
        """Make the quick chat (the first time) and start the turn in the workspace."""
        try:
            if self.current_chat is None:
                engine = self.picker.current_engine()
                chat = await self.workspace.new_chat(model, kind=QUICK_KIND, engine=engine)
                self.current_chat = chat.id
            turn = self.workspace.send(self.current_chat, text)
        except asyncio.CancelledError:
            self._not_sent(text)
            raise
        except PhiDeskError as exc:
            self._not_sent(text)
            self.notices.error(str(exc))
            return
        self._turn = turn
        self._starting = None
        self._unlisten = turn.listen(self._turn_event)
        self.presenter.attach(turn)

    def _not_sent(self, text: str) -> None:
        self._starting = None
        self._give_back(text)
        self.view.setVisible(self._has_messages)
        self._set_streaming(False)

    def _give_back(self, text: str) -> None:
        """A question that was not sent goes back into the input (unless a new one is there)."""
        if text and not self.input.text():
            self.input.setText(text)

    def _turn_event(self, turn: RunningTurn, event: TurnEvent) -> None:
        if isinstance(event, TurnRefusedEvent):
            self._give_back(event.text)
            if event.reason:
                self.notices.warning(event.reason)
        elif (
            isinstance(event, TurnFinished)
            and event.state is TurnState.FAILED
            and event.error is not None
        ):
            self.notices.error(str(event.error))
        elif (
            isinstance(event, TurnEnded)
            and turn.answer_id is None
            and turn.user_message_id is not None
        ):
            # Stopped after the question was stored, before the answer began: the quick chat
            # keeps it, so it stays on screen.
            self.view.append_message(user_item(turn.user_message_id, turn.text))
            self._has_messages = True

    @Slot(object)
    def _turn_started(self, _event: object) -> None:
        self._has_messages = True

    @Slot(object)
    def _turn_ended(self, turn: object) -> None:
        if turn is not self._turn:
            return
        self.view.setVisible(self._has_messages)  # a refused first question leaves it empty
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self._turn = None
        self._set_streaming(False)
        if self.current_chat is not None:
            self.answered.emit(self.current_chat)

    @Slot()
    def stop(self) -> None:
        """Stop the answer (what arrived is kept); before it started, the question comes
        back into the input."""
        if self._starting is not None:
            self._starting.cancel()
        elif self._turn is not None:
            self.workspace.stop(self._turn.chat_id)

    def _set_streaming(self, on: bool) -> None:
        self.stop_button.setVisible(on)
        self.continue_button.setEnabled(not on and self.current_chat is not None)
        self.picker.setEnabled(not on)

    # --- handing over ---------------------------------------------------------------------

    @Slot()
    def continue_in_main(self) -> None:
        if self.current_chat is None or self.streaming:
            return
        chat_id = self.current_chat
        self.hide()
        self.continueInMain.emit(chat_id)

    async def aclose(self) -> None:
        """Stop the answer and wait until it is saved."""
        starting = self._starting
        self.stop()
        if starting is not None:
            await asyncio.gather(starting, return_exceptions=True)
        turn = self._turn
        if turn is not None:
            self.workspace.stop(turn.chat_id)
            if turn.task is not None:
                await asyncio.gather(turn.task, return_exceptions=True)
        await self._tasks.cancel_and_wait()
        if self._presenter is not None:
            await self._presenter.aclose()


def show_chat_in(window: Any, chat_id: int) -> None:
    """Open `chat_id` in the main window (a MainWindow) and bring it to the front."""
    window.refresh_chats()
    window.open_chat(chat_id)
    window.showNormal()
    window.raise_()
    window.activateWindow()
