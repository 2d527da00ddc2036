"""The export dialog: where to save, and, when a chosen chat has versions, whether to include
every version (format 2) or only the one shown."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QFileDialog, QGridLayout, QWidget

from app.gui.tasks import answer_of

ALL_BRANCHES_TEXT = "Include every version (branches)"


class ExportDialog(QFileDialog):
    """A save dialog with, where it matters, a check box for every version (off: the chats
    as shown). Qt's own dialog, since a platform dialog cannot hold the check box; without
    the choice, the platform's."""

    def __init__(
        self,
        parent: QWidget | None,
        caption: str,
        suggested: Path,
        name_filter: str,
        *,
        offer_branches: bool,
    ) -> None:
        super().__init__(parent, caption, str(suggested.parent), name_filter)
        self.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        self.setFileMode(QFileDialog.FileMode.AnyFile)
        self._box: QCheckBox | None = None
        if offer_branches:
            self.setOption(QFileDialog.Option.DontUseNativeDialog, True)
            box = QCheckBox(ALL_BRANCHES_TEXT, self)
            box.setObjectName("allBranches")
            box.setToolTip(
                "Regenerated answers and edited questions are kept as versions; include them "
                "all, so that an import restores every one. Off: only the versions on show."
            )
            layout = self.layout()
            if isinstance(layout, QGridLayout):
                layout.addWidget(box, layout.rowCount(), 0, 1, layout.columnCount())
            self._box = box
        self.selectFile(suggested.name)

    @property
    def all_branches(self) -> bool:
        return self._box is not None and self._box.isChecked()

    def chosen(self) -> tuple[Path, bool] | None:
        """The file chosen and whether to include every version; None if cancelled."""
        files = self.selectedFiles()
        if self.result() != QFileDialog.DialogCode.Accepted or not files:
            return None
        return Path(files[0]), self.all_branches


async def ask_export_target(
    parent: QWidget | None,
    caption: str,
    suggested: Path,
    name_filter: str,
    *,
    offer_branches: bool,
) -> tuple[Path, bool] | None:
    """Ask where to export (and, with `offer_branches`, whether to include every version);
    the app's other tasks go on while the dialog is open."""
    dialog = ExportDialog(parent, caption, suggested, name_filter, offer_branches=offer_branches)
    try:
        await answer_of(dialog)
        return dialog.chosen()
    finally:
        dialog.deleteLater()
