"""What the window shows of attached documents once sent: the chips on a question in the
transcript ("report.pdf · 7 of 42 parts (pages 3–5, 9)"), the file or its extracted text opened
from a chip, and the list of parts an answer's question carried (in the answer's Info).

    payload = chip_payload(chips)                 # for TranscriptView.set_attachments
    opener = AttachmentOpener(workspace, parent)
    await opener.open_file(attachment_id)         # a private temp copy, opened by the desktop
    await opener.show_text(attachment_id, None)   # the text PhiDesk read (seq: one part)
    SentPartsList(documents, on_open)             # Info: parts with pages/headings, openable
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import PhiDeskError
from app.store.records import SentDocuments, SentPart
from app.workspace import Level, Scope, Workspace
from app.workspace.documents import AttachmentChip

log = logging.getLogger(__name__)


def chip_label(chip: AttachmentChip) -> str:
    """ "report.pdf · whole", or the name alone before any answer."""
    name = chip.attachment.name
    return f"{name} · {chip.text}" if chip.text else name


def chip_payload(chips: list[AttachmentChip]) -> list[dict[str, str]]:
    """The chips of one question as the transcript page draws them."""
    return [
        {
            "attachment": str(c.attachment.id),
            "name": c.attachment.name,
            "detail": c.text,
            "kind": c.attachment.kind,
        }
        for c in chips
    ]


def _safe_name(name: str) -> str:
    """A file name that stays inside its folder and keeps its extension."""
    cleaned = re.sub(r"[\x00-\x1f/\\:]", "_", name).strip(" .") or "attachment"
    return cleaned[-120:]


class TextDialog(QDialog):
    """Read-only text PhiDesk read from a file (all of it, or one part)."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AttachmentText")
        self.setWindowTitle(title)
        self.text = QPlainTextEdit(text)
        self.text.setReadOnly(True)
        self.text.setAccessibleName(title)
        self.text.setObjectName("AttachmentTextBody")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(640, 520)


class AttachmentOpener:
    """Opens an attachment: the original file in the desktop's application for it (from a
    private copy only this user can read), or the text PhiDesk extracted."""

    def __init__(self, workspace: Workspace, parent: QWidget) -> None:
        self.workspace = workspace
        self.parent = parent
        self._folder: Path | None = None
        self.dialogs: list[TextDialog] = []

    def _private_folder(self) -> Path:
        if self._folder is None or not self._folder.is_dir():
            self._folder = Path(tempfile.mkdtemp(prefix="phidesk-attachments-"))  # 0700
        return self._folder

    async def open_file(self, attachment_id: int) -> Path | None:
        """Write the file to a private temporary copy (0600) and open it; its path, or None
        when it could not be (said in the window)."""
        try:
            name, data = await self.workspace.attachment_data(attachment_id)
        except PhiDeskError as exc:
            self._tell(f"Could not open the attachment: {exc}")
            return None
        folder = Path(tempfile.mkdtemp(dir=self._private_folder()))
        path = folder / _safe_name(name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        except OSError as exc:
            log.warning("could not write %s: %s", path, exc)
            self._tell(f"Could not write a copy of {name} to open it: {exc.strerror}.")
            return None
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self._tell(f"No application on this computer opens {name}; showing its text.")
            await self.show_text(attachment_id, None, name)
        return path

    async def show_text(self, attachment_id: int, seq: int | None, title: str = "") -> None:
        """Show the extracted text of the attachment (`seq`: one part of it)."""
        try:
            text = await self.workspace.attachment_part(attachment_id, seq)
        except PhiDeskError as exc:
            self._tell(f"Could not read the attachment's text: {exc}")
            return
        dialog = TextDialog(title or "Attachment text", text, self.parent)
        dialog.finished.connect(lambda _r: self._forget(dialog))
        self.dialogs.append(dialog)
        dialog.open()

    async def show_part(self, part: SentPart) -> None:
        await self.show_text(part.attachment_id, part.seq, f"{part.name} — {part.location()}")

    def _forget(self, dialog: TextDialog) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)
        dialog.deleteLater()

    def _tell(self, text: str) -> None:
        self.workspace.notices.post(Level.WARNING, text, scope=Scope.APP)

    def close(self) -> None:
        """Delete the temporary copies (quitting)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def method_text(method: str) -> str:
    if method.startswith("embeddings:"):
        return f"ranked by the embedding model {method.removeprefix('embeddings:')}"
    if method == "bm25":
        return "ranked by word match (BM25)"
    return method


class SentPartsList(QWidget):
    """The parts of documents a question carried: name, pages or headings, tokens; each can be
    opened (double-click, Enter, or Open)."""

    def __init__(
        self,
        documents: SentDocuments,
        on_open: Callable[[SentPart], None] | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SentParts")
        self.parts = documents.parts
        self._on_open = on_open
        count = len(documents.parts)
        self.summary = QLabel(
            f"{count} part{'s' if count != 1 else ''} sent, about {documents.tokens:,} tokens, "
            f"{method_text(documents.method)}"
        )
        self.summary.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("SentPartsList")
        self.list.setAccessibleName("Document parts sent with the question")
        for part in documents.parts:
            tokens = f" · {part.tokens:,} tokens" if part.tokens else ""
            item = QListWidgetItem(f"{part.name} — {part.location()}{tokens}")
            item.setToolTip("Double-click to read this part")
            self.list.addItem(item)
        self.list.setMaximumHeight(min(240, 16 + 24 * max(1, count)))
        self.list.setMinimumWidth(460)
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.open_button = QPushButton("Open part")
        self.open_button.setEnabled(on_open is not None and count > 0)
        self.list.setCurrentRow(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.list)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.list.itemActivated.connect(lambda _item: self.open_current())
        self.open_button.clicked.connect(self.open_current)

    def texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    @Slot()
    def open_current(self) -> None:
        row = self.list.currentRow()
        if self._on_open is not None and 0 <= row < len(self.parts):
            self._on_open(self.parts[row])
