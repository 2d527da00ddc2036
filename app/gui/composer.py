"""Where the user types: a rounded box that grows with its text (up to 40 % of the window's
height, then scrolls), with the context meter and an inline Send/Stop button in its bottom row.
Enter sends, Shift+Enter breaks the line (or, by preference, Ctrl+Enter sends and Enter breaks
the line), Esc stops. On wide windows the box keeps to the transcript's reading column."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication, QKeyEvent, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.chat.context import ContextPlan
from app.gui.attachments import attach_button
from app.gui.icons import Icon, icon
from app.gui.theme import accent, current_scheme

WARN_AT = 0.75
FULL_AT = 0.90
MAX_HEIGHT_SHARE = 0.40
"""The composer never takes more than this share of its window's height."""
COLUMN_PX = 820
"""The reading column's width at 100 % text size (the page's #transcript max-width)."""
SEND_SIZE = 32

_STYLE = """
QFrame#ComposerBox {{ background: {base}; border: 1px solid {mid}; border-radius: 16px; }}
QFrame#ComposerBox[focused="true"] {{ border: 1px solid {highlight}; }}
QPlainTextEdit#ComposerEdit {{ background: transparent; border: none; }}
QToolButton#SendButton {{ background: {highlight}; border: none; border-radius: 16px; }}
QToolButton#SendButton:hover {{ background: {link}; }}
QToolButton#SendButton:focus {{ border: 2px solid {text}; }}
QToolButton#SendButton:disabled {{ background: {mid}; }}
"""


def composer_style() -> str:
    """The composer's style sheet in the colours of the application's palette now (a style
    sheet's palette(…) would keep the colours of the moment it was set)."""
    palette = QGuiApplication.palette()
    role = QPalette.ColorRole
    return _STYLE.format(
        base=palette.color(role.Base).name(),
        mid=palette.color(role.Mid).name(),
        highlight=palette.color(role.Highlight).name(),
        link=palette.color(role.Link).name(),
        text=palette.color(role.Text).name(),
    )


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

    def lines(self) -> int:
        """Lines the text takes at the current width (wrapped lines count)."""
        total = 0
        block = self.document().firstBlock()
        while block.isValid():
            layout = block.layout()
            total += max(1, layout.lineCount() if layout is not None else 1)
            block = block.next()
        return max(1, total)

    def height_for(self, lines: int) -> int:
        margins = self.contentsMargins()
        document = self.document().documentMargin()
        return round(
            lines * self.fontMetrics().lineSpacing()
            + 2 * document
            + margins.top()
            + margins.bottom()
            + 2 * self.frameWidth()
            + 2
        )


def meter_colour(fraction: float) -> str:
    """The theme's success colour below 75 %, warning from 75 %, error from 90 %."""
    if fraction >= FULL_AT:
        return accent("error").name()
    if fraction >= WARN_AT:
        return accent("warning").name()
    return accent("success").name()


