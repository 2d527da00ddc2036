"""File > Engines…: the servers chats can talk to — list, add (a preset fills the URL), test,
edit and remove them.

Every call goes through the `Workspace` on the qasync loop (`Tasks`), so the window never waits;
every failure is one sentence in the dialog's status line. A key (or a header) that would travel
over plain http to another machine is sent only after the user agrees in a question.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.backend.hosts import InsecureTokenRefused
from app.errors import PhiDeskError, UsageError
from app.gui import theme
from app.gui.tasks import Tasks
from app.workspace import Workspace
from app.workspace.engine_profiles import EngineProfile, Preset

log = logging.getLogger(__name__)

CUSTOM = "custom"
KEY_KEPT = "Kept in the keyring (leave empty to keep it)"


def sentence(text: str) -> str:
    """One sentence for the status line: a capital first letter and a full stop."""
    text = " ".join(str(text).split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def parse_headers(text: str) -> dict[str, str]:
    """ "Name: value" per line (blank lines ignored)."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"extra header line {number} should read 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


@dataclass(frozen=True, slots=True)
class EngineForm:
    """What the form holds, ready for `Workspace.add_engine`."""

    name: str
    url: str
    kind: str
    api_key: str
    headers: dict[str, str]
    key_header: str
    api_version: str | None
    verify_tls: bool
    models_url: str | None


def describe(profile: EngineProfile) -> str:
    kind = "Ollama" if profile.kind == "ollama" else "OpenAI-compatible"
    where = "this computer's default" if profile.is_default else profile.url
    key = " · key in keyring" if profile.has_key else ""
    return f"{profile.name} — {kind} · {where}{key}"


