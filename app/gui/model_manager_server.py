"""The model manager's "Server" tab: flash attention, KV-cache type (with the memory it saves),
keep-alive and the number of loaded models for an `ollama serve` PhiDesk starts itself, saved
at once in the workspace's `OffloadPreferences`."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.backend.memory import KV_CACHE_TYPES, kv_cache_bytes
from app.backend.offload import FlashAttention, kv_cache_saving
from app.errors import PhiDeskError
from app.gui.model_manager_state import ManagerState
from app.gui.model_manager_text import memory_size, sentence
from app.gui.model_manager_widgets import InlineNote, muted
from app.workspace import Level

KV_DESCRIPTIONS: dict[str, str] = {
    "f16": "f16 (full precision, Ollama's default)",
    "q8_0": "q8_0 (about half the memory, tiny quality loss)",
    "q4_0": "q4_0 (about a quarter, some quality loss)",
}
MAX_WIDTH = 760


class ServerTab(QWidget):
    """Settings for a server PhiDesk starts; `changed` after each saved change."""

    changed = Signal()

    def __init__(self, state: ManagerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        prefs = state.offload.server
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
        self.note = InlineNote(Level.INFO)
        self.note.setObjectName("ServerNote")
        self.error = InlineNote(Level.ERROR)
        self.error.setObjectName("ServerError")

        group = QGroupBox("When PhiDesk starts Ollama itself")
        group.setMaximumWidth(MAX_WIDTH)
        form = QFormLayout(group)
        form.addRow("Flash attention:", self.flash_attention)
        form.addRow("KV cache type:", self.kv_type)
        form.addRow("", self.kv_saving)
        form.addRow("Keep models loaded for:", self.keep_alive)
        form.addRow("Models loaded at once:", self.max_loaded)
        about = muted(
            QLabel(
                "PhiDesk passes these to an ollama serve it starts (OLLAMA_FLASH_ATTENTION, "
                "OLLAMA_KV_CACHE_TYPE, OLLAMA_KEEP_ALIVE, OLLAMA_MAX_LOADED_MODELS). A server "
                "you started yourself keeps its own settings."
            )
        )
        about.setWordWrap(True)
        for label in (about, self.note, self.error):
            label.setMaximumWidth(MAX_WIDTH)
        layout = QVBoxLayout(self)
        layout.addWidget(group)
        layout.addWidget(self.error)
        layout.addWidget(self.note)
        layout.addWidget(about)
        layout.addStretch(1)
        self.flash_attention.currentIndexChanged.connect(self._changed)
        self.kv_type.currentIndexChanged.connect(self._changed)
        self.keep_alive.editingFinished.connect(self._changed)
        self.max_loaded.valueChanged.connect(self._changed)

    def _changed(self) -> None:
        prefs = self.state.offload
        keep_alive = self.keep_alive.text().strip() or None
        try:
            note = prefs.set_server(
                flash_attention=FlashAttention(self.flash_attention.currentData()),
                kv_cache_type=self.kv_type.currentData(),
                keep_alive=keep_alive,
                max_loaded_models=self.max_loaded.value() or None,
            )
        except PhiDeskError as exc:
            self.error.setText(sentence(str(exc)))
            return
        self.error.clear()
        try:
            prefs.save()
        except OSError as exc:
            self.state.error(f"the server settings could not be saved ({exc.strerror})")
            return
        if note:
            warning = ""
            if prefs.server.quantized_cache_without_flash_attention:
                warning = (
                    " A quantized KV cache needs flash attention; with it off, older Ollama "
                    "versions keep an f16 cache."
                )
            self.note.setText(note + warning)
        self.changed.emit()

    def show_kv_saving(self) -> None:
        """What the chosen KV-cache type saves for the default (or first installed) model."""
        state = self.state
        kind = state.kv_cache_type
        name = state.default_model or (state.installed[0].name if state.installed else "phi4")
        arch = state.architecture(name)
        if arch is None:
            entry = state.catalog.entries[0] if state.catalog.entries else None
            name = entry.name if entry else name
            arch = entry.architecture if entry else None
        if arch is None:
            self.kv_saving.clear()
            return
        ctx = min(state.num_ctx, arch.context_length or state.num_ctx)
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


__all__ = ["KV_DESCRIPTIONS", "ServerTab"]
