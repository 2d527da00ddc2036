"""What a first start without a reachable Ollama shows: ways forward, not an error box."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class OnboardingPage(QWidget):
    retryRequested = Signal()
    startManagedRequested = Signal()
    addRemoteRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Onboarding")
        title = QLabel("<h2>PhiDesk needs Ollama</h2>")
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.reason = QLabel()
        self.reason.setObjectName("OnboardingReason")
        self.reason.setWordWrap(True)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.steps = QLabel()
        self.steps.setObjectName("OnboardingSteps")
        self.steps.setWordWrap(True)
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        self.steps.setOpenExternalLinks(True)
        self.start_button = QPushButton("Start Ollama on this computer")
        self.start_button.setObjectName("StartManagedButton")
        self.remote_button = QPushButton("Connect to Ollama on another machine…")
        self.remote_button.setObjectName("AddRemoteButton")
        self.retry_button = QPushButton("Try again")
        self.retry_button.setObjectName("RetryButton")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start_button, self.remote_button, self.retry_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(title)
        column.addWidget(self.reason)
        column.addSpacing(12)
        column.addWidget(self.steps)
        column.addSpacing(12)
        column.addLayout(buttons)
        column.addStretch(2)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 4)
        outer.addStretch(1)
        self.start_button.clicked.connect(self.startManagedRequested)
        self.remote_button.clicked.connect(self.addRemoteRequested)
        self.retry_button.clicked.connect(self.retryRequested)

    def show_reason(self, reason: str, *, host: str, ollama_installed: bool) -> None:
        sentence = reason[:1].upper() + reason[1:]
        self.reason.setText(sentence if sentence.endswith(".") else sentence + ".")
        self.start_button.setVisible(ollama_installed)
        install = (
            "<li>Ollama is installed on this computer: PhiDesk can start it for you.</li>"
            if ollama_installed
            else "<li>Install Ollama from "
            "<a href='https://ollama.com/download'>ollama.com/download</a> and start it.</li>"
        )
        self.steps.setText(
            "<p>PhiDesk runs Phi-4 models through Ollama, which it looked for at "
            f"<code>{host}</code>.</p><ol>{install}"
            "<li>Or connect to Ollama running on another machine of yours.</li>"
            "<li>Then pull a Phi-4 model from the model manager (Ctrl+M).</li></ol>"
        )
