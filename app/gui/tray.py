"""The system tray, and `QuickAccess`: everything the quick prompt needs wired in one object.

    access = QuickAccess(window, workspace)   # the quick prompt, tray (if any) and hotkey
    if not access.start_minimised: window.show()
    ... on {"action": "quick"}: access.handle_request(message)
    await access.aclose()

The tray exists only where the desktop has one (`QSystemTrayIcon.isSystemTrayAvailable()`;
never offscreen or on bare Xvfb, nor on stock GNOME). Without it the quick prompt still works
through the global shortcut and `phidesk quick`, and `TrayPanel` says why there is no tray.

Settings: `workspace.prefs.quick` (`keep_in_tray`, `start_minimised`, `hotkey`; "" for no
shortcut), changed only through `workspace.settings`, so every window sees the same values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QMenu,
    QPushButton,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from app.errors import PhiDeskError
from app.gui.hotkeys import QuickHotkey
from app.gui.main_window import MainWindow
from app.gui.quick_prompt import QuickPrompt, show_chat_in
from app.gui.tasks import Tasks
from app.store import Chat
from app.workspace import Change, ChatsChanged, Preferences, Workspace
from app.workspace import QuickAccess as QuickPrefs

log = logging.getLogger(__name__)

RECENT_CHATS = 8
NO_TRAY_REASON = (
    "This desktop has no system tray (GNOME needs the AppIndicator extension for one), so "
    "PhiDesk shows no tray icon and quits when its window closes. The quick prompt still opens "
    "with the global shortcut or the command “phidesk quick”."
)


def tray_available() -> bool:
    return QSystemTrayIcon.isSystemTrayAvailable()


def save_quick(workspace: Workspace, change_quick: Callable[[QuickPrefs], QuickPrefs]) -> None:
    """Change the quick-access settings, e.g. `lambda q: replace(q, keep_in_tray=True)`."""

    def change(prefs: Preferences) -> Preferences:
        return replace(prefs, quick=change_quick(prefs.quick))

    try:
        workspace.settings.update(change)
    except OSError as exc:
        log.warning("could not save the tray settings: %s", exc)


class Tray(QObject):
    """The tray icon and its menu: Quick prompt, Open PhiDesk, recent chats, the model and
    connection state, the two tray options, Quit.

    The recent chats are read from the workspace whenever its chats change (and when the menu
    opens), on the workspace's reader thread; the menu shows the latest list it has."""

    def __init__(self, window: MainWindow, quick: QuickPrompt, workspace: Workspace) -> None:
        super().__init__(window)
        self.window = window
        self.quick = quick
        self.workspace = workspace
        self._tasks = Tasks()
        self.menu = QMenu()
        self.quick_action = self.menu.addAction("Quick prompt")
        self.quick_action.triggered.connect(quick.show_prompt)
        self.open_action = self.menu.addAction("Open PhiDesk")
        self.open_action.triggered.connect(self.open_window)
        self.recent_menu = self.menu.addMenu("Recent chats")
        self.menu.addSeparator()
        self.state_action = self.menu.addAction("")
        self.state_action.setEnabled(False)
        self.menu.addSeparator()
        self.keep_action = self.menu.addAction("Keep running in the tray when closed")
        self.keep_action.setCheckable(True)
        self.keep_action.toggled.connect(self._keep_toggled)
        self.minimised_action = self.menu.addAction("Start minimised to the tray")
        self.minimised_action.setCheckable(True)
        self.minimised_action.toggled.connect(self._minimised_toggled)
        self.menu.addSeparator()
        self.quit_action = self.menu.addAction("Quit PhiDesk")
        self.quit_action.triggered.connect(self.quit)
        self.menu.aboutToShow.connect(self.refresh)
        self.icon: QSystemTrayIcon | None = None
        self.quitting = False
        if tray_available():
            self.icon = QSystemTrayIcon(QApplication.windowIcon(), self)
            if self.icon.icon().isNull():
                self.icon.setIcon(QIcon.fromTheme("dialog-information"))
            self.icon.setToolTip("PhiDesk")
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._activated)
            self.icon.show()
        # Quitting from the window's own menu must quit, not hide to the tray.
        window.quit_action.triggered.disconnect()
        window.quit_action.triggered.connect(self.quit)
        window.installEventFilter(self)
        window.monitor.changed.connect(self._connection_changed)
        self._unsubscribe: Callable[[], None] | None = workspace.subscribe(self._workspace_changed)
        self.show_recent([])
        self.refresh()

    @property
    def available(self) -> bool:
        return self.icon is not None

    @Slot(bool)
    def _keep_toggled(self, on: bool) -> None:
        save_quick(self.workspace, lambda q: replace(q, keep_in_tray=on))

    @Slot(bool)
    def _minimised_toggled(self, on: bool) -> None:
        save_quick(self.workspace, lambda q: replace(q, start_minimised=on))

    @Slot(str, str)
    def _connection_changed(self, _state: str, _detail: str) -> None:
        self.refresh()

    def _workspace_changed(self, change: Change) -> None:
        if isinstance(change, ChatsChanged):
            self._tasks.start(self.load_recent(), name="tray recent chats")

    def keeps_running(self) -> bool:
        """Closing the window only hides it (there is a tray and the user asked for that)."""
        return self.available and self.workspace.prefs.quick.keep_in_tray

    @Slot()
    def refresh(self) -> None:
        """The options, model and connection state now; the recent chats shortly after."""
        quick = self.workspace.prefs.quick
        for action, on in (
            (self.keep_action, quick.keep_in_tray),
            (self.minimised_action, quick.start_minimised),
        ):
            action.blockSignals(True)
            action.setChecked(on)
            action.blockSignals(False)
        model = self.window.pane.picker.current_model() or "no model chosen"
        state = self.window.monitor.state.value
        self.state_action.setText(f"{model} · {state}")
        if self.icon is not None:
            self.icon.setToolTip(f"PhiDesk — {model}, {state}")
        self._tasks.start(self.load_recent(), name="tray recent chats")

    async def load_recent(self) -> None:
        """Read the most recent chats and put them in the menu."""
        try:
            chats = await self.workspace.list_chats(limit=RECENT_CHATS)
        except PhiDeskError as exc:
            log.warning("tray: could not list recent chats: %s", exc)
            return
        self.show_recent(chats)

    def show_recent(self, chats: list[Chat]) -> None:
        self.recent_menu.clear()
        for chat in chats:
            title = chat.title or "New chat"
            action = self.recent_menu.addAction(title if len(title) <= 50 else title[:49] + "…")
            action.triggered.connect(lambda _=False, c=chat.id: show_chat_in(self.window, c))
        if not chats:
            self.recent_menu.addAction("No chats yet").setEnabled(False)

    @Slot(QSystemTrayIcon.ActivationReason)
    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.open_window()

    @Slot()
    def open_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    @Slot()
    def quit(self) -> None:
        self.quitting = True
        self.quick.hide_prompt()
        self.window.close()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.window
            and event.type() == QEvent.Type.Close
            and not self.quitting
            and self.keeps_running()
        ):
            event.ignore()
            self.window.save_state()
            self.window.hide()
            return True
        return False

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()

    async def aclose(self) -> None:
        """Stop listening to the workspace and wait for a menu update in flight."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.hide()
        await self._tasks.cancel_and_wait()


class TrayPanel(QWidget):
    """The settings for the tray and the quick prompt: the options (disabled, with the reason,
    where there is no tray) and the global shortcut with what it is really bound to."""

    def __init__(self, workspace: Workspace, hotkey: QuickHotkey, parent: QWidget | None = None):
        super().__init__(parent)
        self.workspace = workspace
        self.hotkey = hotkey
        quick = workspace.prefs.quick
        self.keep = QCheckBox("Keep running in the tray when the window closes")
        self.keep.setChecked(quick.keep_in_tray)
        self.minimised = QCheckBox("Start minimised to the tray")
        self.minimised.setChecked(quick.start_minimised)
        self.tray_note = QLabel()
        self.tray_note.setObjectName("TrayNote")
        self.tray_note.setWordWrap(True)
        if not tray_available():
            for box in (self.keep, self.minimised):
                box.setEnabled(False)
                box.setToolTip(NO_TRAY_REASON)
            self.tray_note.setText(NO_TRAY_REASON)
        self.tray_note.setVisible(not tray_available())
        self.shortcut = QKeySequenceEdit()
        self.shortcut.setObjectName("QuickShortcut")
        self.shortcut.setMaximumSequenceLength(1)
        self.shortcut.setKeySequence(quick.hotkey)
        self.apply_button = QPushButton("Apply")
        self.clear_button = QPushButton("None")
        self.binding = QLabel()
        self.binding.setObjectName("HotkeyStatus")
        self.binding.setWordWrap(True)
        self.binding.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.shortcut, 1)
        row.addWidget(self.apply_button)
        row.addWidget(self.clear_button)
        form = QFormLayout()
        form.addRow("Quick prompt shortcut:", row)
        form.addRow("", self.binding)
        layout = QVBoxLayout(self)
        layout.addWidget(self.keep)
        layout.addWidget(self.minimised)
        layout.addWidget(self.tray_note)
        layout.addLayout(form)
        layout.addStretch(1)
        self.keep.toggled.connect(self._keep_toggled)
        self.minimised.toggled.connect(self._minimised_toggled)
        self.apply_button.clicked.connect(self.apply_shortcut)
        self.clear_button.clicked.connect(self.clear_shortcut)
        hotkey.changed.connect(self.show_binding)
        self.show_binding()

    @Slot(bool)
    def _keep_toggled(self, on: bool) -> None:
        save_quick(self.workspace, lambda q: replace(q, keep_in_tray=on))

    @Slot(bool)
    def _minimised_toggled(self, on: bool) -> None:
        save_quick(self.workspace, lambda q: replace(q, start_minimised=on))

    @Slot()
    def apply_shortcut(self) -> None:
        text = self.shortcut.keySequence().toString()
        save_quick(self.workspace, lambda q: replace(q, hotkey=text))
        self.hotkey.apply(text)

    @Slot()
    def clear_shortcut(self) -> None:
        self.shortcut.clear()
        self.apply_shortcut()

    @Slot()
    def show_binding(self) -> None:
        result = self.hotkey.result
        self.binding.setText(
            result.message + "  On any desktop you can also bind the command “phidesk quick”."
        )


class QuickAccess(QObject):
    """The quick prompt, the tray (where there is one) and the global shortcut, wired to the
    main window. See the module docstring. A host switch needs nothing from here: the quick
    prompt asks `workspace.client` at each call."""

    def __init__(self, window: MainWindow, workspace: Workspace) -> None:
        super().__init__(window)
        self.window = window
        self.workspace = workspace
        self.quick = QuickPrompt(workspace, window.catalog)
        self.quick.continueInMain.connect(self._continue)
        self.tray = Tray(window, self.quick, workspace)
        self.hotkey = QuickHotkey(parent=self)
        self.hotkey.activated.connect(self.quick.show_prompt)
        self.hotkey.apply(workspace.prefs.quick.hotkey)

    @property
    def start_minimised(self) -> bool:
        """Leave the main window hidden at start (only where a tray can bring it back)."""
        return self.tray.available and self.workspace.prefs.quick.start_minimised

    @Slot(int)
    def _continue(self, chat_id: int) -> None:
        show_chat_in(self.window, chat_id)

    def handle_request(self, message: dict[str, object]) -> bool:
        """A single-instance request; True if it was ours ({"action": "quick"})."""
        if message.get("action") != "quick":
            return False
        self.quick.show_prompt()
        return True

    def settings_panel(self, parent: QWidget | None = None) -> TrayPanel:
        return TrayPanel(self.workspace, self.hotkey, parent)

    @Slot()
    def open_settings(self) -> QDialog:
        """A small dialog with `TrayPanel` (for a "Tray and quick prompt…" menu entry)."""
        dialog = QDialog(self.window)
        dialog.setWindowTitle("Tray and quick prompt")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(dialog)
        layout.addWidget(self.settings_panel(dialog))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(520, 260)
        dialog.show()
        return dialog

    async def aclose(self) -> None:
        self.hotkey.close()
        await self.tray.aclose()
        self.quick.hide()
        await self.quick.aclose()
