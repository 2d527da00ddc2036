"""A comparison's files in the window: *Export as Markdown…* from its row menu (one file with
the figures table and every answer verbatim, the format `phidesk export --comparison` writes),
and comparison exports chosen in *Import…* (each added with its chats, listed, and opened in
the compare view). Both run on the workspace's threads; the window stays usable meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.chat.transfer.names import file_stem
from app.errors import PhiDeskError
from app.gui.export_dialog import ask_export_target
from app.store.comparisons import Comparison
from app.workspace import Level
from app.workspace.transfer import is_comparison_export

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow

MIXED = "Import comparison exports on their own, not together with chats."


def suggested_comparison_name(comparison: Comparison) -> str:
    """The file name a save dialog offers for a comparison: its title, made safe."""
    return file_stem(comparison.title, fallback=f"comparison-{comparison.id}") + ".md"


async def ask_and_export_comparison(window: MainWindow, comparison_id: int) -> Path | None:
    """Ask where to save the comparison, then write it there (None if cancelled or failed)."""
    try:
        comparison = await window.workspace.comparison(comparison_id)
    except PhiDeskError as exc:
        window.show_message(str(exc), Level.ERROR)
        return None
    chosen = await ask_export_target(
        window,
        "Export comparison",
        Path.home() / suggested_comparison_name(comparison),
        "Markdown (*.md)",
        offer_branches=False,
    )
    if chosen is None:
        return None
    return await export_comparison_to(window, comparison_id, chosen[0])


async def export_comparison_to(window: MainWindow, comparison_id: int, path: Path) -> Path | None:
    """Write the comparison as one Markdown file at `path`, whole or not at all, and say so."""
    window.show_message("Exporting the comparison…")
    try:
        written = await window.workspace.export_comparison(comparison_id, path)
    except PhiDeskError as exc:
        window.show_message(str(exc), Level.ERROR)
        return None
    window.show_message(f"Exported the comparison to {written}.", Level.SUCCESS)
    return written


async def import_comparisons(window: MainWindow, paths: Sequence[Path]) -> bool:
    """Import the comparison exports among `paths`, each all or nothing, and open the last one.
    False when none of `paths` is a comparison export (they are for the chat import); True
    otherwise, once the imports are done or one sentence has said why not."""
    found = [path for path in paths if await asyncio.to_thread(is_comparison_export, path)]
    if not found:
        return False
    if len(found) < len(paths):
        window.show_message(MIXED, Level.ERROR)
        return True
    window.show_message("Importing…")
    imported: list[Comparison] = []
    failure = ""
    for path in found:
        try:
            imported.append(await window.workspace.import_comparison(path))
        except PhiDeskError as exc:
            failure = str(exc)
            break
    if imported:
        window.refresh_chats()
        window.open_comparison(imported[-1].id)
    if failure:
        if imported:
            lowered = failure[:1].lower() + failure[1:] if failure[1:2].islower() else failure
            failure = f"Imported {len(imported)} of {len(found)} comparisons; {lowered}"
        window.show_message(failure, Level.ERROR)
    elif len(imported) == 1:
        window.show_message(f"Imported the comparison “{imported[0].title}”.", Level.SUCCESS)
    else:
        window.show_message(f"Imported {len(imported)} comparisons.", Level.SUCCESS)
    return True
