"""The model manager window: get Phi-4 models, see what is installed and loaded, place layers.

Tabs, one module each:
- Get models (`model_manager_catalog`): a card per family member with the estimate, fit badge
  and measured speed, Pull with progress and Cancel, and a field for any other name.
- Installed (`model_manager_installed`, with `model_manager_offload`): delete, set as default,
  and each model's GPU offload choice.
- Loaded (`model_manager_loaded`): what `/api/ps` reports next to the estimate, with Unload.
- Server (`model_manager_server`): settings for an `ollama serve` PhiDesk starts itself.

This module is the window around them: the GPU summary, the context the estimates use, Refresh,
the notice area, and the shared refresh of GPUs, installed models, their architectures and the
speeds measured here. Everything goes through the `Workspace`: Ollama calls lease the client
current at that moment (after a host switch the window starts over with the new server),
offload and server choices live in `workspace.offload`, the default model in its settings, and
problems are posted on `workspace.notices` (the window's notice area shows them while it is
open). Closing the window hides it and lets downloads finish; `await aclose()` cancels everything
(call it when the app quits).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.backend.catalog import Catalog, default_catalog, normalize_model_name
from app.backend.fit import architecture_of
from app.backend.hardware import Gpu, probe_gpus
from app.backend.models import InstalledModel
from app.errors import PhiDeskError
from app.gui.model_manager_catalog import CatalogTab
from app.gui.model_manager_installed import InstalledTab
from app.gui.model_manager_loaded import LoadedTab
from app.gui.model_manager_remote import RemoteEnginesTab
from app.gui.model_manager_server import ServerTab
from app.gui.model_manager_state import CONTEXT_CHOICES, DEFAULT_CONTEXT, ManagerState
from app.gui.model_manager_text import context_text, gpu_summary
from app.gui.model_manager_widgets import style_badge
from app.gui.notice_area import NoticeArea
from app.gui.ollama_setup_suggest import SuggestionBanner
from app.workspace import (
    Change,
    ConnectionChanged,
    Level,
    Notice,
    Scope,
    SettingsChanged,
    Workspace,
)

log = logging.getLogger(__name__)


class ChangeBridge(QObject):
    """Receives the workspace's changes on any thread; re-emits them on this object's thread."""

    changed = Signal(object)

    def __init__(self, workspace: Workspace, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] = workspace.subscribe(self._from_any_thread)
        self.destroyed.connect(self._unsubscribe)

    def _from_any_thread(self, change: Change) -> None:
        self.changed.emit(change)

    def detach(self) -> None:
        self._unsubscribe()


class ModelManagerWindow(QWidget):
    """Pull, inspect, delete and place the models of the workspace's current Ollama server."""

    defaultModelChosen = Signal(str)
    newChatRequested = Signal(str)
    """Use in new chat: a new chat in the main window with this model."""
    """A model was made the default (already saved in the workspace's settings)."""
    modelsChanged = Signal()
    """A pull finished or a model was deleted: model pickers should list them again."""

    def __init__(
        self,
        workspace: Workspace,
        parent: QWidget | None = None,
        *,
        gpus: Sequence[Gpu] | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("ModelManager")
        self.setWindowTitle("Models — PhiDesk")
        self.resize(1180, 820)
        self.workspace = workspace
        self.state = ManagerState(workspace, catalog or default_catalog(), gpus)
        self._detect = gpus is None

        self.gpu_label = QLabel(gpu_summary(self.state.gpus))
        self.gpu_label.setObjectName("GpuSummary")
        self.gpu_label.setWordWrap(True)
        self.context_chooser = QComboBox()
        self.context_chooser.setObjectName("ContextChooser")
        self.context_chooser.setAccessibleName("Context length for the estimates")
        for tokens in CONTEXT_CHOICES:
            self.context_chooser.addItem(f"{context_text(tokens)} tokens", tokens)
        self.context_chooser.setCurrentIndex(CONTEXT_CHOICES.index(DEFAULT_CONTEXT))
        self.context_chooser.currentIndexChanged.connect(self._context_chosen)
        refresh = QPushButton("Refresh")
        refresh.setObjectName("RefreshModels")
        refresh.clicked.connect(self.refresh)
        self.refresh_button = refresh
        header = QHBoxLayout()
        header.addWidget(self.gpu_label, 1)
        header.addWidget(QLabel("Estimate at"))
        header.addWidget(self.context_chooser)
        header.addWidget(refresh)

        self.notice_area = NoticeArea(self)
        self.notice_area.connect_to(workspace.notices, accept=self._shows)

        self.catalog_tab = CatalogTab(self.state)
        self.catalog_tab.pulled.connect(self._pulled)
        self.catalog_tab.pullFailed.connect(self._pull_failed)
        self.catalog_tab.variantChanged.connect(self._update_estimates)
        self.installed_tab = InstalledTab(self.state)
        self.installed_tab.deleted.connect(self._deleted)
        self.installed_tab.defaultChosen.connect(self.defaultModelChosen)
        self.installed_tab.useRequested.connect(self.newChatRequested)
        self.catalog_tab.useRequested.connect(self.newChatRequested)
        self.catalog_tab.deleteRequested.connect(self._delete_from_card)
        self.catalog_tab.speedMeasured.connect(self._speed_measured)
        self.loaded_tab = LoadedTab(self.state)
        self.server_tab = ServerTab(self.state)
        self.server_tab.changed.connect(self._update_estimates)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("ManagerTabs")
        self.tabs.addTab(self.catalog_tab, "Get models")
        self.tabs.addTab(self.installed_tab, "Installed")
        self.tabs.addTab(self.loaded_tab, "Loaded")
        self.tabs.addTab(self.server_tab, "Server")
        self.remote_tab = RemoteEnginesTab(workspace, self.state.catalog)  # read-only
        self.tabs.addTab(self.remote_tab, "Other engines")
        self.suggestion = SuggestionBanner(self.state, self.catalog_tab.cards)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.notice_area)
        layout.addWidget(self.suggestion)
        layout.addWidget(self.tabs, 1)

        self._changes = ChangeBridge(workspace, self)
        self._changes.changed.connect(self._workspace_changed)

        self._update_estimates()
        self.refresh()

    # --- what the window shows ----------------------------------------------------------

    def _shows(self, notice: Notice) -> bool:
        """The notice area shows what concerns the server (the window's own problems among
        them) while the window is open; the main window shows the rest."""
        return notice.scope is Scope.ENGINE and self.isVisible()

    @property
    def gpus(self) -> list[Gpu] | None:
        return self.state.gpus

    @property
    def pulls_running(self) -> int:
        return self.catalog_tab.pulls_running

    def _context_chosen(self) -> None:
        value = self.context_chooser.currentData()
        self.state.num_ctx = int(value) if value else DEFAULT_CONTEXT
        self._update_estimates()

    def _update_estimates(self) -> None:
        self.catalog_tab.show_estimates()
        self.installed_tab.offload.show_estimate()
        self.server_tab.show_kv_saving()
        self.loaded_tab.fill()
        self.suggestion.refresh()

    def suggest(self) -> None:
        """Offer the catalog's recommended variant for this machine, preselected on its card
        (after Ollama was set up)."""
        self.tabs.setCurrentWidget(self.catalog_tab)
        self.suggestion.offer()
        self.refresh()  # the server may have started since the window was opened

    def _workspace_changed(self, change: object) -> None:
        if isinstance(change, ConnectionChanged):
            log.info("model manager: the host is now %s", change.host)
            self.state.forget_server()
            self.installed_tab.fill()
            self._update_estimates()
            self.refresh()
        elif isinstance(change, SettingsChanged) and "default_model" in change.sections:
            self.installed_tab.fill()
            self.server_tab.show_kv_saving()

    # --- refreshing ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Read GPUs (unless given), installed and loaded models again, from the workspace's
        current server."""
        self.state.forget_error()
        if self._detect:
            self.state.tasks.start(self._detect_gpus(), name="detect GPUs")
        self._load_installed()
        self.loaded_tab.reload()
        self.remote_tab.reload()

    @Slot(str)
    def _delete_from_card(self, name: str) -> None:
        """Delete… on a catalog card: the Installed tab's question, about that model."""
        self.tabs.setCurrentWidget(self.installed_tab)
        self.installed_tab.select(name)
        self.installed_tab._confirm_delete()

    def _load_installed(self) -> None:
        self.state.run("listing the installed models", self._installed())

    async def _detect_gpus(self) -> None:
        probe = await asyncio.to_thread(probe_gpus)
        self.state.gpus = list(probe.gpus)
        self.gpu_label.setText(gpu_summary(self.state.gpus))
        self.gpu_label.setToolTip("\n".join(probe.problems))
        self.installed_tab.offload.fill_gpus()
        self._update_estimates()

    async def _installed(self) -> None:
        state = self.state
        async with self.workspace.connection.lease() as client:
            models = await client.list_models()
            for model in models:
                key = normalize_model_name(model.name)
                if key in state.architectures:
                    continue
                try:
                    arch = architecture_of(await client.show(model.name))
                except PhiDeskError as exc:
                    log.info("no details for %s: %s", model.name, exc)
                    continue
                if arch is not None:
                    state.architectures[key] = arch
        if not state.is_current(client):
            return
        state.set_installed(models)
        state.speeds = await self._measured_speeds(models)
        state.forget_error()
        self._dismiss_server_error()
        self.installed_tab.fill()
        self._update_estimates()

    async def _measured_speeds(self, models: list[InstalledModel]) -> dict[str, float]:
        """Tokens/s measured in past answers for every name a card may show (read on the
        workspace's reader thread)."""
        names = self.state.speed_names()
        speeds = await asyncio.gather(*(self.workspace.measured_speed(n) for n in names))
        return {name: speed for name, speed in zip(names, speeds, strict=True) if speed}

    def _speed_measured(self, _model: str, _speed: float) -> None:
        """A card's probe stored an answer: the measured speeds are read again."""

        async def reread() -> None:
            self.state.speeds = await self._measured_speeds([])
            self._update_estimates()

        self.state.run("reading the measured speeds", reread())

    def _dismiss_server_error(self) -> None:
        shown = self.notice_area.notice
        if shown is not None and shown.level is Level.ERROR and shown.scope is Scope.ENGINE:
            self.notice_area.dismiss()

    # --- what the tabs report -----------------------------------------------------------

    def _pulled(self, name: str) -> None:
        if not self.isVisible():
            self.workspace.notices.success(f"{name} is ready", scope=Scope.ENGINE)
        self.modelsChanged.emit()
        self._load_installed()

    def _pull_failed(self, text: str) -> None:
        # The card shows it; with the window closed, the main window's notice area does.
        if not self.isVisible():
            self.state.error(text)

    def _deleted(self, name: str) -> None:
        self.modelsChanged.emit()
        self._load_installed()
        self.loaded_tab.reload()

    # --- closing ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Cancel everything in flight (pulls close their connections) and wait for it."""
        self.loaded_tab.stop()
        self._changes.detach()
        self.state.tasks.cancel_all()
        self.remote_tab.tasks.cancel_all()
        for _ in range(200):
            if not self.state.tasks.running:
                return
            await asyncio.sleep(0.01)

    # --- for tests and screenshots ------------------------------------------------------

    def select_installed(self, name: str) -> None:
        self.installed_tab.select(name)

    def badge_for(self, entry_name: str) -> QLabel:
        return self.catalog_tab.cards[entry_name].badge

    def fit_of(self, entry_name: str) -> str:
        return str(self.catalog_tab.cards[entry_name].badge.property("fit"))


__all__ = ["ModelManagerWindow", "style_badge"]
