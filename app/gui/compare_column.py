"""One column of the compare view: a target picker, its answer rendered like the transcript
while it streams, and the figures measured under it.

    column = CompareColumn(index, workspace)
    column.start()                        # a new run: the view is emptied
    column.session_event(event)           # each TargetEvent's session event
    column.finished(result)               # the TargetResult: figures, or the failure sentence
    column.set_marks(("fastest",))        # after the run
    column.show_stored(target, answer)    # a stored comparison's target, opened from the list

Signals: `pickRequested(model)` (Pick this one), `continueRequested(chat_id)` (Continue as a
chat).
"""

from __future__ import annotations

import time
from dataclasses import replace

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.backend.events import ContentDelta, ThinkingDelta
from app.chat.compare import TargetResult
from app.chat.compare_figures import Figures, Target
from app.errors import PhiDeskError
from app.gui.models_picker import ModelPicker
from app.gui.tasks import Tasks
from app.gui.theme import accent
from app.gui.transcript import TranscriptMessage, TranscriptView
from app.gui.turn_view import model_meta, transcript_item, with_closed_fence
from app.render import StreamRenderer, render_markdown
from app.store import Message
from app.store.comparisons import ComparisonTarget
from app.workspace import TurnFinished, TurnStarted, Workspace

THINKING_REFRESH_MS = 100
FIGURE_NAMES = (
    ("ttft", "Time to first token"),
    ("load", "Load time"),
    ("prompt", "Prompt"),
    ("gen", "Generation"),
    ("gpu", "GPU"),
    ("memory", "Memory"),
    ("context", "Context"),
    ("tokens", "Tokens"),
)
EMPTY_HEADING = "The answer appears here"
FAILED_HEADING = "No answer"
MARK_WORDS = {"fastest": "Fastest", "smallest": "Smallest"}


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:,.0f} ms"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} tok/s"


def _bytes(value: int | None) -> str:
    if not value:
        return "—"
    return f"{value / 1e9:.1f} GB"


def figure_texts(figures: Figures) -> dict[str, str]:
    """The figures as the column shows them, by key of FIGURE_NAMES ("—" when unknown)."""
    f = figures
    if f.gpu_percent is None:
        gpu = "—"
    elif f.gpu_percent >= 100:
        gpu = "100 % GPU"
    elif f.gpu_percent <= 0:
        gpu = "CPU only"
    else:
        gpu = f"{f.gpu_percent} % GPU / {100 - f.gpu_percent} % CPU"
    if f.context_used is not None and f.context_length:
        context = f"{f.context_used:,} of {f.context_length:,}"
    elif f.context_used is not None:
        context = f"{f.context_used:,}"
    else:
        context = "—"
    tokens = "—" if f.eval_count is None else f"{f.eval_count:,}"
    if f.answer_chars:
        tokens += f" ({f.answer_chars:,} characters)"
    return {
        "ttft": _ms(f.ttft_ms),
        "load": _ms(f.load_ms),
        "prompt": _rate(f.prompt_tokens_per_s),
        "gen": _rate(f.tokens_per_s),
        "gpu": gpu,
        "memory": _bytes(f.memory_bytes),
        "context": context,
        "tokens": tokens,
    }


def sentence(text: str) -> str:
    """`text` as a sentence on screen: with its full stop (its first word may be a model's
    name, so its case is kept)."""
    text = text.strip()
    if not text:
        return text
    return text if text.endswith((".", "!", "?")) else text + "."


def answer_item(message: Message) -> TranscriptMessage:
    """A stored answer as the column shows it: as in the transcript, without the callout's
    Retry and Continue (a comparison's answer is continued as a chat)."""
    item = transcript_item(message)
    left_out = ("notice_actions", "can_continue", "caption")  # the rate is in the figures
    meta = {k: v for k, v in item.meta.items() if k not in left_out}
    return item._replace(meta=meta)


