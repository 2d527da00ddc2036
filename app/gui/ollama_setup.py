"""Setting up PhiDesk's own Ollama from the window: which server to start, and the setup itself
on a worker thread.

`ollama_server()` builds the `ManagedServer` the app starts on demand: an Ollama installed on
this computer wins, PhiDesk's own copy is used otherwise (`choose_ollama`, with the user's
preference). `OllamaSetup` runs `install_latest()` on a thread of its own, so the window never
waits for the network or the disk; its progress and its end come back through the signals of a
relay object that lives on the GUI thread (queued across threads), to slots of this object,
which re-emits them for widgets. Cancel stops the download and keeps what arrived; starting
again resumes it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.backend.events import PullProgress
from app.backend.ollama_setup import (
    Cancelled,
    InstallResult,
    ManagedOllama,
    OllamaChoice,
    SetupError,
    choose_ollama,
    install_latest,
    server_for,
)
from app.backend.server import ManagedServer
from app.workspace import Workspace

log = logging.getLogger(__name__)

PROGRESS_EVERY = 0.1
"""Seconds between two progress updates sent to the window (the last one always goes)."""
UNEXPECTED = "setting up Ollama failed unexpectedly; see the log file for details"


def ollama_server(workspace: Workspace, host: str) -> tuple[ManagedServer, OllamaChoice]:
    """The server PhiDesk starts when nothing answers at `host`, and which program it runs."""
    managed = ManagedOllama.for_paths(workspace.paths)
    choice = choose_ollama(workspace.prefs.ollama.source, managed)
    settings = workspace.offload.server_settings(host)
    return server_for(choice, settings, log_dir=workspace.paths.logs), choice


async def stop_on_quit(server: ManagedServer | None, *, keep_running: bool) -> bool:
    """End the server PhiDesk started, unless the user keeps it running. True if it stopped."""
    if server is None or not server.started_by_us:
        return False
    if keep_running:
        log.info("leaving ollama serve (pid %s) running, as the preferences say", server.pid)
        return False
    await server.astop()
    return True


class _Relay(QObject):
    """Lives on the GUI thread; the worker emits these, Qt queues them to the GUI thread."""

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, bool)
    """(sentence, cancelled)"""


class OllamaSetup(QObject):
    """Installs (or updates) PhiDesk's own Ollama on a worker thread."""

    progressed = Signal(object)
    """A `PullProgress` of the download."""
    unpacking = Signal()
    """The download is complete: checking, unpacking and trying the new copy."""
    installed = Signal(object)
    """An `InstallResult`."""
    failed = Signal(str)
    """One sentence; nothing was installed (a download in progress is kept)."""
    cancelled = Signal(str)
    runningChanged = Signal(bool)

    def __init__(
        self,
        managed: ManagedOllama,
        *,
        log_dir: Path,
        releases_url: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.managed = managed
        self.log_dir = log_dir
        self.releases_url = releases_url
        """None: the releases API, or PHIDESK_OLLAMA_RELEASES_URL when set."""
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._last_sent = 0.0
        self.last_progress: PullProgress | None = None
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._on_progress)
        self._relay.succeeded.connect(self._on_success)
        self._relay.failed.connect(self._on_failure)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, *, server_running: bool = False) -> bool:
        """Start installing the latest release (resuming a download); False if one runs."""
        if self._thread is not None:
            return False
        self._cancel = threading.Event()
        self.last_progress = None
        self._last_sent = 0.0
        thread = threading.Thread(
            target=self._work,
            args=(self._cancel, server_running),
            name="phidesk-ollama-setup",
            daemon=True,
        )
        self._thread = thread
        self.runningChanged.emit(True)
        thread.start()
        return True

    @Slot()
    def cancel(self) -> None:
        self._cancel.set()

    async def aclose(self) -> None:
        """Cancel a setup in progress and wait for its thread (at quit)."""
        thread = self._thread
        if thread is None:
            return
        self._cancel.set()
        await asyncio.to_thread(thread.join, 60)

    # --- on the worker thread -----------------------------------------------------------

    def _work(self, cancel: threading.Event, server_running: bool) -> None:
        relay = self._relay
        try:
            result = install_latest(
                self.managed,
                releases_url=self.releases_url,
                progress=self._progress,
                cancel=cancel,
                server_running=server_running,
                log_dir=self.log_dir,
            )
        except Cancelled as exc:
            relay.failed.emit(str(exc), True)
        except SetupError as exc:
            relay.failed.emit(str(exc), False)
        except Exception:
            log.exception("setting up Ollama failed")
            relay.failed.emit(UNEXPECTED, False)
        else:
            relay.succeeded.emit(result)

    def _progress(self, progress: PullProgress) -> None:
        now = time.monotonic()
        last = bool(progress.total) and progress.completed >= progress.total
        if last or now - self._last_sent >= PROGRESS_EVERY:
            self._last_sent = now
            self._relay.progressed.emit(progress)

    # --- back on the GUI thread ---------------------------------------------------------

    @Slot(object)
    def _on_progress(self, progress: object) -> None:
        if not isinstance(progress, PullProgress) or self._thread is None:
            return
        self.last_progress = progress
        self.progressed.emit(progress)
        if progress.total and progress.completed >= progress.total:
            self.unpacking.emit()

    def _finished(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5)
        self.runningChanged.emit(False)

    @Slot(object)
    def _on_success(self, result: object) -> None:
        self._finished()
        if isinstance(result, InstallResult):
            log.info("PhiDesk's Ollama is %s", result.copy.tag)
            self.installed.emit(result)

    @Slot(str, bool)
    def _on_failure(self, text: str, cancelled: bool) -> None:
        self._finished()
        (self.cancelled if cancelled else self.failed).emit(text)


__all__ = ["OllamaSetup", "ollama_server", "stop_on_quit"]
