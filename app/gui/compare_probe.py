"""The speed probe on a model manager card: "Measure on this machine" sends a short fixed prompt
to each installed quantization of the card's model, one after another (so they do not share
memory), with the comparisons' seed and temperature, and shows tokens/s beside the fit estimate.

    probe = SpeedProbe(card, workspace, tasks)    # added to the card; refresh() after installs
    probe.measured.connect(...)                   # (model, tokens/s) after each quantization

Each answer is stored in a hidden chat (`Workspace.probe_speed`), so the speed joins what the
cards already show from past answers (`Workspace.measured_speed`). Cancel stops the answer
being measured; nothing after it is sent.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.errors import PhiDeskError
from app.gui.compare_column import sentence
from app.gui.model_manager_cards import CatalogCard
from app.gui.model_manager_widgets import muted
from app.gui.tasks import Tasks
from app.workspace import Workspace

log = logging.getLogger(__name__)

CANCELLED = "Cancelled; nothing more is measured."


class SpeedProbe(QWidget):
    measured = Signal(str, float)
    """A quantization was measured: its model name and tokens/s."""
    finished = Signal()

    def __init__(self, card: CatalogCard, workspace: Workspace, tasks: Tasks) -> None:
        super().__init__(card)
        self.setObjectName("SpeedProbe")
        self.card = card
        self.workspace = workspace
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None
        self.speeds: dict[str, float] = {}
        """Tokens/s of the last probe, by installed model name."""
        name = card.entry.display_name
        self.measure_button = QPushButton("Measure on this machine")
        self.measure_button.setObjectName("MeasureSpeed")
        self._tip = (
            f"Send a short prompt to each installed quantization of {name}, one after another, "
            "and show how fast each answers here"
        )
        self.measure_button.clicked.connect(self.start)
        self.bar = QProgressBar()
        self.bar.setObjectName("ProbeBar")
        self.bar.setAccessibleName(f"Speed measurement of {name}")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("CancelProbe")
        self.cancel_button.clicked.connect(self.cancel)
        self.status = muted(QLabel())
        self.status.setObjectName("ProbeStatus")
        self.status.setWordWrap(True)
        self.results = QLabel()
        self.results.setObjectName("ProbeResults")
        self.results.setWordWrap(True)
        self.results.hide()

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.measure_button)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        row.addStretch(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.results)
        layout.addWidget(self.status)
        self._show_progress(False)
        self.refresh()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def quantizations(self) -> list[tuple[str, str]]:
        """(quantization, installed model name) of each installed variant, each model once."""
        found: dict[str, str] = {}
        for variant in self.card.entry.variants:
            model = self.card.installed_variant(variant)
            if model is not None and model.name not in found:
                found[model.name] = variant.quantization
        return [(quant, name) for name, quant in found.items()]

    def refresh(self) -> None:
        """Measuring needs an installed quantization (and none being measured)."""
        has = bool(self.quantizations())
        self.measure_button.setEnabled(has and not self.running)
        self.measure_button.setToolTip(self._tip if has else "Pull a quantization to measure it")

    def _show_progress(self, shown: bool) -> None:
        self.bar.setVisible(shown)
        self.cancel_button.setVisible(shown)
        self.status.setVisible(shown or bool(self.status.text()))

    @Slot()
    def start(self) -> None:
        targets = self.quantizations()
        if self.running or not targets:
            return
        self.speeds = {}
        self.results.hide()
        self.bar.setRange(0, len(targets))
        self.bar.setValue(0)
        self.status.clear()
        self._show_progress(True)
        self.measure_button.setEnabled(False)
        self._task = self._tasks.start(self._run(targets), name=f"probe {self.card.entry.name}")

    @Slot()
    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self, targets: list[tuple[str, str]]) -> None:
        shown: list[str] = []
        try:
            for number, (quant, model) in enumerate(targets, start=1):
                self.status.setText(f"Measuring {quant} ({number} of {len(targets)})…")
                try:
                    speed = await self.workspace.probe_speed(model)
                except PhiDeskError as exc:
                    log.info("speed probe of %s: %s", model, exc)
                    shown.append(f"{quant}: {sentence(str(exc))}")
                else:
                    if speed:
                        self.speeds[model] = speed
                        self.measured.emit(model, speed)
                    shown.append(f"{quant}: {speed:.1f} tokens/s" if speed else f"{quant}: —")
                self.bar.setValue(number)
                self._results(shown)
        except asyncio.CancelledError:
            self._done(CANCELLED)  # the stopped answer is kept as stopped, and not counted
            raise
        self._done("")

    def _results(self, shown: list[str]) -> None:
        self.results.setText("Measured now: " + " · ".join(shown))
        self.results.setVisible(bool(shown))

    def _done(self, text: str) -> None:
        self.status.setText(text)
        self._show_progress(False)
        self._task = None
        self.refresh()
        self.finished.emit()
