"""The model manager's "Other engines" tab: the models of every engine that is not this
computer's Ollama, read-only (their servers manage them: no pull, no delete, no offload)."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QCheckBox, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from app.backend.catalog import Catalog
from app.errors import PhiDeskError
from app.gui.model_names import family_name
from app.gui.tasks import Tasks
from app.workspace import Workspace

log = logging.getLogger(__name__)

NOTE = (
    "Models of other engines are managed on their servers: PhiDesk lists them here and chats "
    "with them, but does not pull, delete or place them. Add engines with File > Engines…"
)


class RemoteEnginesTab(QWidget):
    def __init__(
        self, workspace: Workspace, catalog: Catalog | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("RemoteEnginesTab")
        self.workspace = workspace
        self.catalog = catalog
        self.tasks = Tasks()
        self._generation = 0
        note = QLabel(NOTE)
        note.setWordWrap(True)
        note.setForegroundRole(note.foregroundRole().PlaceholderText)
        self.show_all = QCheckBox("Show every model, not only the Phi-4 family")
        self.show_all.setObjectName("RemoteShowAll")
        self.tree = QTreeWidget()
        self.tree.setObjectName("RemoteModels")
        self.tree.setAccessibleName("Models of other engines")
        self.tree.setHeaderLabels(["Model", "Context", "Server id"])
        self.tree.setColumnWidth(0, 320)
        self.tree.setColumnWidth(1, 140)
        self.tree.setEditTriggers(QTreeWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.show_all)
        layout.addWidget(self.tree, 1)
        self.show_all.toggled.connect(self.reload)

    @Slot()
    def reload(self) -> None:
        self._generation += 1
        self.tasks.start(self._fill(self._generation), name="remote models")

    async def _fill(self, generation: int) -> None:
        profiles = [p for p in self.workspace.engine_profiles() if not p.is_default]
        every = self.show_all.isChecked()

        async def listing(name: str) -> list[tuple[str, str, str]] | str:
            try:
                models = await self.workspace.engine_models(name, all_models=every)
            except PhiDeskError as exc:
                return str(exc)
            rows = []
            for model in models:
                known = model.catalog_name
                entry = self.catalog.entry(known) if self.catalog and known else None
                label = family_name(entry) if entry is not None else model.id.rsplit("/", 1)[-1]
                context = f"{model.known_context:,} tokens" if model.known_context else "unknown"
                rows.append((label, context, model.id))
            return rows

        found = await asyncio.gather(*(listing(p.name) for p in profiles))
        if generation != self._generation:
            return
        self.tree.clear()
        if not profiles:
            QTreeWidgetItem(self.tree, ["No other engines yet (File > Engines… adds one)."])
        for profile, rows in zip(profiles, found, strict=True):
            kind = "Ollama" if profile.kind == "ollama" else "OpenAI-compatible"
            top = QTreeWidgetItem(self.tree, [f"{profile.name} · {kind}", "", profile.url])
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            if isinstance(rows, str):
                QTreeWidgetItem(top, [rows])
            elif not rows:
                QTreeWidgetItem(top, ["No models of the Phi-4 family here."])
            for row in rows if not isinstance(rows, str) else []:
                item = QTreeWidgetItem(top, list(row))
                item.setToolTip(0, row[2])
            top.setExpanded(True)

    async def aclose(self) -> None:
        await self.tasks.cancel_and_wait()
