"""Light and dark: follow the system unless the user chose one.

Every colour the widgets use is defined here (the transcript page has its own CSS variables in
resources/web/chat.css, with the same page background): the dark palette, the page background
the web view shows before its page paints, and the accents of levels (info, success, warning,
error) and states that the palette has no role for. Elsewhere, style sheets use `palette(…)`
and code asks `accent()`; tests/gui/test_colours.py fails on a colour literal anywhere else.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

THEMES = ("system", "light", "dark")

_DARK = {
    QPalette.ColorRole.Window: "#1f2125",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#17181b",
    QPalette.ColorRole.AlternateBase: "#24262b",
    QPalette.ColorRole.ToolTipBase: "#2b2d31",
    QPalette.ColorRole.ToolTipText: "#e6e6e6",
    QPalette.ColorRole.PlaceholderText: "#9298a1",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#2b2d31",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Highlight: "#3d6fb4",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#7aa7e8",
    QPalette.ColorRole.Mid: "#4a4e56",
    QPalette.ColorRole.Midlight: "#3a3d44",
    QPalette.ColorRole.Dark: "#101114",
}
_DARK_DISABLED_TEXT = "#6b7078"
_LIGHT_FIXES = {
    # Fusion's standard placeholder grey is 3.6:1 on white; hints must read at 4.5:1.
    QPalette.ColorRole.PlaceholderText: "#6a6f76",
    # Fusion's highlight blue carries white text at 3.7:1 only.
    QPalette.ColorRole.Highlight: "#2767ad",
}

_PAGE_BACKGROUND = {"light": "#ffffff", "dark": "#1b1d21"}
"""The transcript page's `--bg` (resources/web/chat.css), shown before the page paints."""

_ACCENTS = {
    "light": {
        "info": "#2f64ad",
        "success": "#2e7d32",
        "warning": "#a35f00",
        "error": "#c62828",
        "neutral": "#767676",
    },
    "dark": {
        "info": "#6f9fe0",
        "success": "#5cb860",
        "warning": "#d9a13b",
        "error": "#ef6b6b",
        "neutral": "#8d9299",
    },
}
"""Colours with a meaning the palette has no role for: notice levels, the context meter (ok →
success, filling → warning, full → error), the connection dot, fit badges."""


def system_prefers_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def effective_theme(choice: str) -> str:
    if choice in ("light", "dark"):
        return choice
    return "dark" if system_prefers_dark() else "light"


def palette_for(theme: str) -> QPalette:
    """The widgets' palette of "light" or "dark" (Fusion's standard palette for light)."""
    fusion = QStyleFactory.create("Fusion")
    palette = QPalette(fusion.standardPalette())
    if theme == "dark":
        for role, colour in _DARK.items():
            palette.setColor(role, QColor(colour))
        for role in (
            QPalette.ColorRole.Text,
            QPalette.ColorRole.ButtonText,
            QPalette.ColorRole.WindowText,
        ):
            palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(_DARK_DISABLED_TEXT))
    else:
        for role, colour in _LIGHT_FIXES.items():
            palette.setColor(role, QColor(colour))
    return palette


def apply_theme(app: QApplication, choice: str) -> str:
    """Set the widgets' palette for `choice` ("system", "light" or "dark"); returns the theme
    in effect. "system" leaves the platform's own palette alone."""
    theme = effective_theme(choice)
    if choice == "system":
        app.setPalette(QPalette())
        return theme
    app.setStyle("Fusion")
    app.setPalette(palette_for(theme))
    return theme


def scheme_of(palette: QPalette) -> str:
    """ "dark" when the palette's window is dark, else "light"."""
    return "dark" if palette.color(QPalette.ColorRole.Window).lightness() < 128 else "light"


def current_scheme() -> str:
    """The scheme of the application's palette now."""
    return scheme_of(QGuiApplication.palette())


def accent(name: str, scheme: str | None = None) -> QColor:
    """The colour for `name` ("info", "success", "warning", "error", "neutral") in `scheme`
    (default: the scheme of the application's palette now)."""
    return QColor(_ACCENTS[scheme or current_scheme()][name])


def tint(colour: QColor, amount: float = 0.12, palette: QPalette | None = None) -> QColor:
    """The window colour of `palette` (default: the application's) with `amount` of `colour`."""
    base = (palette or QGuiApplication.palette()).color(QPalette.ColorRole.Window)
    return QColor(
        round(base.red() * (1 - amount) + colour.red() * amount),
        round(base.green() * (1 - amount) + colour.green() * amount),
        round(base.blue() * (1 - amount) + colour.blue() * amount),
    )


def page_background(scheme: str) -> QColor:
    """What the transcript view paints before its page does, per scheme."""
    return QColor(_PAGE_BACKGROUND[scheme])
