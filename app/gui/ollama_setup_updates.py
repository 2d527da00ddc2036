"""The daily update check of PhiDesk's own Ollama, as notices in the window.

On start, with a copy of its own: PhiDesk asks once whether to look for a newer Ollama every day
("Check daily" / "Not now", a notice with actions); when the user said yes, it asks the releases
API at most once a day and never offline (`check_due`), silently when that fails. A newer
release becomes a notice with "Update Ollama"; the update runs with progress in the status bar,
and never while a model downloads, an answer streams or another program uses the server
(`update_blocker`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.backend.events import PullProgress
from app.backend.ollama_setup import (
    ManagedOllama,
    UpdateOffer,
    UseFacts,
    check_for_update,
    copy_in_use,
    update_blocker,
)
from app.errors import PhiDeskError
from app.gui.model_manager_text import progress_text
from app.gui.ollama_setup import OllamaSetup
from app.gui.tasks import Tasks
from app.workspace import Level, NoticeAction, Scope, Workspace

log = logging.getLogger(__name__)

CHECK_DAILY = "ollama-check-daily"
CHECK_OFF = "ollama-check-off"
UPDATE = "update-ollama"
ASK = "Should PhiDesk look for a newer Ollama once a day (it asks GitHub, and never offline)?"


def network_online() -> bool:
    """False only when the system says this computer has no way to the internet."""
    from PySide6.QtNetwork import QNetworkInformation

    if QNetworkInformation.instance() is None and not QNetworkInformation.loadDefaultBackend():
        return True  # nobody can tell: the check fails quietly if it really is offline
    reach = QNetworkInformation.instance().reachability()
    return reach not in (
        QNetworkInformation.Reachability.Disconnected,
        QNetworkInformation.Reachability.Local,
    )


class UpdateProgress(QWidget):
    """In the status bar while Ollama updates: a small bar, the bytes, Cancel."""

    def __init__(self, setup: OllamaSetup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("OllamaUpdateProgress")
        self.text = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(False)
        self.bar.setAccessibleName("Ollama update progress")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(setup.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        setup.progressed.connect(self.show_progress)
        self.hide()

    @Slot(object)
    def show_progress(self, progress: object) -> None:
        if not isinstance(progress, PullProgress) or self.isHidden():
            return
        if progress.fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(min(progress.fraction, 1.0) * 1000))
        self.text.setText(f"Updating Ollama: {progress_text(progress)}")

    def begin(self) -> None:
        self.text.setText("Updating Ollama…")
        self.bar.setRange(0, 0)
        self.show()


class OllamaUpdates(QObject):
    """Asks once, checks daily, offers and runs updates of PhiDesk's own Ollama."""

    def __init__(
        self,
        workspace: Workspace,
        setup: OllamaSetup,
        *,
        server_running: Callable[[], bool],
        pulls_running: Callable[[], int],
        online: Callable[[], bool] = network_online,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.setup = setup
        self.managed: ManagedOllama = setup.managed
        self._server_running = server_running
        self._pulls_running = pulls_running
        self.online = online
        """Whether this computer can reach the internet now (tests give their own answer)."""
        self._tasks = Tasks()
        self.updating = False
        self.progress = UpdateProgress(setup)
        setup.installed.connect(self._done)
        setup.failed.connect(self._failed)
        setup.cancelled.connect(self._failed)

    @Slot()
    def start(self) -> None:
        """At start: ask once, or check when the user said yes (at most daily, never offline)."""
        if self.managed.current() is None:
            return
        enabled = self.workspace.prefs.ollama.update_check
        if enabled is None:
            self.ask_once()
        elif enabled:
            self.check()

    def ask_once(self) -> None:
        if self.workspace.prefs.ollama.update_check is not None:
            return
        self.workspace.notices.post(
            Level.INFO,
            ASK,
            actions=(NoticeAction("Check daily", CHECK_DAILY), NoticeAction("Not now", CHECK_OFF)),
        )

    def _remember(self, on: bool) -> None:
        try:
            self.workspace.settings.update(
                lambda p: replace(p, ollama=replace(p.ollama, update_check=on))
            )
        except OSError as exc:
            log.warning("could not save the update check preference: %s", exc)

    @Slot(str, str)
    def notice_action(self, key: str, _argument: str) -> None:
        if key == CHECK_DAILY:
            self._remember(True)
            self.check()
        elif key == CHECK_OFF:
            self._remember(False)
            self.workspace.notices.info(
                "PhiDesk will not look for Ollama updates; Preferences › Ollama turns it on"
            )
        elif key == UPDATE:
            self.update()

    def check(self) -> None:
        self._tasks.start(self._check(), name="check for an Ollama update")

    async def _check(self) -> UpdateOffer | None:
        try:
            models = [m.name for m in await self.workspace.client.list_models()]
        except PhiDeskError:
            models = []
        offer = await asyncio.to_thread(
            check_for_update,
            self.managed,
            enabled=self.workspace.prefs.ollama.update_check,
            online=self.online(),
            installed_models=models,
        )
        if offer is not None:
            self.workspace.notices.post(
                Level.WARNING if offer.needed else Level.INFO,
                offer.sentence(),
                scope=Scope.ENGINE,
                actions=(NoticeAction("Update Ollama", UPDATE),),
            )
        return offer

    def blocker(self) -> str | None:
        ours = self._server_running()
        in_use = copy_in_use(self.managed) if not ours else False
        facts = UseFacts(
            pulling=self._pulls_running() > 0,
            streaming=bool(self.workspace.turns),
            other_process=bool(in_use),
        )
        return update_blocker(facts)

    def update(self) -> bool:
        """Start the update now, or say in one sentence why it must wait."""
        if self.setup.running:
            return False
        reason = self.blocker()
        if reason is not None:
            self.workspace.notices.post(
                Level.WARNING, reason, actions=(NoticeAction("Update Ollama", UPDATE),)
            )
            return False
        self.updating = True
        self.progress.begin()
        return self.setup.start(server_running=self._server_running())

    @Slot(object)
    def _done(self, _result: object) -> None:
        if self.updating:
            self.updating = False
            self.progress.hide()
            copy = self.managed.current()
            if copy is not None:
                self.workspace.notices.success(f"Ollama is updated to {copy.version}")

    @Slot(str)
    def _failed(self, text: str) -> None:
        if self.updating:
            self.updating = False
            self.progress.hide()
            self.workspace.notices.post(Level.ERROR, text, actions=(NoticeAction("Retry", UPDATE),))

    async def aclose(self) -> None:
        await self._tasks.cancel_and_wait()
