"""Where the user types: Enter sends, Shift+Enter breaks the line (or, by preference, Ctrl+Enter
sends and Enter breaks the line), Esc stops; the context meter."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.chat.context import ContextPlan

WARN_AT = 0.75
FULL_AT = 0.90


class ComposerEdit(QPlainTextEdit):
    submitted = Signal()
    stopRequested = Signal()

    send_with = "enter"
    """"enter" or "ctrl+enter" (the preference `send_with`)."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            modifiers = event.modifiers()
            ctrl = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
            shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
            if ctrl or (self.send_with == "enter" and not shift):
                self.submitted.emit()
            else:
                self.insertPlainText("\n")
            return
        if key == Qt.Key.Key_Escape:
            self.stopRequested.emit()
            return
        super().keyPressEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(400, 80)


def meter_colour(fraction: float) -> str:
    """green below 75 %, amber from 75 %, red from 90 %."""
    if fraction >= FULL_AT:
        return "#d64545"
    if fraction >= WARN_AT:
        return "#e0a020"
    return "#3a9a5b"


class ContextMeter(QWidget):
    """used / limit tokens, a bar coloured by fullness, and a tooltip that splits the figure."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setObjectName("ContextBar")
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.bar.setFixedWidth(140)
        self.bar.setAccessibleName("Context window fill")
        self.label = QLabel("–")
        self.label.setObjectName("ContextLabel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Context"))
        layout.addWidget(self.bar)
        layout.addWidget(self.label)
        self.used = 0
        self.limit = 0
        self.estimated = True
        self.level = "ok"

    def show_plan(
        self,
        plan: ContextPlan,
        *,
        measured_used: int | None,
        loaded_context: int | None,
    ) -> None:
        """Show how full the window is. `measured_used` is Ollama's own count for the chat so
        far (prompt_eval_count + eval_count of the last turn); the draft is added as an
        estimate. Without a measurement the whole figure is an estimate, marked with ≈."""
        if measured_used is not None:
            used = measured_used + plan.draft_tokens
            estimated = plan.draft_tokens > 0
        else:
            used = plan.used
            estimated = True
        self.limit = plan.limit
        self.used = used
        self.estimated = estimated
        fraction = min(1.0, used / plan.limit) if plan.limit else 0.0
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(fraction * 1000))
        colour = meter_colour(fraction)
        self.level = "full" if fraction >= FULL_AT else "warn" if fraction >= WARN_AT else "ok"
        self.bar.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}")
        self.label.setText(f"{'≈' if estimated else ''}{used:,} / {plan.limit:,} tokens")
        lines = [
            f"System prompt: {plan.system_tokens:,} tokens (estimated)",
            f"History: {plan.history_tokens:,} tokens (estimated)",
            f"Draft: {plan.draft_tokens:,} tokens (estimated)",
            f"Reserved for the reply: {plan.reserve:,} tokens",
            f"Window: {plan.limit:,} tokens",
        ]
        if measured_used is not None:
            lines.insert(0, f"Counted by Ollama after the last answer: {measured_used:,} tokens")
        if loaded_context:
            lines.append(f"Ollama loaded the model with a {loaded_context:,}-token window")
        if plan.excluded_ids:
            lines.append(f"{len(plan.excluded_ids)} older message(s) no longer fit")
        self.setToolTip("\n".join(lines))


class Composer(QWidget):
    """The text box, Send/Stop, and the context meter under it."""

    sendRequested = Signal(str)
    stopRequested = Signal()
    draftChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = ComposerEdit()
        self.edit.setObjectName("ComposerEdit")
        self.edit.setAccessibleName("Message")
        self.edit.setTabChangesFocus(True)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("SendButton")
        self.send_button.setAccessibleName("Send message")
        self.meter = ContextMeter()
        self.streaming = False
        self._send_key = "Enter"
        self.set_send_with("enter")

        row = QHBoxLayout()
        row.addWidget(self.edit, 1)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.addLayout(row)
        layout.addWidget(self.meter, 0, Qt.AlignmentFlag.AlignLeft)

        self.edit.submitted.connect(self._submit)
        self.edit.stopRequested.connect(self.stopRequested)
        self.send_button.clicked.connect(self._clicked)
        self.edit.textChanged.connect(self.draftChanged)

    def set_send_with(self, mode: str) -> None:
        """Which key sends: "enter" (Shift+Enter breaks the line) or "ctrl+enter"."""
        self.edit.send_with = mode
        if mode == "ctrl+enter":
            self._send_key = "Ctrl+Enter"
            hint = "Ctrl+Enter sends, Enter for a new line"
        else:
            self._send_key = "Enter"
            hint = "Enter sends, Shift+Enter for a new line"
        self.edit.setPlaceholderText(f"Message Phi-4…  ({hint})")
        self.send_button.setToolTip("Stop (Esc)" if self.streaming else f"Send ({self._send_key})")

    def draft(self) -> str:
        return self.edit.toPlainText()

    def set_draft(self, text: str) -> None:
        self.edit.setPlainText(text)

    @Slot()
    def _clicked(self) -> None:
        if self.streaming:
            self.stopRequested.emit()
        else:
            self._submit()

    @Slot()
    def _submit(self) -> None:
        if self.streaming:
            return
        text = self.draft()
        if not text.strip():
            return
        self.sendRequested.emit(text)

    def set_streaming(self, streaming: bool) -> None:
        self.streaming = streaming
        self.send_button.setText("Stop" if streaming else "Send")
        self.send_button.setAccessibleName("Stop answer" if streaming else "Send message")
        self.send_button.setToolTip("Stop (Esc)" if streaming else f"Send ({self._send_key})")
