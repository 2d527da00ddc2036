"""The model manager's "Loaded" tab: what `/api/ps` reports (measured CPU/GPU split, effective
context, expiry) next to PhiDesk's estimate, with Unload. It asks the server again every few
seconds while it is on screen."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.backend.memory import measured_split
from app.gui.model_manager_state import ManagerState
from app.gui.model_manager_text import expires_text, memory_size
from app.gui.model_manager_widgets import muted, read_only_item

LOADED_REFRESH_MS = 5000
LOADED_COLUMNS = (
    "Model",
    "In memory",
    "On GPU (measured)",
    "CPU/GPU",
    "Context",
    "Expires",
    "Estimate",
    "",
)


class LoadedTab(QWidget):
    """The models in memory on the current server."""

    def __init__(self, state: ManagerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._loading = False
        self.table = QTableWidget(0, len(LOADED_COLUMNS))
        self.table.setObjectName("LoadedTable")
        self.table.setAccessibleName("Models loaded in memory")
        self.table.setHorizontalHeaderLabels(LOADED_COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.empty = QLabel("No model is loaded right now.")
        self.empty.setObjectName("LoadedEmpty")
        hint = muted(
            QLabel(
                "The measured split comes from Ollama after the model loaded; the estimate is "
                "what PhiDesk predicted for the same context on the GPUs it found."
            )
        )
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(hint)
        self._timer = QTimer(self)
        self._timer.setInterval(LOADED_REFRESH_MS)
        self._timer.timeout.connect(self.poll)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.poll()
        self._timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def stop(self) -> None:
        self._timer.stop()

    # --- asking the server --------------------------------------------------------------

    def poll(self) -> None:
        """Ask again unless an answer is still on its way."""
        if not self._loading:
            self.reload()

    def reload(self) -> None:
        self.state.run("listing the loaded models", self._load())

    async def _load(self) -> None:
        self._loading = True
        try:
            async with self.state.workspace.connection.lease() as client:
                loaded = await client.loaded()
        finally:
            self._loading = False
        if self.state.is_current(client):
            self.state.loaded = loaded
            self.fill()

    def _unload_clicked(self) -> None:
        button = self.sender()
        name = str(button.property("model")) if button is not None else ""
        if name:
            if isinstance(button, QPushButton):
                button.setEnabled(False)
                button.setText("Unloading…")
            self.state.run(f"unloading {name}", self._unload(name))

    async def _unload(self, name: str) -> None:
        async with self.state.workspace.connection.lease() as client:
            await client.unload(name)
        await self._load()

    # --- showing ------------------------------------------------------------------------

    def fill(self) -> None:
        state = self.state
        table = self.table
        table.setRowCount(len(state.loaded))
        for row, model in enumerate(state.loaded):
            split = measured_split(model.size, model.size_vram)
            context = f"{model.context_length:,}" if model.context_length else "unknown"
            guess = state.estimate_for(model.name, model.context_length or state.num_ctx)
            if guess is None:
                guess_text = "no estimate"
            elif not state.gpus:
                guess_text = "estimated: CPU only (no GPU found here)"
            else:
                guess_text = f"estimated: {guess.verdict}, ≈ {memory_size(guess.total_bytes)}"
            table.setItem(row, 0, read_only_item(model.name))
            table.setItem(row, 1, read_only_item(memory_size(model.size)))
            on_gpu = f"{split.gpu_percent}% ({memory_size(model.size_vram)})"
            table.setItem(row, 2, read_only_item(on_gpu))
            table.setItem(row, 3, read_only_item(split.text))
            table.setItem(row, 4, read_only_item(context))
            table.setItem(
                row, 5, read_only_item(expires_text(model.expires_at, model.kept_forever()))
            )
            table.setItem(row, 6, read_only_item(guess_text))
            button = QPushButton("Unload")
            button.setObjectName(f"Unload:{model.name}")
            button.setProperty("model", model.name)
            button.clicked.connect(self._unload_clicked)
            table.setCellWidget(row, 7, button)
        self.empty.setVisible(not state.loaded)


__all__ = ["LOADED_COLUMNS", "LoadedTab"]
