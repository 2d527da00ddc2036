"""Help > About PhiDesk: the version, where PhiDesk keeps its data and logs (with "Open log
folder"), and the licences of what it is built on and works with."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Slot, qVersion
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.config import Paths
from app.resources import resources_dir

PYTHON_PARTS = (
    ("PySide6", "Qt for Python: the window and the web view"),
    ("ollama", "the official Ollama client"),
    ("httpx", "HTTP"),
    ("SQLAlchemy", "the database layer"),
    ("alembic", "database upgrades"),
    ("keyring", "tokens in the system's keyring"),
    ("markdown-it-py", "Markdown"),
    ("mdit-py-plugins", "Markdown math"),
    ("Pygments", "code highlighting"),
    ("platformdirs", "data and log folders"),
    ("qasync", "asyncio under Qt"),
    ("zstandard", "unpacking Ollama downloads"),
    ("openai", "OpenAI-compatible engines"),
    ("pypdf", "the text of attached PDFs"),
    ("QtAwesome", "icons"),
)
OTHER_PARTS = (
    ("Ollama", "the model server PhiDesk starts or connects to", "MIT"),
    ("Phi-4 models", "Microsoft's model family, downloaded by Ollama", "MIT"),
    ("Material Design Icons", "the icon font QtAwesome draws", "Apache-2.0"),
)


def python_licence(distribution: str) -> tuple[str, str] | None:
    """(version, licence) of an installed Python distribution, or None if it is absent."""
    try:
        meta = metadata.metadata(distribution)
    except metadata.PackageNotFoundError:
        return None
    licence = meta.get("License-Expression") or ""
    short = (meta.get("License") or "").strip()
    if not licence and short and "\n" not in short and len(short) < 60:
        licence = short  # a short identifier; a long field is the licence's whole text
    if not licence:
        classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
        licence = classifiers[0].rsplit("::", 1)[-1].strip() if classifiers else "see its package"
    return meta.get("Version") or "?", licence


def katex_version() -> str:
    """The KaTeX version shipped with the page, if its package file is there."""
    web = resources_dir() / "web"
    for candidate in (web / "katex" / "package.json", web / "node_modules/katex/package.json"):
        try:
            version = json.loads(candidate.read_text(encoding="utf-8")).get("version")
        except (OSError, ValueError):
            continue
        if isinstance(version, str):
            return version
    return "?"


def components() -> list[tuple[str, str, str, str]]:
    """(name, version, licence, what it does) for the About table."""
    rows = [("Qt", qVersion(), "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only", "the toolkit")]
    for name, role in PYTHON_PARTS:
        found = python_licence(name)
        if found is not None:
            rows.append((name, found[0], found[1], role))
    rows.append(("KaTeX", katex_version(), "MIT", "maths typesetting in the conversation"))
    rows += [(name, "", licence, role) for name, role, licence in OTHER_PARTS]
    return rows


class AboutDialog(QDialog):
    def __init__(self, paths: Paths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AboutDialog")
        self.setWindowTitle("About PhiDesk")
        self.paths = paths
        title = QLabel(f"<h2>PhiDesk {__version__}</h2>")
        title.setTextFormat(Qt.TextFormat.RichText)
        blurb = QLabel("A desktop assistant for the Microsoft Phi-4 model family on Ollama.")
        blurb.setWordWrap(True)
        folders = QFormLayout()
        for label, path in (("Data:", paths.data), ("Logs:", paths.logs)):
            shown = QLabel(str(path))
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setAccessibleName(f"{label.rstrip(':')} folder")
            folders.addRow(label, shown)
        self.open_logs = QPushButton("Open &log folder")
        self.open_logs.clicked.connect(self._open_logs)

        rows = components()
        self.table = QTableWidget(len(rows), 4)
        self.table.setObjectName("Licences")
        self.table.setAccessibleName("Components and their licences")
        self.table.setHorizontalHeaderLabels(["Component", "Version", "Licence", "Used for"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(blurb)
        layout.addLayout(folders)
        layout.addWidget(self.open_logs, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(QLabel("Built with, and works with:"))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(900, 560)

    @Slot()
    def _open_logs(self) -> None:
        folder: Path = self.paths.logs
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def open_about(parent: QWidget, paths: Paths) -> AboutDialog:
    dialog = AboutDialog(paths, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
