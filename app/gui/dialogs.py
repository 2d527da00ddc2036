"""Small dialogs: an answer's provenance, the keyboard shortcuts, adding a remote host."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.backend.hosts import token_would_travel_in_clear
from app.gui.attachment_chips import SentPartsList
from app.store import Message
from app.store.records import SentPart

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Enter", "Send the message (Ctrl+Enter when chosen in Preferences)"),
    ("Shift+Enter", "New line in the message"),
    ("Esc", "Stop the answer"),
    ("Ctrl+N", "New chat"),
    ("Ctrl+K", "Search chats"),
    ("Ctrl+Shift+S", "Show or hide the chat list"),
    ("Ctrl+Shift+K", "Compare models side by side"),
    ("Ctrl+R", "Regenerate the last answer"),
    ("Ctrl+Shift+E", "Export the chat as Markdown"),
    ("Ctrl+Shift+C", "Copy the chat as Markdown"),
    ("Ctrl+Shift+,", "Chat settings"),
    ("Ctrl+,", "Preferences"),
    ("Ctrl+= / Ctrl+- / Ctrl+0", "Larger, smaller, actual text size"),
    ("Alt+Left / Alt+Right", "Previous or next version of the focused message"),
    ("Ctrl+M", "Model manager"),
    ("Ctrl+L", "Focus the message box"),
    ("F1", "This list"),
    ("Ctrl+Q", "Quit"),
)


def _fmt(value: object, unit: str = "") -> str:
    if value is None or value == "":
        return "unknown"
    return f"{value}{unit}"


def provenance_rows(message: Message) -> list[tuple[str, str]]:
    """What the info popover shows for an answer, as (label, value) rows."""
    p = message.provenance
    s = message.stats
    rows = [
        ("Model", _fmt(p.model if p else None)),
        ("Quantization", _fmt(p.quantization if p else None)),
        ("Digest", _fmt((p.model_digest or "")[:12] if p else None)),
        ("Context asked", _fmt(p.requested_num_ctx if p else None, " tokens")),
        ("Context loaded", _fmt(p.effective_num_ctx if p else None, " tokens")),
        (
            "On GPU",
            _fmt(None if p is None or p.gpu_percent is None else round(p.gpu_percent), " %"),
        ),
        (
            "Speed",
            _fmt(
                None if p is None or p.tokens_per_second is None else f"{p.tokens_per_second:.1f}",
                " tokens/s",
            ),
        ),
        ("Prompt tokens", _fmt(s.prompt_eval_count if s else None)),
        ("Answer tokens", _fmt(s.eval_count if s else None)),
        ("Stopped because", _fmt(s.done_reason if s else None)),
        ("Ollama", _fmt(p.ollama_version if p else None)),
        (
            "Options",
            ", ".join(f"{k}={v}" for k, v in sorted((p.options or {}).items())) if p else "unknown",
        ),
        ("Status", message.status + (f": {message.error}" if message.error else "")),
    ]
    if p and p.excluded_message_ids:
        rows.append(("Left out", f"{len(p.excluded_message_ids)} older message(s) did not fit"))
    if p and p.warning:
        rows.append(("Warning", p.warning))
    return rows


class AnswerInfoDialog(QDialog):
    """An answer's provenance; with documents, the parts its question carried, each opened
    by `open_part` (default: the parent's `documents.open_part`, the chat pane's)."""

    def __init__(
        self,
        message: Message,
        parent: QWidget | None = None,
        open_part: Callable[[SentPart], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("About this answer")
        self.setObjectName("AnswerInfo")
        form = QFormLayout()
        for label, value in provenance_rows(message):
            field = QLabel(value)
            field.setWordWrap(True)
            field.setObjectName(f"info:{label}")
            form.addRow(f"{label}:", field)
        documents = message.provenance.documents if message.provenance else None
        self.parts: SentPartsList | None = None
        if documents is not None:
            if open_part is None:
                flow = getattr(parent, "documents", None)
                open_part = getattr(flow, "open_part", None)
            self.parts = SentPartsList(documents, open_part)
            form.addRow("Documents:", self.parts)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("ShortcutsDialog")
        form = QFormLayout()
        for keys, action in SHORTCUTS:
            form.addRow(f"<b>{keys}</b>", QLabel(action))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)


class RemoteHostDialog(QDialog):
    """Name, URL and an optional token for Ollama on another machine."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to Ollama on another machine")
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Workstation")
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://192.168.1.20:11434")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("optional bearer token (kept in the system keyring)")
        self.insecure = QCheckBox("Send the token over plain http:// anyway")
        self.insecure.hide()
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("URL", self.url)
        form.addRow("Token", self.token)
        form.addRow("", self.insecure)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.warning)
        layout.addWidget(buttons)
        self.url.textChanged.connect(self._check)
        self.token.textChanged.connect(self._check)

    def _check(self) -> None:
        clear = bool(self.token.text()) and token_would_travel_in_clear(self.url.text() or "x")
        self.insecure.setVisible(clear)
        self.warning.setText(
            "This host uses plain http:// and is not this computer: the token would cross the "
            "network unencrypted."
            if clear
            else ""
        )
