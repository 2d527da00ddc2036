"""The chat list: chats under date sections (pinned first), search results one row per chat,
a "⋯" menu on the hovered row (and on right-click, or the Menu key, for the row it is on),
a dot on chats still answering, an Undo bar after a delete, and a collapsed form (a narrow rail
of icon buttons) for small windows. Rows are drawn by `app.gui.sidebar_rows`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QContextMenuEvent, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.compare_rows import add_comparison, comparison_item, comparison_menu
from app.gui.icons import Icon, icon, use_icon
from app.gui.sidebar_rows import (
    CHAT_ID,
    COMPARISON_ID,
    DATE,
    HIGHLIGHTS,
    LIVE,
    MATCHES,
    MENU_TARGET,
    MESSAGE_ID,
    MORE_WIDTH,
    PINNED,
    PLACEHOLDER,
    SECTION,
    SNIPPET,
    SUBTITLE,
    TITLE_HIGHLIGHTS,
    RowDelegate,
    matches_text,
    relative_time,
    section_of,
)
from app.store import Chat
from app.store.comparisons import Comparison
from app.store.search import ChatMatches

__all__ = ["CHAT_ID", "MESSAGE_ID", "ChatSidebar", "relative_time"]

RAIL_WIDTH = 48
TOGGLE_KEYS = "Ctrl+Shift+S"


class _ElidedLabel(QLabel):
    """A one-line label that never asks for more width than it gets: its text is elided."""

    def __init__(self) -> None:
        super().__init__()
        self.full_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(0)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self.setAccessibleName(text)
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self.full_text, Qt.TextElideMode.ElideRight, self.width()))


def _tool_button(purpose: Icon, name: str, tip: str, object_name: str) -> QToolButton:
    button = QToolButton()
    button.setObjectName(object_name)
    button.setAutoRaise(True)
    use_icon(button, purpose)
    button.setAccessibleName(name)
    button.setToolTip(tip)
    button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return button


class ChatSidebar(QWidget):
    chatSelected = Signal(int)
    searchHitActivated = Signal(int, int)
    newChatRequested = Signal()
    renameRequested = Signal(int)
    pinToggled = Signal(int)
    deleteRequested = Signal(int)
    exportRequested = Signal(int)
    undoDeleteRequested = Signal(int)
    searchChanged = Signal(str)
    collapsedChanged = Signal(bool)
    comparisonSelected = Signal(int)
    comparisonDeleteRequested = Signal(int)
    comparisonExportRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ChatSidebar")
        self.collapsed = False
        self.expanded_width = 280  # the width to open to again after folding
        self.toggle_button = _tool_button(
            Icon.SIDEBAR,
            "Hide the chat list",
            f"Hide the chat list ({TOGGLE_KEYS})",
            "SidebarToggle",
        )
        self.new_button = QPushButton("New chat")
        self.new_button.setObjectName("NewChatButton")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.new_button.setAccessibleName("New chat")
        use_icon(self.new_button, Icon.NEW_CHAT)
        self.search_button = _tool_button(
            Icon.SEARCH, "Search chats", "Search chats (Ctrl+K)", "SidebarSearchButton"
        )
        self.search = QLineEdit()
        self.search.setObjectName("ChatSearch")
        self.search.setPlaceholderText("Search chats (Ctrl+K)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search chats")
        self._search_icon = self.search.addAction(
            icon(Icon.SEARCH, self.palette()), QLineEdit.ActionPosition.LeadingPosition
        )
        for button in self.search.findChildren(QToolButton):  # the field's own icon buttons
            leading = button.defaultAction() is self._search_icon
            button.setAccessibleName("Search" if leading else "Clear the search")
        self.list = QListWidget()
        self.list.setObjectName("ChatList")
        self.list.setAccessibleName("Chats")
        self.list.setMouseTracking(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setFrameShape(QListWidget.Shape.NoFrame)
        self.list.setUniformItemSizes(False)
        self.delegate = RowDelegate(self.list)
        self.list.setItemDelegate(self.delegate)
        self.list.viewport().installEventFilter(self)
        self.list.installEventFilter(self)
        self.more_button = _tool_button(Icon.MORE, "More actions", "More actions", "ChatMoreButton")
        self.more_button.setParent(self.list.viewport())
        self.more_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the Menu key does it by keyboard
        self.more_button.hide()
        self._more_row = -1
        self.menu_item: QListWidgetItem | None = None  # the row whose menu is open
        self.undo_bar = QWidget()
        self.undo_bar.setObjectName("UndoBar")
        self.undo_label = _ElidedLabel()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setObjectName("UndoDeleteButton")
        self.undo_button.setAccessibleName("Undo delete")
        use_icon(self.undo_button, Icon.UNDO)
        undo_layout = QHBoxLayout(self.undo_bar)
        undo_layout.setContentsMargins(4, 0, 0, 0)
        undo_layout.addWidget(self.undo_label, 1)
        undo_layout.addWidget(self.undo_button)
        self.undo_bar.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.undo_bar.hide()
        self._undo_chat: int | None = None
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.timeout.connect(self.undo_bar.hide)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self._emit_search)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.toggle_button)
        top.addWidget(self.new_button, 1)
        self._top = top
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 8, 4, 8)
        layout.addLayout(top)
        layout.addWidget(self.search_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.undo_bar)
        layout.addStretch(0)  # the folded rail's buttons stay at the top
        self.search_button.hide()

        self.new_button.clicked.connect(self.newChatRequested)
        self.toggle_button.clicked.connect(lambda: self.set_collapsed(not self.collapsed))
        self.search_button.clicked.connect(self._search_from_rail)
        self.search.textChanged.connect(self._debounce.start)
        self.list.currentItemChanged.connect(self._current_changed)
        self.list.verticalScrollBar().valueChanged.connect(self._hide_more)
        self.more_button.clicked.connect(self._more_clicked)
        self.undo_button.clicked.connect(self._undo)
        self.searching = False
        self._live: set[int] = set()

    @property
    def query(self) -> str:
        return self.search.text().strip()

    @Slot()
    def _emit_search(self) -> None:
        self.searchChanged.emit(self.query)

    # --- filling ----------------------------------------------------------------------------

    def show_chats(
        self,
        chats: Sequence[Chat | Comparison],
        current: int | None,
        live: Collection[int] = (),
        now: datetime | None = None,
    ) -> None:
        """The chats (and comparisons) under their sections; `live`: chats answering now."""
        self.searching = False
        self._live = set(live)
        now = now or datetime.now(UTC)
        self._reset_list()
        section = ""
        for chat in chats:
            if isinstance(chat, Comparison):
                section = add_comparison(self.list, chat, now, section)
                continue
            item = QListWidgetItem(chat.title or "New chat")
            here = section_of(chat.pinned, chat.updated_at, now)
            if here != section:
                item.setData(SECTION, here)
                section = here
            subtitle = " · ".join(p for p in (chat.model, relative_time(chat.updated_at, now)) if p)
            item.setData(CHAT_ID, chat.id)
            item.setData(SUBTITLE, subtitle)
            item.setData(PINNED, chat.pinned)
            item.setToolTip(chat.title)
            self._set_live(item, chat.id in self._live)
            self.list.addItem(item)
            if chat.id == current:
                self.list.setCurrentItem(item)
        if not chats:
            self._placeholder("No chats yet. Start one with New chat.")
        self.list.blockSignals(False)

    def show_hits(
        self, results: Sequence[ChatMatches | Comparison], now: datetime | None = None
    ) -> None:
        """Search results: one row per chat with its newest match (and one per comparison)."""
        self.searching = True
        now = now or datetime.now(UTC)
        self._reset_list()
        for result in results:
            if isinstance(result, Comparison):
                self.list.addItem(comparison_item(result, now))
                continue
            item = QListWidgetItem(result.chat_title or "New chat")
            item.setData(CHAT_ID, result.chat_id)
            item.setData(MESSAGE_ID, result.message_id)
            item.setData(MATCHES, result.count)
            item.setData(SNIPPET, result.snippet)
            item.setData(HIGHLIGHTS, result.highlights)
            item.setData(TITLE_HIGHLIGHTS, result.title_highlights)
            item.setData(DATE, relative_time(result.updated_at, now))
            matches = "title matches" if not result.count else matches_text(result.count)
            item.setData(
                Qt.ItemDataRole.AccessibleTextRole,
                f"{result.chat_title}, {matches}: {result.snippet}",
            )
            item.setToolTip(result.chat_title)
            self.list.addItem(item)
        if not results:
            self._placeholder("No chats match.")
        self.list.blockSignals(False)

    def _reset_list(self) -> None:
        self._hide_more()
        self.list.blockSignals(True)
        self.list.clear()

    def _placeholder(self, text: str) -> None:
        item = QListWidgetItem(text)
        item.setData(PLACEHOLDER, True)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        self.list.addItem(item)

    def set_live(self, chat_ids: Collection[int]) -> None:
        """Mark the chats with an answer streaming now (a dot on their rows)."""
        self._live = set(chat_ids)
        for row in range(self.list.count()):
            item = self.list.item(row)
            chat_id = item.data(CHAT_ID)
            if isinstance(chat_id, int) and not self.searching:
                self._set_live(item, chat_id in self._live)

    @staticmethod
    def _set_live(item: QListWidgetItem, live: bool) -> None:
        if bool(item.data(LIVE)) != live:
            item.setData(LIVE, live)
        words = [item.text(), str(item.data(SUBTITLE) or "")]
        if item.data(PINNED):
            words.append("pinned")
        if live:
            words.append("answering now")
        item.setData(Qt.ItemDataRole.AccessibleTextRole, ", ".join(w for w in words if w))

    def item_for(self, chat_id: int) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(CHAT_ID) == chat_id:
                return item
        return None

    # --- choosing -----------------------------------------------------------------------------

    @Slot(QListWidgetItem, QListWidgetItem)
    def _current_changed(self, item: QListWidgetItem | None, _: QListWidgetItem | None) -> None:
        if item is None:
            return
        if isinstance(item.data(COMPARISON_ID), int):
            self.comparisonSelected.emit(item.data(COMPARISON_ID))
            return
        chat_id = item.data(CHAT_ID)
        if not isinstance(chat_id, int):
            return
        message_id = item.data(MESSAGE_ID)
        if self.searching and isinstance(message_id, int):
            self.searchHitActivated.emit(chat_id, message_id)
        else:
            self.chatSelected.emit(chat_id)

    def select(self, chat_id: int) -> None:
        item = self.item_for(chat_id)
        if item is not None:
            self.list.blockSignals(True)
            self.list.setCurrentItem(item)
            self.list.blockSignals(False)

    # --- the row menu ---------------------------------------------------------------------------

    def row_menu(self, item: QListWidgetItem) -> QMenu:
        """Rename, Pin/Unpin, Export and Delete for the chat of `item` (and only that chat)."""
        chat_id: int = item.data(CHAT_ID)
        menu = QMenu(self)
        menu.setObjectName("ChatRowMenu")
        menu.setAccessibleName(f"Actions for {item.text()}")
        if isinstance(compared := item.data(COMPARISON_ID), int):
            signals = (self.comparisonSelected, self.comparisonExportRequested,
                       self.comparisonDeleteRequested)  # fmt: skip
            return comparison_menu(menu, self.palette(), compared, *(s.emit for s in signals))
        pinned = bool(item.data(PINNED))
        for purpose, text, signal in (
            (Icon.RENAME, "Rename…", self.renameRequested),
            (Icon.UNPIN if pinned else Icon.PIN, "Unpin" if pinned else "Pin", self.pinToggled),
            (Icon.EXPORT, "Export as Markdown…", self.exportRequested),
            (None, "", None),
            (Icon.DELETE, "Delete", self.deleteRequested),
        ):
            if purpose is None or signal is None:
                menu.addSeparator()
                continue
            action = menu.addAction(icon(purpose, self.palette()), text)
            action.triggered.connect(lambda _=False, s=signal: s.emit(chat_id))
        return menu

    def open_row_menu(self, item: QListWidgetItem, where: QPoint) -> None:
        """Show the row menu of `item` at `where` (global), the row marked while it is open."""
        if not isinstance(item.data(CHAT_ID), int) and item.data(COMPARISON_ID) is None:
            return
        menu = self.row_menu(item)
        item.setData(MENU_TARGET, True)
        self.menu_item = item
        try:
            menu.exec(where)
        finally:
            self.menu_item = None
            if self.list.row(item) >= 0:
                item.setData(MENU_TARGET, False)
            menu.deleteLater()

    @Slot()
    def _more_clicked(self) -> None:
        item = self.list.item(self._more_row)
        if item is not None:
            below = self.more_button.rect().bottomLeft()
            self.open_row_menu(item, self.more_button.mapToGlobal(below))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ContextMenu and isinstance(event, QContextMenuEvent):
            self._context_menu(event, watched is self.list.viewport())
            return True
        if watched is self.list.viewport():
            if kind == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
                self._hover(self.list.indexAt(event.position().toPoint()).row())
            elif kind == QEvent.Type.Leave and not self.more_button.underMouse():
                self._hover(-1)
        return False

    def _context_menu(self, event: QContextMenuEvent, on_viewport: bool) -> None:
        if event.reason() == QContextMenuEvent.Reason.Mouse:
            pos = (
                event.pos() if on_viewport else self.list.viewport().mapFrom(self.list, event.pos())
            )
            item = self.list.itemAt(pos)
            where = event.globalPos()
        else:  # the Menu key or Shift+F10: the current row
            item = self.list.currentItem()
            rect = self.list.visualItemRect(item) if item is not None else None
            where = self.list.viewport().mapToGlobal(rect.center()) if rect else event.globalPos()
        if item is not None:
            self.open_row_menu(item, where)

    def _hover(self, row: int) -> None:
        item = self.list.item(row) if row >= 0 else None
        if item is None or (item.data(CHAT_ID) is None and item.data(COMPARISON_ID) is None):
            row = -1
        if row == self.delegate.hovered_row:
            return
        self.delegate.hovered_row = row
        self.list.viewport().update()
        if row < 0:
            self._hide_more()
            return
        assert item is not None
        self._more_row = row
        self.more_button.setAccessibleName(f"More actions for {item.text()}")
        rect = self.delegate.body_rect(
            self.list.visualItemRect(item), self.list.indexFromItem(item), self.list.fontMetrics()
        )
        size = MORE_WIDTH - 4
        self.more_button.setGeometry(
            rect.right() - size - 4, rect.center().y() - size // 2, size, size
        )
        self.more_button.show()
        self.more_button.raise_()

    @Slot()
    def _hide_more(self) -> None:
        self.more_button.hide()
        self._more_row = -1
        if self.delegate.hovered_row != -1:
            self.delegate.hovered_row = -1
            self.list.viewport().update()

    # --- undo ---------------------------------------------------------------------------------

    def offer_undo(self, chat_id: int, title: str) -> None:
        self._undo_chat = chat_id
        self.undo_label.set_full_text(f"Deleted “{title}”")
        self.undo_bar.show()
        self._undo_timer.start(10_000)

    @Slot()
    def _undo(self) -> None:
        if self._undo_chat is not None:
            self.undoDeleteRequested.emit(self._undo_chat)
        self._undo_chat = None
        self.undo_bar.hide()

    # --- collapsing ---------------------------------------------------------------------------

    def set_collapsed(self, collapsed: bool) -> None:
        """Collapsed: a narrow rail with the toggle, New chat and Search buttons only."""
        if collapsed == self.collapsed:
            return
        self.collapsed = collapsed
        for widget in (self.search, self.list):
            widget.setVisible(not collapsed)
        self.undo_bar.setVisible(not collapsed and self._undo_timer.isActive())
        self.search_button.setVisible(collapsed)
        self.new_button.setText("" if collapsed else "New chat")
        self._top.setDirection(
            QHBoxLayout.Direction.TopToBottom if collapsed else QHBoxLayout.Direction.LeftToRight
        )
        verb = "Show" if collapsed else "Hide"
        self.toggle_button.setAccessibleName(f"{verb} the chat list")
        self.toggle_button.setToolTip(f"{verb} the chat list ({TOGGLE_KEYS})")
        if collapsed:
            self.expanded_width = max(self.width(), 200)
            self.setFixedWidth(RAIL_WIDTH)
        else:
            self.setMinimumWidth(0)
            self.setMaximumWidth(16_777_215)
        self.collapsedChanged.emit(collapsed)

    @Slot()
    def _search_from_rail(self) -> None:
        self.set_collapsed(False)
        self.search.setFocus()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._search_icon.setIcon(icon(Icon.SEARCH, self.palette()))
