"""Is Ollama there? Probes off the GUI thread (on the asyncio loop) and says so in one line."""

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
        client = connection.client
        self.state = ConnectionState.CHECKING
        self.detail = f"Checking Ollama at {client.host}…"
        self.version: str | None = None
        self._tasks = Tasks()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.check_now)
        self._unsubscribe = connection.subscribe(self._switched)

    @property
    def client(self) -> OllamaClient:
        return self.connection.client

    @property
    def ollama_installed(self) -> bool:
        return find_ollama() is not None

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
        self._unsubscribe()
