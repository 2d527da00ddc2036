"""The model picker of a chat: a section per engine (decision 6), families inside.

Each model shows its friendly name from the catalog ("Phi-4 mini · Q4_K_M · 2.5 GB"), a fit badge
on this computer's engine (fit badges and pulls only for local engines), and capability chips
(thinking, tools) where the catalog knows them; the raw tag or id is the detail (tooltip). The
item data is the model name (`currentData()`), the engine is `current_engine()`.

A chat whose engine was removed keeps its model shown under "removed engine", and the composer
the picker guards turns read-only with the sentence that says to choose another engine.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QFont, QPainter, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.backend.catalog import Catalog
from app.backend.engines import DEFAULT_ENGINE
from app.backend.hardware import Gpu
from app.backend.models import InstalledModel
from app.gui import theme
from app.gui.models_picker_data import (
    Choice,
    DefaultPick,
    Section,
    default_pick,
    load_sections,
    local_choices,
    machine_gpus,
    model_label,
    order_models,
)
from app.workspace import Level, NoticeAction, Notices, Scope, Workspace

__all__ = ["ModelPicker", "model_label", "offer_pull", "order_models", "refresh_picker"]

log = logging.getLogger(__name__)

MODEL = Qt.ItemDataRole.UserRole
ENGINE = Qt.ItemDataRole.UserRole + 1
ROW = Qt.ItemDataRole.UserRole + 2
CHIPS = Qt.ItemDataRole.UserRole + 3
BADGE = Qt.ItemDataRole.UserRole + 4
GONE = Qt.ItemDataRole.UserRole + 5


# --- the widget ------------------------------------------------------------------------------


class ChoiceDelegate(QStyledItemDelegate):
    """Section headings, family headings, and model rows with their badge and chips."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        row = index.data(ROW)
        extra = 10 if row == "engine" else 6
        return QSize(size.width() + 140, size.height() + extra)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        row = index.data(ROW)
        palette = option.palette
        rect: QRect = option.rect
        painter.save()
        font = QFont(option.font)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        if row in ("engine", "family", "note"):
            if row == "engine":
                font.setBold(True)
                painter.setPen(
                    palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
                )
                area = rect.adjusted(8, 4, -8, 0)
            else:
                font.setPointSizeF(max(6.0, font.pointSizeF() - 1))
                painter.setPen(
                    palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.PlaceholderText)
                )
                area = rect.adjusted(16, 0, -8, 0)
            painter.setFont(font)
            painter.drawText(area, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
            painter.restore()
            return
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight))
        fg = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        painter.setFont(font)
        metrics = painter.fontMetrics()
        right = rect.right() - 8
        chips = reversed(index.data(CHIPS) or ())
        tags = [(c, "neutral" if c.endswith("context") else "info") for c in chips]
        badge = index.data(BADGE)
        if badge:
            tags.append((str(badge[0]), str(badge[1])))
        for label, accent_name in tags:
            colour = theme.accent(accent_name, theme.scheme_of(palette))
            width = metrics.horizontalAdvance(label) + 12
            chip = QRect(
                right - width,
                rect.center().y() - metrics.height() // 2 - 1,
                width,
                metrics.height() + 2,
            )
            if selected:  # an outline in the highlighted text's colour keeps its contrast
                painter.setPen(fg)
                painter.setBrush(Qt.BrushStyle.NoBrush)
            else:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(theme.tint(colour, 0.18, palette))
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.drawRoundedRect(chip, chip.height() / 2, chip.height() / 2)
            painter.setPen(fg if selected else colour)
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, label)
            right -= width + 4
        painter.setPen(fg)
        area = QRect(rect.left() + 24, rect.top(), right - rect.left() - 28, rect.height())
        elided = metrics.elidedText(text, Qt.TextElideMode.ElideRight, area.width())
        painter.drawText(area, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)
        painter.restore()


