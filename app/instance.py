"""The single-instance channel: a second `phidesk` hands its request to the running one.

The running GUI listens on a local socket (Qt's QLocalServer: a Unix socket in the temp dir, a
named pipe on Windows) named after the data dir, so two PhiDesks with different data dirs do not
meet. A request is one line of JSON, e.g. {"action": "activate"} or {"action": "quick"}.
This side is plain Python so the CLI (`phidesk quick`) can use it without Qt.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.config import Paths


def instance_name(paths: Paths) -> str:
    digest = hashlib.sha256(str(paths.data.resolve()).encode()).hexdigest()[:16]
    return f"phidesk-{digest}"


def socket_path(name: str) -> str:
    """Where QLocalServer puts a server of this name (it uses QDir::tempPath(), as does
    Python's tempfile on POSIX: TMPDIR, else /tmp)."""
    if sys.platform.startswith("win"):
        return rf"\\.\pipe\{name}"
    return os.path.join(tempfile.gettempdir(), name)


def send_to_running(paths: Paths, message: dict[str, Any], *, timeout: float = 2.0) -> bool:
    """Deliver `message` to the running PhiDesk of this data dir. False if none is running."""
    data = (json.dumps(message) + "\n").encode()
    target = socket_path(instance_name(paths))
    if sys.platform.startswith("win"):
        try:
            with open(target, "wb") as pipe:
                pipe.write(data)
        except OSError:
            return False
        return True
    if not Path(target).exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            client.connect(target)
            client.sendall(data)
            client.shutdown(socket.SHUT_WR)
            client.recv(16)  # the server closes once it has read the line
    except OSError:
        return False
    return True
