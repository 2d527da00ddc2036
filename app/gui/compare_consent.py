"""The question the compare view asks before a comparison's prompt goes to an engine that is not
on this computer (a hosted or remote engine): once per engine for each run of the app.

    agreed = await ask_compare_consent(parent, {"work-gpu": "http://10.0.0.5:11434"})
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QMessageBox, QWidget


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class CompareConsentDialog(QMessageBox):
    """Send the comparison's prompt to these engines off this computer?"""

    def __init__(self, engines: Mapping[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CompareConsent")
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("Send the prompt?")
        names = list(engines)
        where = [f"{name} ({url})" for name, url in engines.items()]
        self.setText(f"Send this comparison's prompt to {_listed(names)}?")
        verb = "is" if len(names) == 1 else "are"
        self.setInformativeText(
            f"{_listed(where)} {verb} not on this computer: the prompt and the system prompt "
            "go there. PhiDesk asks once per engine each time it starts."
        )
        self.send = self.addButton("Send", QMessageBox.ButtonRole.AcceptRole)
        self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(QMessageBox.StandardButton.Cancel)

    def agreed(self) -> bool:
        return self.clickedButton() is self.send


async def ask_compare_consent(parent: QWidget, engines: Mapping[str, str]) -> bool:
    """Ask (window-modal, without blocking the event loop) whether the prompt may go to
    `engines` (name → URL); True when the user agreed."""
    dialog = CompareConsentDialog(engines, parent)
    answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    @Slot(int)
    def finished(_result: int) -> None:
        if not answered.done():
            answered.set_result(dialog.agreed())

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await answered
    finally:
        dialog.deleteLater()
