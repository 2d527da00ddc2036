"""The warning shown above the composer when sending the draft would push older messages out
of the model's context window, with what the user can do about it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


class ContextBanner(QWidget):
    """Shown when sending the draft would push older messages out of the window."""

    raiseRequested = Signal(int)
    summaryRequested = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ContextBanner")
        self.setStyleSheet(
            "#ContextBanner { background: palette(alternate-base); border: 1px solid #b26a00;"
            " border-radius: 6px; }"
        )
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
