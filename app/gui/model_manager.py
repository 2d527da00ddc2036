"""The model manager window: get Phi-4 models, see what is installed and loaded, place layers.

Tabs:
- Get models: one card per family member (quantization chooser with size, the memory estimate at
  the chosen context, a fit badge for this machine's GPUs, the tokens/s measured here in past
  answers), Pull with progress and Cancel (pull again to resume), and a field for any other name.
- Installed: size on disk, quantization, digest; delete (after confirmation), set as default, and
  the model's GPU offload choice (`num_gpu`, main GPU) saved in `offload.json`.
- Loaded: what `/api/ps` reports (measured CPU/GPU split, effective context, expiry) next to the
  estimate, with Unload.
- Server: flash attention, KV-cache type (with the memory it saves), keep-alive and the number of
  loaded models for an `ollama serve` PhiDesk starts itself.

All Ollama calls run as tasks on the qasync loop; GPU detection runs in a worker thread.
Closing the window hides it and lets downloads finish; `await aclose()` cancels everything (call
it when the app quits).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.backend.catalog import Catalog, CatalogMatch, default_catalog, normalize_model_name
from app.backend.client import OllamaClient
from app.backend.fit import architecture_of
from app.backend.hardware import Gpu, probe_gpus
from app.backend.memory import (
    KV_CACHE_TYPES,
    Estimate,
    KvCacheType,
    ModelArchitecture,
    estimate,
    kv_cache_bytes,
    measured_split,
)
from app.backend.models import InstalledModel, LoadedModel
from app.backend.offload import (
    FlashAttention,
    GpuLayers,
    ModelOffload,
    OffloadPreferences,
    kv_cache_saving,
)
from app.config import Paths, Settings
from app.errors import PhiDeskError
from app.gui.model_manager_cards import CatalogCard, PullPanel, SpeedLookup, style_badge
from app.gui.model_manager_text import (
    context_text,
    download_size,
    expires_text,
    gpu_summary,
    memory_size,
    sentence,
)
from app.gui.tasks import Tasks

log = logging.getLogger(__name__)

CONTEXT_CHOICES = (2048, 4096, 8192, 16384, 32768, 65536, 131072)
DEFAULT_CONTEXT = 4096
LOADED_REFRESH_MS = 5000
GPU_LAYER_MODES = (
    (GpuLayers.AUTO, "Auto (Ollama decides)"),
    (GpuLayers.ALL, "All layers on the GPU"),
    (GpuLayers.CPU, "CPU only"),
    (GpuLayers.SOME, "Some layers on the GPU"),
)
KV_DESCRIPTIONS: dict[str, str] = {
    "f16": "f16 (full precision, Ollama's default)",
    "q8_0": "q8_0 (about half the memory, tiny quality loss)",
    "q4_0": "q4_0 (about a quarter, some quality loss)",
}
INSTALLED_COLUMNS = ("Model", "Family", "Quantization", "Size on disk", "Digest", "Default")
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


def _item(text: str, tooltip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if tooltip:
        item.setToolTip(tooltip)
    return item


class ModelManagerWindow(QWidget):
    """Pull, inspect, delete and place the models of one Ollama server."""

    defaultModelChosen = Signal(str)
    modelsChanged = Signal()

    def __init__(
        self,
        client: OllamaClient,
        paths: Paths,
        parent: QWidget | None = None,
        *,
        gpus: Sequence[Gpu] | None = None,
        measured_speed: SpeedLookup | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("ModelManager")
        self.setWindowTitle("Models — PhiDesk")
        self.resize(1180, 820)
        self.client = client
        self.paths = paths
        self.catalog = catalog or default_catalog()
        self.prefs = OffloadPreferences.load(paths)
        self.tasks = Tasks()
        self._measured_speed = measured_speed
        self._gpu_override = list(gpus) if gpus is not None else None
        self.gpus: list[Gpu] | None = self._gpu_override
        self.installed: list[InstalledModel] = []
        self._installed_by_key: dict[str, InstalledModel] = {}
        self._architectures: dict[str, ModelArchitecture] = {}
        self.loaded: list[LoadedModel] = []
        self.default_model = Settings.load(paths.settings_file).default_model
        self._loading_loaded = False
        self._confirm: QMessageBox | None = None
        self._filling_offload = False

        self.gpu_label = QLabel(gpu_summary(self.gpus))
        self.gpu_label.setObjectName("GpuSummary")
        self.gpu_label.setWordWrap(True)
        self.context_chooser = QComboBox()
        self.context_chooser.setObjectName("ContextChooser")
        self.context_chooser.setAccessibleName("Context length for the estimates")
        for tokens in CONTEXT_CHOICES:
            self.context_chooser.addItem(f"{context_text(tokens)} tokens", tokens)
        self.context_chooser.setCurrentIndex(CONTEXT_CHOICES.index(DEFAULT_CONTEXT))
        self.context_chooser.currentIndexChanged.connect(self._update_estimates)
        refresh = QPushButton("Refresh")
        refresh.setObjectName("RefreshModels")
        refresh.clicked.connect(self.refresh)
        header = QHBoxLayout()
        header.addWidget(self.gpu_label, 1)
        header.addWidget(QLabel("Estimate at"))
        header.addWidget(self.context_chooser)
        header.addWidget(refresh)

        self.error = QLabel()
        self.error.setObjectName("ManagerError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("ManagerTabs")
        self.tabs.addTab(self._build_catalog_tab(), "Get models")
        self.tabs.addTab(self._build_installed_tab(), "Installed")
        self.tabs.addTab(self._build_loaded_tab(), "Loaded")
        self.tabs.addTab(self._build_server_tab(), "Server")
        self.tabs.currentChanged.connect(self._tab_changed)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.error)
        layout.addWidget(self.tabs, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(LOADED_REFRESH_MS)
        self._timer.timeout.connect(self._poll_loaded)

        self._update_estimates()
        self.refresh()

    # --- building ---------------------------------------------------------------------------

    def _build_catalog_tab(self) -> QWidget:
        self.cards: dict[str, CatalogCard] = {}
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setSpacing(10)
        for position, entry in enumerate(self.catalog.entries):
            card = CatalogCard(entry, self.client, self.tasks)
            card.pulled.connect(self._pulled)
            card.variantChanged.connect(self._update_estimates)
            self.cards[entry.name] = card
            grid.addWidget(card, position // 2, position % 2)
        grid.setRowStretch(grid.rowCount(), 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(grid_host)

        self.other_name = QLineEdit()
        self.other_name.setObjectName("OtherModelName")
        self.other_name.setAccessibleName("Any other model name")
        self.other_name.setPlaceholderText(
            "Any other model, e.g. hf.co/unsloth/phi-4-GGUF:Q5_K_M or llama3.2:3b"
        )
        self.other_pull = QPushButton("Pull")
        self.other_pull.setObjectName("PullOther")
        self.other_panel = PullPanel(self.client, self.tasks)
        self.other_panel.setObjectName("OtherPull")
        self.other_panel.pulled.connect(self._pulled)
        self.other_panel.runningChanged.connect(self._other_running)
        self.other_pull.clicked.connect(self._pull_other)
        self.other_name.returnPressed.connect(self._pull_other)
        other = QGroupBox("Another model")
        other_layout = QVBoxLayout(other)
        row = QHBoxLayout()
        row.addWidget(self.other_name, 1)
        row.addWidget(self.other_pull)
        other_layout.addLayout(row)
        other_layout.addWidget(self.other_panel)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(scroll, 1)
        layout.addWidget(other)
        return page

    def _build_installed_tab(self) -> QWidget:
        self.installed_table = QTableWidget(0, len(INSTALLED_COLUMNS))
        self.installed_table.setObjectName("InstalledTable")
        self.installed_table.setHorizontalHeaderLabels(INSTALLED_COLUMNS)
        self.installed_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.installed_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.installed_table.verticalHeader().hide()
        installed_header = self.installed_table.horizontalHeader()
        installed_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        installed_header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.installed_table.itemSelectionChanged.connect(self._selection_changed)
        self.installed_empty = QLabel("No models are installed on this server yet.")
        self.installed_empty.setObjectName("InstalledEmpty")
        self.installed_empty.hide()

        self.default_button = QPushButton("Set as default")
        self.default_button.setObjectName("SetDefault")
        self.default_button.clicked.connect(self._set_default)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("DeleteModel")
        self.delete_button.clicked.connect(self._confirm_delete)
        buttons = QHBoxLayout()
        buttons.addWidget(self.default_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)

        self.offload_group = QGroupBox("GPU offload")
        self.offload_group.setObjectName("OffloadGroup")
        self.layers_mode = QComboBox()
        self.layers_mode.setObjectName("GpuLayersMode")
        for mode, text in GPU_LAYER_MODES:
            self.layers_mode.addItem(text, str(mode))
        self.layer_count = QSpinBox()
        self.layer_count.setObjectName("GpuLayerCount")
        self.layer_count.setRange(1, 999)
        self.layer_count_label = QLabel()
        self.layer_count_label.setObjectName("LayerCountLabel")
        self.main_gpu = QComboBox()
        self.main_gpu.setObjectName("MainGpu")
        self.main_gpu.setMinimumContentsLength(28)
        self.main_gpu.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.offload_estimate = QLabel()
        self.offload_estimate.setObjectName("OffloadEstimate")
        self.offload_estimate.setWordWrap(True)
        self.offload_note = QLabel()
        self.offload_note.setObjectName("OffloadNote")
        self.offload_note.setWordWrap(True)
        self.offload_note.setStyleSheet("color: #7a4f00;")
        layers_row = QHBoxLayout()
        layers_row.addWidget(self.layers_mode)
        layers_row.addWidget(self.layer_count)
        layers_row.addWidget(self.layer_count_label)
        layers_row.addStretch(1)
        form = QFormLayout(self.offload_group)
        form.addRow("GPU layers (num_gpu):", layers_row)
        gpu_row = QHBoxLayout()
        gpu_row.addWidget(self.main_gpu)
        gpu_row.addStretch(1)
        form.addRow("Main GPU:", gpu_row)
        form.addRow(self.offload_estimate)
        form.addRow(self.offload_note)
        self.layers_mode.currentIndexChanged.connect(self._offload_changed)
        self.layer_count.valueChanged.connect(self._offload_changed)
        self.main_gpu.currentIndexChanged.connect(self._offload_changed)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.installed_table, 1)
        layout.addWidget(self.installed_empty)
        layout.addLayout(buttons)
        layout.addWidget(self.offload_group)
        self._selection_changed()
        return page

    def _build_loaded_tab(self) -> QWidget:
        self.loaded_table = QTableWidget(0, len(LOADED_COLUMNS))
        self.loaded_table.setObjectName("LoadedTable")
        self.loaded_table.setHorizontalHeaderLabels(LOADED_COLUMNS)
        self.loaded_table.verticalHeader().hide()
        self.loaded_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.loaded_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.loaded_empty = QLabel("No model is loaded right now.")
        self.loaded_empty.setObjectName("LoadedEmpty")
        hint = QLabel(
            "The measured split comes from Ollama after the model loaded; the estimate is what "
            "PhiDesk predicted for the same context on the GPUs it found."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555;")
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.loaded_table, 1)
        layout.addWidget(self.loaded_empty)
        layout.addWidget(hint)
        return page

    def _build_server_tab(self) -> QWidget:
        prefs = self.prefs.server
        self.flash_attention = QComboBox()
        self.flash_attention.setObjectName("FlashAttention")
        for value, text in (
            (FlashAttention.AUTO, "Auto (Ollama decides)"),
            (FlashAttention.ON, "On"),
            (FlashAttention.OFF, "Off"),
        ):
            self.flash_attention.addItem(text, str(value))
        self.flash_attention.setCurrentIndex(
            self.flash_attention.findData(str(prefs.flash_attention))
        )
        self.kv_type = QComboBox()
        self.kv_type.setObjectName("KvCacheType")
        for kind in KV_CACHE_TYPES:
            self.kv_type.addItem(KV_DESCRIPTIONS[kind], kind)
        self.kv_type.setCurrentIndex(self.kv_type.findData(prefs.kv_cache_type))
        self.kv_saving = QLabel()
        self.kv_saving.setObjectName("KvSaving")
        self.kv_saving.setWordWrap(True)
        self.keep_alive = QLineEdit(prefs.keep_alive or "")
        self.keep_alive.setObjectName("KeepAlive")
        self.keep_alive.setPlaceholderText("5m (Ollama's default); -1 keeps models loaded")
        self.max_loaded = QSpinBox()
        self.max_loaded.setObjectName("MaxLoadedModels")
        self.max_loaded.setRange(0, 16)
        self.max_loaded.setSpecialValueText("Auto (3 per GPU)")
        self.max_loaded.setValue(prefs.max_loaded_models or 0)
        self.server_note = QLabel()
        self.server_note.setObjectName("ServerNote")
        self.server_note.setWordWrap(True)
        self.server_note.setStyleSheet("color: #7a4f00;")
        self.server_error = QLabel()
        self.server_error.setObjectName("ServerError")
        self.server_error.setWordWrap(True)
        self.server_error.setStyleSheet("color: #b00020;")
        self.server_error.hide()

        group = QGroupBox("When PhiDesk starts Ollama itself")
        group.setMaximumWidth(760)
        form = QFormLayout(group)
        form.addRow("Flash attention:", self.flash_attention)
        form.addRow("KV cache type:", self.kv_type)
        form.addRow("", self.kv_saving)
        form.addRow("Keep models loaded for:", self.keep_alive)
        form.addRow("Models loaded at once:", self.max_loaded)
        about = QLabel(
            "PhiDesk passes these to an ollama serve it starts (OLLAMA_FLASH_ATTENTION, "
            "OLLAMA_KV_CACHE_TYPE, OLLAMA_KEEP_ALIVE, OLLAMA_MAX_LOADED_MODELS). A server you "
            "started yourself keeps its own settings."
        )
        about.setWordWrap(True)
        for label in (about, self.server_note, self.server_error):
            label.setMaximumWidth(760)
        about.setStyleSheet("color: #555;")
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(group)
        layout.addWidget(self.server_error)
        layout.addWidget(self.server_note)
        layout.addWidget(about)
        layout.addStretch(1)
        self.flash_attention.currentIndexChanged.connect(self._server_changed)
        self.kv_type.currentIndexChanged.connect(self._server_changed)
        self.keep_alive.editingFinished.connect(self._server_changed)
        self.max_loaded.valueChanged.connect(self._server_changed)
        return page

    # --- tasks --------------------------------------------------------------------------------

    def _start(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.start(coro, name=name)

    async def aclose(self) -> None:
        """Cancel everything in flight (pulls close their connections) and wait for it."""
        self._timer.stop()
        self.tasks.cancel_all()
        for _ in range(200):
            if not self.tasks.running:
                return
            await asyncio.sleep(0.01)

    def closeEvent(self, event: QCloseEvent) -> None:
        # Closing only hides the window: downloads keep going and show up when it is opened
        # again. `aclose()` (at quit) cancels them.
        self._timer.stop()
        super().closeEvent(event)

    @property
    def pulls_running(self) -> int:
        panels = [card.panel for card in self.cards.values()] + [self.other_panel]
        return sum(1 for panel in panels if panel.running)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        """Read GPUs (unless given), installed and loaded models again."""
        if self._gpu_override is None:
            self._start(self._detect_gpus(), "detect GPUs")
        self._start(self._load_installed(), "list installed models")
        self._start(self._load_loaded(), "list loaded models")

    def _show_error(self, message: str | None) -> None:
        self.error.setVisible(bool(message))
        self.error.setText(sentence(message) if message else "")

    async def _guarded(self, what: str, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except PhiDeskError as exc:
            self._show_error(str(exc))
        except Exception:
            log.exception("model manager: %s failed", what)
            self._show_error(f"{what} failed unexpectedly; see the log file for details")

    async def _detect_gpus(self) -> None:
        probe = await asyncio.to_thread(probe_gpus)
        self.gpus = list(probe.gpus)
        self.gpu_label.setText(gpu_summary(self.gpus))
        self.gpu_label.setToolTip("\n".join(probe.problems))
        self._fill_main_gpus()
        self._update_estimates()

    async def _load_installed(self) -> None:
        async def work() -> None:
            models = await self.client.list_models()
            for model in models:
                key = normalize_model_name(model.name)
                if key in self._architectures:
                    continue
                try:
                    arch = architecture_of(await self.client.show(model.name))
                except PhiDeskError as exc:
                    log.info("no details for %s: %s", model.name, exc)
                    continue
                if arch is not None:
                    self._architectures[key] = arch
            self.installed = models
            self._installed_by_key = {normalize_model_name(m.name): m for m in models}
            self._show_error(None)
            self._fill_installed()
            self._update_estimates()

        await self._guarded("listing the installed models", work())

    async def _load_loaded(self) -> None:
        async def work() -> None:
            self._loading_loaded = True
            try:
                self.loaded = await self.client.loaded()
            finally:
                self._loading_loaded = False
            self._fill_loaded()

        await self._guarded("listing the loaded models", work())

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.loaded_table.parentWidget():
            self._poll_loaded()

    def _poll_loaded(self) -> None:
        if not self._loading_loaded:
            self._start(self._load_loaded(), "list loaded models")

    # --- estimates ----------------------------------------------------------------------------

    @property
    def num_ctx(self) -> int:
        value = self.context_chooser.currentData()
        return int(value) if value else DEFAULT_CONTEXT

    @property
    def kv_cache_type(self) -> KvCacheType:
        return self.prefs.server.kv_cache_type

    def _update_estimates(self) -> None:
        for card in self.cards.values():
            card.show_estimate(
                installed=self._installed_by_key,
                architectures=self._architectures,
                gpus=self.gpus,
                num_ctx=self.num_ctx,
                kv_cache_type=self.kv_cache_type,
                measured_speed=self._measured_speed,
            )
        self._show_offload_estimate()
        self._show_kv_saving()
        self._fill_loaded()

    def _match(self, name: str) -> CatalogMatch | None:
        return self.catalog.lookup(name)

    def _architecture(self, name: str) -> ModelArchitecture | None:
        arch = self._architectures.get(normalize_model_name(name))
        if arch is not None:
            return arch
        match = self._match(name)
        return match.entry.architecture if match is not None else None

    def estimate_for(self, name: str, num_ctx: int) -> Estimate | None:
        """The estimate for an installed model at `num_ctx` on this machine's GPUs."""
        model = self._installed_by_key.get(normalize_model_name(name))
        arch = self._architecture(name)
        if model is None or arch is None or model.size <= 0:
            return None
        return estimate(arch, model.size, num_ctx, self.kv_cache_type, 1, self.gpus or ())

    # --- installed ----------------------------------------------------------------------------

    def _fill_installed(self) -> None:
        selected = self.selected_model()
        table = self.installed_table
        table.setRowCount(len(self.installed))
        for row, model in enumerate(self.installed):
            match = self._match(model.name)
            family = match.entry.display_name if match else "not in the Phi-4 catalog"
            is_default = normalize_model_name(model.name) == normalize_model_name(
                self.default_model or "-"
            )
            modified = model.modified_at.strftime("%Y-%m-%d %H:%M") if model.modified_at else ""
            table.setItem(row, 0, _item(model.name, f"Modified {modified}"))
            table.setItem(row, 1, _item(family))
            table.setItem(row, 2, _item(model.quantization or "unknown"))
            table.setItem(row, 3, _item(download_size(model.size)))
            table.setItem(row, 4, _item(model.digest[:12], model.digest))
            table.setItem(row, 5, _item("★ default" if is_default else ""))
        self.installed_empty.setVisible(not self.installed)
        names = [m.name for m in self.installed]
        if selected in names:
            table.selectRow(names.index(selected))
        self._selection_changed()

    def selected_model(self) -> str | None:
        rows = self.installed_table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.installed_table.item(rows[0].row(), 0)
        return item.text() if item is not None else None

    def select_installed(self, name: str) -> None:
        for row in range(self.installed_table.rowCount()):
            item = self.installed_table.item(row, 0)
            if item is not None and item.text() == name:
                self.installed_table.selectRow(row)
                return

    def _selection_changed(self) -> None:
        name = self.selected_model()
        self.default_button.setEnabled(name is not None)
        self.delete_button.setEnabled(name is not None)
        self.offload_group.setEnabled(name is not None)
        self.offload_group.setTitle(f"GPU offload for {name}" if name else "GPU offload")
        self._fill_offload(name)

    def _set_default(self) -> None:
        name = self.selected_model()
        if name is None:
            return
        try:
            settings = Settings.load(self.paths.settings_file)
            settings.default_model = name
            settings.save(self.paths.settings_file)
        except OSError as exc:
            self._show_error(f"the default model could not be saved ({exc.strerror})")
            return
        self.default_model = name
        self._fill_installed()
        self.defaultModelChosen.emit(name)

    def _confirm_delete(self) -> None:
        name = self.selected_model()
        if name is None:
            return
        model = self._installed_by_key.get(normalize_model_name(name))
        size = download_size(model.size) if model else "its"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete model",
            f"Delete {name} from the Ollama server at {self.client.host}?\n\n"
            f"This frees {size} of disk space. Chats that used it keep their text; to use the "
            "model again you have to pull it again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("ConfirmDelete")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setProperty("model", name)
        box.finished.connect(self._delete_answered)
        self._confirm = box
        box.open()

    def _delete_answered(self) -> None:
        box, self._confirm = self._confirm, None
        if box is None:
            return
        name = str(box.property("model"))
        confirmed = box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
        box.deleteLater()
        if confirmed:
            self._start(self._delete(name), f"delete {name}")

    async def _delete(self, name: str) -> None:
        async def work() -> None:
            await self.client.delete(name)
            self._architectures.pop(normalize_model_name(name), None)
            self.modelsChanged.emit()
            await self._load_installed()
            await self._load_loaded()

        await self._guarded(f"deleting {name}", work())

    def _pulled(self, name: str) -> None:
        self.modelsChanged.emit()
        self._start(self._load_installed(), "list installed models")

    def _other_running(self, running: bool) -> None:
        self.other_pull.setEnabled(not running)

    def _pull_other(self) -> None:
        name = self.other_name.text().strip()
        if not name:
            self.other_name.setFocus()
            return
        self.other_panel.start(name)

    # --- offload ------------------------------------------------------------------------------

    def _fill_main_gpus(self) -> None:
        current = self.main_gpu.currentData()
        self._filling_offload = True
        try:
            self.main_gpu.clear()
            self.main_gpu.addItem("Auto", None)
            for gpu in self.gpus or ():
                self.main_gpu.addItem(f"GPU {gpu.index}: {gpu.name}", gpu.index)
            index = self.main_gpu.findData(current)
            self.main_gpu.setCurrentIndex(max(index, 0))
        finally:
            self._filling_offload = False

    def _fill_offload(self, name: str | None) -> None:
        if self.main_gpu.count() == 0:
            self._fill_main_gpus()
        choice = self.prefs.for_model(name) if name else ModelOffload()
        arch = self._architecture(name) if name else None
        layer_count = arch.layer_count if arch else None
        self._filling_offload = True
        try:
            self.layers_mode.setCurrentIndex(self.layers_mode.findData(str(choice.layers)))
            self.layer_count.setMaximum(layer_count or 999)
            default_some = (layer_count or 2) // 2
            self.layer_count.setValue(choice.count or default_some)
            self.layer_count.setEnabled(choice.layers is GpuLayers.SOME)
            self.layer_count_label.setText(f"of {layer_count} layers" if layer_count else "layers")
            if choice.main_gpu is not None and self.main_gpu.findData(choice.main_gpu) < 0:
                self.main_gpu.addItem(f"GPU {choice.main_gpu} (not found now)", choice.main_gpu)
            self.main_gpu.setCurrentIndex(max(self.main_gpu.findData(choice.main_gpu), 0))
        finally:
            self._filling_offload = False
        self.offload_note.clear()
        self._show_offload_estimate()

    def _offload_choice(self, layer_count: int | None) -> ModelOffload:
        mode = GpuLayers(self.layers_mode.currentData())
        main = self.main_gpu.currentData()
        main_gpu = int(main) if isinstance(main, int) else None
        if mode is GpuLayers.SOME:
            return ModelOffload(mode, self.layer_count.value(), main_gpu)
        if mode is GpuLayers.ALL:
            return ModelOffload(mode, layer_count, main_gpu)
        return ModelOffload(mode, None, main_gpu)

    def _offload_changed(self) -> None:
        if self._filling_offload:
            return
        name = self.selected_model()
        if name is None:
            return
        arch = self._architecture(name)
        choice = self._offload_choice(arch.layer_count if arch else None)
        self.layer_count.setEnabled(choice.layers is GpuLayers.SOME)
        note = self.prefs.set_model(name, choice)
        try:
            self.prefs.save()
        except OSError as exc:
            self._show_error(f"the offload choice could not be saved ({exc.strerror})")
            return
        if note:
            self.offload_note.setText(note)
        self._show_offload_estimate()

    def _show_offload_estimate(self) -> None:
        name = self.selected_model()
        if not name:
            self.offload_estimate.setText("Choose an installed model to set where its layers go.")
            return
        result = self.estimate_for(name, self.num_ctx)
        arch = self._architecture(name)
        choice = self.prefs.for_model(name)
        chosen = choice.describe(arch.layer_count if arch else None)
        if result is None:
            self.offload_estimate.setText(f"Now: {chosen}. PhiDesk cannot estimate this model.")
            return
        where = result.verdict if self.gpus else "no GPU found, so the CPU runs it"
        self.offload_estimate.setText(
            f"Now: {chosen}. Estimate at {result.num_ctx:,} tokens: {where} "
            f"(≈ {memory_size(result.total_bytes)})."
        )

    # --- server -------------------------------------------------------------------------------

    def _server_changed(self) -> None:
        keep_alive = self.keep_alive.text().strip() or None
        try:
            note = self.prefs.set_server(
                flash_attention=FlashAttention(self.flash_attention.currentData()),
                kv_cache_type=self.kv_type.currentData(),
                keep_alive=keep_alive,
                max_loaded_models=self.max_loaded.value() or None,
            )
        except PhiDeskError as exc:
            self.server_error.setText(sentence(str(exc)))
            self.server_error.show()
            return
        self.server_error.hide()
        try:
            self.prefs.save()
        except OSError as exc:
            self._show_error(f"the server settings could not be saved ({exc.strerror})")
            return
        if note:
            warning = ""
            if self.prefs.server.quantized_cache_without_flash_attention:
                warning = (
                    " A quantized KV cache needs flash attention; with it off, older Ollama "
                    "versions keep an f16 cache."
                )
            self.server_note.setText(note + warning)
        self._update_estimates()

    def _show_kv_saving(self) -> None:
        kind = self.prefs.server.kv_cache_type
        name = self.default_model or (self.installed[0].name if self.installed else "phi4")
        arch = self._architecture(name)
        if arch is None:
            entry = self.catalog.entries[0] if self.catalog.entries else None
            name = entry.name if entry else name
            arch = entry.architecture if entry else None
        if arch is None:
            self.kv_saving.clear()
            return
        ctx = min(self.num_ctx, arch.context_length or self.num_ctx)
        full = kv_cache_bytes(arch, ctx, "f16")
        if kind == "f16":
            self.kv_saving.setText(
                f"{name} at {ctx:,} tokens: KV cache {memory_size(full)}. q8_0 would save "
                f"{memory_size(kv_cache_saving(arch, ctx, 'q8_0'))}, q4_0 "
                f"{memory_size(kv_cache_saving(arch, ctx, 'q4_0'))}."
            )
            return
        saved = kv_cache_saving(arch, ctx, kind)
        self.kv_saving.setText(
            f"{name} at {ctx:,} tokens: KV cache {memory_size(full - saved)} "
            f"instead of {memory_size(full)} at f16, saving {memory_size(saved)}."
        )

    # --- loaded -------------------------------------------------------------------------------

    def _fill_loaded(self) -> None:
        table = self.loaded_table
        table.setRowCount(len(self.loaded))
        for row, model in enumerate(self.loaded):
            split = measured_split(model.size, model.size_vram)
            context = f"{model.context_length:,}" if model.context_length else "unknown"
            guess = self.estimate_for(model.name, model.context_length or self.num_ctx)
            if guess is None:
                guess_text = "no estimate"
            elif not self.gpus:
                guess_text = "estimated: CPU only (no GPU found here)"
            else:
                guess_text = f"estimated: {guess.verdict}, ≈ {memory_size(guess.total_bytes)}"
            table.setItem(row, 0, _item(model.name))
            table.setItem(row, 1, _item(memory_size(model.size)))
            on_gpu = f"{split.gpu_percent}% ({memory_size(model.size_vram)})"
            table.setItem(row, 2, _item(on_gpu))
            table.setItem(row, 3, _item(split.text))
            table.setItem(row, 4, _item(context))
            table.setItem(row, 5, _item(expires_text(model.expires_at, model.kept_forever())))
            table.setItem(row, 6, _item(guess_text))
            button = QPushButton("Unload")
            button.setObjectName(f"Unload:{model.name}")
            button.setProperty("model", model.name)
            button.clicked.connect(self._unload_clicked)
            table.setCellWidget(row, 7, button)
        self.loaded_empty.setVisible(not self.loaded)

    def _unload_clicked(self) -> None:
        button = self.sender()
        name = str(button.property("model")) if button is not None else ""
        if name:
            if isinstance(button, QPushButton):
                button.setEnabled(False)
                button.setText("Unloading…")
            self._start(self._unload(name), f"unload {name}")

    async def _unload(self, name: str) -> None:
        async def work() -> None:
            await self.client.unload(name)
            await self._load_loaded()

        await self._guarded(f"unloading {name}", work())

    # --- for tests and screenshots ----------------------------------------------------------

    def badge_for(self, entry_name: str) -> QLabel:
        return self.cards[entry_name].badge

    def fit_of(self, entry_name: str) -> str:
        return str(self.cards[entry_name].badge.property("fit"))


__all__ = ["ModelManagerWindow", "style_badge"]
