"""Is Ollama there? Probes off the GUI thread (on the asyncio loop) and says so in one line.

It also starts the `ManagedServer` when asked (or on its own, once, when the program is
PhiDesk's own copy: `start_on_demand`). When the host's port was taken by another program, the
server starts on another port: the monitor says so (`serverMoved`) and moves the connection
there."""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.backend.client import OllamaClient, version_warning
from app.backend.connection import Connection
from app.backend.errors import OllamaError
from app.backend.server import ManagedServer, find_ollama
from app.errors import PhiDeskError
from app.gui.tasks import Tasks

log = logging.getLogger(__name__)


class ConnectionState(StrEnum):
    CHECKING = "checking"
    CONNECTED = "connected"
    STARTING = "starting"
    UNREACHABLE = "unreachable"


class ConnectionMonitor(QObject):
    """Checks the server at start and then every few seconds; emits `changed(state, detail)`."""

    changed = Signal(str, str)
    serverMoved = Signal(str)
    """One sentence: the port was taken, so Ollama was started on another one."""

    CONNECTED_INTERVAL_MS = 30_000
    UNREACHABLE_INTERVAL_MS = 5_000

    def __init__(
        self,
        connection: Connection,
        managed: ManagedServer | None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.connection = connection
        self.managed = managed
        self.start_on_demand = False
        """Start `managed` without being asked when nothing answers (once per server)."""
        self._tried_on_demand = False
        client = connection.client
        self.state = ConnectionState.CHECKING
        self.detail = f"Checking Ollama at {client.host}…"
        self.version: str | None = None
        self._tasks = Tasks()
        self._switching = Tasks()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.check_now)
        self._unsubscribe = connection.subscribe(self._switched)

    @property
    def client(self) -> OllamaClient:
        return self.connection.client

    @property
    def ollama_installed(self) -> bool:
        """An Ollama this computer can start: installed, or PhiDesk's own copy."""
        if self.managed is not None:
            return self.managed.program is not None
        return find_ollama() is not None

    def use_server(self, server: ManagedServer, *, on_demand: bool) -> ManagedServer | None:
        """Start `server` from now on; returns the previous one (the caller stops it)."""
        previous, self.managed = self.managed, server
        self.start_on_demand = on_demand
        self._tried_on_demand = False
        return previous if previous is not server else None

    def _set(self, state: ConnectionState, detail: str) -> None:
        changed = (state, detail) != (self.state, self.detail)
        self.state, self.detail = state, detail
        if changed:
            self.changed.emit(state.value, detail)

    @Slot()
    def check_now(self) -> None:
        if self.state is ConnectionState.STARTING:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # Qt is processing events outside the asyncio loop (a modal dialog, start-up or
            # shutdown): a task started now might never run. Try again in a moment.
            self._timer.start(100)
            return
        self._tasks.start(self._check(), name="probe ollama")

    async def _check(self) -> None:
        client = self.client
        try:
            version = await client.version()
        except PhiDeskError as exc:
            if client is not self.client:
                return  # the host was switched meanwhile: this answer is about the old one
            self.version = None
            if self._start_on_demand():
                return
            self._set(ConnectionState.UNREACHABLE, str(exc))
            self._timer.start(self.UNREACHABLE_INTERVAL_MS)
            return
        if client is not self.client:
            return
        self.version = version
        warning = version_warning(version)
        detail = f"Connected to Ollama {version} at {self.client.host}"
        self._set(ConnectionState.CONNECTED, detail + (f" — {warning}" if warning else ""))
        self._timer.start(self.CONNECTED_INTERVAL_MS)

    def _start_on_demand(self) -> bool:
        if not self.start_on_demand or self._tried_on_demand or self.managed is None:
            return False
        self._tried_on_demand = True
        log.info("nothing answers at %s; starting PhiDesk's own Ollama", self.client.host)
        self._set(ConnectionState.STARTING, "Starting Ollama on this computer…")
        self._tasks.start(self._start_managed(self.managed), name="start ollama serve")
        return True

    @Slot()
    def start_managed(self) -> None:
        if self.managed is None:
            return
        self._timer.stop()
        self._set(ConnectionState.STARTING, "Starting Ollama on this computer…")
        self._tasks.start(self._start_managed(self.managed), name="start ollama serve")

    async def _start_managed(self, managed: ManagedServer) -> None:
        try:
            await managed.ensure_running()
        except (PhiDeskError, OllamaError) as exc:
            self._set(ConnectionState.UNREACHABLE, str(exc))
            self._timer.start(self.UNREACHABLE_INTERVAL_MS)
            return
        self.state = ConnectionState.CHECKING
        host = managed.settings.host
        if managed.moved and host != self.client.host:
            self.serverMoved.emit(managed.moved)
            # The switch calls `_switched`, which cancels this monitor's tasks: run it apart.
            self._switching.start(
                self.connection.switch(OllamaClient(host, stall_seconds=self.client.stall_seconds)),
                name="move to the new port",
            )
            return
        await self._check()

    def stop(self) -> None:
        self._timer.stop()
        self._tasks.cancel_all()

    def _switched(self, _client: OllamaClient) -> None:
        """The connection moved to another server: watch that one from now on."""
        self.stop()
        self.state = ConnectionState.CHECKING
        self.detail = f"Checking Ollama at {self.client.host}…"
        self.check_now()

    def close(self) -> None:
        self.stop()
        self._switching.cancel_all()
        self._unsubscribe()
