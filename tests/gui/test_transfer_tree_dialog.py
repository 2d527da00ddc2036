"""The export dialog's choice of every version: a check box "Include every version (branches)"
where a chosen chat has versions, off by default; the chosen file and the choice come back."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QCheckBox
from pytestqt.qtbot import QtBot

from app.gui.export_dialog import ExportDialog


def test_the_dialog_offers_every_version_and_returns_the_choice(
    qtbot: QtBot, tmp_path: Path
) -> None:
    dialog = ExportDialog(
        None, "Export chat", tmp_path / "Sums.md", "Markdown (*.md)", offer_branches=True
    )
    qtbot.addWidget(dialog)
    box = dialog.findChild(QCheckBox, "allBranches")
    assert box is not None
    assert box.text() == "Include every version (branches)"
    assert not box.isChecked() and not dialog.all_branches
    dialog.show()
    box.setChecked(True)
    assert dialog.all_branches
    dialog.selectFile(str(tmp_path / "Sums.md"))
    dialog.accept()
    assert dialog.result() == ExportDialog.DialogCode.Accepted
    assert dialog.chosen() == (tmp_path / "Sums.md", True)


def test_without_versions_there_is_no_choice(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = ExportDialog(
        None, "Export all chats", tmp_path / "all.zip", "Zip (*.zip)", offer_branches=False
    )
    qtbot.addWidget(dialog)
    assert dialog.findChild(QCheckBox, "allBranches") is None
    assert not dialog.all_branches
