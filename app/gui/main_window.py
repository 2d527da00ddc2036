"""The main window: chat list on the left, the conversation on the right."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.config import AppContext


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("PhiDesk")
        self.setObjectName("MainWindow")
        self.resize(1100, 720)

        self.chat_list = QListWidget()
        self.chat_list.setAccessibleName("Chats")
        self.chat_list.setObjectName("ChatList")
        sidebar = QWidget()
        side_layout = QVBoxLayout(sidebar)
        side_layout.setContentsMargins(8, 8, 8, 8)
        heading = QLabel("Chats")
        heading.setObjectName("SidebarHeading")
        side_layout.addWidget(heading)
        side_layout.addWidget(self.chat_list)

        self.welcome = QLabel(
            "<h2>Welcome to PhiDesk</h2>"
            "<p>Chat with the Microsoft Phi-4 family of models, running on your own machine "
            "through Ollama.</p>"
        )
        self.welcome.setObjectName("Welcome")
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.welcome.setWordWrap(True)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(sidebar)
        self.splitter.addWidget(self.welcome)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 840])
        self.setCentralWidget(self.splitter)

        self.host_label = QLabel(f"Ollama: {ctx.host}")
        self.host_label.setObjectName("HostLabel")
        self.statusBar().addPermanentWidget(QLabel(f"PhiDesk {__version__}"))
        self.statusBar().addWidget(self.host_label)

        quit_action = QAction("&Quit", self)
        # Some platforms (and the offscreen one) bind no key to StandardKey.Quit.
        quit_action.setShortcuts(
            QKeySequence.keyBindings(QKeySequence.StandardKey.Quit) or [QKeySequence("Ctrl+Q")]
        )
        quit_action.triggered.connect(self.close)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(quit_action)
        self.addAction(quit_action)  # shortcuts work even where the menu bar is native or hidden

    def closeEvent(self, event: QCloseEvent) -> None:
        super().closeEvent(event)
        if event.isAccepted():
            self.closed.emit()