class EnginesDialog(QDialog):
    enginesChanged = Signal()
    """An engine was added, changed or removed: model lists should be read again."""

    def __init__(self, workspace: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EnginesDialog")
        self.setWindowTitle("Engines")
        self.workspace = workspace
        self.tasks = Tasks()
        self.presets: dict[str, Preset] = {p.id: p for p in workspace.engine_presets()}
        self.editing: EngineProfile | None = None
        self.question: QMessageBox | None = None
        self._pending: EngineForm | None = None

        self.list = QListWidget()
        self.list.setObjectName("EngineList")
        self.list.setAccessibleName("Engines")
        self.list.setSpacing(3)
        self.add_button = QPushButton("&Add…")
        self.edit_button = QPushButton("&Edit…")
        self.remove_button = QPushButton("&Remove…")
        self.test_button = QPushButton("&Test")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.test_button)

        self.form_box = QGroupBox("Add an engine")
        self.preset = QComboBox()
        self.preset.setObjectName("EnginePreset")
        self.preset.setAccessibleName("Kind of server")
        self.preset.addItem("Other OpenAI-compatible server", CUSTOM)
        for preset in workspace.engine_presets():
            self.preset.addItem(preset.label, preset.id)
        self.preset.addItem("Ollama on another computer", "ollama")
        self.name = QLineEdit()
        self.name.setObjectName("EngineName")
        self.name.setPlaceholderText("e.g. lab-vllm")
        self.url = QLineEdit()
        self.url.setObjectName("EngineUrl")
        self.url.setPlaceholderText("http://HOST:8000/v1")
        self.key = QLineEdit()
        self.key.setObjectName("EngineKey")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("Optional; kept in the system keyring only")
        self.headers = QPlainTextEdit()
        self.headers.setObjectName("EngineHeaders")
        self.headers.setPlaceholderText("Name: value, one per line (kept in the keyring)")
        self.headers.setTabChangesFocus(True)
        self.headers.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self.api_version = QLineEdit()
        self.api_version.setObjectName("EngineApiVersion")
        self.api_version.setPlaceholderText("e.g. 2024-10-21 (Azure only)")
        self.verify = QCheckBox("Verify the server's TLS certificate")
        self.verify.setChecked(True)
        form = QFormLayout(self.form_box)
        form.addRow("&Server", self.preset)
        form.addRow("&Name", self.name)
        form.addRow("&URL", self.url)
        form.addRow("API &key", self.key)
        form.addRow("Extra &headers", self.headers)
        self.api_version_label = QLabel("&api-version")
        self.api_version_label.setBuddy(self.api_version)
        form.addRow(self.api_version_label, self.api_version)
        form.addRow("", self.verify)
        self.form_buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        form.addRow(self.form_buttons)
        self.form_box.hide()

        self.status = QLabel()
        self.status.setObjectName("EngineStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Servers your chats can use. Keys stay in the system keyring."))
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.form_box)
        layout.addWidget(self.status)
        layout.addWidget(close)
        self.resize(640, 560)

        self.add_button.clicked.connect(self.start_add)
        self.edit_button.clicked.connect(self.start_edit)
        self.remove_button.clicked.connect(self.ask_remove)
        self.test_button.clicked.connect(self.test_selected)
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.form_buttons.accepted.connect(self.save)
        self.form_buttons.rejected.connect(self.cancel_form)
        self.list.currentRowChanged.connect(self._selection_changed)
        self.list.itemDoubleClicked.connect(self.start_edit)
        close.rejected.connect(self.close)
        self.fill()
        self._preset_chosen()

    # --- the list -----------------------------------------------------------------------

    def fill(self, select: str | None = None) -> None:
        chosen = select or self.selected_name()
        self.list.clear()
        for profile in self.workspace.engine_profiles():
            item = QListWidgetItem(describe(profile))
            item.setData(Qt.ItemDataRole.UserRole, profile.name)
            item.setToolTip(profile.url)
            self.list.addItem(item)
            if profile.name == chosen:
                self.list.setCurrentItem(item)
        if self.list.currentRow() < 0:
            self.list.setCurrentRow(0)
        self._selection_changed()

    def selected_name(self) -> str:
        item = self.list.currentItem()
        data = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return data if isinstance(data, str) else ""

    def selected(self) -> EngineProfile | None:
        name = self.selected_name()
        return next((p for p in self.workspace.engine_profiles() if p.name == name), None)

    @Slot()
    def _selection_changed(self) -> None:
        profile = self.selected()
        removable = profile is not None and not profile.is_default
        self.edit_button.setEnabled(removable)
        self.remove_button.setEnabled(removable)
        self.test_button.setEnabled(profile is not None)

    def say(self, text: str, level: str = "neutral") -> None:
        """One sentence in the status line."""
        self.status.setText(sentence(text))
        palette = QPalette(self.palette())
        if level != "neutral":
            palette.setColor(QPalette.ColorRole.WindowText, theme.accent(level))
        self.status.setPalette(palette)
        self.status.setAccessibleDescription(self.status.text())

    # --- the form -----------------------------------------------------------------------

    @Slot()
    def start_add(self) -> None:
        self.editing = None
        self.form_box.setTitle("Add an engine")
        self.name.setReadOnly(False)
        self.preset.setEnabled(True)
        for field in (self.name, self.url, self.key, self.api_version):
            field.clear()
        self.headers.clear()
        self.verify.setChecked(True)
        self.key.setPlaceholderText("Optional; kept in the system keyring only")
        self.preset.setCurrentIndex(0)
        self._preset_chosen()
        self.form_box.show()
        self.name.setFocus()

    @Slot()
    def start_edit(self) -> None:
        profile = self.selected()
        if profile is None or profile.is_default:
            return
        self.editing = profile
        self.form_box.setTitle(f"Edit {profile.name}")
        self.preset.setCurrentIndex(
            self.preset.findData("ollama" if profile.kind == "ollama" else CUSTOM)
        )
        self.preset.setEnabled(False)
        self.name.setText(profile.name)
        self.name.setReadOnly(True)  # chats remember their engine by name
        self.url.setText(profile.url)
        self.key.clear()
        self.key.setPlaceholderText(KEY_KEPT if profile.has_key else "Optional")
        self.headers.setPlainText(
            "\n".join(f"{h}: (kept in the keyring)" for h in profile.secret_headers)
        )
        self.api_version.setText(profile.api_version or "")
        self.verify.setChecked(profile.verify_tls)
        self._preset_chosen()
        self.form_box.show()
        self.url.setFocus()

    @Slot()
    def cancel_form(self) -> None:
        self.editing = None
        self.form_box.hide()
        self.say("")

    @Slot()
    def _preset_chosen(self, _index: int = 0) -> None:
        choice = self.preset.currentData()
        preset = self.presets.get(choice) if isinstance(choice, str) else None
        azure = choice == "azure" or bool(self.api_version.text())
        self.api_version.setVisible(azure)
        self.api_version_label.setVisible(azure)
        self.headers.setEnabled(choice != "ollama")
        if self.editing is not None:
            return
        if preset is not None:
            self.url.setText(preset.url)
            if not self.name.text():
                self.name.setText(preset.id)
        elif choice == "ollama":
            self.url.setText("http://HOST:11434")
        if preset is not None and preset.needs_key:
            self.key.setPlaceholderText("Required by this service; kept in the keyring only")

    def read_form(self) -> EngineForm:
        choice = self.preset.currentData()
        preset = self.presets.get(choice) if isinstance(choice, str) else None
        url = self.url.text().strip()
        if "HOST" in url or "RESOURCE" in url:
            raise UsageError("replace HOST or RESOURCE in the URL with the server's address")
        headers_text = self.headers.toPlainText()
        if self.editing is not None and "(kept in the keyring)" in headers_text:
            headers_text = ""  # unchanged: the stored values are reused
        editing = self.editing
        return EngineForm(
            name=self.name.text().strip(),
            url=url,
            kind="ollama"
            if choice == "ollama" or (editing and editing.kind == "ollama")
            else "openai",
            api_key=self.key.text().strip(),
            headers=parse_headers(headers_text),
            key_header=editing.key_header
            if editing
            else (preset.key_header if preset else "Authorization"),
            api_version=self.api_version.text().strip() or None,
            verify_tls=self.verify.isChecked(),
            models_url=editing.models_url if editing else (preset.models_url if preset else None),
        )

    @Slot()
    def save(self) -> None:
        try:
            form = self.read_form()
        except PhiDeskError as exc:
            self.say(str(exc), "error")
            return
        self.tasks.start(self._save(form, confirm_insecure=False), name="save engine")

    async def _save(self, form: EngineForm, *, confirm_insecure: bool) -> None:
        self.form_buttons.setEnabled(False)
        try:
            if self.editing is not None:
                await self._replace(self.editing, form, confirm_insecure)
            else:
                self._add(form, confirm_insecure)
        except InsecureTokenRefused as exc:
            self._pending = form
            self._ask_consent(str(exc))
            return
        except PhiDeskError as exc:
            self.say(str(exc), "error")
            return
        finally:
            self.form_buttons.setEnabled(True)
        verb = "Changed" if self.editing is not None else "Added"
        self.editing = None
        self.form_box.hide()
        self.fill(select=form.name)
        self.enginesChanged.emit()
        self.say(f"{verb} {form.name}; testing it…")
        await self._test(form.name)

    def _add(
        self,
        form: EngineForm,
        confirm_insecure: bool,
        *,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> EngineProfile:
        return self.workspace.add_engine(
            form.name,
            form.url,
            kind="ollama" if form.kind == "ollama" else "openai",
            api_key=api_key if api_key is not None else (form.api_key or None),
            headers=headers if headers is not None else (form.headers or None),
            key_header=form.key_header,
            api_version=form.api_version,
            verify_tls=form.verify_tls,
            models_url=form.models_url,
            confirm_insecure=confirm_insecure,
        )

    async def _replace(self, old: EngineProfile, form: EngineForm, confirm: bool) -> None:
        """Edit = the profile saved again under its name; secrets left empty are kept. The
        registry has no update, so the old profile comes back if the new one is refused."""
        key: str | None = form.api_key or None
        headers = dict(form.headers)
        old_key: str | None = None
        old_headers: dict[str, str] = {}
        if old.kind == "openai":
            config = self.workspace.engine_registry.config(old)
            old_key, old_headers = config.api_key, dict(config.headers)
        key, headers = key or old_key, headers or old_headers
        old_form = EngineForm(
            old.name,
            old.url,
            old.kind,
            old_key or "",
            old_headers,
            old.key_header,
            old.api_version,
            old.verify_tls,
            old.models_url,
        )
        await self.workspace.remove_engine(old.name)
        try:
            self._add(form, confirm, api_key=key, headers=headers or None)
        except PhiDeskError:
            self._add(old_form, True)
            raise

    def _ask_consent(self, reason: str) -> None:
        box = QMessageBox(self)
        box.setObjectName("InsecureKeyQuestion")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Send the key unencrypted?")
        box.setText(sentence(reason))
        box.setInformativeText("Anyone on the network between here and the server could read it.")
        send = box.addButton("Send it over http", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.question = box

        def answered() -> None:
            form, self._pending = self._pending, None
            self.question = None
            if box.clickedButton() is send and form is not None:
                self.tasks.start(self._save(form, confirm_insecure=True), name="save engine")
            else:
                self.say("Not saved: the key would have travelled unencrypted.", "warning")

        box.finished.connect(answered)
        box.open()

    # --- test and remove ----------------------------------------------------------------

    @Slot()
    def test_selected(self) -> None:
        name = self.selected_name()
        if name:
            self.say(f"Testing {name}…")
            self.tasks.start(self._test(name), name="test engine")

    async def _test(self, name: str) -> None:
        self.test_button.setEnabled(False)
        try:
            check = await self.workspace.test_engine(name)
        except PhiDeskError as exc:
            self.say(f"Engine {name}: {exc}", "error")
            return
        except Exception:
            log.exception("testing engine %s failed", name)
            self.say(
                f"Testing engine {name} failed unexpectedly (the log has the details).", "error"
            )
            return
        finally:
            self.test_button.setEnabled(self.selected() is not None)
        self.say(f"Engine {name}: {check.sentence}", "success")

    @Slot()
    def ask_remove(self) -> None:
        profile = self.selected()
        if profile is None or profile.is_default:
            return
        box = QMessageBox(self)
        box.setObjectName("RemoveEngineQuestion")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Remove engine")
        box.setText(f"Remove the engine {profile.name}?")
        box.setInformativeText(
            "Its key leaves the keyring. Its chats stay, read-only until you choose another "
            "engine for them."
        )
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.question = box

        def answered() -> None:
            self.question = None
            if box.clickedButton() is remove:
                self.tasks.start(self._remove(profile.name), name="remove engine")

        box.finished.connect(answered)
        box.open()

    async def _remove(self, name: str) -> None:
        try:
            await self.workspace.remove_engine(name)
        except PhiDeskError as exc:
            self.say(str(exc), "error")
            return
        self.fill()
        self.enginesChanged.emit()
        self.say(f"Removed {name}.")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.tasks.cancel_all()
        super().closeEvent(event)
