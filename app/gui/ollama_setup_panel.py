"""The "Set up Ollama" block of the first-start page: a primary button, then the download's bar
with "bytes of total · speed · ETA" and Cancel, then one sentence when it failed (with Retry) or
was cancelled (pressing Set up again resumes)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.backend.events import PullProgress
from app.gui.model_manager_text import progress_text, sentence
from app.gui.model_manager_widgets import InlineNote, muted
from app.gui.ollama_setup import OllamaSetup
from app.workspace import Level

BAR_STEPS = 1000
SET_UP = "Set up Ollama"
PRIMARY_STYLE = (
    "QPushButton#SetUpOllama { background: palette(highlight); color: palette(highlighted-text);"
    " border: 1px solid palette(highlight); border-radius: 5px; padding: 6px 18px;"
    " font-weight: 600; }"
    " QPushButton#SetUpOllama:disabled { background: palette(mid); border-color: palette(mid); }"
)
HINT = (
    "Downloads the latest Ollama from its GitHub releases into PhiDesk's own data folder, checks "
    "it and starts it; no administrator rights needed. An Ollama you install yourself is always "
    "used instead."
)


class SetupPanel(QWidget):
    """Shows one `OllamaSetup`; pressing the button starts it (again: resumes)."""

    setUpRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SetupPanel")
        self.setup_button = QPushButton(SET_UP)
        self.setup_button.setObjectName("SetUpOllama")
        self.setup_button.setStyleSheet(PRIMARY_STYLE)
        self.setup_button.setDefault(True)
        self.setup_button.setAccessibleDescription(HINT)
        self.hint = muted(QLabel(HINT))
        self.hint.setObjectName("SetupHint")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.bar = QProgressBar()
        self.bar.setObjectName("SetupBar")
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setAccessibleName("Ollama download progress")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("CancelSetup")
        self.text = QLabel()
        self.text.setObjectName("SetupText")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.error = InlineNote(Level.ERROR)
        self.error.setObjectName("SetupError")

        button_row = QHBoxLayout()
        button_row.addStretch(1)
        button_row.addWidget(self.setup_button)
        button_row.addStretch(1)
        bar_row = QHBoxLayout()
        bar_row.setContentsMargins(0, 0, 0, 0)
        bar_row.addWidget(self.bar, 1)
        bar_row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(button_row)
        layout.addWidget(self.hint)
        layout.addLayout(bar_row)
        layout.addWidget(self.text)
        layout.addWidget(self.error)
        self.setup_button.clicked.connect(self.setUpRequested)
        self._show_bar(False)

    def bind(self, setup: OllamaSetup) -> None:
        """Show `setup`'s progress and end here; Cancel cancels it."""
        self.cancel_button.clicked.connect(setup.cancel)
        setup.runningChanged.connect(self.set_running)
        setup.progressed.connect(self.show_progress)
        setup.unpacking.connect(self.show_unpacking)
        setup.failed.connect(self.show_failure)
        setup.cancelled.connect(self.show_cancelled)
        setup.installed.connect(self.show_installed)
        self.set_running(setup.running)

    def _show_bar(self, visible: bool) -> None:
        self.bar.setVisible(visible)
        self.cancel_button.setVisible(visible)
        self.text.setVisible(visible or bool(self.text.text()))

    @Slot(bool)
    def set_running(self, running: bool) -> None:
        # While it runs, Cancel (beside the bar) is the only button.
        self.setup_button.setVisible(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.error.clear()
            self.hint.hide()
            self.bar.setRange(0, 0)  # busy until the download says its size
            self.text.setText("Looking for the latest Ollama…")
            self._show_bar(True)

    @Slot(object)
    def show_progress(self, progress: object) -> None:
        if not isinstance(progress, PullProgress):
            return
        fraction = progress.fraction
        if fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, BAR_STEPS)
            self.bar.setValue(round(min(fraction, 1.0) * BAR_STEPS))
        name = progress.status.removeprefix("downloading ").strip()
        self.text.setText(f"Downloading {name}: {progress_text(progress)}")

    @Slot()
    def show_unpacking(self) -> None:
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(False)  # the download is complete; the rest is quick
        self.text.setText("Checking, unpacking and trying Ollama…")

    @Slot(str)
    def show_failure(self, text: str) -> None:
        self.text.clear()
        self._show_bar(False)
        self.error.setText(sentence(text))
        self.setup_button.setText("Retry")

    @Slot(str)
    def show_cancelled(self, _text: str) -> None:
        self._show_bar(False)
        self.text.setText(
            f"Cancelled; what was downloaded is kept, and {SET_UP} resumes where it stopped."
        )
        self.text.show()
        self.setup_button.setText(SET_UP)

    @Slot(object)
    def show_installed(self, _result: object) -> None:
        self._show_bar(False)
        self.setup_button.setText(SET_UP)
        self.text.setText("Ollama is set up; starting it…")
        self.text.show()

    def reset(self) -> None:
        """Back to the button and its hint (a new start of the page)."""
        if self.bar.isVisible():
            return
        self.hint.show()
        self.text.clear()
        self.text.hide()
