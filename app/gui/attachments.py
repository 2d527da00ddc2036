"""Files attached to the draft: the paperclip button, the removable chips above the composer,
drag and drop and paste of files, and the question asked before documents leave this computer.

    button = attach_button()                 # the composer shows it; a click asks for files
    bar = PendingFiles()                     # chips of the files waiting to be sent
    bar.add(files); bar.take()               # files from `Workspace.prepare_attachments`
    FileDropFilter(on_paths, widget, …)      # drops and Ctrl+V of file URLs on those widgets
    agreed = await ask_document_consent(parent, "work-gpu")

Reading the files (extracting a PDF's text) runs on a worker thread in
`Workspace.prepare_attachments`; the window only waits for it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, Signal, Slot
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QPalette,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.chat.documents import Extracted
from app.gui.theme import accent

os.environ.setdefault("QT_API", "pyside6")  # qtawesome reaches Qt through qtpy

import qtawesome  # after QT_API is set

PAPERCLIP = "mdi6.paperclip"
CLOSE = "mdi6.close"


def _paint_icon(button: QAbstractButton, glyph: str) -> None:
    palette = button.palette()
    text = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.ButtonText)
    muted = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText)
    button.setIcon(qtawesome.icon(glyph, color=text, color_disabled=muted))


class _IconKeeper(QObject):
    """Paints a button's glyph again in its palette's colours when the theme changes."""

    def __init__(self, button: QAbstractButton, glyph: str) -> None:
        super().__init__(button)
        self._button = button
        self._glyph = glyph
        button.installEventFilter(self)
        _paint_icon(button, glyph)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._button and event.type() == QEvent.Type.PaletteChange:
            _paint_icon(self._button, self._glyph)
        return False


def attach_button() -> QToolButton:
    """The composer's paperclip: attach files to the message."""
    button = QToolButton()
    button.setObjectName("AttachButton")
    button.setAccessibleName("Attach files")
    button.setToolTip("Attach files (text, Markdown, code, PDF, HTML); or drop or paste them")
    button.setAutoRaise(True)
    button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    _IconKeeper(button, PAPERCLIP)
    return button


def describe_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def file_detail(file: Extracted) -> str:
    """ "12 pages · 1.2 MB", "4 KB"."""
    pages = f"{file.pages} page{'s' if file.pages != 1 else ''} · " if file.pages else ""
    return pages + describe_size(file.size)


_BAR_STYLE = """
QFrame#PendingChip {{ background: {base}; border: 1px solid {mid}; border-radius: 10px; }}
QLabel#PendingChipDetail {{ color: {muted}; }}
QLabel#AttachmentRefused {{ color: {error}; }}
QLabel#AttachmentBusy {{ color: {muted}; }}
"""


def bar_style() -> str:
    """The bar's style sheet in the colours of the application's palette now."""
    palette = QGuiApplication.palette()
    role = QPalette.ColorRole
    return _BAR_STYLE.format(
        base=palette.color(role.Base).name(),
        mid=palette.color(role.Mid).name(),
        muted=palette.color(role.PlaceholderText).name(),
        error=accent("error").name(),
    )


class _Chip(QFrame):
    """One pending file: its name, pages and size, and a remove button."""

    def __init__(self, file: Extracted, on_remove: Callable[[], None]) -> None:
        super().__init__()
        self.setObjectName("PendingChip")
        self.setAccessibleName(f"Attached file {file.name}")
        name = QLabel(file.name)
        name.setObjectName("PendingChipName")
        name.setTextFormat(Qt.TextFormat.PlainText)
        detail = QLabel(file_detail(file))
        detail.setObjectName("PendingChipDetail")
        self.remove = QToolButton()
        self.remove.setObjectName("PendingChipRemove")
        self.remove.setAutoRaise(True)
        self.remove.setAccessibleName(f"Remove {file.name}")
        self.remove.setToolTip(f"Remove {file.name}")
        _IconKeeper(self.remove, CLOSE)
        self.remove.clicked.connect(on_remove)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 2, 2, 2)
        layout.setSpacing(6)
        layout.addWidget(name)
        layout.addWidget(detail)
        layout.addWidget(self.remove)


