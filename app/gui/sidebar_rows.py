"""How the chat list draws its rows: chats under date sections (Pinned / Today / Yesterday /
Previous 7 days / Older) with a one-line title and a muted subtitle, and search results (title,
date, a plain-text snippet with the match highlighted, "3 matches"). Colours come from the
palette only, so both themes work; the current row has a visible focus ring.

Everything a row shows is in its item's data (the roles below); the first row of a section
carries the section's name in `SECTION` and draws the heading above itself, so every row is
one chat and the list's rows and chats stay one to one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.gui.icons import Icon, icon

CHAT_ID = Qt.ItemDataRole.UserRole
MESSAGE_ID = Qt.ItemDataRole.UserRole + 1
SUBTITLE = Qt.ItemDataRole.UserRole + 2
SECTION = Qt.ItemDataRole.UserRole + 3
PINNED = Qt.ItemDataRole.UserRole + 4
LIVE = Qt.ItemDataRole.UserRole + 5
MATCHES = Qt.ItemDataRole.UserRole + 6
SNIPPET = Qt.ItemDataRole.UserRole + 7
HIGHLIGHTS = Qt.ItemDataRole.UserRole + 8
TITLE_HIGHLIGHTS = Qt.ItemDataRole.UserRole + 9
DATE = Qt.ItemDataRole.UserRole + 10
MENU_TARGET = Qt.ItemDataRole.UserRole + 11
PLACEHOLDER = Qt.ItemDataRole.UserRole + 12
COMPARISON_ID = Qt.ItemDataRole.UserRole + 13
"""On the row of a comparison (one row for all its targets' chats), instead of `CHAT_ID`."""

SECTIONS = ("Pinned", "Today", "Yesterday", "Previous 7 days", "Older")
PAD = 10
MORE_WIDTH = 28  # room kept at the right of a hovered row for its "⋯" button
Spans = tuple[tuple[int, int], ...]


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    if seconds < 7 * 86400:
        return f"{seconds // 86400} d ago"
    return moment.astimezone().strftime("%Y-%m-%d")


def matches_text(count: int) -> str:
    return "1 match" if count == 1 else f"{count} matches"


def section_of(pinned: bool, moment: datetime, now: datetime) -> str:
    """The sidebar section of a chat last active at `moment` (local calendar days)."""
    if pinned:
        return "Pinned"
    day = moment.astimezone().date()
    today = now.astimezone().date()
    if day >= today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day > today - timedelta(days=7):
        return "Previous 7 days"
    return "Older"


def focus_snippet(text: str, spans: Spans, lead: int = 24) -> tuple[str, Spans]:
    """Cut the start of a long snippet so its first match shows near the left edge."""
    if not spans or spans[0][0] <= lead + 8:
        return text, spans
    cut = text.rfind(" ", 0, spans[0][0] - lead) + 1 or spans[0][0] - lead
    shift = cut - 1  # "…" takes one character
    return "…" + text[cut:].lstrip("…"), tuple((a - shift, b - shift) for a, b in spans)


def mix(a: QColor, b: QColor, share_of_b: float) -> QColor:
    """`a` moved `share_of_b` of the way towards `b`."""
    t = max(0.0, min(1.0, share_of_b))
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
    )


def hover_colour(palette: QPalette) -> QColor:
    base = palette.color(QPalette.ColorRole.Base)
    return mix(base, palette.color(QPalette.ColorRole.Text), 0.08)


def mark_colour(palette: QPalette, selected: bool) -> QColor:
    """The background of a matched word: a tint of the selection colour."""
    highlight = palette.color(QPalette.ColorRole.Highlight)
    if selected:
        return mix(highlight, palette.color(QPalette.ColorRole.HighlightedText), 0.3)
    return mix(highlight, palette.color(QPalette.ColorRole.Base), 0.6)