class ContextMeter(QWidget):
    """used / limit tokens, a bar coloured by fullness, and a tooltip that splits the figure."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ContextMeter")
        self.setAccessibleName("Context window")
        self.bar = QProgressBar()
        self.bar.setObjectName("ContextBar")
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.bar.setFixedWidth(72)
        self.bar.setAccessibleName("Context window fill")
        self.bar.hide()  # until there is a plan to show
        self.label = QLabel("–")
        self.label.setObjectName("ContextLabel")
        self.label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.label.setAccessibleName("Context window use")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.bar, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.label)
        self.used = 0
        self.limit = 0
        self.estimated = True
        self.documents = 0
        self.level = "ok"
        self._fraction = 0.0

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
        if measured_used is not None and not plan.document_tokens:  # parts differ per question
            used = measured_used + plan.draft_tokens
            estimated = plan.draft_tokens > 0
        else:
            used = plan.used
            estimated = True
        self.limit = plan.limit
        self.used = used
        self.estimated = estimated
        fraction = min(1.0, used / plan.limit) if plan.limit else 0.0
        self._fraction = fraction
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(fraction * 1000))
        self.bar.show()
        self.level = "full" if fraction >= FULL_AT else "warn" if fraction >= WARN_AT else "ok"
        self._paint()
        self.label.setText(f"{'≈' if estimated else ''}{used:,} / {plan.limit:,} tokens")
        self.documents = plan.document_tokens  # the "documents" share
        if plan.document_tokens:
            self.label.setText(f"{self.label.text()} · {plan.document_tokens:,} in documents")
        lines = [
            f"System prompt: {plan.system_tokens:,} tokens (estimated)",
            f"History: {plan.history_tokens:,} tokens (estimated)",
            f"Draft: {plan.draft_tokens:,} tokens (estimated)",
            f"Reserved for the reply: {plan.reserve:,} tokens",
            f"Window: {plan.limit:,} tokens",
        ]
        if plan.document_tokens:
            cut = "; only the parts that fit" if plan.documents_cut else ""
            lines.insert(3, f"Documents: {plan.document_tokens:,} tokens (estimated){cut}")
        if measured_used is not None:
            lines.insert(0, f"Counted by Ollama after the last answer: {measured_used:,} tokens")
        if loaded_context:
            lines.append(f"Ollama loaded the model with a {loaded_context:,}-token window")
        if plan.excluded_ids:
            lines.append(f"{len(plan.excluded_ids)} older message(s) no longer fit")
        self.setToolTip("\n".join(lines))
        self.bar.setAccessibleDescription(self.label.text())

    def _paint(self) -> None:
        groove = QGuiApplication.palette().color(QPalette.ColorRole.Midlight).name()
        self.bar.setStyleSheet(
            f"QProgressBar {{ background: {groove}; border: none; border-radius: 3px; }}"
            f" QProgressBar::chunk {{ background: {meter_colour(self._fraction)};"
            " border-radius: 3px; }"
        )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        themed = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)
        if event.type() in themed and self.limit:
            self._paint()


class Composer(QWidget):
    """The rounded text box with the meter and Send/Stop inside it."""

    sendRequested = Signal(str)
    attachRequested = Signal()  # the paperclip: choose files to attach
    stopRequested = Signal()
    draftChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Composer")
        self._scheme = current_scheme()
        self.setStyleSheet(composer_style())
        self.box = QFrame()
        self.box.setObjectName("ComposerBox")
        self.box.setProperty("focused", False)
        self.edit = ComposerEdit()
        self.edit.setObjectName("ComposerEdit")
        self.edit.setAccessibleName("Message")
        self.edit.setTabChangesFocus(True)
        self.edit.setFrameShape(QFrame.Shape.NoFrame)
        self.edit.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.send_button = QToolButton()
        self.send_button.setObjectName("SendButton")
        self.send_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.send_button.setFixedSize(SEND_SIZE, SEND_SIZE)
        self.send_button.setIconSize(QSize(18, 18))
        self.send_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.send_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.meter = ContextMeter()
        self.attach_button = attach_button()
        self.attach_button.clicked.connect(self.attachRequested)
        self.streaming = False
        self.offline_reason = ""  # set_offline: why sending waits
        self._send_key = "Enter"
        self._window: QWidget | None = None

        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignVCenter)
        bottom.addWidget(self.meter, 0, Qt.AlignmentFlag.AlignVCenter)
        bottom.addStretch(1)
        bottom.addWidget(self.send_button)
        inner = QVBoxLayout(self.box)
        inner.setContentsMargins(14, 8, 8, 8)
        inner.setSpacing(4)
        inner.addWidget(self.edit)
        inner.addLayout(bottom)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(12, 4, 12, 12)
        outer.addStretch(0)
        outer.addWidget(self.box, 1)
        outer.addStretch(0)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.set_column_width(COLUMN_PX)

        self._refit_timer = QTimer(self)
        self._refit_timer.setSingleShot(True)
        self._refit_timer.setInterval(0)
        self._refit_timer.timeout.connect(self.refit)
        self.edit.installEventFilter(self)
        self.edit.submitted.connect(self._submit)
        self.edit.stopRequested.connect(self.stopRequested)
        self.send_button.clicked.connect(self._clicked)
        self.edit.textChanged.connect(self.draftChanged)
        self.edit.textChanged.connect(self.refit)
        self.edit.textChanged.connect(self._refit_timer.start)
        self.set_streaming(False)
        self.set_send_with("enter")
        self.refit()

    # --- size -----------------------------------------------------------------------------

    def set_column_width(self, width: int) -> None:
        """Keep the box to the reading column (`width` px, the text size applied)."""
        self.box.setMaximumWidth(max(320, width))

    def max_edit_height(self) -> int:
        """The tallest the text box may be so the composer stays within its share."""
        window = self._window or self.window()
        chrome = self.sizeHint().height() - self.edit.height()
        return max(self.edit.height_for(1), int(window.height() * MAX_HEIGHT_SHARE) - chrome)

    @Slot()
    def refit(self) -> None:
        """Grow or shrink the text box to its text, within the limit."""
        wanted = self.edit.height_for(self.edit.lines())
        limit = self.max_edit_height()
        height = max(self.edit.height_for(1), min(wanted, limit))
        self.edit.setVerticalScrollBarPolicy(  # a scroll bar only once the box stops growing
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if wanted > limit
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )
        if height != self.edit.height() or self.edit.minimumHeight() != height:
            self.edit.setFixedHeight(height)
            self.updateGeometry()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.restyle()
        window = self.window()
        if window is not self._window:
            if self._window is not None:
                self._window.removeEventFilter(self)
            self._window = window
            window.installEventFilter(self)
        self._refit_timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is self.edit:
            if kind in (QEvent.Type.FocusIn, QEvent.Type.FocusOut):
                self.box.setProperty("focused", kind == QEvent.Type.FocusIn)
                self.box.style().unpolish(self.box)
                self.box.style().polish(self.box)
            elif kind == QEvent.Type.Resize:
                self._refit_timer.start()  # another width wraps the text differently
        elif watched is self._window and kind == QEvent.Type.Resize:
            self._refit_timer.start()
        return False

    def restyle(self) -> None:
        """Colours of the theme now (on a theme change; also when first shown, since a widget
        not yet shown hears of no palette change)."""
        if current_scheme() == self._scheme:
            return
        self._scheme = current_scheme()
        self.setStyleSheet(composer_style())
        self.meter._paint()
        self._paint_send()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.restyle()
        elif event.type() == QEvent.Type.FontChange:
            self._refit_timer.start()

    # --- sending --------------------------------------------------------------------------

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
        self.edit.moveCursor(self.edit.textCursor().MoveOperation.End)

    @Slot()
    def _clicked(self) -> None:
        if self.streaming:
            self.stopRequested.emit()
        else:
            self._submit()

    @Slot()
    def _submit(self) -> None:
        if self.streaming or self.offline_reason:
            return
        text = self.draft()
        if not text.strip():
            return
        self.sendRequested.emit(text)

    def _paint_send(self) -> None:
        palette = QPalette(self.palette())
        palette.setColor(
            QPalette.ColorRole.ButtonText, palette.color(QPalette.ColorRole.HighlightedText)
        )
        self.send_button.setIcon(icon(Icon.STOP if self.streaming else Icon.SEND, palette))

    def set_streaming(self, streaming: bool) -> None:
        self.streaming = streaming
        self.send_button.setText("Stop" if streaming else "Send")
        self.send_button.setAccessibleName("Stop answer" if streaming else "Send message")
        self.send_button.setToolTip("Stop (Esc)" if streaming else f"Send ({self._send_key})")
        self._paint_send()
        self._apply_offline()

    def set_offline(self, reason: str) -> None:
        """Sending waits while `reason` says why ("" once the engine answers again); the draft
        stays, and Stop stays available for an answer still streaming."""
        self.offline_reason = reason
        self._apply_offline()

    def _apply_offline(self) -> None:
        reason = self.offline_reason
        if self.streaming:
            self.send_button.setEnabled(True)
        elif reason:
            self.send_button.setEnabled(False)
            self.send_button.setToolTip(reason)
        else:
            self.send_button.setEnabled(not self.edit.isReadOnly())
            self.send_button.setToolTip(f"Send ({self._send_key})")
