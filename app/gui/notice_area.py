"""The one place a window tells the user something: a callout showing the newest `Notice` from
the application layer's board, with its actions and a close button.

Notices may be posted from any thread (an exception hook in a worker, a database thread); the
`NoticeBridge` carries each one to the GUI thread through a queued signal before any widget
sees it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QToolButton,
    QWidget,
)

from app.gui.theme import accent, current_scheme, tint
from app.workspace import Level, Notice, NoticeAction, Notices

ICONS = {
    Level.INFO: QStyle.StandardPixmap.SP_MessageBoxInformation,
    Level.SUCCESS: QStyle.StandardPixmap.SP_DialogApplyButton,
    Level.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    Level.ERROR: QStyle.StandardPixmap.SP_MessageBoxCritical,
}
ACCENTS = {
    Level.INFO: "info",
    Level.SUCCESS: "success",
    Level.WARNING: "warning",
    Level.ERROR: "error",
}
"""The theme's accent (`app.gui.theme.accent`) of each level."""
HIDE_AFTER_MS = {Level.INFO: 8000, Level.SUCCESS: 6000}
"""Info and success fold away by themselves; warnings and errors stay until closed."""


_THEMED = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


class NoticeBridge(QObject):
    """Receives notices on any thread; re-emits them on the thread this object lives on."""

    posted = Signal(object)

    def __init__(self, notices: Notices, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe = notices.subscribe(self._from_any_thread)
        self.destroyed.connect(self._unsubscribe)

    def _from_any_thread(self, notice: Notice) -> None:
        self.posted.emit(notice)  # queued across threads, direct on the GUI thread

    def detach(self) -> None:
        self._unsubscribe()


class NoticeArea(QFrame):
    """A slim callout under a window's header: icon, one sentence, action buttons, close."""

    actionTriggered = Signal(str, str)
    """(action key, argument), e.g. ("retry", "") or ("pull-model", "phi4-mini")."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("NoticeArea")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.notice: Notice | None = None
        self._scheme = current_scheme()
        self.icon = QLabel()
        self.icon.setFixedSize(20, 20)
        self.text = QLabel()
        self.text.setObjectName("NoticeText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton()
        self.close_button.setObjectName("NoticeClose")
        self.close_button.setAutoRaise(True)
        self.close_button.setIcon(
            self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton)
        )
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss the message")
        self.close_button.clicked.connect(self.dismiss)
        self._buttons: list[QPushButton] = []
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 6, 6, 6)
        self._layout.setSpacing(8)
        self._layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        self._layout.addWidget(self.text, 1)
        self._layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.hide()

    def connect_to(self, notices: Notices, accept: Callable[[Notice], bool] | None = None) -> None:
        """Show every notice posted on `notices` (those `accept` lets through)."""
        bridge = NoticeBridge(notices, self)

        def on_posted(notice: object) -> None:
            if isinstance(notice, Notice) and (accept is None or accept(notice)):
                self.show_notice(notice)

        bridge.posted.connect(on_posted)
        self._bridge = bridge

    def show_notice(self, notice: Notice) -> None:
        self.notice = notice
        self.text.setText(notice.text)
        self.icon.setPixmap(self.style().standardIcon(ICONS[notice.level]).pixmap(18, 18))
        self.setAccessibleDescription(f"{notice.level.value}: {notice.text}")
        self._set_actions(notice.actions)
        self._paint(notice.level)
        self.show()
        delay = HIDE_AFTER_MS.get(notice.level)
        if delay is not None and not notice.actions:
            self._timer.start(delay)
        else:
            self._timer.stop()

    def _set_actions(self, actions: tuple[NoticeAction, ...]) -> None:
        for button in self._buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self._buttons = []
        for index, action in enumerate(actions):
            button = QPushButton(action.label)
            button.setObjectName(f"NoticeAction-{action.key}")
            button.clicked.connect(
                lambda _=False, a=action: self._triggered(a)  # GUI-thread widget signal
            )
            self._layout.insertWidget(2 + index, button)
            self._buttons.append(button)

    def _triggered(self, action: NoticeAction) -> None:
        self.dismiss()
        self.actionTriggered.emit(action.key, action.argument)

    def _paint(self, level: Level) -> None:
        self._scheme = current_scheme()
        colour = accent(ACCENTS[level])
        self.setStyleSheet(
            f"#NoticeArea {{ background: {tint(colour).name()}; border: 1px solid {colour.name()};"
            " border-radius: 8px; }"
        )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        changed = event.type() in _THEMED and current_scheme() != self._scheme
        if changed and self.notice is not None:
            self._paint(self.notice.level)  # the theme changed: its accents too

    @Slot()
    def dismiss(self) -> None:
        self._timer.stop()
        self.notice = None
        self.hide()
