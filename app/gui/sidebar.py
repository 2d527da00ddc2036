"""The chat list: newest first, pinned on top, search with snippets, rename/pin/delete."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.store import Chat, SearchHit

CHAT_ID = Qt.ItemDataRole.UserRole
MESSAGE_ID = Qt.ItemDataRole.UserRole + 1


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    if seconds < 7 * 86400:
        return f"{seconds // 86400} d ago"
    return moment.astimezone().strftime("%Y-%m-%d")


HITS_PER_SLICE = 8
"""Search hits laid out per turn of the event loop."""


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

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.new_button = QPushButton("New chat")
        self.new_button.setObjectName("NewChatButton")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.search = QLineEdit()
        self.search.setObjectName("ChatSearch")
        self.search.setPlaceholderText("Search chats (Ctrl+K)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search chats")
        self.list = QListWidget()
        self.list.setObjectName("ChatList")
        self.list.setAccessibleName("Chats")
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        self.undo_bar = QWidget()
        self.undo_label = QLabel()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setObjectName("UndoDeleteButton")
        undo_layout = QHBoxLayout(self.undo_bar)
        undo_layout.setContentsMargins(0, 0, 0, 0)
        undo_layout.addWidget(self.undo_label, 1)
        undo_layout.addWidget(self.undo_button)
        self.undo_bar.hide()
        self._undo_chat: int | None = None
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.timeout.connect(self.undo_bar.hide)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self._emit_search)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.undo_bar)

        self.new_button.clicked.connect(self.newChatRequested)
        self.search.textChanged.connect(self._debounce.start)
        self.list.currentItemChanged.connect(self._current_changed)
        self.list.customContextMenuRequested.connect(self._menu)
        self.undo_button.clicked.connect(self._undo)
        self.searching = False
        self._fill_generation = 0

    @property
    def query(self) -> str:
        return self.search.text().strip()

    @Slot()
    def _emit_search(self) -> None:
        self.searchChanged.emit(self.query)

    def show_chats(self, chats: list[Chat], current: int | None) -> None:
        self.searching = False
        self._fill_generation += 1  # hits still being added belong to a search now over
        self.list.blockSignals(True)
        self.list.clear()
        for chat in chats:
            pin = "★ " if chat.pinned else ""
            subtitle = " · ".join(
                part for part in (chat.model, relative_time(chat.updated_at)) if part
            )
            item = QListWidgetItem(f"{pin}{chat.title or 'New chat'}\n{subtitle}")
            item.setData(CHAT_ID, chat.id)
            item.setToolTip(chat.title)
            self.list.addItem(item)
            if chat.id == current:
                self.list.setCurrentItem(item)
        if not chats:
            placeholder = QListWidgetItem("No chats yet.\nStart one with New chat.")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(placeholder)
        self.list.blockSignals(False)

    def show_hits(self, hits: list[SearchHit]) -> None:
        """Show search hits. Each is a rich-text label (about half a millisecond of layout), so
        they are added a slice at a time, each slice in its own turn of the event loop: fifty
        hits never hold the window for a whole frame."""
        self.searching = True
        self._fill_generation += 1
        self.list.blockSignals(True)
        self.list.clear()
        self.list.blockSignals(False)
        if not hits:
            item = QListWidgetItem("No messages match.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(item)
            return
        self._add_hits(hits, 0, self._fill_generation)

    def _add_hits(self, hits: list[SearchHit], start: int, generation: int) -> None:
        if generation != self._fill_generation:
            return  # a newer list or search replaced these hits
        self.list.blockSignals(True)
        for hit in hits[start : start + HITS_PER_SLICE]:
            item = QListWidgetItem()
            item.setData(CHAT_ID, hit.chat_id)
            item.setData(MESSAGE_ID, hit.message_id)
            label = QLabel(f"<b>{_escape(hit.chat_title)}</b><br>{hit.snippet_html}")
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setContentsMargins(4, 2, 4, 2)
            item.setSizeHint(label.sizeHint())
            self.list.addItem(item)
            self.list.setItemWidget(item, label)
        self.list.blockSignals(False)
        rest = start + HITS_PER_SLICE
        if rest < len(hits):
            QTimer.singleShot(0, self, lambda: self._add_hits(hits, rest, generation))

    @Slot(QListWidgetItem, QListWidgetItem)
    def _current_changed(self, item: QListWidgetItem | None, _: QListWidgetItem | None) -> None:
        if item is None:
            return
        chat_id = item.data(CHAT_ID)
        if not isinstance(chat_id, int):
            return
        message_id = item.data(MESSAGE_ID)
        if self.searching and isinstance(message_id, int):
            self.searchHitActivated.emit(chat_id, message_id)
        else:
            self.chatSelected.emit(chat_id)

    @Slot(QPoint)
    def _menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None or not isinstance(item.data(CHAT_ID), int):
            return
        chat_id: int = item.data(CHAT_ID)
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.renameRequested.emit(chat_id))
        menu.addAction("Pin / unpin", lambda: self.pinToggled.emit(chat_id))
        menu.addAction("Export as Markdown…", lambda: self.exportRequested.emit(chat_id))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.deleteRequested.emit(chat_id))
        menu.exec(self.list.mapToGlobal(pos))

    def offer_undo(self, chat_id: int, title: str) -> None:
        self._undo_chat = chat_id
        self.undo_label.setText(f"Deleted “{title}”")
        self.undo_bar.show()
        self._undo_timer.start(10_000)

    @Slot()
    def _undo(self) -> None:
        if self._undo_chat is not None:
            self.undoDeleteRequested.emit(self._undo_chat)
        self._undo_chat = None
        self.undo_bar.hide()

    def select(self, chat_id: int) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(CHAT_ID) == chat_id:
                self.list.blockSignals(True)
                self.list.setCurrentItem(item)
                self.list.blockSignals(False)
                return


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
