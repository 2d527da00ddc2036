"""What a first start without a reachable Ollama shows: ways forward, not an error box.

With no Ollama on this computer, the first way is "Set up Ollama" (PhiDesk downloads its own
copy, `SetupPanel`); with one installed, "Start Ollama on this computer". Connecting to another
machine and trying again are always there.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.backend.hosts import is_loopback
from app.gui.ollama_setup_panel import SetupPanel


class OnboardingPage(QWidget):
    retryRequested = Signal()
    startManagedRequested = Signal()
    addRemoteRequested = Signal()
    setUpRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Onboarding")
        self.title = QLabel()
        self.title.setObjectName("OnboardingTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.reason = QLabel()
        self.reason.setObjectName("OnboardingReason")
        self.reason.setWordWrap(True)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.steps = QLabel()
        self.steps.setObjectName("OnboardingSteps")
        self.steps.setWordWrap(True)
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        self.steps.setOpenExternalLinks(True)
        self.setup = SetupPanel()
        self.setup.setUpRequested.connect(self.setUpRequested)
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
        column.setSpacing(8)
        column.addStretch(1)
        column.addWidget(self.title)
        column.addWidget(self.reason)
        column.addSpacing(10)
        column.addWidget(self.setup)
        column.addSpacing(10)
        column.addWidget(self.steps)
        column.addSpacing(6)
        column.addLayout(buttons)
        column.addStretch(2)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 4)
        outer.addStretch(1)
        self.start_button.clicked.connect(self.startManagedRequested)
        self.remote_button.clicked.connect(self.addRemoteRequested)
        self.retry_button.clicked.connect(self.retryRequested)
        self.show_reason("", host="", ollama_installed=False)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            # Rich text takes the link colour when it is set: set it again in the new theme's.
            text = self.steps.text()
            self.steps.clear()
            self.steps.setText(text)

    def show_reason(self, reason: str, *, host: str, ollama_installed: bool) -> None:
        local = not host or is_loopback(host)
        set_up = local and (not ollama_installed or self.setup.bar.isVisible())
        if set_up and host:
            # "start it (ollama serve)" would not help: there is no Ollama to start.
            reason = f"no Ollama was found on this computer, and nothing answers at {host}"
        sentence = reason[:1].upper() + reason[1:]
        self.reason.setText(sentence if not sentence or sentence.endswith(".") else sentence + ".")
        self.setup.setVisible(set_up)
        self.start_button.setVisible(ollama_installed and local and not set_up)
        title = "Set up Ollama to start" if set_up else "PhiDesk needs Ollama"
        self.title.setText(f"<h2>{title}</h2>")
        where = f", which it looked for at <code>{html.escape(host)}</code>" if host else ""
        if set_up:
            where = ""  # the sentence above says where
        if set_up:
            steps = (
                "<li>Or install Ollama yourself from "
                "<a href='https://ollama.com/download'>ollama.com/download</a>.</li>"
            )
        elif ollama_installed and local:
            steps = "<li>Ollama is installed on this computer: PhiDesk can start it for you.</li>"
        else:
            steps = "<li>Start Ollama on that machine, or choose another host.</li>"
        self.steps.setText(
            f"<p>PhiDesk runs Phi-4 models through Ollama{where}.</p>"
            f"<ul>{steps}"
            "<li>Or connect to Ollama running on another machine of yours.</li>"
            "<li>Then pull a Phi-4 model from the model manager (Ctrl+M).</li></ul>"
        )
