"""Icons by purpose, drawn from an icon font (qtawesome's Material Design Icons) in the colours of
the palette, so they follow the theme.

    from app.gui.icons import Icon, icon, use_icon
    use_icon(button, Icon.SEARCH)        # the button's icon now, and again on every theme change
    menu.addAction(icon(Icon.DELETE, menu.palette()), "Delete")   # one-off, for a menu built now

`icon()` paints in the colours of the palette it is given (text colour; muted when disabled; the
highlighted-text colour when selected). `use_icon()` keeps a widget's icon in step with its
palette: the icon is made again whenever the widget's palette changes (a theme switch changes
the application palette, which every widget hears about).
"""

from __future__ import annotations

import os
from enum import StrEnum

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QIcon, QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication

os.environ.setdefault("QT_API", "pyside6")  # qtawesome reaches Qt through qtpy: use PySide6

import qtawesome  # after QT_API is set


class Icon(StrEnum):
    """What an icon is for, and the glyph that shows it."""

    NEW_CHAT = "mdi6.square-edit-outline"
    SEARCH = "mdi6.magnify"
    PIN = "mdi6.pin-outline"
    PINNED = "mdi6.pin"
    UNPIN = "mdi6.pin-off-outline"
    DELETE = "mdi6.delete-outline"
    RENAME = "mdi6.pencil-outline"
    EXPORT = "mdi6.tray-arrow-up"
    SETTINGS = "mdi6.tune-variant"
    SEND = "mdi6.arrow-up"
    STOP = "mdi6.stop"
    COPY = "mdi6.content-copy"
    EDIT = "mdi6.pencil-outline"
    REGENERATE = "mdi6.refresh"
    INFO = "mdi6.information-outline"
    MORE = "mdi6.dots-horizontal"
    SIDEBAR = "mdi6.dock-left"
    UNDO = "mdi6.undo"
    COMPARE = "mdi6.compare-horizontal"


def icon(purpose: Icon, palette: QPalette | None = None) -> QIcon:
    """The icon for `purpose` in the colours of `palette` (default: the application's)."""
    if palette is None:
        palette = QApplication.palette()
    text = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.ButtonText)
    muted = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText)
    selected = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText)
    made: QIcon = qtawesome.icon(
        str(purpose),
        color=text,
        color_active=text,
        color_disabled=muted,
        color_selected=selected,
    )
    return made


class _Follower(QObject):
    """Makes a button's icon again when its palette changes."""

    def __init__(self, button: QAbstractButton, purpose: Icon) -> None:
        super().__init__(button)
        self.purpose = purpose
        self._button = button
        button.installEventFilter(self)
        self.refresh()

    def refresh(self) -> None:
        self._button.setIcon(icon(self.purpose, self._button.palette()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._button and event.type() == QEvent.Type.PaletteChange:
            self.refresh()
        return False


def use_icon(button: QAbstractButton, purpose: Icon) -> None:
    """Give `button` the icon for `purpose`, kept in the colours of its palette from now on.
    Calling it again with another purpose replaces the icon (Send turning into Stop)."""
    follower = button.findChild(_Follower)
    if follower is None:
        _Follower(button, purpose)
    else:
        follower.purpose = purpose
        follower.refresh()


def icon_purpose(button: QAbstractButton) -> Icon | None:
    """The purpose `use_icon` gave `button` (None when it has none)."""
    follower = button.findChild(_Follower)
    return None if follower is None else follower.purpose
