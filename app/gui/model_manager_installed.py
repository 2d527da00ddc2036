"""The model manager's "Installed" tab: what the current server has (size on disk,
quantization, digest, the default mark), Set as default, Delete after a confirmation, and the
selected model's GPU offload."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.backend.catalog import normalize_model_name
from app.gui.model_manager_offload import OffloadGroup
from app.gui.model_manager_state import ManagerState
from app.gui.model_manager_text import download_size
from app.gui.model_manager_widgets import read_only_item

INSTALLED_COLUMNS = ("Model", "Family", "Quantization", "Size on disk", "Digest", "Default")


class InstalledTab(QWidget):
    """The installed models of the current server."""

    deleted = Signal(str)
    defaultChosen = Signal(str)
    useRequested = Signal(str)
    """Start a new chat with the selected model."""

    def __init__(self, state: ManagerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._confirm: QMessageBox | None = None
        self.table = QTableWidget(0, len(INSTALLED_COLUMNS))
        self.table.setObjectName("InstalledTable")
        self.table.setAccessibleName("Installed models")
        self.table.setHorizontalHeaderLabels(INSTALLED_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.empty = QLabel("No models are installed on this server yet.")
        self.empty.setObjectName("InstalledEmpty")
        self.empty.hide()

        self.use_button = QPushButton("Use in new chat")
        self.use_button.setObjectName("UseInstalled")
        self.use_button.clicked.connect(self._use)
        self.default_button = QPushButton("Set as default")
        self.default_button.setObjectName("SetDefault")
        self.default_button.clicked.connect(self._set_default)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("DeleteModel")
        self.delete_button.clicked.connect(self._confirm_delete)
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.default_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)

        self.offload = OffloadGroup(state)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        layout.addWidget(self.offload)
        self._selection_changed()

    # --- the table ----------------------------------------------------------------------

    def fill(self) -> None:
        """Show `state.installed` again, keeping the selection."""
        state = self.state
        selected = self.selected_model()
        default = normalize_model_name(state.default_model or "-")
        table = self.table
        table.setRowCount(len(state.installed))
        for row, model in enumerate(state.installed):
            match = state.match(model.name)
            family = match.entry.display_name if match else "not in the Phi-4 catalog"
            is_default = normalize_model_name(model.name) == default
            modified = model.modified_at.strftime("%Y-%m-%d %H:%M") if model.modified_at else ""
            table.setItem(row, 0, read_only_item(model.name, f"Modified {modified}"))
            table.setItem(row, 1, read_only_item(family))
            table.setItem(row, 2, read_only_item(model.quantization or "unknown"))
            table.setItem(row, 3, read_only_item(download_size(model.size)))
            table.setItem(row, 4, read_only_item(model.digest[:12], model.digest))
            table.setItem(row, 5, read_only_item("★ default" if is_default else ""))
        self.empty.setVisible(not state.installed)
        names = [m.name for m in state.installed]
        if selected in names:
            table.selectRow(names.index(selected))
        self._selection_changed()

    def selected_model(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.text() if item is not None else None

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.text() == name:
                self.table.selectRow(row)
                return

    def _selection_changed(self) -> None:
        name = self.selected_model()
        self.use_button.setEnabled(name is not None)
        self.default_button.setEnabled(name is not None)
        self.delete_button.setEnabled(name is not None)
        self.offload.show_model(name)

    def _use(self) -> None:
        name = self.selected_model()
        if name is not None:
            self.useRequested.emit(name)

    # --- default ------------------------------------------------------------------------

    def _set_default(self) -> None:
        name = self.selected_model()
        if name is None:
            return
        try:
            self.state.workspace.set_default_model(name)
        except OSError as exc:
            self.state.error(f"the default model could not be saved ({exc.strerror})")
            return
        self.fill()
        self.defaultChosen.emit(name)

    # --- delete -------------------------------------------------------------------------

    def _confirm_delete(self) -> None:
        name = self.selected_model()
        if name is None:
            return
        model = self.state.installed_by_key.get(normalize_model_name(name))
        size = download_size(model.size) if model else "its"
        host = self.state.client.host
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete model",
            f"Delete {name} from the Ollama server at {host}?\n\n"
            f"This frees {size} of disk space. Chats that used it keep their text; to use the "
            "model again you have to pull it again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("ConfirmDelete")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setProperty("model", name)
        box.setProperty("host", host)
        box.finished.connect(self._delete_answered)
        self._confirm = box
        box.open()

    def _delete_answered(self) -> None:
        box, self._confirm = self._confirm, None
        if box is None:
            return
        name = str(box.property("model"))
        host = str(box.property("host"))
        confirmed = box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
        box.deleteLater()
        if not confirmed:
            return
        if host != self.state.client.host:
            self.state.error(f"the Ollama host changed before the answer; {name} was not deleted")
            return
        self.state.run(f"deleting {name}", self._delete(name))

    async def _delete(self, name: str) -> None:
        async with self.state.workspace.connection.lease() as client:
            await client.delete(name)
        self.state.architectures.pop(normalize_model_name(name), None)
        self.deleted.emit(name)


__all__ = ["INSTALLED_COLUMNS", "InstalledTab"]
