"""When Ollama stops answering: a banner above the chat, not a page that hides it.

The full first-start page (`OnboardingPage`) is only for a first start: no chats and no
connection ever made (the `connected_once` preference). `OfflineFlow` decides which to show.

"Ollama is not answering at HOST." with the ways forward: *Start it* (an Ollama this computer
can start) or *Set up Ollama* (none is installed), *Retry*, and *Another host…*. The chats stay
readable and searchable; only sending waits (the composer says why in its Send button's tooltip).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from app.backend.engines import DEFAULT_ENGINE
from app.backend.hosts import is_loopback
from app.gui.connection import ConnectionState
from app.gui.theme import accent, current_scheme, tint

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow

log = logging.getLogger(__name__)

_THEMED = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


def offline_reason(host: str) -> str:
    """The one sentence sending is disabled with."""
    where = host.removeprefix("http://").removeprefix("https://").rstrip("/")
    return f"Ollama is not answering at {where}: sending waits until it does."


class OfflineBanner(QFrame):
    """The warning strip with its actions; hidden until `show_for`."""

    startRequested = Signal()
    setUpRequested = Signal()
    retryRequested = Signal()
    anotherHostRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("OfflineBanner")
        self.setAccessibleName("Ollama is not answering")
        self.text = QLabel()
        self.text.setObjectName("OfflineText")
        self.text.setWordWrap(True)
        self.text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.start_button = QPushButton("Start it")
        self.start_button.setToolTip("Start Ollama on this computer")
        self.setup_button = QPushButton("Set up Ollama")
        self.setup_button.setToolTip("Download and start PhiDesk's own copy of Ollama")
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Ask Ollama again now")
        self.host_button = QPushButton("Another host…")
        self.host_button.setToolTip("Connect to Ollama on another machine")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 8, 6)
        layout.setSpacing(6)
        layout.addWidget(self.text, 1)
        for button in (self.start_button, self.setup_button, self.retry_button, self.host_button):
            button.setAccessibleName(button.text().rstrip("…"))
            layout.addWidget(button)
        self.start_button.clicked.connect(self.startRequested)
        self.setup_button.clicked.connect(self.setUpRequested)
        self.retry_button.clicked.connect(self.retryRequested)
        self.host_button.clicked.connect(self.anotherHostRequested)
        self._scheme = ""
        self._paint()
        self.hide()

    def show_for(self, host: str, *, ollama_installed: bool, starting: bool = False) -> None:
        """Say nothing answers at `host`, with Start it when this computer has an Ollama to
        start, Set up Ollama when it has none (only for this computer's own host)."""
        local = not host or is_loopback(host)
        where = host.removeprefix("http://").removeprefix("https://").rstrip("/")
        if starting:
            self.text.setText(f"Starting Ollama at {where}…")
        else:
            self.text.setText(
                f"Ollama is not answering at {where}. Your chats are here to read; "
                "sending waits until it answers."
            )
        self.start_button.setVisible(local and ollama_installed and not starting)
        self.setup_button.setVisible(local and not ollama_installed and not starting)
        self.retry_button.setEnabled(not starting)
        if current_scheme() != self._scheme:
            self._paint()  # the theme changed while it was hidden
        self.show()

    def _paint(self) -> None:
        self._scheme = current_scheme()
        colour = accent("warning")
        self.setStyleSheet(
            f"#OfflineBanner {{ background: {tint(colour).name()}; "
            f"border: 1px solid {colour.name()}; border-radius: 8px; }}"
        )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in _THEMED and current_scheme() != self._scheme:
            self._paint()


class OfflineFlow(QObject):
    """Owned by the main window: the first-start page or the chats with the banner, and Send
    disabled for chats on the default Ollama while it does not answer (decision 5: per engine)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.chats: int | None = None
        """How many chats the list showed last (None until it loaded)."""
        banner = window.offline_banner
        banner.retryRequested.connect(window.monitor.check_now)
        banner.startRequested.connect(window.monitor.start_managed)
        banner.setUpRequested.connect(window.ollama.set_up)
        banner.anotherHostRequested.connect(window.add_remote_host)
        window.monitor.changed.connect(self.place)
        window.pane.picker.currentIndexChanged.connect(self._engine_chosen)

    @property
    def first_start(self) -> bool:
        return not self.window.workspace.prefs.ollama.connected_once and not self.chats

    def chats_listed(self, count: int) -> None:
        self.chats = count
        self.place()

    @Slot(int)
    def _engine_chosen(self, _index: int) -> None:
        self._composer()

    def _composer(self) -> None:
        window = self.window
        down = window.monitor.state in (ConnectionState.UNREACHABLE, ConnectionState.STARTING)
        on_ollama = window.pane.picker.current_engine() == DEFAULT_ENGINE
        window.pane.composer.set_offline(
            offline_reason(window.client.host) if down and on_ollama else ""
        )

    @Slot()
    def place(self, *_changed: str) -> None:
        window, monitor = self.window, self.window.monitor
        state = monitor.state
        banner, page = window.offline_banner, window.onboarding
        self._composer()
        if state is ConnectionState.CONNECTED:
            banner.hide()
            window.stack.setCurrentWidget(window.pane)
            self._remember_connection()
            return
        if state is ConnectionState.CHECKING:
            return
        host = window.client.host
        if self.first_start:
            banner.hide()
            if state is ConnectionState.UNREACHABLE:
                page.show_reason(
                    monitor.detail, host=host, ollama_installed=monitor.ollama_installed
                )
                window.stack.setCurrentWidget(page)
            return
        if window.stack.currentWidget() is page and page.setup.bar.isVisible():
            return  # Set up Ollama is running: its progress is on that page
        window.stack.setCurrentWidget(window.pane)
        banner.show_for(
            host,
            ollama_installed=monitor.ollama_installed,
            starting=state is ConnectionState.STARTING,
        )

    def _remember_connection(self) -> None:
        workspace = self.window.workspace
        prefs = workspace.prefs
        if prefs.ollama.connected_once:
            return
        try:
            workspace.settings.set(ollama=dataclasses.replace(prefs.ollama, connected_once=True))
        except OSError as exc:
            log.warning("could not save that Ollama answered once: %s", exc)
