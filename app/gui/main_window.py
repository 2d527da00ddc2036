"""The main window: chats on the left, the conversation on the right, connection state below."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QGuiApplication,
    QKeySequence,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.backend.catalog import Catalog, default_catalog
from app.backend.client import OllamaClient
from app.backend.hosts import HostProfile, HostProfiles
from app.chat.transfer import suggested_file_name
from app.config import AppContext
from app.errors import PhiDeskError
from app.gui.chat_flows import show_model_in_manager
from app.gui.chat_pane import HISTORY_SHOWN, ChatPane
from app.gui.compare_rows import interleave
from app.gui.comparison_files import ask_and_export_comparison, import_comparisons
from app.gui.composer import COLUMN_PX
from app.gui.connection import ConnectionMonitor, ConnectionState
from app.gui.dialogs import RemoteHostDialog, ShortcutsDialog
from app.gui.export_dialog import ask_export_target
from app.gui.models_picker import model_label, offer_pull, refresh_picker
from app.gui.notice_area import NoticeArea
from app.gui.offline_banner import OfflineBanner, OfflineFlow
from app.gui.onboarding import OnboardingPage
from app.gui.sidebar import ChatSidebar
from app.gui.tasks import Tasks, answer_of
from app.gui.theme import THEMES, accent, apply_theme
from app.workspace import (
    ChatsChanged,
    Level,
    Notice,
    Scope,
    SettingsChanged,
    WindowState,
    Workspace,
)
from app.workspace.changes import Change
from app.workspace.settings import ZOOM_RANGE

log = logging.getLogger(__name__)

EXTERNAL_POLL_MS = 1500
"""How often the window looks for chats changed by another process (`phidesk ask`, an import)."""
SIDEBAR_FOLDS_BELOW = 1000
"""Window width (px) below which the chat list folds to a rail by itself."""
SIDEBAR_KEYS = "Ctrl+Shift+S"

STATE_COLOURS = {
    ConnectionState.CONNECTED: "success",
    ConnectionState.CHECKING: "neutral",
    ConnectionState.STARTING: "warning",
    ConnectionState.UNREACHABLE: "error",
}
"""The theme's accent (`app.gui.theme.accent`) of each connection state."""


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
        workspace: Workspace,
        monitor: ConnectionMonitor,
        hosts: HostProfiles | None = None,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.workspace = workspace
        self.monitor = monitor
        self.hosts = hosts
        self.catalog = _load_catalog()
        self._tasks = Tasks()
        self._refresh_pending = False
        self._search_generation = 0
        self._undo_comparison: int | None = None  # the Undo bar offers this comparison back
        self._sidebar_auto = False  # folded because the window got narrow, not by the user
        self._folding = False
        self.setWindowTitle("PhiDesk")
        self.setObjectName("MainWindow")
        self.resize(1200, 780)

        self.sidebar = ChatSidebar()
        self.pane = ChatPane(workspace, self.catalog)
        # Narrow windows (720 px): the picker may give up its preferred width; it elides.
        self.pane.picker.setMinimumWidth(self.pane.picker.fontMetrics().averageCharWidth() * 30)
        self.onboarding = OnboardingPage()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.pane)
        self.stack.addWidget(self.onboarding)
        self.notice_area = NoticeArea()
        self.notice_area.connect_to(workspace.notices, accept=self._shows_here)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 6, 8, 0)
        right_layout.setSpacing(4)
        right_layout.addWidget(self.notice_area)
        self.offline_banner = OfflineBanner()  # Ollama not answering: the chats stay
        right_layout.addWidget(self.offline_banner)
        right_layout.addWidget(self.stack, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([280, 920])
        self.setCentralWidget(self.splitter)

        self.connection_dot = QLabel("●")
        self.connection_dot.setObjectName("ConnectionDot")
        self.host_label = QLabel(monitor.detail)
        self.host_label.setObjectName("HostLabel")
        self.host_label.setAccessibleName("Connection status")
        # Permanent: passing messages (showMessage) never cover the connection's state.
        self.statusBar().addPermanentWidget(self.connection_dot)
        self.statusBar().addPermanentWidget(self.host_label)
        self.statusBar().addPermanentWidget(QLabel(f"PhiDesk {__version__}"))

        self._build_menus()
        self._connect()
        from app.gui.ollama_setup_flow import OllamaSetupFlow

        self.ollama = OllamaSetupFlow(self)
        self.offline = OfflineFlow(self)
        self.sidebar.collapsedChanged.connect(self._rail_room)
        self._show_connection(monitor.state.value, monitor.detail)
        self._unsubscribe = workspace.subscribe(self._changed)
        self._external = QTimer(self)
        self._external.setInterval(EXTERNAL_POLL_MS)
        self._external.timeout.connect(self._poll_external)
        self._external.start()
        self.refresh_chats()
        theme = workspace.prefs.theme
        self.set_theme(theme if theme in THEMES else "system")
        self.apply_reading_prefs()
        self._restore()

    @property
    def client(self) -> OllamaClient:
        """The client current now (the workspace's connection; the host may be switched)."""
        return self.workspace.client

    def _shows_here(self, notice: Notice) -> bool:
        """Everything, except what the open model manager already shows in its own area."""
        manager = getattr(self, "_manager", None)
        return not (notice.scope is Scope.ENGINE and manager is not None and manager.isVisible())

    def notice_text(self) -> str:
        """The sentence the message area shows now ("" when it is hidden)."""
        return self.notice_area.text.text() if self.notice_area.notice is not None else ""

    def _changed(self, change: Change) -> None:
        """The workspace's typed changes: chats changed here or in another process."""
        if isinstance(change, ChatsChanged):
            self._chats_dirty()
            current = self.pane.current_chat
            if (
                change.how.value == "external"
                and current is not None
                and current in change.chat_ids
                and current not in self.pane.live
            ):
                self.pane.open_chat(current)
        elif isinstance(change, SettingsChanged):
            if "theme" in change.sections:
                theme = self.workspace.prefs.theme
                checked = self.theme_actions.checkedAction()
                if checked is None or checked.data() != theme:
                    self.set_theme(theme)
            if change.sections & {"text_zoom", "send_with"}:
                self.apply_reading_prefs()

    def _chats_dirty(self) -> None:
        if not self._refresh_pending:
            self._refresh_pending = True
            QTimer.singleShot(0, self._refresh_now)

    @Slot()
    def _refresh_now(self) -> None:
        self._refresh_pending = False
        self.refresh_chats()

    @Slot()
    def _poll_external(self) -> None:
        self.workspace.reload_settings()
        if not self._tasks.running:
            self._tasks.start(self.workspace.poll_external(), name="poll other processes")

    # --- construction ---------------------------------------------------------------------

    def _action(
        self, text: str, keys: str | QKeySequence.StandardKey | None, slot: object
    ) -> QAction:
        action = QAction(text, self)
        if isinstance(keys, QKeySequence.StandardKey):
            bindings = QKeySequence.keyBindings(keys)
            fallback = {
                QKeySequence.StandardKey.Quit: "Ctrl+Q",
                QKeySequence.StandardKey.Preferences: "Ctrl+,",
            }.get(keys)
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
        self.engines_action = self._action("&Engines…", None, self.open_engines)
        file_menu.addAction(self.engines_action)
        self.hosts_menu = file_menu.addMenu("Ollama &host")
        self.host_actions = QActionGroup(self)
        self.host_actions.setExclusive(True)
        self.remote_action = QAction("Connect to a remote &host…", self)
        self.remote_action.triggered.connect(self.add_remote_host)
        self._fill_hosts_menu()
        file_menu.addSeparator()
        self.preferences_action = self._action(
            "&Preferences…", QKeySequence.StandardKey.Preferences, self.open_preferences
        )
        file_menu.addAction(self.preferences_action)
        file_menu.addSeparator()
        self.quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, self.close)
        file_menu.addAction(self.quit_action)

        chat_menu = self.menuBar().addMenu("&Chat")
        self.search_action = self._action("&Search chats", "Ctrl+K", self.focus_search)
        self.focus_action = self._action("&Message box", "Ctrl+L", self.focus_composer)
        self.regenerate_action = self._action("&Regenerate answer", "Ctrl+R", self.pane.regenerate)
        self.stop_action = self._action("S&top answer", None, self.pane.stop)
        self.settings_action = self._action(
            "Chat se&ttings…", "Ctrl+Shift+,", self.pane.edit_settings
        )
        self.copy_chat_action = self._action(
            "&Copy chat as Markdown", "Ctrl+Shift+C", self.copy_chat
        )
        self.compare_action = self._action("Com&pare…", "Ctrl+Shift+K", self.open_compare)
        for action in (
            self.search_action,
            self.focus_action,
            self.regenerate_action,
            self.stop_action,
            self.settings_action,
            self.copy_chat_action,
            self.compare_action,
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
        view_menu.addSeparator()
        self.zoom_in_action = self._action("&Larger text", "Ctrl+=", lambda: self.zoom_text(10))
        self.zoom_in_action.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self.zoom_out_action = self._action("&Smaller text", "Ctrl+-", lambda: self.zoom_text(-10))
        self.zoom_reset_action = self._action("&Actual size", "Ctrl+0", lambda: self.zoom_text(0))
        for action in (self.zoom_in_action, self.zoom_out_action, self.zoom_reset_action):
            view_menu.addAction(action)
        view_menu.addSeparator()
        self.sidebar_action = self._action(
            "Show the c&hat list", SIDEBAR_KEYS, lambda: self.show_sidebar(self.sidebar.collapsed)
        )
        self.sidebar_action.setCheckable(True)
        self.sidebar_action.setChecked(True)
        view_menu.addAction(self.sidebar_action)

        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = self._action("&Keyboard shortcuts", "F1", self.show_shortcuts)
        help_menu.addAction(self.shortcuts_action)
        from app.gui.diagnose import open_diagnose

        self.diagnose_action = self._action(
            "&Diagnose…",
            None,
            lambda: open_diagnose(self, self.ctx.paths, self.client, set_up=self.ollama.set_up),
        )
        help_menu.addAction(self.diagnose_action)
        self.about_action = self._action("&About PhiDesk", None, self.show_about)
        help_menu.addAction(self.about_action)

    def _connect(self) -> None:
        self.sidebar.chatSelected.connect(self.open_chat)
        self.sidebar.searchHitActivated.connect(self._open_hit)
        self.sidebar.newChatRequested.connect(self.new_chat)
        self.sidebar.renameRequested.connect(self.rename_chat)
        self.sidebar.pinToggled.connect(self.toggle_pin)
        self.sidebar.deleteRequested.connect(self.delete_chat)
        self.sidebar.undoDeleteRequested.connect(self.undo_delete)
        self.sidebar.exportRequested.connect(self.export_chat)
        self.sidebar.comparisonSelected.connect(self.open_comparison)
        self.sidebar.comparisonDeleteRequested.connect(self.delete_comparison)
        self.sidebar.comparisonExportRequested.connect(self.export_comparison)
        self.sidebar.searchChanged.connect(self.search)
        self.sidebar.collapsedChanged.connect(self._sidebar_collapsed)
        self.pane.chatsChanged.connect(self._chats_dirty)
        self.pane.chatCreated.connect(self._chat_created)
        self.notice_area.actionTriggered.connect(self.pane.notice_action)
        self.pane.flows.modelsStale.connect(self.refresh_models)
        self.pane.flows.pullRequested.connect(self.pull_model)
        self.monitor.changed.connect(self._show_connection)
        self.onboarding.retryRequested.connect(self.monitor.check_now)
        self.onboarding.startManagedRequested.connect(self.monitor.start_managed)
        self.onboarding.addRemoteRequested.connect(self.add_remote_host)

    # --- state ----------------------------------------------------------------------------

    def _restore(self) -> None:
        state = self.workspace.prefs.window
        if state.geometry:
            try:
                self.restoreGeometry(QByteArray(base64.b64decode(state.geometry)))
            except ValueError:
                log.info("the saved window geometry is damaged; using the default")
        if state.splitter_sizes and state.splitter_sizes[0] >= 120:  # not the folded rail
            self.splitter.setSizes(list(state.splitter_sizes))
        self.open_chat(None)
        if state.last_chat is not None:
            self._tasks.start(self._reopen(state.last_chat), name="reopen last chat")

    async def _reopen(self, chat_id: int) -> None:
        try:
            chat = await self.workspace.chat(chat_id)
        except PhiDeskError:
            return
        if chat.deleted_at is None and self.pane.current_chat is None:
            self.open_chat(chat_id)

    def save_state(self) -> None:
        state = WindowState(
            geometry=base64.b64encode(bytes(self.saveGeometry().data())).decode(),
            splitter_sizes=tuple(self.splitter.sizes()),
            last_chat=self.pane.current_chat,
        )
        try:
            self.workspace.settings.set(window=state)
        except OSError as exc:
            log.warning("could not save the window state: %s", exc)

    @Slot(str, str)
    def _show_connection(self, state: str, detail: str) -> None:
        connection = ConnectionState(state)
        self.connection_dot.setStyleSheet(f"color: {accent(STATE_COLOURS[connection]).name()};")
        self.connection_dot.setToolTip(connection.value)
        short = f"Ollama is not answering at {self.client.host}"  # the banner says the rest
        self.host_label.setText(short if connection is ConnectionState.UNREACHABLE else detail)
        self.host_label.setToolTip(detail)
        if connection is ConnectionState.CONNECTED:
            self.refresh_models()
        # Which page shows (the chats with a banner, or the first-start page): self.offline.

    @Slot(str)
    def show_message(self, text: str, level: Level = Level.INFO) -> None:
        """Say something in the window's one message area."""
        self.workspace.notices.post(level, text)

    # --- chats ----------------------------------------------------------------------------

    @Slot()
    def refresh_chats(self) -> None:
        self.search(self.sidebar.query)

    @Slot(str)
    def search(self, query: str) -> None:
        self._search_generation += 1
        self._tasks.start(self._search(query, self._search_generation), name="list chats")

    async def _search(self, query: str, generation: int) -> None:
        try:
            if query:
                hits = await self.workspace.search_chats(query)
                compared = await self.workspace.search_comparisons(query)
            else:
                chats = await self.workspace.list_chats()
                compared = await self.workspace.list_comparisons()
        except PhiDeskError as exc:
            self.show_message(str(exc), Level.ERROR)
            return
        if generation != self._search_generation:
            return  # a newer list or search is on its way
        if query:
            self.sidebar.show_hits(interleave(hits, compared, lambda h: h.updated_at))
        else:
            rows = interleave(chats, compared, lambda c: c.updated_at, lambda c: c.pinned)
            self.sidebar.show_chats(rows, self.pane.current_chat, live=self.pane.live)
            self.offline.chats_listed(len(chats))

    @Slot(int)
    def open_chat(self, chat_id: int | None) -> None:
        self.pane.open_chat(chat_id)
        if chat_id is not None:
            self.sidebar.select(chat_id)

    @Slot(int, int)
    def _open_hit(self, chat_id: int, message_id: int) -> None:
        """Open the chat on the branch that holds the hit (switched only when needed), loading
        history back to it, and scroll to the hit with a brief highlight."""

        async def open_branch() -> None:
            try:
                await self.workspace.show_message(message_id)
                path = [m.id for m in await self.workspace.messages(chat_id)]
                if message_id in path:
                    older = len(path) - path.index(message_id)
                    self.pane.history_shown[chat_id] = max(HISTORY_SHOWN, older + 10)
            finally:
                self.pane.view.scroll_to_message(str(message_id))
                self.pane.open_chat(chat_id)

        self._run(open_branch(), "open search hit")

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

    def _run(self, work: Coroutine[Any, Any, object], name: str) -> None:
        """Run a chat operation off the GUI thread; a failure becomes one sentence."""

        async def guarded() -> None:
            try:
                await work
            except PhiDeskError as exc:
                self.show_message(str(exc), Level.ERROR)

        self._tasks.start(guarded(), name=name)

    @Slot(int)
    def rename_chat(self, chat_id: int) -> None:
        self._run(self._rename(chat_id), "rename")

    async def _rename(self, chat_id: int) -> None:
        chat = await self.workspace.chat(chat_id)
        prompt = QInputDialog(self)
        prompt.setWindowTitle("Rename chat")
        prompt.setLabelText("New title:")
        prompt.setTextValue(chat.title)
        ok = await answer_of(prompt) == QInputDialog.DialogCode.Accepted
        title = prompt.textValue()
        prompt.deleteLater()
        if ok and title.strip():
            await self.workspace.rename(chat_id, title.strip())
            if chat_id == self.pane.current_chat:
                self.pane.title.setText(title.strip())

    @Slot(int)
    def toggle_pin(self, chat_id: int) -> None:
        async def toggle() -> None:
            chat = await self.workspace.chat(chat_id)
            await self.workspace.pin(chat_id, not chat.pinned)

        self._run(toggle(), "pin")

    @Slot(int)
    def delete_chat(self, chat_id: int) -> None:
        self.workspace.stop(chat_id)
        if self.pane.current_chat == chat_id:
            self.pane.open_chat(None)

        async def delete() -> None:
            chat = await self.workspace.chat(chat_id)
            await self.workspace.delete_chat(chat_id)
            self._undo_comparison = None
            self.sidebar.offer_undo(chat_id, chat.title)

        self._run(delete(), "delete chat")

    @Slot(int)
    def delete_comparison(self, comparison_id: int) -> None:
        """Move a comparison (and its answers not continued) to the trash, with Undo."""

        async def delete() -> None:
            found = await self.workspace.comparison(comparison_id)
            await self.workspace.delete_comparison(comparison_id)
            self._undo_comparison = comparison_id
            self.sidebar.offer_undo(comparison_id, found.title)

        self._run(delete(), "delete comparison")

    @Slot(int)
    def undo_delete(self, chat_id: int) -> None:
        if self._undo_comparison == chat_id:
            self._undo_comparison = None
            self._run(self.workspace.restore_comparison(chat_id), "restore comparison")
            return

        async def restore() -> None:
            await self.workspace.restore_chat(chat_id)
            self.open_chat(chat_id)

        self._run(restore(), "restore chat")

    def show_sidebar(self, shown: bool) -> None:
        """Show the chat list, or fold it to a rail of icons (the View menu, its toggle)."""
        self._sidebar_auto = False
        self.sidebar.set_collapsed(not shown)

    @Slot(bool)
    def _sidebar_collapsed(self, collapsed: bool) -> None:
        self.sidebar_action.setChecked(not collapsed)
        if not self._folding:
            self._sidebar_auto = False  # the user's own choice from now on
        if not collapsed:
            total = sum(self.splitter.sizes())
            width = min(self.sidebar.expanded_width, max(total // 3, 180))
            self.splitter.setSizes([width, max(total - width, 0)])

    @Slot(bool)
    def _rail_room(self, collapsed: bool) -> None:
        """Folded to its rail, the chat list gives the splitter's room back to the chat."""
        if collapsed:
            total = sum(self.splitter.sizes())
            rail = self.sidebar.maximumWidth()
            self.splitter.setSizes([rail, max(total - rail, 0)])

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Below SIDEBAR_FOLDS_BELOW px the chat list folds to its rail, and opens again when
        the window grows, unless the user chose otherwise meanwhile."""
        super().resizeEvent(event)
        narrow = event.size().width() < SIDEBAR_FOLDS_BELOW
        fold = narrow and not self.sidebar.collapsed
        unfold = not narrow and self.sidebar.collapsed and self._sidebar_auto
        if fold or unfold:
            self._folding = True
            try:
                self.sidebar.set_collapsed(fold)
            finally:
                self._folding = False
            self._sidebar_auto = fold

    @Slot()
    def focus_search(self) -> None:
        self.sidebar.set_collapsed(False)
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
        """Every engine's models in the picker (a section each), and a new chat's default."""
        local = await refresh_picker(self.pane.picker, self.workspace, self.catalog)
        if local.problem:
            self.show_message(local.problem)
        if self.pane.current_chat is not None:
            try:
                chat = await self.workspace.chat(self.pane.current_chat)
            except PhiDeskError:
                return
            self.pane.picker.select(chat.model, chat.engine)
        else:
            self.pane.picker.select_default()
            offer_pull(self.pane.picker, self.workspace.notices)
        self.pane.flows.model_shown()

    @Slot()
    def open_engines(self) -> None:
        """File > Engines…: add, test, edit and remove the servers chats can use."""
        from app.gui.engines_dialog import EnginesDialog

        dialog = getattr(self, "_engines", None)
        if dialog is None:
            dialog = EnginesDialog(self.workspace, self)
            dialog.enginesChanged.connect(self.refresh_models)
            self._engines = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    @Slot()
    def open_model_manager(self) -> None:
        try:
            from app.gui.model_manager import ModelManagerWindow
        except ImportError:
            self.show_message("The model manager is not available in this build.")
            return
        window = getattr(self, "_manager", None)
        if window is None:
            window = ModelManagerWindow(self.workspace, parent=self, catalog=self.catalog)
            window.modelsChanged.connect(self.refresh_models)
            window.defaultModelChosen.connect(self._set_default_model)
            window.newChatRequested.connect(self.new_chat_with)
            self._manager = window
        window.show()
        window.raise_()
        window.activateWindow()

    @Slot()
    def open_compare(self) -> None:
        """Chat > Compare…: one prompt to 2-4 models side by side (app.gui.compare_window)."""
        from app.gui.compare_window import CompareWindow

        window = getattr(self, "_compare", None)
        if window is None:
            window = CompareWindow(self.workspace, self.catalog, self)
            window.chatContinued.connect(self._open_continued)
            self._compare = window
            window.prepare(self.pane.current_chat)
        window.show()
        window.raise_()
        window.activateWindow()

    @Slot(int)
    def open_comparison(self, comparison_id: int) -> None:
        """A comparison's row: the compare view filled with it; the list goes back to the chat
        on screen, so the row opens it again when chosen again."""
        self.open_compare()
        self._compare.open_comparison(comparison_id)
        QTimer.singleShot(0, self, self._reselect)

    @Slot(int)
    def export_comparison(self, comparison_id: int) -> None:
        """A comparison's row menu: save it as one Markdown file (figures and every answer)."""
        self._run(ask_and_export_comparison(self, comparison_id), "export comparison")

    @Slot()
    def _reselect(self) -> None:
        self.sidebar.list.blockSignals(True)
        self.sidebar.list.setCurrentRow(-1)
        self.sidebar.list.blockSignals(False)
        if self.pane.current_chat is not None:
            self.sidebar.select(self.pane.current_chat)

    @Slot(int)
    def _open_continued(self, chat_id: int) -> None:
        """An answer of a comparison continued as a chat: listed, and opened here."""
        self.refresh_chats()
        self.open_chat(chat_id)
        self.raise_()
        self.activateWindow()

    @Slot(str)
    def pull_model(self, name: str) -> None:
        """The model manager, pointed at `name` to pull it (a chat's missing model)."""
        self.open_model_manager()
        manager = getattr(self, "_manager", None)
        if manager is not None:
            show_model_in_manager(manager, name, self.catalog)

    @Slot(str)
    def new_chat_with(self, model: str) -> None:
        """Use in new chat (the model manager): a new chat with `model` chosen."""
        self.new_chat()
        self.pane.picker.select(model)
        self.raise_()
        self.activateWindow()

    @Slot(str)
    def _set_default_model(self, name: str) -> None:
        if self.workspace.prefs.default_model != name:
            self.workspace.set_default_model(name)
        self.show_message(f"New chats now use {name}.", Level.SUCCESS)

    # --- export / import ------------------------------------------------------------------

    @Slot()
    def export_current(self) -> None:
        if self.pane.current_chat is not None:
            self.export_chat(self.pane.current_chat)

    @Slot(int)
    def export_chat(self, chat_id: int) -> None:
        async def ask_and_export() -> None:
            chat = await self.workspace.chat(chat_id)
            branched = bool(await self.workspace.branch_points([chat_id]))
            chosen = await ask_export_target(
                self,
                "Export chat",
                Path.home() / suggested_file_name(chat),
                "Markdown (*.md)",
                offer_branches=branched,
            )
            if chosen is not None:
                await self.export_to([chat_id], chosen[0], all_branches=chosen[1])

        self._run(ask_and_export(), "export chat")

    @Slot()
    def export_all(self) -> None:
        self._run(self._export_all(), "export all chats")

    async def _export_all(self) -> None:
        chats = await self.workspace.list_chats()
        ids = [c.id for c in chats]
        chosen = await ask_export_target(
            self,
            "Export all chats",
            Path.home() / "phidesk-chats.zip",
            "Zip (*.zip)",
            offer_branches=bool(await self.workspace.branch_points(ids)),
        )
        if chosen is not None:
            await self.export_to(ids, chosen[0], all_branches=chosen[1])

    async def export_to(
        self, chat_ids: list[int], destination: Path, *, all_branches: bool = False
    ) -> list[Path]:
        """Write the chats as Markdown (a .md file, a folder, or a .zip by the name), on a
        worker thread; the window stays usable meanwhile. `all_branches`: every version of
        their messages, not only those on show."""
        self.show_message(f"Exporting {len(chat_ids)} chat(s)…")
        try:
            written = await self.workspace.export(chat_ids, destination, all_branches=all_branches)
        except PhiDeskError as exc:
            self.show_message(str(exc), Level.ERROR)
            return []
        where = written[0] if len(written) == 1 else destination
        self.show_message(f"Exported {len(chat_ids)} chat(s) to {where}.", Level.SUCCESS)
        return written

    @Slot()
    def import_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Import chats", str(Path.home()), "Markdown (*.md *.zip)"
        )
        if paths:
            self._run(self.import_from([Path(p) for p in paths]), "import")

    async def import_from(self, paths: list[Path]) -> None:
        """Import Markdown files or zips on a worker thread, then open the last chat
        (comparison exports: each comparison, opened in the compare view)."""
        if await import_comparisons(self, paths):
            return
        self.show_message("Importing…")
        try:
            imported = await self.workspace.import_files(paths)
        except PhiDeskError as exc:
            self.show_message(str(exc), Level.ERROR)
            return
        shown = imported or imported.skipped
        if shown:
            self.open_chat(shown[-1].id)
        self.show_message(imported.summary(), Level.SUCCESS)

    @Slot()
    def copy_chat(self) -> None:
        chat_id = self.pane.current_chat
        if chat_id is None:
            return

        async def copy() -> None:
            text = await self.workspace.chat_markdown(chat_id)
            QGuiApplication.clipboard().setText(text)
            self.show_message("Copied the chat as Markdown.", Level.SUCCESS)

        self._run(copy(), "copy chat")

    # --- hosts ----------------------------------------------------------------------------

    def _fill_hosts_menu(self) -> None:
        self._fill_hosts_menu_for(self.client.host)

    def _fill_hosts_menu_for(self, current: str) -> None:
        self.hosts_menu.clear()
        for action in self.host_actions.actions():
            self.host_actions.removeAction(action)
        profiles = self.hosts.all() if self.hosts is not None else []
        for profile in profiles:
            action = QAction(f"{profile.name} ({profile.url})", self)
            action.setCheckable(True)
            action.setChecked(profile.url == current)
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
        client = self.hosts.client(profile.id) if self.hosts else OllamaClient(profile.url)
        # Answers streaming now finish on the old server; everything else moves at once.
        self._tasks.start(self.workspace.use_client(client), name="switch host")
        self.clientChanged.emit(client)
        try:
            self.workspace.settings.set(host_url=profile.url)
        except OSError as exc:
            log.warning("could not remember the host: %s", exc)
        self._fill_hosts_menu_for(profile.url)
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
            self.show_message(str(exc), Level.ERROR)
            return
        self.use_host(profile)
        if saved is not None and saved.notice:
            self.show_message(saved.notice, Level.WARNING)

    # --- quick prompt ---------------------------------------------------------------------

    def add_quick_access(
        self,
        show_prompt: Callable[[], object],
        settings: Callable[[], object],
        panel: Callable[[QWidget], QWidget] | None = None,
    ) -> None:
        """Menu entries for the quick prompt and its tray/shortcut settings; `panel(parent)`
        builds those settings as a page of Preferences."""
        self._tray_panel = panel
        self.quick_action = self._action("&Quick prompt", "Ctrl+Shift+Space", show_prompt)
        self.tray_settings_action = self._action("Tray and &quick prompt…", None, settings)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.quick_action)
        self.view_menu.addAction(self.tray_settings_action)

    # --- misc -----------------------------------------------------------------------------

    @Slot()
    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).exec()

    @Slot()
    def open_preferences(self) -> None:
        from app.gui.preferences import open_preferences

        models = [(m.name, model_label(m)) for m in self.pane.picker.models]
        panel = getattr(self, "_tray_panel", None)
        self._preferences = open_preferences(self, self.workspace, models, panel)

    @Slot()
    def show_about(self) -> None:
        from app.gui.about import open_about

        self._about = open_about(self, self.ctx.paths)

    def zoom_text(self, step: int) -> None:
        """Text size of the conversation: `step` percent more or less; 0 resets to 100 %."""
        low, high = ZOOM_RANGE
        zoom = 100 if step == 0 else min(max(self.workspace.prefs.text_zoom + step, low), high)
        try:
            self.workspace.settings.set(text_zoom=zoom)
        except OSError as exc:
            log.warning("could not save the text size: %s", exc)
            self.pane.view.setZoomFactor(zoom / 100)

    def apply_reading_prefs(self) -> None:
        """The text size and the key that sends, as the preferences say."""
        prefs = self.workspace.prefs
        self.pane.view.setZoomFactor(prefs.text_zoom / 100)
        self.pane.composer.set_column_width(round(COLUMN_PX * prefs.text_zoom / 100))
        self.pane.composer.set_send_with(prefs.send_with)

    async def aclose(self) -> None:
        """Wait for streams, pulls and probes to end (called once the window has closed)."""
        await self.pane.aclose()
        await self.ollama.aclose()
        await self._tasks.cancel_and_wait()
        manager = getattr(self, "_manager", None)
        if manager is not None:
            await manager.aclose()
        compare = getattr(self, "_compare", None)
        if compare is not None:
            await compare.aclose()

    # --- theme ----------------------------------------------------------------------------

    def set_theme(self, choice: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, choice)
        self.pane.view.set_theme(choice)
        for action in self.theme_actions.actions():
            action.setChecked(action.data() == choice)
        if self.workspace.prefs.theme != choice:
            try:
                self.workspace.settings.set(theme=choice)
            except OSError as exc:
                log.warning("could not save the theme: %s", exc)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self._external.stop()
        self._unsubscribe()
        self.monitor.stop()
        self.pane.shutdown()
        self._tasks.cancel_all()
        super().closeEvent(event)
        if event.isAccepted():
            self.closed.emit()
