"""Help > Diagnose: the checks of `phidesk doctor` (app/workspace/doctor.py) in a dialog, one row
each with an icon for its status and what to do, and a Copy button for a bug report.

The checks run as an asyncio task on the Qt loop (their slow parts on worker threads), so the
window stays responsive; closing the dialog cancels them. The window's own answer about the
tray (Qt knows it) replaces the doctor's guess from the environment.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStyle,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from app.backend.client import OllamaClient
from app.config import Paths
from app.gui.tasks import Tasks
from app.workspace.doctor import Check, Status, run_checks
from app.workspace.doctor_setup import SET_UP_OLLAMA

log = logging.getLogger(__name__)

ICONS = {
    Status.OK: QStyle.StandardPixmap.SP_DialogApplyButton,
    Status.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    Status.PROBLEM: QStyle.StandardPixmap.SP_MessageBoxCritical,
    Status.UNKNOWN: QStyle.StandardPixmap.SP_MessageBoxQuestion,
}
ICON_SIZE = 18


def summary_text(checks: list[Check]) -> str:
    counts = {status: sum(c.status is status for c in checks) for status in Status}
    if not counts[Status.PROBLEM] and not counts[Status.WARNING]:
        return "Everything PhiDesk needs is in order."
    parts = []
    for status, word in ((Status.PROBLEM, "problem"), (Status.WARNING, "warning")):
        if counts[status]:
            parts.append(f"{counts[status]} {word}{'s' if counts[status] > 1 else ''}")
    return " and ".join(parts) + ": each one says what to do."


def _sentence(text: str) -> str:
    """Capitalised; no full stop added, as most lines end with a path or a version."""
    return text[:1].upper() + text[1:]


class DiagnoseDialog(QDialog):
    """The doctor's lines for `paths` and the Ollama of `client`."""

    setUpOllamaRequested = Signal()
    """The Ollama line's "Set up Ollama" was pressed (no Ollama on this computer)."""

    def __init__(
        self,
        paths: Paths,
        client: OllamaClient,
        parent: QWidget | None = None,
        *,
        tray: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Diagnose PhiDesk")
        self.setObjectName("DiagnoseDialog")
        self.resize(820, 560)
        self._paths = paths
        self._client = client
        self._tray = tray
        self._tasks = Tasks()
        self.checks: list[Check] = []

        self.summary = QLabel()
        self.summary.setObjectName("DiagnoseSummary")
        self.summary.setWordWrap(True)
        font = self.summary.font()
        font.setBold(True)
        self.summary.setFont(font)
        self._rows = QWidget()
        self._grid = QGridLayout(self._rows)
        self._grid.setContentsMargins(8, 8, 8, 8)
        self._grid.setHorizontalSpacing(10)
        self._grid.setVerticalSpacing(8)
        self._grid.setColumnStretch(2, 1)
        self.set_up_button: QPushButton | None = None
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._rows)

        self.again_button = QPushButton("Run &again")
        self.again_button.clicked.connect(self.run)
        self.copy_button = QPushButton("&Copy")
        self.copy_button.setToolTip("Copy the lines as text, e.g. for a bug report")
        self.copy_button.clicked.connect(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.again_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.finished.connect(self._tasks.cancel_all)
        self.run()

    @property
    def running(self) -> bool:
        return self._tasks.running > 0

    @Slot()
    def run(self) -> None:
        """(Re)run every check; the rows appear when all have answered."""
        if self.running:
            return
        self.summary.setText("Checking Ollama, the models, this computer and the data folder…")
        self.again_button.setEnabled(False)
        self.copy_button.setEnabled(False)
        self._tasks.start(self._diagnose(), name="diagnose")

    async def _diagnose(self) -> None:
        checks = await run_checks(self._paths, self._client, tray=self._tray)  # never raises
        self.again_button.setEnabled(True)
        self.show_checks(checks)

    def show_checks(self, checks: list[Check]) -> None:
        self.checks = list(checks)
        self.set_up_button = None
        while self._grid.count():
            item = self._grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        style = self.style()
        for row, check in enumerate(self.checks):
            icon = QLabel()
            icon.setPixmap(style.standardIcon(ICONS[check.status]).pixmap(ICON_SIZE, ICON_SIZE))
            icon.setToolTip(check.status.value)
            icon.setAccessibleName(check.status.value)
            icon.setObjectName(f"status:{check.name}")
            icon.setProperty("status", check.status.value)
            name = QLabel(f"<b>{html.escape(check.name)}</b>")
            text = QLabel(self._row_html(check))
            text.setObjectName(f"check:{check.name}")
            text.setWordWrap(True)
            text.setTextFormat(Qt.TextFormat.RichText)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            top = Qt.AlignmentFlag.AlignTop
            self._grid.addWidget(icon, row, 0, top)
            self._grid.addWidget(name, row, 1, top)
            self._grid.addWidget(text, row, 2, top)
            if check.action == SET_UP_OLLAMA:
                self.set_up_button = QPushButton("Set up Ollama")
                self.set_up_button.setObjectName("DiagnoseSetUpOllama")
                self.set_up_button.clicked.connect(self._set_up)
                self._grid.addWidget(self.set_up_button, row, 3, top)
        self._grid.setRowStretch(len(self.checks), 1)
        self.summary.setText(summary_text(self.checks))
        self.copy_button.setEnabled(bool(self.checks))

    @staticmethod
    def _row_html(check: Check) -> str:
        text = html.escape(_sentence(check.detail))
        if check.advice:
            text += f"<br><i>{html.escape(_sentence(check.advice))}</i>"
        return text

    def text(self) -> str:
        """The lines as `phidesk doctor` prints them."""
        return "\n".join(check.line() for check in self.checks)

    @Slot()
    def _set_up(self) -> None:
        self.setUpOllamaRequested.emit()
        self.accept()

    @Slot()
    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text() + "\n")


def open_diagnose(
    parent: QWidget,
    paths: Paths,
    client: OllamaClient,
    *,
    set_up: Callable[[], None] | None = None,
) -> DiagnoseDialog:
    """Show the dialog (bring back the one already open); it deletes itself when closed.
    `set_up` runs when the user asks to set Ollama up from it."""
    existing = parent.findChild(DiagnoseDialog)
    if existing is not None and existing.isVisible():
        existing.raise_()
        existing.activateWindow()
        return existing
    dialog = DiagnoseDialog(paths, client, parent, tray=QSystemTrayIcon.isSystemTrayAvailable())
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if set_up is not None:
        dialog.setUpOllamaRequested.connect(set_up)
    dialog.show()
    return dialog
