"""The main window: chats on the left, the conversation on the right, connection state below."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QSplitter,
    QStackedWidget,
)

from app import __version__
from app.backend.catalog import Catalog, default_catalog
from app.backend.client import OllamaClient
from app.backend.errors import OllamaError
from app.backend.hosts import HostProfile, HostProfiles
from app.chat.transfer import export_chat_markdown, export_chats, import_files, suggested_file_name
from app.config import AppContext, Settings
from app.errors import PhiDeskError
from app.gui.chat_pane import ChatPane
from app.gui.connection import ConnectionMonitor, ConnectionState
from app.gui.dialogs import RemoteHostDialog, ShortcutsDialog
from app.gui.onboarding import OnboardingPage
from app.gui.sidebar import ChatSidebar
from app.gui.tasks import Tasks
from app.gui.theme import THEMES, apply_theme
from app.store import Database

log = logging.getLogger(__name__)

STATE_COLOURS = {
    ConnectionState.CONNECTED: "#3a9a5b",
    ConnectionState.CHECKING: "#888888",
    ConnectionState.STARTING: "#e0a020",
    ConnectionState.UNREACHABLE: "#d64545",
}


def _load_catalog() -> Catalog | None:
    try:
        return default_catalog()
    except PhiDeskError as exc:
        log.warning("model catalog unavailable: %s", exc)
        return None


class MainWindow(QMainWindow):
    closed = Signal()
    clientChanged = Signal(object)

    def __init__(
        self,
        ctx: AppContext,
        db: Database,
        client: OllamaClient,
        monitor: ConnectionMonitor,
        hosts: HostProfiles | None = None,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.db = db
        self.client = client
        self.monitor = monitor
        self.hosts = hosts
        self.catalog = _load_catalog()
        self._tasks = Tasks()
        self.setWindowTitle("PhiDesk")
        self.setObjectName("MainWindow")
        self.resize(1200, 780)

        self.sidebar = ChatSidebar()
        self.pane = ChatPane(db, client, ctx.paths, self.catalog)
        self.onboarding = OnboardingPage()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.pane)
        self.stack.addWidget(self.onboarding)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.stack)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([280, 920])
        self.setCentralWidget(self.splitter)

        self.connection_dot = QLabel("●")
        self.connection_dot.setObjectName("ConnectionDot")
        self.host_label = QLabel(monitor.detail)
        self.host_label.setObjectName("HostLabel")
        self.host_label.setAccessibleName("Connection status")
        self.statusBar().addWidget(self.connection_dot)
        self.statusBar().addWidget(self.host_label, 1)
        self.statusBar().addPermanentWidget(QLabel(f"PhiDesk {__version__}"))

        self._build_menus()
        self._connect()
        self._show_connection(monitor.state.value, monitor.detail)
        self.refresh_chats()
        theme = self._settings().theme
        self.set_theme(theme if theme in THEMES else "system")
        self._restore()

    # --- construction ---------------------------------------------------------------------

    def _action(
        self, text: str, keys: str | QKeySequence.StandardKey | None, slot: object
    ) -> QAction:
        action = QAction(text, self)
        if isinstance(keys, QKeySequence.StandardKey):
            bindings = QKeySequence.keyBindings(keys)
            fallback = {QKeySequence.StandardKey.Quit: "Ctrl+Q"}.get(keys)
            if not bindings and fallback:
                bindings = [QKeySequence(fallback)]
            action.setShortcuts(bindings)
        elif keys:
            action.setShortcut(QKeySequence(keys))
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even where the menu bar is native or hidden
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.new_chat_action = self._action("&New chat", "Ctrl+N", self.new_chat)
        file_menu.addAction(self.new_chat_action)
        self.export_action = self._action(
            "&Export chat as Markdown…", "Ctrl+Shift+E", self.export_current
        )
        file_menu.addAction(self.export_action)
        self.export_all_action = self._action("Export &all chats…", None, self.export_all)
        file_menu.addAction(self.export_all_action)
        self.import_action = self._action("&Import Markdown…", None, self.import_files)
        file_menu.addAction(self.import_action)
        file_menu.addSeparator()
        self.hosts_menu = file_menu.addMenu("Ollama &host")
        self.host_actions = QActionGroup(self)
        self.host_actions.setExclusive(True)
        self.remote_action = QAction("Connect to a remote &host…", self)
        self.remote_action.triggered.connect(self.add_remote_host)
        self._fill_hosts_menu()
        file_menu.addSeparator()
        self.quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, self.close)
        file_menu.addAction(self.quit_action)

        chat_menu = self.menuBar().addMenu("&Chat")
        self.search_action = self._action("&Search chats", "Ctrl+K", self.focus_search)
        self.focus_action = self._action("&Message box", "Ctrl+L", self.focus_composer)
        self.regenerate_action = self._action("&Regenerate answer", "Ctrl+R", self.pane.regenerate)
        self.stop_action = self._action("S&top answer", None, self.pane.stop)
        self.settings_action = self._action("Chat se&ttings…", "Ctrl+,", self.pane.edit_settings)
        self.copy_chat_action = self._action(
            "&Copy chat as Markdown", "Ctrl+Shift+C", self.copy_chat
        )
        for action in (
            self.search_action,
            self.focus_action,
            self.regenerate_action,
            self.stop_action,
            self.settings_action,
            self.copy_chat_action,
        ):
            chat_menu.addAction(action)

        models_menu = self.menuBar().addMenu("&Models")
        self.manager_action = self._action("&Model manager…", "Ctrl+M", self.open_model_manager)
        models_menu.addAction(self.manager_action)
        self.refresh_models_action = self._action("&Refresh model list", "F5", self.refresh_models)
        models_menu.addAction(self.refresh_models_action)

        view_menu = self.view_menu = self.menuBar().addMenu("&View")
        self.theme_actions = QActionGroup(self)
        self.theme_actions.setExclusive(True)
        for choice, label in (
            ("system", "Follow the &system"),
            ("light", "&Light"),
            ("dark", "&Dark"),
        ):
            action = QAction(label, self)
            action.setCheckable(True)
            action.setData(choice)
            action.triggered.connect(lambda _=False, c=choice: self.set_theme(c))
            self.theme_actions.addAction(action)
            view_menu.addAction(action)

        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = self._action("&Keyboard shortcuts", "F1", self.show_shortcuts)
        help_menu.addAction(self.shortcuts_action)

    def _connect(self) -> None:
        self.sidebar.chatSelected.connect(self.open_chat)
        self.sidebar.searchHitActivated.connect(self._open_hit)
        self.sidebar.newChatRequested.connect(self.new_chat)
        self.sidebar.renameRequested.connect(self.rename_chat)
        self.sidebar.pinToggled.connect(self.toggle_pin)
        self.sidebar.deleteRequested.connect(self.delete_chat)
        self.sidebar.undoDeleteRequested.connect(self.undo_delete)
        self.sidebar.exportRequested.connect(self.export_chat)
        self.sidebar.searchChanged.connect(self.search)
        self.pane.chatsChanged.connect(self.refresh_chats)
        self.pane.chatCreated.connect(self._chat_created)
        self.pane.statusMessage.connect(self.show_message)
        self.monitor.changed.connect(self._show_connection)
        self.onboarding.retryRequested.connect(self.monitor.check_now)
        self.onboarding.startManagedRequested.connect(self.monitor.start_managed)
        self.onboarding.addRemoteRequested.connect(self.add_remote_host)

    # --- state ----------------------------------------------------------------------------

    def _settings(self) -> Settings:
        return Settings.load(self.ctx.paths.settings_file)

    def _restore(self) -> None:
        settings = self._settings()
        geometry = settings.extra.get("window_geometry")
        if isinstance(geometry, str):
            self.restoreGeometry(QByteArray(base64.b64decode(geometry)))
        sizes = settings.extra.get("splitter_sizes")
        if isinstance(sizes, list) and all(isinstance(s, int) for s in sizes):
            self.splitter.setSizes(sizes)
        last = settings.extra.get("last_chat")
        chat_id = last if isinstance(last, int) else None
        if chat_id is not None:
            try:
                self.db.get_chat(chat_id)
            except PhiDeskError:
                chat_id = None
        self.open_chat(chat_id)

    def save_state(self) -> None:
        settings = self._settings()
        settings.extra["window_geometry"] = base64.b64encode(
            bytes(self.saveGeometry().data())
        ).decode()
        settings.extra["splitter_sizes"] = self.splitter.sizes()
        settings.extra["last_chat"] = self.pane.current_chat
        settings.save(self.ctx.paths.settings_file)

    @Slot(str, str)
    def _show_connection(self, state: str, detail: str) -> None:
        connection = ConnectionState(state)
        self.connection_dot.setStyleSheet(f"color: {STATE_COLOURS[connection]};")
        self.connection_dot.setToolTip(connection.value)
        self.host_label.setText(detail)
        if connection is ConnectionState.UNREACHABLE:
            self.onboarding.show_reason(
                detail, host=self.client.host, ollama_installed=self.monitor.ollama_installed
            )
            self.stack.setCurrentWidget(self.onboarding)
        elif connection is ConnectionState.CONNECTED:
            self.stack.setCurrentWidget(self.pane)
            self.refresh_models()

    @Slot(str)
    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # --- chats ----------------------------------------------------------------------------

    @Slot()
    def refresh_chats(self) -> None:
        if self.sidebar.query:
            self.search(self.sidebar.query)
            return
        self.sidebar.show_chats(self.db.list_chats(), self.pane.current_chat)

    @Slot(str)
    def search(self, query: str) -> None:
        if not query:
            self.sidebar.show_chats(self.db.list_chats(), self.pane.current_chat)
            return
        self.sidebar.show_hits(self.db.search(query))

    @Slot(int)
    def open_chat(self, chat_id: int | None) -> None:
        self.pane.open_chat(chat_id)
        if chat_id is not None:
            self.sidebar.select(chat_id)

    @Slot(int, int)
    def _open_hit(self, chat_id: int, _message_id: int) -> None:
        self.pane.open_chat(chat_id)

    @Slot(int)
    def _chat_created(self, chat_id: int) -> None:
        self.refresh_chats()
        if self.pane.current_chat != chat_id:
            self.open_chat(chat_id)
        self.sidebar.select(chat_id)

    @Slot()
    def new_chat(self) -> None:
        self.pane.open_chat(None)
        self.sidebar.list.clearSelection()
        self.focus_composer()

    @Slot(int)
    def rename_chat(self, chat_id: int) -> None:
        chat = self.db.get_chat(chat_id)
        title, ok = QInputDialog.getText(self, "Rename chat", "New title:", text=chat.title)
        if ok and title.strip():
            self.db.update_chat(chat_id, title=title.strip())
            if chat_id == self.pane.current_chat:
                self.pane.title.setText(title.strip())
            self.refresh_chats()

    @Slot(int)
    def toggle_pin(self, chat_id: int) -> None:
        chat = self.db.get_chat(chat_id)
        self.db.update_chat(chat_id, pinned=not chat.pinned)
        self.refresh_chats()

    @Slot(int)
    def delete_chat(self, chat_id: int) -> None:
        chat = self.db.get_chat(chat_id)
        live = self.pane.live.get(chat_id)
        if live is not None:
            live.task.cancel()
        self.db.delete_chat(chat_id)
        if self.pane.current_chat == chat_id:
            self.pane.open_chat(None)
        self.sidebar.offer_undo(chat_id, chat.title)
        self.refresh_chats()

    @Slot(int)
    def undo_delete(self, chat_id: int) -> None:
        self.db.restore_chat(chat_id)
        self.refresh_chats()
        self.open_chat(chat_id)

    @Slot()
    def focus_search(self) -> None:
        self.sidebar.search.setFocus()
        self.sidebar.search.selectAll()

    @Slot()
    def focus_composer(self) -> None:
        self.pane.composer.edit.setFocus()

    # --- models ---------------------------------------------------------------------------

    @Slot()
    def refresh_models(self) -> None:
        self._tasks.start(self._load_models(), name="list models")

    async def _load_models(self) -> None:
        try:
            models = await self.client.list_models()
        except OllamaError as exc:
            self.show_message(str(exc))
            return
        self.pane.picker.set_models(models, self.catalog)
        if self.pane.current_chat is not None:
            self.pane.picker.select(self.db.get_chat(self.pane.current_chat).model)
        else:
            default = self._settings().default_model
            if default:
                self.pane.picker.select(default)

    @Slot()
    def open_model_manager(self) -> None:
        try:
            from app.gui.model_manager import ModelManagerWindow
        except ImportError:
            self.show_message("The model manager is not available in this build.")
            return
        window = getattr(self, "_manager", None)
        if window is None:
            window = ModelManagerWindow(
                self.client,
                self.ctx.paths,
                parent=self,
                measured_speed=self.db.measured_speed,
                catalog=self.catalog,
            )
            window.modelsChanged.connect(self.refresh_models)
            window.defaultModelChosen.connect(self._set_default_model)
            self._manager = window
        window.show()
        window.raise_()
        window.activateWindow()

    @Slot(str)
    def _set_default_model(self, name: str) -> None:
        settings = self._settings()
        settings.default_model = name
        settings.save(self.ctx.paths.settings_file)
        self.show_message(f"New chats now use {name}.")

    # --- export / import ------------------------------------------------------------------

    @Slot()
    def export_current(self) -> None:
        if self.pane.current_chat is not None:
            self.export_chat(self.pane.current_chat)

    @Slot(int)
    def export_chat(self, chat_id: int) -> None:
        chat = self.db.get_chat(chat_id)
        path, _ = QFileDialog.getSaveFileName(
            self, "Export chat", str(Path.home() / suggested_file_name(chat)), "Markdown (*.md)"
        )
        if path:
            self.export_to([chat_id], Path(path))

    @Slot()
    def export_all(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export all chats", str(Path.home() / "phidesk-chats.zip"), "Zip (*.zip)"
        )
        if path:
            self.export_to([c.id for c in self.db.list_chats()], Path(path))

    def export_to(self, chat_ids: list[int], destination: Path) -> list[Path]:
        """Write the chats as Markdown (a .md file, a folder, or a .zip by the name)."""
        try:
            written = export_chats(self.db, chat_ids, destination)
        except PhiDeskError as exc:
            self.show_message(str(exc))
            return []
        where = written[0] if len(written) == 1 else destination
        self.show_message(f"Exported {len(chat_ids)} chat(s) to {where}.")
        return written

    @Slot()
    def import_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Import chats", str(Path.home()), "Markdown (*.md *.zip)"
        )
        if paths:
            self.import_from([Path(p) for p in paths])

    def import_from(self, paths: list[Path]) -> None:
        try:
            chats = import_files(self.db, paths)
        except PhiDeskError as exc:
            self.show_message(str(exc))
            return
        self.refresh_chats()
        if chats:
            self.open_chat(chats[-1].id)
        self.show_message(f"Imported {len(chats)} chat(s).")

    @Slot()
    def copy_chat(self) -> None:
        if self.pane.current_chat is None:
            return
        QGuiApplication.clipboard().setText(export_chat_markdown(self.db, self.pane.current_chat))
        self.show_message("Copied the chat as Markdown.")

    # --- hosts ----------------------------------------------------------------------------

    def _fill_hosts_menu(self) -> None:
        self.hosts_menu.clear()
        for action in self.host_actions.actions():
            self.host_actions.removeAction(action)
        profiles = self.hosts.all() if self.hosts is not None else []
        for profile in profiles:
            action = QAction(f"{profile.name} ({profile.url})", self)
            action.setCheckable(True)
            action.setChecked(profile.url == self.client.host)
            action.triggered.connect(lambda _=False, p=profile: self.use_host(p))
            self.host_actions.addAction(action)
            self.hosts_menu.addAction(action)
        self.hosts_menu.addSeparator()
        self.hosts_menu.addAction(self.remote_action)

    def use_host(self, profile: HostProfile) -> None:
        """Talk to another Ollama from now on (and at the next start, unless --host or
        OLLAMA_HOST say otherwise)."""
        if profile.url == self.client.host:
            return
        self.pane.stop_all()
        old = self.client
        client = self.hosts.client(profile.id) if self.hosts else OllamaClient(profile.url)
        self.client = client
        self.pane.client = client
        self.pane.sessions.clear()
        self.clientChanged.emit(client)
        self.monitor.use(client)
        self._tasks.start(old.aclose(), name="close the previous client")
        settings = self._settings()
        settings.extra["host_url"] = profile.url
        settings.save(self.ctx.paths.settings_file)
        self._fill_hosts_menu()
        self.show_message(f"Now using Ollama at {profile.url} ({profile.name}).")

    @Slot()
    def add_remote_host(self) -> None:
        if self.hosts is None:
            return
        dialog = RemoteHostDialog(self)
        if not dialog.exec():
            return
        try:
            profile, saved = self.hosts.add(
                dialog.name.text() or dialog.url.text(),
                dialog.url.text(),
                token=dialog.token.text() or None,
                confirm_insecure=dialog.insecure.isChecked(),
            )
        except PhiDeskError as exc:
            self.show_message(str(exc))
            return
        self.use_host(profile)
        if saved is not None and saved.notice:
            self.show_message(saved.notice[:1].upper() + saved.notice[1:] + ".")

    # --- quick prompt ---------------------------------------------------------------------

    def add_quick_access(
        self, show_prompt: Callable[[], object], settings: Callable[[], object]
    ) -> None:
        """Menu entries for the quick prompt and its tray/shortcut settings."""
        self.quick_action = self._action("&Quick prompt", "Ctrl+Shift+Space", show_prompt)
        self.tray_settings_action = self._action("Tray and &quick prompt…", None, settings)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.quick_action)
        self.view_menu.addAction(self.tray_settings_action)

    # --- misc -----------------------------------------------------------------------------

    @Slot()
    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).exec()

    async def aclose(self) -> None:
        """Wait for streams, pulls and probes to end (called once the window has closed)."""
        await self.pane.aclose()
        await self._tasks.cancel_and_wait()
        manager = getattr(self, "_manager", None)
        if manager is not None:
            await manager.aclose()

    # --- theme ----------------------------------------------------------------------------

    def set_theme(self, choice: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, choice)
        self.pane.view.set_theme(choice)
        for action in self.theme_actions.actions():
            action.setChecked(action.data() == choice)
        settings = self._settings()
        if settings.theme != choice:
            settings.theme = choice
            settings.save(self.ctx.paths.settings_file)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self.monitor.stop()
        self.pane.shutdown()
        self._tasks.cancel_all()
        super().closeEvent(event)
        if event.isAccepted():
            self.closed.emit()
