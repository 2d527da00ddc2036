"""The warning shown above the composer when sending the draft would push older messages out
of the model's context window, with what the user can do about it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.backend.models import ModelInfo
from app.chat.context import ContextPlan
from app.gui.chat_settings import NUM_CTX_STEPS
from app.gui.composer import Composer
from app.gui.theme import accent, current_scheme, tint
from app.gui.transcript import TranscriptView
from app.store import Chat, Message
from app.workspace import ChatSession

_THEMED = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


class ContextBanner(QWidget):
    """Shown when sending the draft would push older messages out of the window."""

    raiseRequested = Signal(int)
    summaryRequested = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ContextBanner")
        self._paint()
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.text = QLabel()
        self.text.setObjectName("ContextBannerText")
        self.text.setWordWrap(True)
        self.raise_button = QPushButton()
        self.raise_button.setObjectName("RaiseContextButton")
        self.summary_button = QPushButton("New chat with a summary")
        self.summary_button.setObjectName("SummaryChatButton")
        self.go_on = QPushButton("Send anyway")
        self.go_on.setObjectName("GoOnButton")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.raise_button)
        layout.addWidget(self.summary_button)
        layout.addWidget(self.go_on)
        self._target = 0
        self.raise_button.clicked.connect(lambda: self.raiseRequested.emit(self._target))
        self.summary_button.clicked.connect(self.summaryRequested)
        self.go_on.clicked.connect(self.dismissed)
        self.hide()

    def _paint(self) -> None:
        self._scheme = current_scheme()
        warning = accent("warning")
        self.setStyleSheet(
            f"#ContextBanner {{ background: {tint(warning).name()};"
            f" border: 1px solid {warning.name()}; border-radius: 8px; }}"
        )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in _THEMED and current_scheme() != self._scheme:
            self._paint()  # the theme changed: its accent too

    def offer(self, newly_out: int, limit: int, target: int | None, cost: str | None) -> None:
        self.text.setText(
            f"Sending this leaves {newly_out} more older message"
            f"{'s' if newly_out != 1 else ''} out of the model's {limit:,}-token context window."
        )
        self.raise_button.setVisible(target is not None)
        if target is not None:
            self._target = target
            self.raise_button.setText(f"Raise to {target:,} tokens")
            self.raise_button.setToolTip(cost or "Changing the window reloads the model.")
        self.show()


class ContextSurface(Protocol):
    """What `show_context` draws on (the chat pane)."""

    composer: Composer
    view: TranscriptView
    banner: ContextBanner
    banner_dismissed_for: str


def show_context(
    pane: ContextSurface,
    session: ChatSession,
    chat: Chat,
    info: ModelInfo | None,
    history: Sequence[Message],
    vram_cost: Callable[[int], str | None],
) -> ContextPlan:
    """Update the meter, the "not in context" marks and the banner for the draft; returns the
    plan for sending it."""
    draft = pane.composer.draft()
    now = session.plan(chat, info, history, None)
    plan = session.plan(chat, info, history, draft) if draft.strip() else now
    meter = pane.composer.meter
    meter.show_plan(
        plan, measured_used=chat.context.used, loaded_context=session.loaded_context(chat.model)
    )
    last_answer = next((m for m in reversed(history) if m.role == "assistant"), None)
    if chat.context.used is not None and last_answer is not None and last_answer.thinking:
        meter.setToolTip(
            meter.toolTip()
            + "\nOllama's count includes the last answer's reasoning, which is not sent again"
        )
    pane.view.mark_out_of_context(str(i) for i in plan.excluded_ids)
    newly_out = len(set(plan.excluded_ids) - set(now.excluded_ids))
    if draft.strip() and newly_out and pane.banner_dismissed_for != draft:
        requested = session.requested_num_ctx(chat, info)
        trained = info.context_length if info and info.context_length else None
        target = next(
            (s for s in NUM_CTX_STEPS if s > requested and (trained is None or s <= trained)),
            None,
        )
        pane.banner.offer(newly_out, plan.limit, target, vram_cost(target) if target else None)
    elif not newly_out:
        pane.banner.hide()
    return plan
