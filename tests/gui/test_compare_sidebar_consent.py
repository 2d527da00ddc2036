"""Before a comparison sends its prompt to an engine off this computer (a second Ollama double
on this machine's LAN address), the compare view asks, once per engine per run of the app;
declining sends nothing and stores nothing."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.gui.compare_consent import CompareConsentDialog
from app.gui.compare_window import CompareWindow
from app.gui.main_window import MainWindow
from app.store import Database
from tests.gui.test_compare_sidebar import app
from tests.gui.test_documents_window import lan_double
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

__all__ = ["app", "lan_double"]

pytestmark = pytest.mark.web


def consent_dialogs() -> list[CompareConsentDialog]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, CompareConsentDialog) and w.isVisible()
    ]


def test_a_comparison_asks_once_before_sending_to_an_engine_off_this_computer(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
    lan_double: OllamaDouble,
) -> None:
    window, _db = app

    async def scenario() -> None:
        ws = window.workspace
        ws.add_engine("lan", lan_double.url, kind="ollama")
        window.compare_action.trigger()
        compare = window._compare
        assert isinstance(compare, CompareWindow)
        compare.count.setValue(2)
        await until(lambda: all(len(c.picker.models) >= 3 for c in compare.active))
        await until(lambda: "lan" in compare.active[0].picker.engines())
        compare.choose(0, "phi4-mini:latest", "lan")
        compare.choose(1, "phi4:latest")
        compare.warm_up.setChecked(False)
        compare.prompt.setPlainText("Where is the code word?")
        assert [c.target.engine for c in compare.active] == ["lan", "ollama"]

        # Declined: nothing is sent anywhere, nothing stored, the view is as it was.
        qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
        await until(lambda: bool(consent_dialogs()))
        dialog = consent_dialogs()[0]
        assert "lan" in dialog.text() and lan_double.url in dialog.informativeText()
        assert "ollama" not in dialog.text()
        dialog.reject()
        await until(lambda: not consent_dialogs() and compare.run_button.isEnabled())
        await asyncio.sleep(0.2)
        assert lan_double.requests_to("/api/chat") == []
        assert [r for r in ollama_double.requests_to("/api/chat") if r.body.get("messages")] == []
        assert await ws.list_comparisons() == []
        assert compare.prompt.toPlainText() == "Where is the code word?"

        # Agreed: it runs; a later run to the same engine is not asked about again.
        for round_ in (1, 2):
            lan_double.script_reply(f"pelican {round_}")
            ollama_double.script_reply(f"heron {round_}")
            qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
            if round_ == 1:
                await until(lambda: bool(consent_dialogs()))
                consent_dialogs()[0].send.click()
            await until(lambda: not compare.is_running and compare.run_button.isEnabled(), 30)
            await until(lambda: all(c.result is not None for c in compare.active))
            assert not consent_dialogs()
            assert [c.result.status for c in compare.active if c.result] == ["complete"] * 2
            asked = [r for r in lan_double.requests_to("/api/chat") if r.body.get("messages")]
            assert len(asked) == round_
        assert len(await ws.list_comparisons()) == 2

    drive(qt_loop, scenario())
