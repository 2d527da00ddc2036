"""The model manager's GPU offload box (on the Installed tab): how many layers of the selected
model go on the GPU (`num_gpu`) and which GPU leads (`main_gpu`), saved at once in the
workspace's one `OffloadPreferences`, with the estimate for that choice."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from app.backend.offload import GpuLayers, ModelOffload
from app.gui.model_manager_state import ManagerState
from app.gui.model_manager_text import memory_size
from app.gui.model_manager_widgets import InlineNote
from app.workspace import Level

GPU_LAYER_MODES = (
    (GpuLayers.AUTO, "Auto (Ollama decides)"),
    (GpuLayers.ALL, "All layers on the GPU"),
    (GpuLayers.CPU, "CPU only"),
    (GpuLayers.SOME, "Some layers on the GPU"),
)


class OffloadGroup(QGroupBox):
    """Where the layers of one installed model go."""

    def __init__(self, state: ManagerState, parent: QWidget | None = None) -> None:
        super().__init__("GPU offload", parent)
        self.setObjectName("OffloadGroup")
        self.state = state
        self.model: str | None = None
        self._filling = False
        self.layers_mode = QComboBox()
        self.layers_mode.setObjectName("GpuLayersMode")
        self.layers_mode.setAccessibleName("GPU layers")
        for mode, text in GPU_LAYER_MODES:
            self.layers_mode.addItem(text, str(mode))
        self.layer_count = QSpinBox()
        self.layer_count.setObjectName("GpuLayerCount")
        self.layer_count.setRange(1, 999)
        self.layer_count_label = QLabel()
        self.layer_count_label.setObjectName("LayerCountLabel")
        self.main_gpu = QComboBox()
        self.main_gpu.setObjectName("MainGpu")
        self.main_gpu.setAccessibleName("Main GPU")
        self.main_gpu.setMinimumContentsLength(28)
        self.main_gpu.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.estimate = QLabel()
        self.estimate.setObjectName("OffloadEstimate")
        self.estimate.setWordWrap(True)
        self.note = InlineNote(Level.INFO)
        self.note.setObjectName("OffloadNote")

        layers_row = QHBoxLayout()
        layers_row.addWidget(self.layers_mode)
        layers_row.addWidget(self.layer_count)
        layers_row.addWidget(self.layer_count_label)
        layers_row.addStretch(1)
        form = QFormLayout(self)
        form.addRow("GPU layers (num_gpu):", layers_row)
        gpu_row = QHBoxLayout()
        gpu_row.addWidget(self.main_gpu)
        gpu_row.addStretch(1)
        form.addRow("Main GPU:", gpu_row)
        form.addRow(self.estimate)
        form.addRow(self.note)
        self.layers_mode.currentIndexChanged.connect(self._changed)
        self.layer_count.valueChanged.connect(self._changed)
        self.main_gpu.currentIndexChanged.connect(self._changed)

    def fill_gpus(self) -> None:
        """List the GPUs found (again, after detection)."""
        current = self.main_gpu.currentData()
        self._filling = True
        try:
            self.main_gpu.clear()
            self.main_gpu.addItem("Auto", None)
            for gpu in self.state.gpus or ():
                self.main_gpu.addItem(f"GPU {gpu.index}: {gpu.name}", gpu.index)
            index = self.main_gpu.findData(current)
            self.main_gpu.setCurrentIndex(max(index, 0))
        finally:
            self._filling = False

    def show_model(self, name: str | None) -> None:
        """Show the saved choice of `name` (None: no model selected)."""
        self.model = name
        self.setEnabled(name is not None)
        self.setTitle(f"GPU offload for {name}" if name else "GPU offload")
        if self.main_gpu.count() == 0:
            self.fill_gpus()
        choice = self.state.offload.for_model(name) if name else ModelOffload()
        arch = self.state.architecture(name) if name else None
        layer_count = arch.layer_count if arch else None
        self._filling = True
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
            self._filling = False
        self.note.clear()
        self.show_estimate()

    def _choice(self, layer_count: int | None) -> ModelOffload:
        mode = GpuLayers(self.layers_mode.currentData())
        main = self.main_gpu.currentData()
        main_gpu = int(main) if isinstance(main, int) else None
        if mode is GpuLayers.SOME:
            return ModelOffload(mode, self.layer_count.value(), main_gpu)
        if mode is GpuLayers.ALL:
            return ModelOffload(mode, layer_count, main_gpu)
        return ModelOffload(mode, None, main_gpu)

    def _changed(self) -> None:
        name = self.model
        if self._filling or name is None:
            return
        arch = self.state.architecture(name)
        choice = self._choice(arch.layer_count if arch else None)
        self.layer_count.setEnabled(choice.layers is GpuLayers.SOME)
        prefs = self.state.offload
        note = prefs.set_model(name, choice)
        try:
            prefs.save()
        except OSError as exc:
            self.state.error(f"the offload choice could not be saved ({exc.strerror})")
            return
        if note:
            self.note.setText(note)
        self.show_estimate()

    def show_estimate(self) -> None:
        name = self.model
        if not name:
            self.estimate.setText("Choose an installed model to set where its layers go.")
            return
        state = self.state
        result = state.estimate_for(name, state.num_ctx)
        arch = state.architecture(name)
        chosen = state.offload.for_model(name).describe(arch.layer_count if arch else None)
        if result is None:
            self.estimate.setText(f"Now: {chosen}. PhiDesk cannot estimate this model.")
            return
        where = result.verdict if state.gpus else "no GPU found, so the CPU runs it"
        self.estimate.setText(
            f"Now: {chosen}. Estimate at {result.num_ctx:,} tokens: {where} "
            f"(≈ {memory_size(result.total_bytes)})."
        )


__all__ = ["GPU_LAYER_MODES", "OffloadGroup"]
