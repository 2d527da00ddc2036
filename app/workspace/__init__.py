"""The application layer: one Qt-free object (`Workspace`) that owns the database, the current
connection, the settings, the offload preferences and the running turns. Every front end (the
window, the quick prompt, the tray, the command line) goes through it and listens to its typed
changes and notices."""

from app.chat.session import (
    DEFAULT_NUM_CTX,
    ChatSession,
    SessionEvent,
    TurnFinished,
    TurnRefused,
    TurnStarted,
    TurnState,
    title_from,
)
from app.workspace.changes import (
    Change,
    ChatChange,
    ChatsChanged,
    ConnectionChanged,
    SettingsChanged,
)
from app.workspace.notices import Level, Notice, NoticeAction, Notices, Scope, sentence
from app.workspace.settings import (
    ModelDefaults,
    Preferences,
    QuickAccess,
    SettingsStore,
    WindowState,
)
from app.workspace.turns import RunningTurn, TurnEnded, TurnKind, TurnRefusedEvent
from app.workspace.workspace import Workspace

__all__ = [
    "DEFAULT_NUM_CTX",
    "Change",
    "ChatChange",
    "ChatSession",
    "ChatsChanged",
    "ConnectionChanged",
    "Level",
    "ModelDefaults",
    "Notice",
    "NoticeAction",
    "Notices",
    "Preferences",
    "QuickAccess",
    "RunningTurn",
    "Scope",
    "SessionEvent",
    "SettingsChanged",
    "SettingsStore",
    "TurnEnded",
    "TurnFinished",
    "TurnKind",
    "TurnRefused",
    "TurnRefusedEvent",
    "TurnStarted",
    "TurnState",
    "WindowState",
    "Workspace",
    "sentence",
    "title_from",
]
