"""Chats changed by another process (`phidesk ask`, an import): the window polls SQLite's
`PRAGMA data_version`, which moves when another connection commits, and compares the chats'
stamps to tell which ones changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.workspace.changes import ChatChange

if TYPE_CHECKING:
    from app.workspace.workspace import Workspace


class ExternalChanges:
    """Remembers the last data_version and chat stamps; `touched` collects the chats this
    process changed itself since the last poll (those are not "external")."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.data_version: int | None = None
        self.stamps: dict[int, tuple[object, int]] | None = None
        self.touched: set[int] = set()

    async def poll(self) -> frozenset[int]:
        """Cheap when nothing changed: one pragma on the reader thread."""
        workspace = self.workspace
        version = await workspace.read(workspace.db.data_version)
        if self.data_version is None:
            self.data_version = version
            self.touched.clear()  # the baseline below already holds our own changes
            self.stamps = await self._stamps()
            return frozenset()
        if version == self.data_version:
            return frozenset()
        self.data_version = version
        before = self.stamps or {}
        after = await self._stamps()
        self.stamps = after
        ours = set(self.touched)
        self.touched.clear()
        changed = frozenset(
            chat_id
            for chat_id in before.keys() | after.keys()
            if before.get(chat_id) != after.get(chat_id)
            and chat_id not in workspace.turns
            and chat_id not in ours
        )
        if changed:
            workspace.announce_chats(ChatChange.EXTERNAL, *changed)
        return changed

    async def _stamps(self) -> dict[int, tuple[object, int]]:
        chats = await self.workspace.list_chats()
        return {c.id: (c.updated_at, c.message_count) for c in chats}
