"""Ollama out of the box, in the main window: "Set up Ollama" on the first-start page (and from
the doctor), then the managed server started and connected, then the model to get first
suggested in the model manager; the daily update check's notices; a taken port's sentence.

The setup itself (`OllamaSetup`) runs on a worker thread; this object only reacts, on the GUI
thread, to its signals and the connection monitor's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from app.backend.hosts import is_loopback
from app.backend.ollama_setup import InstallResult, ManagedOllama
from app.backend.server import ManagedServer
from app.gui.connection import ConnectionState
from app.gui.ollama_setup import OllamaSetup, ollama_server
from app.gui.ollama_setup_updates import OllamaUpdates
from app.gui.tasks import Tasks
from app.workspace import Level

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow

log = logging.getLogger(__name__)


class OllamaSetupFlow(QObject):
    """Owned by the main window; see the module's description."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.workspace = window.workspace
        self.monitor = window.monitor
        paths = window.ctx.paths
        self.setup = OllamaSetup(ManagedOllama.for_paths(paths), log_dir=paths.logs, parent=self)
        self.updates = OllamaUpdates(
            self.workspace,
            self.setup,
            server_running=self._server_running,
            pulls_running=self._pulls_running,
            parent=self,
        )
        self.suggest_when_connected = False
        self._tasks = Tasks()
        page = window.onboarding
        page.setup.bind(self.setup)
        page.setUpRequested.connect(self.set_up)
        self.setup.installed.connect(self._installed)
        self.monitor.changed.connect(self._connection_changed)
        self.monitor.serverMoved.connect(self._server_moved)
        window.notice_area.actionTriggered.connect(self.notice_action)
        window.notice_area.actionTriggered.connect(self.updates.notice_action)
        window.statusBar().addPermanentWidget(self.updates.progress)

    def _server_running(self) -> bool:
        server = self.monitor.managed
        return server is not None and server.started_by_us

    def _pulls_running(self) -> int:
        manager = getattr(self.window, "_manager", None)
        return int(manager.pulls_running) if manager is not None else 0

    @Slot()
    def set_up(self) -> None:
        """Download, check and unpack PhiDesk's own Ollama (again: resume), on the first-start
        page."""
        page = self.window.onboarding
        if not is_loopback(self.window.client.host):
            self.window.show_message(
                "PhiDesk sets up Ollama on this computer only; choose the local host in "
                "File › Ollama host first",
                Level.WARNING,
            )
            return
        self.window.stack.setCurrentWidget(page)
        page.setup.show()
        self.setup.start(server_running=self._server_running())

    @Slot(str, str)
    def notice_action(self, key: str, _argument: str) -> None:
        if key == "set-up-ollama":
            self.set_up()

    @Slot(object)
    def _installed(self, result: object) -> None:
        if not isinstance(result, InstallResult):
            return
        host = self.window.client.host
        server, choice = ollama_server(self.workspace, host)
        previous = self.monitor.use_server(server, on_demand=choice.managed)
        if previous is not None and previous.started_by_us:
            if self.workspace.turns:
                # Never cut an answer off: the new copy is used at the next start.
                self.monitor.use_server(previous, on_demand=False)
                return
            self._tasks.start(self._restart(previous), name="restart ollama")
        else:
            self.suggest_when_connected = result.previous is None
            self.monitor.start_managed()
        self.updates.ask_once()

    async def _restart(self, previous: ManagedServer) -> None:
        await previous.astop()
        self.monitor.start_managed()

    @Slot(str, str)
    def _connection_changed(self, state: str, _detail: str) -> None:
        if state != ConnectionState.CONNECTED.value or not self.suggest_when_connected:
            return
        self.suggest_when_connected = False
        self.window.open_model_manager()
        manager = getattr(self.window, "_manager", None)
        if manager is not None:
            manager.suggest()

    @Slot(str)
    def _server_moved(self, text: str) -> None:
        self.window.show_message(text, Level.WARNING)

    async def aclose(self) -> None:
        await self.setup.aclose()
        await self.updates.aclose()
        await self._tasks.cancel_and_wait()