class ModelPicker(QComboBox):
    engineMissing = Signal(str)
    """The chosen chat's engine is gone: the sentence to show ("" once it is fine again)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ModelPicker")
        self.setAccessibleName("Model")
        self.setMinimumContentsLength(52)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.items = QStandardItemModel(self)
        self.setModel(self.items)
        self.setItemDelegate(ChoiceDelegate(self))
        self.models: list[InstalledModel] = []
        self.sections: list[Section] = []
        self.pick: DefaultPick | None = None
        self.missing = ""
        self._wanted: tuple[str, str] | None = None
        self._composer: QWidget | None = None
        self._placeholder = ""
        self.currentIndexChanged.connect(self._chosen)

    # --- filling ------------------------------------------------------------------------

    def set_models(
        self,
        models: list[InstalledModel],
        catalog: Catalog | None,
        gpus: Sequence[Gpu] | None = None,
    ) -> None:
        """Only this computer's Ollama (the quick prompt before engines were known, tests)."""
        section = Section(DEFAULT_ENGINE, "This computer · Ollama", True)
        section.choices = local_choices(models, catalog, gpus)
        self.set_sections([section], models)

    def set_sections(
        self,
        sections: list[Section],
        installed: list[InstalledModel] | None = None,
        pick: DefaultPick | None = None,
    ) -> None:
        current = self._wanted or (self.current_model(), self.current_engine())
        self.blockSignals(True)
        self.items.clear()
        self.sections = sections
        self.models = list(installed or [])
        self.pick = pick
        several = len(sections) > 1
        for section in sections:
            if several:
                self._heading(section.title, "engine")
            if section.problem:
                self._heading(section.problem, "note")
            family = None
            counts = Counter(c.family for c in section.choices)
            for choice in section.choices:
                # A family heading over two or more variants; a lone model names its family.
                if choice.family != family and counts[choice.family] > 1:
                    self._heading(choice.family, "family")
                family = choice.family
                self._add(choice)
            if pick is not None and pick.pull and section.engine == pick.engine:
                label = f"{pick.label or pick.model} · not installed"
                self._add(Choice(pick.engine, pick.model, label, pick.model, installed=False))
        if self._first_model() < 0:
            self._heading("No models installed — open the model manager (Ctrl+M)", "note")
        self.blockSignals(False)
        if current[0]:
            self.select(*current)
        else:
            self.setCurrentIndex(self._first_model())

    def _heading(self, text: str, row: str) -> None:
        item = QStandardItem(text)
        item.setData(row, ROW)
        item.setData("", MODEL)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        item.setAccessibleText(text)
        self.items.appendRow(item)

    def _add(self, choice: Choice) -> QStandardItem:
        label = choice.label
        tip = choice.detail
        if self.pick is not None and (self.pick.engine, self.pick.model) == (
            choice.engine,
            choice.model,
        ):
            label += f" — {self.pick.why}"
            tip += f"\n{self.pick.why}" + (": pull it to use it" if self.pick.pull else "")
        if choice.badge:
            tip += f"\nOn this computer: {choice.badge[0]}"
        item = QStandardItem(label)
        item.setData(choice.model, MODEL)
        item.setData(choice.engine, ENGINE)
        item.setData("model", ROW)
        item.setData(choice.chips, CHIPS)
        item.setData(choice.badge, BADGE)
        item.setToolTip(tip)
        item.setAccessibleText(" · ".join((label, *choice.chips)))
        self.items.appendRow(item)
        return item

    def _first_model(self) -> int:
        for row in range(self.count()):
            if self.itemData(row, ROW) == "model":
                return row
        return -1

    def minimumSizeHint(self) -> QSize:
        """Room for the label when there is room (`sizeHint`), yet narrow windows may squeeze
        it to about 22 characters (the text is elided; the tooltip has it whole)."""
        hint = super().minimumSizeHint()
        chars = self.fontMetrics().horizontalAdvance("x") * (self.minimumContentsLength() - 22)
        return QSize(max(120, hint.width() - chars), hint.height())

    def showPopup(self) -> None:
        view = self.view()
        view.setMinimumWidth(max(self.width(), view.sizeHintForColumn(0) + 24))
        super().showPopup()

    # --- reading and choosing -----------------------------------------------------------

    def current_model(self) -> str:
        data = self.currentData()
        return data if isinstance(data, str) else ""

    def current_engine(self) -> str:
        data = self.currentData(ENGINE)
        return data if isinstance(data, str) and data else DEFAULT_ENGINE

    def engines(self) -> list[str]:
        return [s.engine for s in self.sections]

    def engine_of(self, model: str) -> str | None:
        """The first engine that lists `model` (None: none does)."""
        if not model:
            return None
        tagged = model if ":" in model.rsplit("/", 1)[-1] else model + ":latest"
        for section in self.sections:
            if any(c.model in (model, tagged) for c in section.choices):
                return section.engine
        return None

    def select(self, name: str, engine: str = DEFAULT_ENGINE) -> None:
        """Show `name` on `engine` as chosen, adding it if the engine does not list it (yet)."""
        if not name:
            return
        self._wanted = (name, engine)
        wanted = (
            name
            if ":" in name.rsplit("/", 1)[-1] or engine != DEFAULT_ENGINE
            else (name + ":latest")
        )
        self.blockSignals(True)
        try:
            for index in range(self.count()):
                if self.itemData(index, ENGINE) == engine and self.itemData(index) in (
                    name,
                    wanted,
                ):
                    self.setCurrentIndex(index)
                    return
            known = not self.sections or engine in self.engines()
            if not known:
                note = "removed engine"
            elif engine == DEFAULT_ENGINE:
                note = "not installed"
            else:
                note = "not listed"
            item = self._add(Choice(engine, name, f"{name} ({note})", f"{name} on {engine}"))
            if not known:
                item.setData(engine, GONE)
            self.setCurrentIndex(item.row())
        finally:
            self.blockSignals(False)
            self._guard()

    def select_default(self) -> None:
        """A new chat: the default pick (or what was chosen before)."""
        self._wanted = None
        if self.pick is not None:
            self.select(self.pick.model, self.pick.engine)
            self._wanted = None
        else:
            self._guard()

    def installed(self, name: str) -> InstalledModel | None:
        wanted = name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"
        return next((m for m in self.models if m.name in (name, wanted)), None)

    @Slot(int)
    def _chosen(self, _index: int) -> None:
        self._wanted = None
        self._guard()

    # --- a chat whose engine is gone ------------------------------------------------------

    def guard(self, composer: QWidget) -> None:
        """Make `composer` (a `Composer`) read-only while the shown chat's engine is gone."""
        self._composer = composer

    def _guard(self) -> None:
        gone = self.currentData(GONE)
        sentence = (
            f"This chat's engine {gone} was removed; choose another engine in the model picker."
            if isinstance(gone, str) and gone
            else ""
        )
        if sentence == self.missing:
            return
        self.missing = sentence
        composer = self._composer
        if composer is not None:
            edit = getattr(composer, "edit", None)
            send = getattr(composer, "send_button", None)
            if edit is not None:
                if sentence:
                    self._placeholder = edit.placeholderText()
                edit.setReadOnly(bool(sentence))
                edit.setPlaceholderText(sentence or self._placeholder)
                edit.setToolTip(sentence)
            if send is not None:
                send.setEnabled(not sentence)
        self.engineMissing.emit(sentence)


async def refresh_picker(
    picker: ModelPicker,
    workspace: Workspace,
    catalog: Catalog | None,
) -> Section:
    """Fill `picker` with every engine's models and the default pick; returns this computer's
    section (its `problem` says why Ollama could not list models)."""
    gpus = await machine_gpus()
    sections, installed = await load_sections(workspace, catalog, gpus=gpus)
    pick = default_pick(workspace.prefs.default_model, installed, catalog, gpus)
    picker.set_sections(sections, installed, pick)
    return sections[0]


_offered: set[str] = set()


def offer_pull(picker: ModelPicker, notices: Notices) -> None:
    """When a new chat's default is the recommended variant and it is not installed yet, say
    so once with *Pull model* (the chat pane's flows open the model manager on it)."""
    pick = picker.pick
    if pick is None or not pick.pull or pick.model in _offered:
        return
    _offered.add(pick.model)
    from app.gui.chat_flows import PULL_MODEL

    notices.post(
        Level.INFO,
        f"{pick.label or pick.model} is recommended for this computer; pull it to chat with it.",
        scope=Scope.APP,
        actions=(NoticeAction("Pull model", PULL_MODEL, pick.model),),
    )