class PendingFiles(QWidget):
    """The files that go with the next message, as chips above the composer; the sentence of
    a file that could not be attached; a note while files are being read."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PendingFiles")
        self.files: list[Extracted] = []
        self.chips: list[_Chip] = []
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(6)
        self._row.addStretch(1)
        self.busy = QLabel()
        self.busy.setObjectName("AttachmentBusy")
        self.refused = QLabel()
        self.refused.setObjectName("AttachmentRefused")
        self.refused.setWordWrap(True)
        self.refused.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 2)
        layout.setSpacing(4)
        layout.addLayout(self._row)
        layout.addWidget(self.busy)
        layout.addWidget(self.refused)
        self.setStyleSheet(bar_style())
        self._update()

    def add(self, files: Sequence[Extracted]) -> None:
        known = {f.sha256 for f in self.files}
        for file in files:
            if file.sha256 not in known:
                known.add(file.sha256)
                self.files.append(file)
        self.refused.clear()
        self._rebuild()

    def remove(self, index: int) -> None:
        if 0 <= index < len(self.files):
            del self.files[index]
            self._rebuild()

    def take(self) -> list[Extracted]:
        """The files, leaving the bar empty (the message is being sent)."""
        files, self.files = self.files, []
        self.refused.clear()
        self._rebuild()
        return files

    def clear(self) -> None:
        self.take()
        self.busy.clear()
        self._update()

    def set_busy(self, text: str) -> None:
        self.busy.setText(text)
        self._update()

    def show_refusal(self, sentence: str) -> None:
        self.refused.setText(sentence)
        self._update()

    def _rebuild(self) -> None:
        for chip in self.chips:
            self._row.removeWidget(chip)
            chip.deleteLater()
        self.chips = []
        for index, file in enumerate(self.files):
            chip = _Chip(file, lambda i=index: self.remove(i))  # type: ignore[misc]
            self._row.insertWidget(index, chip)
            self.chips.append(chip)
        self.setStyleSheet(bar_style())  # the theme may have changed since the last chips
        self._update()
        self.changed.emit()

    def _update(self) -> None:
        self.busy.setVisible(bool(self.busy.text()))
        self.refused.setVisible(bool(self.refused.text()))
        self.setVisible(bool(self.files or self.busy.text() or self.refused.text()))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.setStyleSheet(bar_style())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.setStyleSheet(bar_style())


# --- drops and paste ------------------------------------------------------------------------


def local_files(mime: QMimeData | None) -> list[Path]:
    """The local files named by `mime` (a drop or the clipboard), in order."""
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class FileDropFilter(QObject):
    """Takes drops and Ctrl+V of local files on the watched widgets and hands their paths to
    `on_paths`; everything else (text drops, text paste) goes on as before."""

    def __init__(self, on_paths: Callable[[list[Path]], None], *widgets: QWidget) -> None:
        super().__init__(widgets[0] if widgets else None)
        self._on_paths = on_paths
        for widget in widgets:
            self.watch(widget)

    def watch(self, widget: QWidget) -> None:
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, (QDragEnterEvent, QDragMoveEvent))
            if local_files(event.mimeData()):
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                return True
        elif kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            paths = local_files(event.mimeData())
            if paths:
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                self._on_paths(paths)
                return True
        elif kind == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.matches(QKeySequence.StandardKey.Paste):
                paths = local_files(QGuiApplication.clipboard().mimeData())
                if paths:
                    self._on_paths(paths)
                    return True
        return False


# --- documents leaving this computer --------------------------------------------------------


class DocumentConsentDialog(QMessageBox):
    """Asked once per chat before its documents go to an engine that is not on this computer."""

    def __init__(self, engine: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DocumentConsent")
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("Send documents?")
        self.setText(f"Send the attached documents to {engine}?")
        self.setInformativeText(
            f"{engine} is not on this computer: the parts of the documents that fit go to it "
            "with each question in this chat. PhiDesk asks once per chat."
        )
        self.send = self.addButton("Send documents", QMessageBox.ButtonRole.AcceptRole)
        self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(QMessageBox.StandardButton.Cancel)

    def agreed(self) -> bool:
        return self.clickedButton() is self.send


async def ask_document_consent(parent: QWidget, engine: str) -> bool:
    """Ask (window-modal, without blocking the event loop) whether documents may go to
    `engine`; True when the user agreed."""
    dialog = DocumentConsentDialog(engine, parent)
    answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    @Slot(int)
    def finished(_result: int) -> None:
        if not answered.done():
            answered.set_result(dialog.agreed())

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await answered
    finally:
        dialog.deleteLater()