class RowDelegate(QStyledItemDelegate):
    """Draws chat rows and search results (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hovered_row = -1

    @staticmethod
    def header_height(fm: QFontMetrics) -> int:
        return fm.height() + 14

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        fm = option.fontMetrics
        line = fm.height()
        header = self.header_height(fm) if index.data(SECTION) else 0
        lines = 3 if index.data(MATCHES) is not None else 2
        return QSize(120, header + lines * line + 14)

    def body_rect(
        self, option_rect: QRect, index: QModelIndex | QPersistentModelIndex, fm: QFontMetrics
    ) -> QRect:
        """Where the row itself is (below its section heading, if it has one)."""
        top = option_rect.top() + (self.header_height(fm) if index.data(SECTION) else 0)
        return QRect(
            option_rect.left() + 4, top + 1, option_rect.width() - 8, option_rect.bottom() - top - 1
        )

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        rect: QRect = option.rect
        palette: QPalette = option.palette
        fm: QFontMetrics = option.fontMetrics
        state = option.state
        font: QFont = option.font
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text_colour = palette.color(QPalette.ColorRole.Text)
        muted = mix(text_colour, palette.color(QPalette.ColorRole.Base), 0.4)
        section = index.data(SECTION)
        if section:
            heading = QFont(font)
            heading.setPointSizeF(font.pointSizeF() * 0.85)
            heading.setBold(True)
            painter.setFont(heading)
            painter.setPen(muted)
            head = QRect(rect.left() + PAD, rect.top() + 6, rect.width() - 2 * PAD, fm.height() + 4)
            painter.drawText(
                head, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, str(section)
            )
        body = self.body_rect(rect, index, fm)
        if index.data(PLACEHOLDER):
            painter.setFont(font)
            painter.setPen(muted)
            painter.drawText(
                body.adjusted(PAD, 4, -PAD, 0),
                int(
                    Qt.AlignmentFlag.AlignLeft
                    | Qt.AlignmentFlag.AlignTop
                    | Qt.TextFlag.TextWordWrap
                ),
                index.data(Qt.ItemDataRole.DisplayRole) or "",
            )
            painter.restore()
            return
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hovered = index.row() == self.hovered_row or bool(index.data(MENU_TARGET))
        radius = 6.0
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(body, radius, radius)
            text_colour = palette.color(QPalette.ColorRole.HighlightedText)
            muted = mix(text_colour, palette.color(QPalette.ColorRole.Highlight), 0.3)
        elif hovered:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(hover_colour(palette))
            painter.drawRoundedRect(body, radius, radius)
        if index.data(MENU_TARGET) or (state & QStyle.StateFlag.State_HasFocus):
            ring = text_colour if selected else palette.color(QPalette.ColorRole.Highlight)
            pen = painter.pen()
            pen.setColor(ring)
            pen.setWidthF(2.0)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(body.adjusted(1, 1, -1, -1), radius, radius)
        line = fm.height()
        x = body.left() + PAD
        right = body.right() - PAD - (MORE_WIDTH if hovered else 0)
        top = body.top() + 6
        if index.data(MATCHES) is not None:
            self._paint_hit(
                painter,
                index,
                font,
                QRect(x, top, right - x, line),
                text_colour,
                muted,
                palette,
                selected,
            )
        else:
            self._paint_chat(
                painter,
                index,
                font,
                QRect(x, top, right - x, line),
                text_colour,
                muted,
                palette,
                selected,
            )
        painter.restore()

    def _paint_chat(
        self,
        painter: QPainter,
        index: QModelIndex | QPersistentModelIndex,
        font: QFont,
        first: QRect,
        text_colour: QColor,
        muted: QColor,
        palette: QPalette,
        selected: bool,
    ) -> None:
        fm = QFontMetrics(font)
        title_rect = QRect(first)
        marks = (
            (bool(index.data(PINNED)), Icon.PINNED),
            (isinstance(index.data(COMPARISON_ID), int), Icon.COMPARE),
        )
        for shown, purpose in marks:
            if shown:
                size = fm.height()
                glyph = icon(purpose, palette).pixmap(size, size)
                painter.drawPixmap(title_rect.left() - 2, first.top(), glyph)
                title_rect.setLeft(title_rect.left() + size + 4)
        if index.data(LIVE):
            dot = 8
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(
                text_colour if selected else palette.color(QPalette.ColorRole.Highlight)
            )
            painter.drawEllipse(first.right() - dot, first.center().y() - dot // 2, dot, dot)
            title_rect.setRight(first.right() - dot - 6)
        painter.setFont(font)
        painter.setPen(text_colour)
        title = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.drawText(
            title_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(title, Qt.TextElideMode.ElideRight, title_rect.width()),
        )
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.9)
        painter.setFont(small)
        painter.setPen(muted)
        second = first.translated(0, fm.height() + 2)
        subtitle = str(index.data(SUBTITLE) or "")
        painter.drawText(
            second,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(small).elidedText(subtitle, Qt.TextElideMode.ElideRight, second.width()),
        )

    def _paint_hit(
        self,
        painter: QPainter,
        index: QModelIndex | QPersistentModelIndex,
        font: QFont,
        first: QRect,
        text_colour: QColor,
        muted: QColor,
        palette: QPalette,
        selected: bool,
    ) -> None:
        fm = QFontMetrics(font)
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.9)
        date = str(index.data(DATE) or "") if first.width() >= 200 else ""  # room for titles
        date_width = QFontMetrics(small).horizontalAdvance(date) + 8
        painter.setFont(small)
        painter.setPen(muted)
        painter.drawText(first, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, date)
        mark = mark_colour(palette, selected)
        title = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        title_font = QFont(font)
        title_font.setBold(True)
        title_rect = first.adjusted(0, 0, -date_width, 0)
        draw_marked(
            painter,
            title_rect,
            title,
            index.data(TITLE_HIGHLIGHTS) or (),
            title_font,
            text_colour,
            mark,
        )
        second = first.translated(0, fm.height() + 2)
        snippet, spans = focus_snippet(
            str(index.data(SNIPPET) or ""), tuple(index.data(HIGHLIGHTS) or ())
        )
        draw_marked(painter, second, snippet, spans, font, text_colour, mark)
        third = second.translated(0, fm.height() + 2)
        count = int(index.data(MATCHES) or 0)
        note = "Title matches" if count == 0 else "1 match" if count == 1 else f"{count} matches"
        painter.setFont(small)
        painter.setPen(muted)
        painter.drawText(third, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, note)


def draw_marked(
    painter: QPainter,
    rect: QRect,
    text: str,
    spans: Spans,
    font: QFont,
    colour: QColor,
    mark: QColor,
) -> None:
    """`text` on one line in `rect`, the `spans` bold on a `mark` background, elided with "…"
    where it does not fit."""
    bold = QFont(font)
    bold.setBold(True)
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, end in sorted(spans):
        if start > at:
            pieces.append((text[at:start], False))
        if end > max(start, at):
            pieces.append((text[max(start, at) : end], True))
        at = max(at, end)
    pieces.append((text[at:], False))
    x = rect.left()
    for piece, marked in pieces:
        if not piece:
            continue
        face = bold if marked else font
        metrics = QFontMetrics(face)
        room = rect.right() - x
        width = metrics.horizontalAdvance(piece)
        shown = (
            piece if width <= room else metrics.elidedText(piece, Qt.TextElideMode.ElideRight, room)
        )
        width = metrics.horizontalAdvance(shown)
        if marked and shown:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(mark)
            painter.drawRoundedRect(QRect(x - 1, rect.top(), width + 2, rect.height()), 3, 3)
        painter.setFont(face)
        painter.setPen(colour)
        painter.drawText(
            QRect(x, rect.top(), width + 1, rect.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            shown,
        )
        x += width
        if shown != piece:
            break
