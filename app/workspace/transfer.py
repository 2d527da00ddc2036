"""Export and import, as part of `Workspace` (a mixin, so that the workspace module stays a
readable size): chats rendered on the reader thread in batches, written as one Markdown file, a
folder or a zip; imports all-or-nothing on the writer thread."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from app.chat.transfer import Imported, export_chat_markdown, import_files
from app.chat.transfer.comparison import (
    comparison_to_markdown,
    import_comparison_file,
    is_comparison,
    write_text_export,
)
from app.chat.transfer.files import (
    Rendered,
    check_export_target,
    render_for_export,
    write_export,
)
from app.store import Chat, Database
from app.store.comparisons import Comparison
from app.workspace.changes import ChatChange

EXPORT_BATCH = 20
"""Chats rendered per call on the reader thread during an export."""

T = TypeVar("T")


def is_comparison_export(path: Path) -> bool:
    """Whether `path` is a comparison export (a .md file whose front matter says so), read from
    its first 4 KiB; False for anything else, which the chat import then judges."""
    # Only a regular file can be read twice: a pipe's data would be gone after the sniff (and
    # the import would wait for a writer that has left); such input is read as chats.
    if path.suffix.lower() != ".md" or not path.is_file():
        return False
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False  # the import says why
    return is_comparison(head.decode("utf-8", "replace"))


class TransferOps:
    """The export and import operations of `Workspace`."""

    db: Database

    async def read(self, call: Callable[[], T]) -> T:
        raise NotImplementedError

    async def write(self, call: Callable[[], T]) -> T:
        raise NotImplementedError

    async def list_chats(
        self, *, kind: str | None = None, deleted: bool = False, limit: int | None = None
    ) -> list[Chat]:
        raise NotImplementedError

    def _chats(self, how: ChatChange, *ids: int) -> None:
        raise NotImplementedError

    async def export(
        self,
        chat_ids: Sequence[int],
        destination: Path,
        *,
        include_thinking: bool = True,
        include_provenance: bool = False,
        all_branches: bool = False,
    ) -> list[Path]:
        """Write chats as Markdown (a .md file, a folder, or a .zip by the name): each chat as
        shown (its active path), or with `all_branches` every version of its messages.

        The chats are rendered on the reader thread a few at a time, coming back to the loop
        between batches: one long call would hold Python's interpreter lock for seconds, and
        the window, which needs it for every event, would stutter."""
        ids = list(chat_ids)
        check_export_target(destination, len(ids))
        moment = datetime.now(UTC)

        def render(batch: list[int]) -> list[Rendered]:
            return [
                render_for_export(
                    self.db,
                    chat_id,
                    include_thinking=include_thinking,
                    include_provenance=include_provenance,
                    exported_at=moment,
                    all_branches=all_branches,
                )
                for chat_id in batch
            ]

        rendered: list[Rendered] = []
        for start in range(0, len(ids), EXPORT_BATCH):
            rendered += await self.read(partial(render, ids[start : start + EXPORT_BATCH]))
        return await self.read(lambda: write_export(rendered, destination, exported_at=moment))

    async def export_all(
        self, destination: Path, *, all_branches: bool = False
    ) -> tuple[int, list[Path]]:
        chats = await self.list_chats()
        written = await self.export([c.id for c in chats], destination, all_branches=all_branches)
        return len(chats), written

    async def chat_markdown(
        self,
        chat_id: int,
        *,
        include_thinking: bool = True,
        include_provenance: bool = False,
        all_branches: bool = False,
    ) -> str:
        """One chat as the Markdown an export writes (same options as `export`)."""
        return await self.read(
            lambda: export_chat_markdown(
                self.db,
                chat_id,
                include_thinking=include_thinking,
                include_provenance=include_provenance,
                all_branches=all_branches,
            )
        )

    async def export_comparison(self, comparison_id: int, path: Path) -> Path:
        """Write a comparison as one Markdown file (whole or not at all). Raises `NotFound`."""
        moment = datetime.now(UTC)
        text = await self.read(
            lambda: comparison_to_markdown(self.db, comparison_id, exported_at=moment)
        )
        return await self.read(lambda: write_text_export(text, path))

    async def comparison_markdown(self, comparison_id: int) -> str:
        """A comparison as the Markdown `export_comparison` writes."""
        return await self.read(lambda: comparison_to_markdown(self.db, comparison_id))

    async def import_comparison(self, path: Path) -> Comparison:
        """Import a comparison export with its chats, all or nothing (or return the comparison
        imported from it before)."""
        return await self.write(lambda: import_comparison_file(self.db, path))

    async def import_files(self, files: Iterable[Path]) -> Imported:
        """Import exports all-or-nothing; chats imported before are skipped (`.skipped`)."""
        paths = list(files)
        chats = await self.write(lambda: import_files(self.db, paths))
        if chats:
            self._chats(ChatChange.CREATED, *(c.id for c in chats))
        return chats
