"""After Ollama is set up: the model to get first, for this machine, offered in the model manager.

`suggest()` takes the catalog's recommended variant of each general-purpose entry (not the
reasoning ones) and picks the largest that fits entirely on this machine's GPUs, else the
smallest. `SuggestionBanner` says so above the model manager's tabs ("Phi-4-mini 3.8B · Q4_K_M ·
2.5 GB · fits on your GPU"), preselects that variant on its card, and pulls it with one click;
the card shows the pull's progress.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from app.backend.catalog import Catalog, CatalogEntry, Variant, estimate_variant
from app.backend.hardware import Gpu
from app.backend.memory import Estimate, Fit, KvCacheType
from app.gui.model_manager_cards import CatalogCard
from app.gui.model_manager_state import ManagerState
from app.gui.model_manager_text import download_size

PRIMARY_STYLE = (
    "QPushButton:enabled { background: palette(highlight); color: palette(highlighted-text);"
    " border: 1px solid palette(highlight); border-radius: 5px; padding: 4px 16px;"
    " font-weight: 600; }"
)
FIT_WORDS = {
    Fit.GPU: "fits on your GPU",
    Fit.PARTIAL: "partly on your GPU",
    Fit.CPU: "runs on the CPU (slower)",
}


@dataclass(frozen=True, slots=True)
class Suggestion:
    entry: CatalogEntry
    variant: Variant
    estimate: Estimate | None
    gpus_known: bool

    def text(self) -> str:
        size = download_size(self.variant.size_bytes)
        if not self.gpus_known:
            fit = "checking your GPU…"
        elif self.estimate is None:
            fit = "size unknown"
        else:
            fit = FIT_WORDS[self.estimate.fit]
        return " · ".join((self.entry.display_name, self.variant.quantization, size, fit))


def suggest(
    catalog: Catalog,
    gpus: Sequence[Gpu] | None,
    num_ctx: int,
    kv_cache_type: KvCacheType = "f16",
) -> Suggestion | None:
    """The recommended variant to get first on a machine with `gpus` (None: not known yet)."""
    entries = [e for e in catalog.entries if e.reasoning == "none"] or list(catalog.entries)
    sized = [(e, e.recommended_variant) for e in entries if e.recommended_variant.size_bytes]
    if not sized:
        return None
    sized.sort(key=lambda pair: pair[1].size_bytes or 0, reverse=True)
    found = list(gpus or ())
    for entry, variant in sized:
        result = estimate_variant(entry, variant, num_ctx, kv_cache_type, 1, found)
        if gpus is not None and result is not None and result.fit is Fit.GPU:
            return Suggestion(entry, variant, result, True)
    entry, variant = sized[-1]
    result = estimate_variant(entry, variant, num_ctx, kv_cache_type, 1, found)
    return Suggestion(entry, variant, result, gpus is not None)


class SuggestionBanner(QFrame):
    """ "Suggested for this computer: …" with Pull, above the model manager's tabs."""

    def __init__(
        self,
        state: ManagerState,
        cards: Mapping[str, CatalogCard],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ModelSuggestion")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.state = state
        self.cards = cards
        self.suggestion: Suggestion | None = None
        self._preselected: tuple[str, str] | None = None
        self.title = QLabel("<b>Suggested for this computer:</b>")
        self.label = QLabel()
        self.label.setObjectName("SuggestionText")
        self.label.setWordWrap(True)
        self.pull_button = QPushButton("Pull")
        self.pull_button.setObjectName("PullSuggested")
        self.pull_button.setStyleSheet(PRIMARY_STYLE)
        self.pull_button.clicked.connect(self.pull)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 8, 6)
        layout.setSpacing(8)
        layout.addWidget(self.title)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.pull_button)
        for card in cards.values():
            card.panel.runningChanged.connect(self._pull_running)
        self.hide()

    @Slot(bool)
    def _pull_running(self, _running: bool) -> None:
        self.refresh()

    def offer(self) -> None:
        """Show the suggestion (and keep it up to date with the GPUs found)."""
        self._preselected = None
        self.show()
        self.refresh()

    def refresh(self) -> None:
        if self.isHidden():
            return
        state = self.state
        found = suggest(state.catalog, state.gpus, state.num_ctx, state.kv_cache_type)
        self.suggestion = found
        if found is None:
            self.hide()
            return
        card = self.cards.get(found.entry.name)
        key = (found.entry.name, found.variant.name)
        if card is not None and self._preselected != key and not card.panel.pulling:
            self._preselected = key
            card.chooser.setCurrentIndex(card.chooser.findData(found.variant.name))
        self.label.setText(found.text())
        installed = card is not None and card.installed_variant(found.variant) is not None
        running = card is not None and card.panel.pulling
        self.pull_button.setEnabled(not installed and not running)
        self.pull_button.setText("Installed" if installed else "Pulling…" if running else "Pull")
        self.pull_button.setToolTip(f"ollama pull {found.variant.name}")
        self.setAccessibleDescription(f"Suggested for this computer: {found.text()}")

    @Slot()
    def pull(self) -> None:
        found = self.suggestion
        card = self.cards.get(found.entry.name) if found is not None else None
        if found is None or card is None:
            return
        card.chooser.setCurrentIndex(card.chooser.findData(found.variant.name))
        card.panel.start(found.variant.name)
        self.refresh()