class CompareColumn(QFrame):
    pickRequested = Signal(str)
    continueRequested = Signal(int)

    def __init__(self, index: int, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.workspace = workspace
        self.setObjectName("CompareColumn")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._tasks = Tasks()
        self.model = ""
        self.answer_id: int | None = None
        self.chat_id: int | None = None
        self.result: TargetResult | None = None
        self.content: list[str] = []
        self.thinking: list[str] = []
        self._thinking_started: float | None = None
        self.renderer: StreamRenderer | None = None
        self.thinking_renderer: StreamRenderer | None = None
        self._status_level = "neutral"
        self._marks: tuple[str, ...] = ()

        self.picker = ModelPicker()
        self.picker.setMinimumContentsLength(20)
        self.picker.setAccessibleName(f"Target {index + 1}")
        self.status = QLabel()
        self.status.setObjectName("CompareStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.hide()
        self.view = TranscriptView()
        self.view.setAccessibleName(f"Answer {index + 1}")
        self.view.message_action.connect(self._message_action)
        self.view.set_starters(EMPTY_HEADING, [])
        self.marks = QLabel()
        self.marks.setObjectName("CompareMarks")
        font = self.marks.font()
        font.setBold(True)
        self.marks.setFont(font)
        policy = self.marks.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the figures of every column stay level
        self.marks.setSizePolicy(policy)
        self.marks.hide()
        self.figures = QWidget()
        grid = QGridLayout(self.figures)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        self.values: dict[str, QLabel] = {}
        for n, (key, name) in enumerate(FIGURE_NAMES):
            title = QLabel(name)
            title.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            value = QLabel("—")
            value.setObjectName(f"Figure_{key}")
            value.setAccessibleName(name)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            row, col = n % 4, (n // 4) * 2
            grid.addWidget(title, row, col)
            grid.addWidget(value, row, col + 1)
            self.values[key] = value
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.pick_button = QPushButton("Pick this one")
        self.pick_button.setToolTip("Make this model the default of new chats of its family")
        self.pick_button.clicked.connect(self._pick)
        self.continue_button = QPushButton("Continue as a chat")
        self.continue_button.setToolTip("Open this answer as a normal chat to go on with")
        self.continue_button.clicked.connect(self._continue)
        buttons = QHBoxLayout()
        buttons.addWidget(self.pick_button)
        buttons.addWidget(self.continue_button)
        buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.picker)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.marks)
        layout.addWidget(self.figures)
        layout.addLayout(buttons)

        self._thinking_timer = QTimer(self)
        self._thinking_timer.setSingleShot(True)
        self._thinking_timer.setInterval(THINKING_REFRESH_MS)
        self._thinking_timer.timeout.connect(self._refresh_thinking)
        self._set_buttons()

    # --- what it shows ---------------------------------------------------------------------

    @property
    def target(self) -> Target:
        return Target(self.picker.current_model(), self.picker.current_engine())

    def set_status(self, text: str, level: str = "neutral") -> None:
        self._status_level = level
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self._colour()

    def set_marks(self, marks: tuple[str, ...]) -> None:
        self._marks = marks
        words = [MARK_WORDS.get(m, m) for m in marks]
        self.marks.setText(" · ".join(f"★ {w}" for w in words))
        self.marks.setAccessibleName(", ".join(words))
        self.marks.setVisible(bool(marks))

    def show_figures(self, figures: Figures | None) -> None:
        texts = figure_texts(figures) if figures is not None else {}
        for key, label in self.values.items():
            label.setText(texts.get(key, "—"))

    def _colour(self) -> None:
        palette = self.status.palette()
        role = QPalette.ColorRole.WindowText
        if self._status_level == "neutral":
            palette.setColor(role, QApplication.palette().color(role))
        else:
            palette.setColor(role, accent(self._status_level))
        self.status.setPalette(palette)
        marks = self.marks.palette()
        marks.setColor(role, accent("success"))
        self.marks.setPalette(marks)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            QTimer.singleShot(0, self, self._colour)

    def _set_buttons(self) -> None:
        result = self.result
        self.pick_button.setEnabled(result is not None and result.status == "complete")
        self.continue_button.setEnabled(
            result is not None and result.chat_id is not None and result.answer_id is not None
        )

    # --- a run -----------------------------------------------------------------------------

    def start(self) -> None:
        """A new run: empty the view, the figures and the marks."""
        self._tasks.cancel_all()
        self.model = self.picker.current_model()
        self.answer_id = None
        self.result = None
        self.chat_id = None
        self.content = []
        self.thinking = []
        self._thinking_started = None
        self.renderer = None
        self.thinking_renderer = None
        self.view.set_messages([])
        self.view.set_starters(EMPTY_HEADING, [])
        self.show_figures(None)
        self.set_marks(())
        self.set_status("Waiting for its turn…")
        self.picker.setEnabled(False)
        self._set_buttons()

    def warming_up(self) -> None:
        self.set_status(f"Loading {self.model}…")

    def flagged(self, text: str) -> None:
        self.set_status(sentence(text), "warning")

    def session_event(self, event: object) -> None:
        if isinstance(event, TurnStarted):
            self.answer_id = event.answer_message_id
            self.chat_id = event.chat_id
            if self._status_level == "neutral":
                self.set_status("")
            meta = {"caption": "", **model_meta(self.model)}
            self.view.set_messages(
                [TranscriptMessage(str(self.answer_id), "assistant", "", None, meta)]
            )
            self.renderer = StreamRenderer()
            self.view.begin_stream(str(self.answer_id), self.renderer)
            self.thinking_renderer = StreamRenderer()
        elif isinstance(event, ThinkingDelta):
            if self._thinking_started is None:
                self._thinking_started = time.monotonic()
            self.thinking.append(event.text)
            if self.thinking_renderer is not None:
                self.thinking_renderer.push(event.text)
            if not self._thinking_timer.isActive():
                self._thinking_timer.start()
        elif isinstance(event, ContentDelta):
            self.content.append(event.text)
            if len(self.content) == 1 and self.thinking:
                self._refresh_thinking()
            if self.renderer is not None:
                self.renderer.push(event.text)
        elif isinstance(event, TurnFinished):
            if self.renderer is not None:
                self.view.end_stream(self.renderer.finish())
                self.renderer = None
            self.view.append_message(answer_item(event.message))

    @Slot()
    def _refresh_thinking(self) -> None:
        if self.answer_id is None or self.thinking_renderer is None:
            return
        started = self._thinking_started or time.monotonic()
        self.view.set_thinking(
            str(self.answer_id),
            self.thinking_renderer.html(),
            running=not self.content,
            seconds=time.monotonic() - started,
        )

    def finished(self, result: TargetResult) -> None:
        """How the target ended: its figures, or its sentence when it failed."""
        self.result = result
        self.chat_id = result.chat_id
        self._thinking_timer.stop()
        if self.renderer is not None:
            # Stopped or failed before the answer was stored: what arrived, then the stored form.
            self.view.end_stream(render_markdown(with_closed_fence("".join(self.content))))
            self.renderer = None
            if result.answer_id is not None:
                self._tasks.start(self._show_stored(result.answer_id), name="compare answer")
        if result.answer_id is None:
            result = _with_answer(result, self.answer_id)
            self.result = result
        if result.status == "failed":
            self.set_status(sentence(result.error or "the answer failed"), "error")
            if result.answer_id is None:
                self.view.set_starters(FAILED_HEADING, [])
        elif result.status == "stopped":
            self.set_status("Stopped; what arrived is kept.")
        elif self._status_level != "warning":
            self.set_status("")
        self.show_figures(result.figures if result.status != "failed" else None)
        self.picker.setEnabled(True)
        self._set_buttons()

    def show_stored(self, target: ComparisonTarget, answer: Message | None) -> None:
        """A target of a stored comparison: its answer as stored and its figures, or its
        sentence when it failed; Pick this one and Continue as a chat act on it."""
        self._tasks.cancel_all()
        self._thinking_timer.stop()
        self.model = target.model
        self.chat_id = target.chat_id
        self.answer_id = answer.id if answer is not None else None
        self.content, self.thinking = [], []
        self.renderer = self.thinking_renderer = None
        figures = Figures.from_json(target.figures)
        self.result = TargetResult(
            target.position,
            Target(target.model, target.engine),
            target.chat_id,
            target.status,
            target.error,
            figures,
            answer.content if answer is not None else "",
            self.answer_id,
            target.fit_warning,
        )
        self.set_marks(())
        self.view.set_messages([answer_item(answer)] if answer is not None else [])
        if answer is None:
            failed = target.status == "failed"
            self.view.set_starters(FAILED_HEADING if failed else EMPTY_HEADING, [])
        if target.status == "failed":
            self.set_status(sentence(target.error or "the answer failed"), "error")
        elif target.status == "stopped":
            self.set_status("Stopped; what arrived is kept.")
        elif target.status != "complete":
            self.set_status("Not finished.")
        elif target.fit_warning:
            self.set_status(sentence(target.fit_warning), "warning")
        else:
            self.set_status("")
        self.show_figures(figures if target.status != "failed" else None)
        self.picker.setEnabled(True)
        self._set_buttons()

    def ended(self) -> None:
        """The run is over (a target that never started stays as it is)."""
        self.picker.setEnabled(True)
        if self.result is None and self._status_level == "neutral":
            self.set_status("Not run.")

    async def _show_stored(self, answer_id: int) -> None:
        try:
            message = await self.workspace.message(answer_id)
        except PhiDeskError:
            return
        self.view.append_message(answer_item(message))

    # --- actions ---------------------------------------------------------------------------

    @Slot()
    def _pick(self) -> None:
        if self.result is not None:
            self.pickRequested.emit(self.result.target.model)

    @Slot()
    def _continue(self) -> None:
        if self.result is not None and self.result.chat_id is not None:
            self.continueRequested.emit(self.result.chat_id)

    @Slot(str, str)
    def _message_action(self, action: str, _message_id: str) -> None:
        if action == "copy-markdown":
            QApplication.clipboard().setText("".join(self.content) or self._stored_answer())

    def _stored_answer(self) -> str:
        return self.result.answer if self.result is not None else ""

    async def aclose(self) -> None:
        self._thinking_timer.stop()
        await self._tasks.cancel_and_wait()


def _with_answer(result: TargetResult, answer_id: int | None) -> TargetResult:
    return replace(result, answer_id=answer_id) if answer_id is not None else result
