"""Pieces of the model manager: one pull's progress, and one catalog card per family member.

Both keep the `Connection`, never a client: a pull leases the client current when it starts and
finishes on that server even if the host is switched meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.backend.catalog import CatalogEntry, Variant, normalize_model_name
from app.backend.client import OllamaClient
from app.backend.connection import Connection
from app.backend.events import PullDone, PullProgress, StreamStalled
from app.backend.hardware import Gpu
from app.backend.memory import Estimate, KvCacheType, ModelArchitecture, estimate
from app.backend.models import InstalledModel
from app.errors import PhiDeskError
from app.gui.model_manager_text import (
    badge_text,
    context_text,
    download_size,
    estimate_text,
    progress_text,
    sentence,
)
from app.gui.model_manager_widgets import InlineNote, muted, style_badge
from app.gui.tasks import Tasks
from app.workspace import Level

log = logging.getLogger(__name__)

BAR_STEPS = 1000


class PullPanel(QWidget):
    """A pull in progress: bar, "bytes of total · speed · ETA", Cancel, and what went wrong.

    Cancel cancels the task, which closes the connection; Ollama keeps the partial download and
    pulling the same name again resumes it. A pull that hears nothing says so, and gives up after
    the stall timeout with one sentence.
    """

    pulled = Signal(str)
    failed = Signal(str)
    """The sentence shown when a pull failed (not when it was cancelled)."""
    runningChanged = Signal(bool)

    def __init__(self, connection: Connection, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._connection = connection
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None
        self.model = ""
        self.pulling = False
        """A pull is under way (False as soon as it ended, while its task still unwinds)."""
        self.outcome = ""
        """How the last pull ended: "", "done", "cancelled" or "failed"."""
        self.bar = QProgressBar()
        self.bar.setObjectName("PullBar")
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setTextVisible(True)
        self.bar.setAccessibleName("Download progress")
        self.text = QLabel()
        self.text.setObjectName("PullText")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("CancelPull")
        self.cancel_button.clicked.connect(self.cancel)
        self.error = InlineNote(Level.ERROR)
        self.error.setObjectName("PullError")

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.text)
        layout.addWidget(self.error)
        self._show_bar(False)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def _show_bar(self, visible: bool) -> None:
        self.bar.setVisible(visible)
        self.cancel_button.setVisible(visible)
        self.text.setVisible(visible or bool(self.text.text()))

    def start(self, name: str) -> None:
        """Pull `name` (again: resumes a cancelled or failed download)."""
        if self.running:
            return
        self.model = name.strip()
        self.pulling, self.outcome = True, ""
        self.error.clear()
        self.bar.setRange(0, 0)  # busy until the first sized layer arrives
        self.text.setText(f"Pulling {self.model}…")
        self._show_bar(True)
        self._task = self._tasks.start(self._pull(self.model), name=f"pull {self.model}")
        self.runningChanged.emit(True)

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _pull(self, name: str) -> None:
        done = False
        try:
            # Run the stream to its end (or close it here): an async generator left suspended
            # would be closed later by the garbage collector, outside the event loop.
            async with (
                self._connection.lease() as client,
                contextlib.aclosing(
                    client.pull(name, stalled=partial(self._stalled, client))
                ) as events,
            ):
                async for event in events:
                    if isinstance(event, PullProgress):
                        self._progress(event)
                    elif isinstance(event, PullDone):
                        done = True
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            self._finish(f"Cancelled. Pull {name} again to resume where it stopped.")
            raise
        except PhiDeskError as exc:
            self._fail(str(exc))
        except Exception:
            log.exception("pull of %s failed", name)
            self._fail(f"the pull of {name} failed unexpectedly; see the log file for details")
        else:
            if done:
                self.outcome = "done"
                self._finish(f"{name} is ready.")
                self.pulled.emit(name)
            else:
                self.outcome = "cancelled"  # the stream ended without saying it was done
                self._finish(f"The pull of {name} stopped early; pull it again to resume.")

    def _stalled(self, client: OllamaClient, event: StreamStalled) -> None:
        # The client gives up after its stall timeout (the preference the workspace keeps).
        self.text.setText(
            f"No progress for {event.seconds:g} s; still waiting (giving up after "
            f"{client.stall_timeout:g} s)."
        )

    def _progress(self, progress: PullProgress) -> None:
        fraction = progress.fraction
        if fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, BAR_STEPS)
            self.bar.setValue(round(min(fraction, 1.0) * BAR_STEPS))
        self.text.setText(progress_text(progress))

    def _finish(self, text: str) -> None:
        self.pulling = False
        self.text.setText(text)
        self._show_bar(False)
        self.runningChanged.emit(False)

    def _fail(self, message: str) -> None:
        self.pulling, self.outcome = False, "failed"
        self.text.clear()
        self.error.setText(sentence(message))
        self._show_bar(False)
        self.runningChanged.emit(False)
        self.failed.emit(self.error.text())


def variant_label(variant: Variant) -> str:
    where = "Ollama library" if variant.source == "ollama" else "Hugging Face"
    if variant.source == "huggingface":
        repo = variant.name.removeprefix("hf.co/").split("/")[0]
        where = f"Hugging Face ({repo})"
    text = f"{variant.quantization} · {download_size(variant.size_bytes, False)} · {where}"
    return text + (" · recommended" if variant.recommended else "")


class CatalogCard(QFrame):
    """One member of the family: facts, a quantization chooser, the estimate and fit, Pull."""

    pulled = Signal(str)
    failed = Signal(str)
    variantChanged = Signal(str)
    useRequested = Signal(str)
    """Start a new chat with this installed model."""
    deleteRequested = Signal(str)

    def __init__(
        self,
        entry: CatalogEntry,
        connection: Connection,
        tasks: Tasks,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.entry = entry
        self.setObjectName(f"CatalogCard:{entry.name}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(entry.display_name)

        title = QLabel(f"<b>{entry.display_name}</b>")
        title.setObjectName("CardTitle")
        name = muted(QLabel(entry.name))
        name.setObjectName("CardName")
        self.installed_label = QLabel()
        self.installed_label.setObjectName("CardInstalled")
        good_for = QLabel(entry.good_for)
        good_for.setTextFormat(Qt.TextFormat.PlainText)
        good_for.setWordWrap(True)
        caps = ", ".join(entry.capabilities) or "text"
        facts = muted(
            QLabel(
                f"Trained context {context_text(entry.context_length)} tokens · "
                f"{entry.licence} licence · {caps}"
            )
        )
        facts.setObjectName("CardFacts")

        self.chooser = QComboBox()
        self.chooser.setObjectName("QuantChooser")
        self.chooser.setAccessibleName(f"Quantization of {entry.display_name}")
        for variant in entry.variants:
            self.chooser.addItem(variant_label(variant), variant.name)
        self.chooser.setCurrentIndex(entry.variants.index(entry.recommended_variant))
        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("EstimateLabel")
        self.badge = QLabel()
        self.badge.setObjectName("FitBadge")
        self.speed_label = muted(QLabel())
        self.speed_label.setObjectName("SpeedLabel")
        self.speed_label.hide()
        self.pull_button = QPushButton("Pull")
        self.pull_button.setObjectName("PullButton")
        self.pull_button.clicked.connect(self._pull)
        self.use_button = QPushButton("Use in new chat")
        self.use_button.setObjectName("UseModel")
        self.use_button.clicked.connect(self._use)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("DeleteVariant")
        self.delete_button.clicked.connect(self._delete)
        self.panel = PullPanel(connection, tasks, self)
        self.panel.pulled.connect(self.pulled)
        self.panel.failed.connect(self.failed)
        self.panel.runningChanged.connect(self._running)

        head = QHBoxLayout()
        head.addWidget(title)
        head.addWidget(name)
        head.addStretch(1)
        head.addWidget(self.installed_label)
        choose = QHBoxLayout()
        quant_label = QLabel("&Quantization:")
        quant_label.setBuddy(self.chooser)
        choose.addWidget(quant_label)
        choose.addWidget(self.chooser, 1)
        actions = QHBoxLayout()
        actions.addStretch(1)
        for button in (self.use_button, self.delete_button, self.pull_button):
            actions.addWidget(button)
        fit = QHBoxLayout()
        fit.addWidget(self.badge)
        fit.addWidget(self.estimate_label, 1)
        layout = QVBoxLayout(self)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(good_for)
        layout.addWidget(facts)
        layout.addLayout(choose)
        layout.addLayout(actions)
        layout.addLayout(fit)
        layout.addWidget(self.speed_label)
        layout.addWidget(self.panel)

        self._installed: Mapping[str, InstalledModel] = {}
        self.chooser.currentIndexChanged.connect(self._chosen)

    @property
    def variant(self) -> Variant:
        name = self.chooser.currentData()
        return next((v for v in self.entry.variants if v.name == name), self.entry.variants[0])

    def choose(self, quantization: str, source: str = "ollama") -> None:
        """Select a quantization by name (`Q8_0`, …)."""
        variant = self.entry.variant_for_quantization(quantization, source)  # type: ignore[arg-type]
        if variant is not None:
            self.chooser.setCurrentIndex(self.chooser.findData(variant.name))

    def installed_variant(self, variant: Variant) -> InstalledModel | None:
        for name in variant.names:
            model = self._installed.get(normalize_model_name(name))
            if model is not None:
                return model
        return None

    def _chosen(self) -> None:
        self.refresh_state()
        self.variantChanged.emit(self.variant.name)

    def refresh_state(self) -> None:
        installed = [m for v in self.entry.variants if (m := self.installed_variant(v)) is not None]
        self.installed_label.setText(
            "Installed: " + ", ".join(m.name for m in installed) if installed else ""
        )
        chosen = self.installed_variant(self.variant)
        self.use_button.setVisible(chosen is not None)
        self.delete_button.setVisible(chosen is not None)
        if not self.panel.pulling:
            if chosen is not None:
                text = "Check for update"  # pulling an installed tag fetches what changed
            elif self.panel.outcome == "failed" and self.panel.model == self.variant.name:
                text = "Retry"
            else:
                text = "Pull"
            self.pull_button.setText(text)
        self.pull_button.setToolTip(
            f"Pull {self.variant.name} again from its registry; only what changed is downloaded"
            if chosen is not None
            else f"Download {self.variant.name}"
        )

    def show_estimate(
        self,
        *,
        installed: Mapping[str, InstalledModel],
        architectures: Mapping[str, ModelArchitecture],
        gpus: Sequence[Gpu] | None,
        num_ctx: int,
        kv_cache_type: KvCacheType,
        speeds: Mapping[str, float],
    ) -> Estimate | None:
        """Show the chosen variant's estimate and fit badge for these GPUs and context."""
        self._installed = installed
        self.refresh_state()
        variant = self.variant
        model = self.installed_variant(variant)
        arch = self.entry.architecture
        size = variant.size_bytes
        if model is not None:
            arch = architectures.get(normalize_model_name(model.name), arch)
            size = model.size or size
        result: Estimate | None = None
        if size is not None:
            result = estimate(arch, size, num_ctx, kv_cache_type, 1, gpus or ())
        self.estimate_label.setText(estimate_text(result) if result else "")
        self.badge.setText(badge_text(result, gpus is not None))
        style_badge(self.badge, str(result.fit) if result and gpus is not None else "unknown")
        self.badge.setToolTip(
            f"{result.layers_on_gpu} of {result.layer_count} layers would go on the GPU"
            if result
            else ""
        )
        names = [model.name] if model is not None else []
        speed = next((s for n in [*names, *variant.names] if (s := speeds.get(n))), None)
        self.speed_label.setVisible(bool(speed))
        if speed:
            self.speed_label.setText(f"Measured here: {speed:.1f} tokens/s in past answers")
        return result

    def _pull(self) -> None:
        self.panel.start(self.variant.name)

    def _use(self) -> None:
        model = self.installed_variant(self.variant)
        if model is not None:
            self.useRequested.emit(model.name)

    def _delete(self) -> None:
        model = self.installed_variant(self.variant)
        if model is not None:
            self.deleteRequested.emit(model.name)

    def _running(self, running: bool) -> None:
        self.chooser.setEnabled(not running)
        self.pull_button.setEnabled(not running)
        self.delete_button.setEnabled(not running)
        if running:
            self.pull_button.setText("Pulling…")
        else:
            self.refresh_state()
