"""Typed changes the application layer announces to every front end that listens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class ChatChange(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    """Title, model, pin, system prompt or options."""
    MESSAGES = "messages"
    """A turn started or ended, a message was deleted or edited."""
    DELETED = "deleted"
    RESTORED = "restored"
    EXTERNAL = "external"
    """Another process (`phidesk ask`, an import) changed these chats."""


@dataclass(frozen=True)
class ChatsChanged:
    chat_ids: frozenset[int]
    how: ChatChange


@dataclass(frozen=True)
class ConnectionChanged:
    host: str


@dataclass(frozen=True)
class SettingsChanged:
    sections: frozenset[str]


Change = ChatsChanged | ConnectionChanged | SettingsChanged
ChangeListener = Callable[[Change], None]
