"""The quick prompt: a small always-on-top window to ask one thing without the main window.

    quick = QuickPrompt(db, client, paths, catalog)
    quick.continueInMain.connect(lambda chat_id: show_chat_in(window, chat_id))
    quick.show_prompt()     # from the tray, the global shortcut or `phidesk quick`

Enter sends, Esc stops the answer and hides the window, "Continue in PhiDesk" hands the chat to
the main window. Each quick prompt is stored as a normal chat with kind="quick"; showing the
window again after it was hidden starts a new one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.backend.catalog import Catalog
from app.backend.client import OllamaClient
from app.backend.errors import OllamaError
from app.backend.events import ContentDelta, ThinkingDelta
from app.chat.session import ChatSession, SessionEvent, TurnFinished, TurnStarted, TurnState
from app.config import Paths, Settings
from app.errors import PhiDeskError
from app.gui.chat_pane import transcript_item
from app.gui.models_picker import ModelPicker
from app.gui.tasks import Tasks
from app.gui.transcript import TranscriptMessage, TranscriptView
from app.render import StreamRenderer, render_markdown
from app.store import Database

log = logging.getLogger(__name__)

QUICK_KIND = "quick"
MODEL_KEY = "quick_model"


class QuickPrompt(QWidget):
    """See the module docstring. `current_chat` is the quick chat on screen (None before the
    first question); `streaming` is True while an answer arrives."""

    continueInMain = Signal(int)
    answered = Signal(int)  # chat id, after each finished (or stopped) answer

    def __init__(
        self,
        db: Database,
        client: OllamaClient,
        paths: Paths,
        catalog: Catalog | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window | Qt.WindowType.WindowStaysOnTopHint)
        self.db = db
        self.client = client
        self.paths = paths
        self.catalog = catalog
        self.current_chat: int | None = None
        self._session: ChatSession | None = None
        self._turn: asyncio.Task[Any] | None = None
        self._renderer: StreamRenderer | None = None
        self._tasks = Tasks()
        self.setObjectName("QuickPrompt")
        self.setWindowTitle("PhiDesk quick prompt")
        self.resize(640, 460)

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
        self.status = QLabel()
        self.status.setObjectName("QuickStatus")
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        self.view = TranscriptView()
        self.view.setObjectName("QuickTranscript")
        self.view.setVisible(False)

        top = QHBoxLayout()
        top.addWidget(self.picker, 1)
        top.addWidget(self.stop_button)
        top.addWidget(self.continue_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(self.input)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)

        self.input.returnPressed.connect(self._submit)
        self.continue_button.clicked.connect(self.continue_in_main)
        self.stop_button.clicked.connect(self.stop)
        self.picker.currentIndexChanged.connect(self._model_chosen)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.hide_prompt)

    # --- showing --------------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self._turn is not None and not self._turn.done()

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
        self.current_chat = None
        self._session = None
        self.continue_button.setEnabled(False)
        self.status.setVisible(False)
        self.view.set_messages([])
        self.view.setVisible(False)
        self.input.clear()

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

    def _settings(self) -> Settings:
        return Settings.load(self.paths.settings_file)

    async def _load_models(self) -> None:
        try:
            models = await self.client.list_models()
        except OllamaError as exc:
            self.show_status(f"Ollama is not reachable: {exc}")
            return
        self.picker.set_models(models, self.catalog)
        settings = self._settings()
        remembered = settings.extra.get(MODEL_KEY)
        wanted = remembered if isinstance(remembered, str) and remembered else None
        wanted = wanted or settings.default_model
        if self.current_chat is not None:
            wanted = self.db.get_chat(self.current_chat).model
        if wanted and self.picker.installed(wanted) is not None:
            self.picker.select(wanted)

    @Slot(int)
    def _model_chosen(self, _index: int) -> None:
        model = self.picker.current_model()
        if model and self.current_chat is not None and not self.streaming:
            self.db.update_chat(self.current_chat, model=model)

    def _remember_model(self, model: str) -> None:
        settings = self._settings()
        if settings.extra.get(MODEL_KEY) != model:
            settings.extra[MODEL_KEY] = model
            settings.save(self.paths.settings_file)

    # --- asking ---------------------------------------------------------------------------

    def show_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    @Slot()
    def _submit(self) -> None:
        text = self.input.text().strip()
        if text:
            self.send(text)

    def send(self, text: str) -> bool:
        """Ask `text` (a follow-up if a quick chat is on screen). False if it cannot go now."""
        if self.streaming:
            return False
        model = self.picker.current_model()
        if not model:
            self.show_status("Choose a model first (pull one with PhiDesk's model manager).")
            return False
        self._remember_model(model)
        if self.current_chat is None:
            chat = self.db.create_chat(model=model, kind=QUICK_KIND)
            self.current_chat = chat.id
            self._session = ChatSession(self.db, self.client, chat.id)
        assert self._session is not None
        self.show_status("")
        self.input.clear()
        self.view.setVisible(True)
        self._turn = self._tasks.start(self._run(self._session.send(text)), name="quick turn")
        self._set_streaming(True)
        return True

    @Slot()
    def stop(self) -> None:
        if self._turn is not None and not self._turn.done():
            self._turn.cancel()

    def _set_streaming(self, on: bool) -> None:
        self.stop_button.setVisible(on)
        self.continue_button.setEnabled(not on and self.current_chat is not None)
        self.picker.setEnabled(not on)

    async def _run(self, events: Any) -> None:
        answer_id: int | None = None
        try:
            async for event in events:
                answer_id = self._on_event(event, answer_id)
        except asyncio.CancelledError:
            self._ended(answer_id)
            raise
        except PhiDeskError as exc:
            self.show_status(str(exc))
            self._ended(answer_id)
        except Exception:
            log.exception("quick turn failed")
            self.show_status("The answer failed unexpectedly; details are in the log file.")
            self._ended(answer_id)

    def _on_event(self, event: SessionEvent, answer_id: int | None) -> int | None:
        if isinstance(event, TurnStarted):
            self.view.append_message(transcript_item(self.db.get_message(event.user_message_id)))
            self.view.append_message(
                TranscriptMessage(str(event.answer_message_id), "assistant", "", None, {})
            )
            self._renderer = StreamRenderer()
            self.view.begin_stream(str(event.answer_message_id), self._renderer)
            return event.answer_message_id
        if isinstance(event, ThinkingDelta):
            if not self.status.isVisible():
                self.show_status("Thinking…")
        elif isinstance(event, ContentDelta):
            if self.status.text() == "Thinking…":
                self.show_status("")
            if self._renderer is not None:
                self._renderer.push(event.text)
        elif isinstance(event, TurnFinished):
            if self._renderer is not None:
                self.view.end_stream(self._renderer.finish())
                self._renderer = None
            self.view.append_message(transcript_item(event.message))
            if event.state is TurnState.FAILED and event.error is not None:
                self.show_status(str(event.error))
            self._ended(None)
        return answer_id

    def _ended(self, answer_id: int | None) -> None:
        """The turn is over; an unfinished answer shows what was kept and why."""
        if answer_id is not None and self._renderer is not None:
            try:
                final = self.db.get_message(answer_id)
            except PhiDeskError:
                final = None
            if final is not None:
                self.view.end_stream(render_markdown(final.content))
                self.view.append_message(transcript_item(final))
        self._renderer = None
        if self.status.text() == "Thinking…":
            self.show_status("")
        self._set_streaming(False)
        if self.current_chat is not None:
            self.answered.emit(self.current_chat)

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
        await self._tasks.cancel_and_wait()


def show_chat_in(window: Any, chat_id: int) -> None:
    """Open `chat_id` in the main window (a MainWindow) and bring it to the front."""
    window.refresh_chats()
    window.open_chat(chat_id)
    window.showNormal()
    window.raise_()
    window.activateWindow()
