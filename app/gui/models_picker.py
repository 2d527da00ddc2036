"""The model picker of a chat: installed models, the Phi-4 family first, quantization shown."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QWidget

from app.backend.catalog import Catalog
from app.backend.models import InstalledModel


def order_models(models: list[InstalledModel], catalog: Catalog | None) -> list[InstalledModel]:
    """Phi-4 family (catalog order) first, then everything else by name."""

    def key(model: InstalledModel) -> tuple[int, int, str]:
        match = catalog.lookup(model.name) if catalog else None
        if match is None:
            return (1, 0, model.name)
        position = catalog.entries.index(match.entry) if catalog else 0
        return (0, position, model.name)

    return sorted(models, key=key)


def model_label(model: InstalledModel) -> str:
    parts = [model.name]
    if model.quantization:
        parts.append(model.quantization)
    if model.parameter_size:
        parts.append(model.parameter_size)
    return " · ".join(parts)


class ModelPicker(QComboBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ModelPicker")
        self.setAccessibleName("Model")
        self.setMinimumContentsLength(28)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.models: list[InstalledModel] = []

    def set_models(self, models: list[InstalledModel], catalog: Catalog | None) -> None:
        current = self.current_model()
        self.blockSignals(True)
        self.clear()
        self.models = order_models(models, catalog)
        for model in self.models:
            self.addItem(model_label(model), model.name)
        if not self.models:
            self.addItem("No models installed — open the model manager (Ctrl+M)", "")
        self.blockSignals(False)
        if current:
            self.select(current)

    def current_model(self) -> str:
        data = self.currentData()
        return data if isinstance(data, str) else ""

    def select(self, name: str) -> None:
        """Show `name` as chosen, adding it if the server does not list it (yet)."""
        if not name:
            return
        wanted = name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"
        for index in range(self.count()):
            if self.itemData(index) in (name, wanted):
                self.blockSignals(True)
                self.setCurrentIndex(index)
                self.blockSignals(False)
                return
        self.blockSignals(True)
        self.addItem(f"{name} (not installed)", name)
        self.setCurrentIndex(self.count() - 1)
        self.blockSignals(False)

    def installed(self, name: str) -> InstalledModel | None:
        wanted = name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"
        return next((m for m in self.models if m.name in (name, wanted)), None)
