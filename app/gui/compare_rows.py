"""Comparisons in the chat list: one row each (its targets' chats stay hidden until one is
continued), among the chats by last activity, drawn with the compare icon and the targets'
models as the subtitle.

    rows = interleave(chats, comparisons, lambda c: c.updated_at, lambda c: c.pinned)
    sidebar.show_chats(rows, current)     # a Comparison in the rows becomes its one row
    item = comparison_item(comparison, now)               # carries COMPARISON_ID, not CHAT_ID
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu

from app.backend.engines import DEFAULT_ENGINE
from app.gui.icons import Icon, icon
from app.gui.sidebar_rows import COMPARISON_ID, SECTION, SUBTITLE, relative_time, section_of
from app.store.comparisons import Comparison

UNTITLED = "Comparison"


def targets_text(comparison: Comparison) -> str:
    """The targets as "phi4:latest vs phi4-mini:latest" (the engine named unless the default)."""
    names = [
        t.model if t.engine == DEFAULT_ENGINE else f"{t.model}@{t.engine}"
        for t in comparison.targets
    ]
    return " vs ".join(names)


def interleave[T](
    rows: Sequence[T],
    comparisons: Sequence[Comparison],
    moment: Callable[[T], datetime],
    pinned: Callable[[T], bool] = lambda _row: False,
) -> list[T | Comparison]:
    """`rows` (newest first, pinned ones on top) with the comparisons placed by their last
    activity: after the pinned rows, before the first row older than each."""
    pending = sorted(comparisons, key=lambda c: (c.updated_at, c.id), reverse=True)
    found: list[T | Comparison] = []
    for row in rows:
        if not pinned(row):
            while pending and pending[0].updated_at >= moment(row):
                found.append(pending.pop(0))
        found.append(row)
    found.extend(pending)
    return found


def comparison_item(comparison: Comparison, now: datetime) -> QListWidgetItem:
    """The one row of `comparison` (its last activity said relative to `now`)."""
    when = relative_time(comparison.updated_at, now)
    title = comparison.title or UNTITLED
    item = QListWidgetItem(title)
    models = targets_text(comparison)
    item.setData(COMPARISON_ID, comparison.id)
    item.setData(SUBTITLE, " · ".join(p for p in (models, when) if p))
    item.setToolTip(f"{title}\nComparison of {models}")
    item.setData(
        Qt.ItemDataRole.AccessibleTextRole,
        ", ".join(p for p in (title, f"comparison of {models}", when) if p),
    )
    return item


def add_comparison(rows: QListWidget, comparison: Comparison, now: datetime, section: str) -> str:
    """Add the row of `comparison` to the chat list, under a heading when its date section is
    not `section` (the section of the row above); the section it is in."""
    item = comparison_item(comparison, now)
    here = section_of(False, comparison.updated_at, now)
    if here != section:
        item.setData(SECTION, here)
    rows.addItem(item)
    return here


def comparison_menu(
    menu: QMenu,
    palette: QPalette,
    comparison_id: int,
    on_open: Callable[[int], object],
    on_export: Callable[[int], object],
    on_delete: Callable[[int], object],
) -> QMenu:
    """The row menu of a comparison (filled into `menu`): Open, Export as Markdown…, and
    Delete (with Undo)."""
    opened = menu.addAction(icon(Icon.COMPARE, palette), "Open")
    opened.triggered.connect(lambda: on_open(comparison_id))
    exported = menu.addAction(icon(Icon.EXPORT, palette), "Export as Markdown…")
    exported.triggered.connect(lambda: on_export(comparison_id))
    menu.addSeparator()
    gone = menu.addAction(icon(Icon.DELETE, palette), "Delete")
    gone.triggered.connect(lambda: on_delete(comparison_id))
    return menu
