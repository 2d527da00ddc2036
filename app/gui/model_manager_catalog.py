"""The model manager's "Get models" tab: one card per member of the Phi-4 family (quantization,
estimate, fit badge, measured speed, Pull) and a field to pull any other model by name."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.gui.compare_probe import SpeedProbe
from app.gui.model_manager_cards import CatalogCard, PullPanel
from app.gui.model_manager_state import ManagerState


class CatalogTab(QWidget):
    """The cards and the "Another model" pull."""

    pulled = Signal(str)
    pullFailed = Signal(str)
    variantChanged = Signal()
    useRequested = Signal(str)
    deleteRequested = Signal(str)
    speedMeasured = Signal(str, float)
    """The speed probe of a card measured a model (name, tokens/s)."""

    TWO_COLUMNS_FROM = 820
    """Cards side by side from this width (px) of the tab; one column below."""

    def __init__(self, state: ManagerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        connection = state.workspace.connection
        self.cards: dict[str, CatalogCard] = {}
        self.probes: dict[str, SpeedProbe] = {}
        grid_host = QWidget()
        self.grid = grid = QGridLayout(grid_host)
        grid.setSpacing(10)
        self.columns = 0
        for entry in state.catalog.entries:
            card = CatalogCard(entry, connection, state.tasks)
            card.pulled.connect(self.pulled)
            card.failed.connect(self.pullFailed)
            card.variantChanged.connect(self._variant_changed)
            card.useRequested.connect(self.useRequested)
            card.deleteRequested.connect(self.deleteRequested)
            probe = SpeedProbe(card, state.workspace, state.tasks)
            probe.measured.connect(self.speedMeasured)
            box = card.layout()
            if isinstance(box, QVBoxLayout):  # under the fit estimate and the measured speed
                box.insertWidget(box.indexOf(card.speed_label) + 1, probe)
            self.probes[entry.name] = probe
            self.cards[entry.name] = card
        self._reflow(2)
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
        self.other_panel = PullPanel(connection, state.tasks)
        self.other_panel.setObjectName("OtherPull")
        self.other_panel.pulled.connect(self.pulled)
        self.other_panel.failed.connect(self.pullFailed)
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

        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(other)

    @property
    def pulls_running(self) -> int:
        panels = [card.panel for card in self.cards.values()] + [self.other_panel]
        return sum(1 for panel in panels if panel.running)

    def show_estimates(self) -> None:
        state = self.state
        for card in self.cards.values():
            card.show_estimate(
                installed=state.installed_by_key,
                architectures=state.architectures,
                gpus=state.gpus,
                num_ctx=state.num_ctx,
                kv_cache_type=state.kv_cache_type,
                speeds=state.speeds,
            )
            self.probes[card.entry.name].refresh()

    def _reflow(self, columns: int) -> None:
        """Lay the cards out in `columns` columns (two when wide, one when narrow)."""
        if columns == self.columns:
            return
        self.columns = columns
        grid = self.grid
        for card in self.cards.values():
            grid.removeWidget(card)
        for column in range(2):
            grid.setColumnStretch(column, 1 if column < columns else 0)
        for position, card in enumerate(self.cards.values()):
            grid.addWidget(card, position // columns, position % columns)
        for row in range(grid.rowCount()):
            grid.setRowStretch(row, 0)
        grid.setRowStretch(len(self.cards) // columns + 1, 1)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._reflow(2 if event.size().width() >= self.TWO_COLUMNS_FROM else 1)

    def _variant_changed(self, _name: str) -> None:
        self.variantChanged.emit()

    def _other_running(self, running: bool) -> None:
        self.other_pull.setEnabled(not running)
        failed = not running and self.other_panel.outcome == "failed"
        self.other_pull.setText("Retry" if failed else "Pull")

    def _pull_other(self) -> None:
        name = self.other_name.text().strip()
        if not name:
            self.other_name.setFocus()
            return
        self.other_panel.start(name)


__all__ = ["CatalogTab"]
