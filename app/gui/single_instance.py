"""The running PhiDesk's end of the single-instance channel (see app/instance.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)


class InstanceServer(QObject):
    """Listens for requests from later launches; emits `requested(dict)` for each."""

    requested = Signal(dict)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        if self.server.listen(self.name):
            return True
        # A crashed PhiDesk leaves its socket file behind; nobody answered on it (the caller
        # tried to send first), so it is stale.
        QLocalServer.removeServer(self.name)
        ok = self.server.listen(self.name)
        if not ok:
            log.warning("single-instance channel unavailable: %s", self.server.errorString())
        return ok

    @Slot()
    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            self._buffers[sock] = b""
            sock.readyRead.connect(self._read)
            sock.disconnected.connect(sock.deleteLater)

    @Slot()
    def _read(self) -> None:
        sock = self.sender()
        if not isinstance(sock, QLocalSocket):
            return
        self._buffers[sock] = self._buffers.get(sock, b"") + bytes(sock.readAll().data())
        if b"\n" not in self._buffers[sock]:
            return
        line = self._buffers.pop(sock).split(b"\n", 1)[0]
        sock.disconnectFromServer()
        try:
            message: Any = json.loads(line)
        except ValueError:
            log.warning("ignored a malformed single-instance request")
            return
        if isinstance(message, dict):
            self.requested.emit(message)

    def close(self) -> None:
        self.server.close()
