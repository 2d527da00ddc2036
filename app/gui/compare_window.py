"""Chat > Compare… (Ctrl+Shift+K): one prompt, with the same system prompt and options, sent to
2–4 targets (model × engine) side by side; the answers stream in columns, rendered like the
transcript, with the figures measured on this machine under each.

    window = CompareWindow(workspace, catalog, parent)
    window.prepare(chat_id)        # the chat's system prompt and options; the installed models
    window.show()
    window.open_comparison(comparison_id)   # a stored comparison (its row in the chat list)

Everything runs on the event loop (the workspace's comparison); nothing blocks the window.
Signals: `chatContinued(chat_id)` once an answer became a normal chat (the main window opens it),
`modelPicked(model)` after "Pick this one".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QPalette, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.backend.catalog import Catalog
from app.backend.models import InstalledModel
from app.chat.compare import FitFlagged, TargetDone, TargetEvent, WarmingUp
from app.chat.compare_figures import (
    DEFAULT_SEED,
    DEFAULT_TEMPERATURE,
    MAX_TARGETS,
    MIN_TARGETS,
    CompareSettings,
    Figures,
    Target,
    marks,
)
from app.errors import PhiDeskError
from app.gui.compare_column import CompareColumn, sentence
from app.gui.compare_consent import ask_compare_consent
from app.gui.models_picker_data import Section, load_sections, machine_gpus
from app.gui.tasks import Tasks
from app.gui.theme import accent
from app.store import ChatSettings, Message
from app.workspace import SettingsChanged, Workspace
from app.workspace.changes import Change
from app.workspace.compare import RunningComparison
from app.workspace.settings import model_family

log = logging.getLogger(__name__)

COMPARE_KEYS = "Ctrl+Shift+K"
SEQUENTIAL = "One after another"
PARALLEL = "At the same time"


class CompareWindow(QWidget):
    chatContinued = Signal(int)
    modelPicked = Signal(str)

    def __init__(
        self, workspace: Workspace, catalog: Catalog | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.workspace = workspace
        self.catalog = catalog
        self.setObjectName("CompareWindow")
        self.setWindowTitle("Compare models — PhiDesk")
        self.resize(1320, 840)
        self._tasks = Tasks()
        self.running: RunningComparison | None = None
        self._unlisten: Callable[[], None] | None = None
        self._base = ChatSettings()
        self.sections: list[Section] = []
        self._installed: list[InstalledModel] = []
        self.columns: list[CompareColumn] = []
        self._preparing: asyncio.Task[None] | None = None
        self.shown_comparison: int | None = None
        self.consented: set[str] = set()
        """Engines off this computer the user agreed to send prompts to (while the app runs)."""
        """The stored comparison on screen (the one run here, or one opened from the list)."""

        self.count = QSpinBox()
        self.count.setRange(MIN_TARGETS, MAX_TARGETS)
        self.count.setAccessibleName("Targets")
        self.count.valueChanged.connect(self._show_columns)
        self.order = QComboBox()
        self.order.addItems([SEQUENTIAL, PARALLEL])
        self.order.setAccessibleName("How targets run")
        self.order.setToolTip(
            "One after another keeps the models from sharing memory, so the speed figures are "
            "honest; targets on different engines always run at the same time"
        )
        self.warm_up = QCheckBox("Warm up")
        self.warm_up.setChecked(True)
        self.warm_up.setToolTip("Load each model before its request, so its load time is apart")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(DEFAULT_TEMPERATURE)
        self.temperature.setAccessibleName("Temperature")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(DEFAULT_SEED)
        self.seed.setAccessibleName("Seed")
        self.system = QLineEdit()
        self.system.setPlaceholderText("System prompt of every target (none)")
        self.system.setAccessibleName("System prompt")
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("The question every target answers")
        self.prompt.setAccessibleName("Prompt")
        self.prompt.setTabChangesFocus(True)
        lines = self.prompt.fontMetrics().lineSpacing()
        self.prompt.setFixedHeight(lines * 4 + 12)
        self.run_button = QPushButton("Run")
        self.run_button.setDefault(True)
        self.run_button.setToolTip("Send the prompt to every target (Ctrl+Return)")
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop every target; what arrived is kept (Esc)")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.message = QLabel()
        self.message.setObjectName("CompareMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        self._message_level = "neutral"
        self._shown_once = False

        options = QHBoxLayout()
        for label, widget in (
            ("&Targets", self.count),
            ("", self.order),
            ("", self.warm_up),
            ("T&emperature", self.temperature),
            ("S&eed", self.seed),
        ):
            if label:
                buddy = QLabel(label)
                buddy.setBuddy(widget)
                options.addWidget(buddy)
            options.addWidget(widget)
            options.addSpacing(8)
        system_label = QLabel("&System")
        system_label.setBuddy(self.system)
        options.addWidget(system_label)
        options.addWidget(self.system, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        ask = QHBoxLayout()
        ask.addWidget(self.prompt, 1)
        ask.addLayout(buttons)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        layout.addLayout(options)
        layout.addLayout(ask)
        layout.addWidget(self.message)
        layout.addWidget(self.splitter, 1)

        QShortcut(QKeySequence("Ctrl+Return"), self, self.run)
        QShortcut(QKeySequence("Escape"), self, self.stop)
        self._unsubscribe = workspace.subscribe(self._changed)
        self.count.setValue(3)
        self._show_columns(self.count.value())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.prompt.setFocus()

    # --- columns and choices ---------------------------------------------------------------

    def _column(self, index: int) -> CompareColumn:
        while len(self.columns) <= index:
            column = CompareColumn(len(self.columns), self.workspace)
            column.view.set_theme(self.workspace.prefs.theme)
            column.pickRequested.connect(self.pick)
            column.continueRequested.connect(self.continue_as_chat)
            if self.sections:
                column.picker.set_sections(self.sections, self._installed)
                self._default_choice(column)
            self.columns.append(column)
            self.splitter.addWidget(column)
        return self.columns[index]

    @Slot(int)
    def _show_columns(self, count: int) -> None:
        for index in range(max(count, len(self.columns))):
            column = self._column(index) if index < count else self.columns[index]
            column.setVisible(index < count)
        self.splitter.setSizes([1000] * count + [0] * (len(self.columns) - count))

    @property
    def active(self) -> list[CompareColumn]:
        return self.columns[: self.count.value()]

    def _default_choice(self, column: CompareColumn) -> None:
        """Column n starts on the n-th model of the first engine (different targets)."""
        choices = [c for s in self.sections for c in s.choices]
        if choices:
            choice = choices[column.index % len(choices)]
            column.picker.select(choice.model, choice.engine)

    def prepare(self, chat_id: int | None = None) -> None:
        """Fill the pickers with every engine's models, and take the system prompt and options
        of `chat_id` (the chat on screen) or the defaults."""
        self._preparing = self._tasks.start(self._prepare(chat_id), name="compare prepare")

    async def _prepare(self, chat_id: int | None) -> None:
        system = self.workspace.prefs.default_system_prompt
        if chat_id is not None:
            try:
                chat = await self.workspace.chat(chat_id)
            except PhiDeskError as exc:
                log.info("compare: chat %s not read: %s", chat_id, exc)
            else:
                system = chat.system_prompt
                self._base = chat.settings
                if chat.settings.temperature is not None:
                    self.temperature.setValue(chat.settings.temperature)
                if chat.settings.seed is not None:
                    self.seed.setValue(chat.settings.seed)
        if not self.system.text():
            self.system.setText(system)
        gpus = await machine_gpus()
        sections, installed = await load_sections(self.workspace, self.catalog, gpus=gpus)
        self.sections = sections
        self._installed = list(installed)
        for column in self.columns:
            current = (column.picker.current_model(), column.picker.current_engine())
            column.picker.set_sections(sections, installed)
            if not current[0]:
                self._default_choice(column)

    def choose(self, index: int, model: str, engine: str = "ollama") -> None:
        """Set target `index` (showing that many columns at least)."""
        if index >= self.count.value():
            self.count.setValue(index + 1)
        self._column(index).picker.select(model, engine)

    def open_comparison(self, comparison_id: int) -> None:
        """Show a stored comparison: its prompt, options and targets, each answer as stored
        with its figures and marks."""
        if self.running is not None and self.running.comparison.id == comparison_id:
            return  # it is the one on screen
        if self.is_running:
            self.show_message("Stop the comparison that is running to open another.", "warning")
            return
        self._tasks.start(self._open(comparison_id), name="compare open")

    async def _open(self, comparison_id: int) -> None:
        if self._preparing is not None and not self._preparing.done():
            await asyncio.wait([self._preparing])  # its chat's options would land after ours
        try:
            comparison = await self.workspace.comparison(comparison_id)
        except PhiDeskError as exc:
            self.show_message(sentence(str(exc)), "error")
            return
        settings = CompareSettings.from_json(comparison.system_prompt, comparison.options)
        self.running = None
        self.prompt.setPlainText(comparison.prompt)
        self.system.setText(settings.system_prompt)
        self._base = settings.chat_settings()
        if settings.temperature is not None:
            self.temperature.setValue(settings.temperature)
        if settings.seed is not None:
            self.seed.setValue(settings.seed)
        self.order.setCurrentText(PARALLEL if settings.parallel else SEQUENTIAL)
        self.warm_up.setChecked(settings.warm_up)
        self.count.setValue(len(comparison.targets))
        figures: list[Figures | None] = []
        for target in comparison.targets:
            column = self._column(target.position)
            column.picker.select(target.model, target.engine)
            column.show_stored(target, await self._stored_answer(target.chat_id))
            done = target.status == "complete"
            figures.append(Figures.from_json(target.figures) if done else None)
        found = marks(figures)
        for column in self.active:
            column.set_marks(found.get(column.index, ()))
        self.show_message("")
        self.shown_comparison = comparison_id

    async def _stored_answer(self, chat_id: int | None) -> Message | None:
        """The comparison's answer in a target's chat: its first (a continued chat has more)."""
        if chat_id is None:
            return None
        try:
            messages = await self.workspace.messages(chat_id)
        except PhiDeskError as exc:
            log.info("compare: the answer of chat %s not read: %s", chat_id, exc)
            return None
        return next((m for m in messages if m.role == "assistant"), None)

    # --- messages --------------------------------------------------------------------------

    def show_message(self, text: str, level: str = "neutral") -> None:
        self._message_level = level
        self.message.setText(text)
        self.message.setVisible(bool(text))
        palette = self.message.palette()
        role = QPalette.ColorRole.WindowText
        colour = QApplication.palette().color(role) if level == "neutral" else accent(level)
        palette.setColor(role, colour)
        self.message.setPalette(palette)

    def _changed(self, change: Change) -> None:
        if isinstance(change, SettingsChanged):
            for column in self.columns:
                column.view.set_theme(self.workspace.prefs.theme)
            self.show_message(self.message.text(), self._message_level)

    # --- a run -----------------------------------------------------------------------------

    def settings(self) -> CompareSettings:
        base = self._base
        return CompareSettings(
            system_prompt=self.system.text(),
            temperature=round(self.temperature.value(), 2),
            seed=self.seed.value(),
            num_ctx=base.num_ctx,
            think=base.think,
            extra=dict(base.extra),
            parallel=self.order.currentText() == PARALLEL,
            warm_up=self.warm_up.isChecked(),
        )

    @property
    def is_running(self) -> bool:
        return self.running is not None and not self.running.done

    @Slot()
    def run(self) -> None:
        if self.is_running or not self.run_button.isEnabled():
            return
        prompt = self.prompt.toPlainText()
        if not prompt.strip():
            self.show_message("Type the question to compare first.", "warning")
            self.prompt.setFocus()
            return
        targets = [c.target for c in self.active]
        if any(not t.model for t in targets):
            self.show_message("Choose a model for each target.", "warning")
            return
        if len(set(targets)) != len(targets):
            self.show_message("Choose a different model or engine for each target.", "warning")
            return
        self.show_message("")
        self._busy(True)
        self._tasks.start(self._run(prompt, self.settings()), name="compare run")

    async def _run(self, prompt: str, settings: CompareSettings) -> None:
        targets = [c.target for c in self.active]
        if not await self._agreed(targets):
            self._busy(False)
            return
        for column in self.active:
            column.start()
        try:
            running = await self.workspace.start_comparison(prompt, targets, settings)
        except PhiDeskError as exc:
            self.show_message(sentence(str(exc)), "error")
            for column in self.active:
                column.ended()
            self._busy(False)
            return
        self.running = running
        self.shown_comparison = running.comparison.id
        self._unlisten = running.listen(self._heard)

    async def _agreed(self, targets: list[Target]) -> bool:
        """True when no target's engine is off this computer, or the user agreed to send the
        prompt to each such engine (asked once per engine while the app runs)."""
        off = {
            name: url
            for name, url in self.workspace.engines_off_this_computer(targets).items()
            if name not in self.consented
        }
        if not off:
            return True
        if not await ask_compare_consent(self, off):
            self.show_message("Nothing was sent.")
            return False
        self.consented.update(off)
        return True

    def _heard(self, running: RunningComparison, event: object) -> None:
        if running is not self.running:
            return
        columns = self.active
        index = getattr(event, "index", None)
        column = columns[index] if isinstance(index, int) and index < len(columns) else None
        if event is None:
            self._over(running)
        elif column is None:
            return
        elif isinstance(event, TargetEvent):
            column.session_event(event.event)
        elif isinstance(event, TargetDone):
            column.finished(event.result)
        elif isinstance(event, WarmingUp):
            column.warming_up()
        elif isinstance(event, FitFlagged):
            column.flagged(event.sentence)

    def _over(self, running: RunningComparison) -> None:
        results = [running.results.get(i) for i in range(len(self.active))]
        figures = [r.figures if r is not None and r.status == "complete" else None for r in results]
        found = marks(figures)
        for column in self.active:
            column.set_marks(found.get(column.index, ()))
            column.ended()
        if running.error:
            self.show_message(sentence(running.error), "error")
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self._busy(False)

    def _busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        for widget in (self.count, self.order, self.warm_up, self.temperature, self.seed):
            widget.setEnabled(not busy)

    @Slot()
    def stop(self) -> None:
        """Stop every target; each answer is kept as it is."""
        if self.running is not None and self.is_running:
            self.workspace.stop_comparison(self.running.comparison.id)

    # --- after a run ---------------------------------------------------------------------

    @Slot(str)
    def pick(self, model: str) -> None:
        """ "Pick this one": new chats of the model's family use it."""
        try:
            self.workspace.pick_comparison_target(model)
        except OSError as exc:
            log.warning("could not save the pick: %s", exc)
            self.show_message("The choice could not be saved; see the log.", "error")
            return
        family = model_family(model)
        self.show_message(f"New {family} chats now use {model}.", "success")
        self.modelPicked.emit(model)

    @Slot(int)
    def continue_as_chat(self, chat_id: int) -> None:
        self._tasks.start(self._continue(chat_id), name="compare continue")

    async def _continue(self, chat_id: int) -> None:
        try:
            chat = await self.workspace.continue_comparison_answer(chat_id)
        except PhiDeskError as exc:
            self.show_message(sentence(str(exc)), "error")
            return
        self.chatContinued.emit(chat.id)

    # --- closing ---------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)

    async def aclose(self) -> None:
        """Stop the run and wait until every answer is saved (the main window closing)."""
        self._unsubscribe()
        self.stop()
        if self.running is not None:
            await self.running.wait()
        await self._tasks.cancel_and_wait()
        for column in self.columns:
            await column.aclose()
