"""Small pieces every tab of the model manager uses: read-only table cells, muted hint text, a
problem or note shown next to the control it is about, and the fit badge.

Colours come from the palette (muted text, normal text on a tint of the window colour) and from
the style's standard icons, so the window reads well with the light, dark and system themes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStyle, QTableWidgetItem, QWidget

from app.gui.notice_area import ACCENTS
from app.gui.theme import accent as theme_accent
from app.workspace import Level

FIT_LEVELS = {"gpu": Level.SUCCESS, "partial": Level.WARNING, "cpu": Level.ERROR}
"""A fit badge borrows the accent of the notice level it means: fits, partial, CPU only."""
INLINE_ICONS = {
    Level.INFO: QStyle.StandardPixmap.SP_MessageBoxInformation,
    Level.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    Level.ERROR: QStyle.StandardPixmap.SP_MessageBoxCritical,
}


def read_only_item(text: str, tooltip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def muted(label: QLabel) -> QLabel:
    """Secondary text (hints, facts) in the palette's placeholder colour."""
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def tint(accent: QColor, amount: float = 0.16) -> QColor:
    """The application's window colour with a little of `accent` mixed in."""
    base = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return QColor(
        round(base.red() * (1 - amount) + accent.red() * amount),
        round(base.green() * (1 - amount) + accent.green() * amount),
        round(base.blue() * (1 - amount) + accent.blue() * amount),
    )


def style_badge(label: QLabel, fit: str) -> None:
    """Colour a fit badge: green fits, amber partial, red CPU only, grey not known yet."""
    level = FIT_LEVELS.get(fit)
    if level is None:
        accent = QGuiApplication.palette().color(QPalette.ColorRole.Mid)
    else:
        accent = theme_accent(ACCENTS[level])
    label.setProperty("fit", fit)
    label.setStyleSheet(
        f"QLabel {{ background: {tint(accent).name()}; border: 1px solid {accent.name()}; "
        "border-radius: 9px; padding: 2px 8px; font-weight: 600; }"
    )


class InlineNote(QWidget):
    """One sentence next to the control it is about, after the style's icon for its level.

    It shows itself when given text and hides when cleared, so callers only set the text.
    """

    def __init__(self, level: Level, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level = level
        self.icon = QLabel()
        self.icon.setPixmap(self.style().standardIcon(INLINE_ICONS[level]).pixmap(16, 16))
        self.icon.setFixedSize(18, 18)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(6)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def setText(self, text: str) -> None:
        self.label.setText(text)
        self.setAccessibleDescription(f"{self.level.value}: {text}" if text else "")
        self.setVisible(bool(text))

    def clear(self) -> None:
        self.setText("")


__all__ = ["InlineNote", "muted", "read_only_item", "style_badge", "tint"]
