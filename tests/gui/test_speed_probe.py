"""The speed probe on a model manager card ("Measure on this machine"), against the Ollama double
over a real socket: a short fixed prompt on each installed quantization of the model, one after
another with the same seed and temperature, tokens/s shown beside the fit estimate and kept
where the cards read measured speeds; progress while it runs, and Cancel."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.chat.compare_figures import DEFAULT_SEED, DEFAULT_TEMPERATURE
from app.gui.compare_probe import SpeedProbe
from app.gui.model_manager import ModelManagerWindow
from tests.gui.test_model_manager import manager, open_workspace, run, until
from tests.ollama_double.server import OllamaDouble

Q4, Q8 = "phi4:14b-q4_K_M", "phi4:14b-q8_0"


def probe_of(window: ModelManagerWindow, family: str) -> SpeedProbe:
    card = window.catalog_tab.cards[family]
    found = card.findChild(SpeedProbe)
    assert isinstance(found, SpeedProbe)
    return found


def asked(double: OllamaDouble) -> list[str]:
    """The models sent a prompt, in order."""
    return [r.body["model"] for r in double.requests_to("/api/chat") if r.body.get("messages")]


def test_measure_on_this_machine_runs_each_installed_quantization_and_keeps_the_speeds(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    ollama_double.install(Q8)
    ollama_double.set_token_delay(Q8, 0.02)

    async def scenario() -> None:
        workspace = open_workspace(ollama_double.url)
        try:
            async with manager(qtbot, ollama_double.url, gpus=[], workspace=workspace) as window:
                probe = probe_of(window, "phi4")
                card = window.catalog_tab.cards["phi4"]
                await until(probe.measure_button.isEnabled, "an installed quantization")
                assert not card.speed_label.isVisible()
                qtbot.mouseClick(probe.measure_button, Qt.MouseButton.LeftButton)
                await until(lambda: probe.bar.isVisible(), "the progress bar")
                assert probe.cancel_button.isVisible() and not probe.measure_button.isEnabled()
                await until(lambda: not probe.running, "the probe to finish", 30)
                assert not probe.bar.isVisible() and probe.measure_button.isEnabled()
                shown = probe.results.text()
                assert "Q4_K_M" in shown and "Q8_0" in shown and "tokens/s" in shown
                assert set(probe.speeds) == {Q4, Q8} or set(probe.speeds) == {"phi4:latest", Q8}
                assert all(speed > 0 for speed in probe.speeds.values())
                sent = [
                    r.body for r in ollama_double.requests_to("/api/chat") if r.body["messages"]
                ]
                assert len(sent) == 2  # one after another, each once
                for body in sent:
                    assert body["options"]["seed"] == DEFAULT_SEED
                    assert body["options"]["temperature"] == DEFAULT_TEMPERATURE
                    assert body["messages"][-1]["content"] == sent[0]["messages"][-1]["content"]
                # Kept where the cards read measured speeds; no chat appears in the list.
                await until(card.speed_label.isVisible, "the measured speed on the card")
                assert await workspace.measured_speed(Q8) is not None
                assert await workspace.list_chats() == []
        finally:
            await workspace.aclose()

    run(qt_loop, scenario())


def test_the_probe_shows_progress_and_cancel_stops_it(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    ollama_double.install(Q8)
    for model in ("phi4:latest", Q8):
        ollama_double.set_token_delay(model, 0.2)
        ollama_double.script_reply("slowly, word by word " * 50)

    async def scenario() -> None:
        workspace = open_workspace(ollama_double.url)
        try:
            async with manager(qtbot, ollama_double.url, gpus=[], workspace=workspace) as window:
                probe = probe_of(window, "phi4")
                await until(probe.measure_button.isEnabled, "an installed quantization")
                qtbot.mouseClick(probe.measure_button, Qt.MouseButton.LeftButton)
                await until(lambda: len(asked(ollama_double)) == 1, "the first request")
                assert probe.bar.maximum() == 2 and probe.bar.value() == 0
                assert "1 of 2" in probe.status.text()
                qtbot.mouseClick(probe.cancel_button, Qt.MouseButton.LeftButton)
                await until(lambda: not probe.running, "the probe to stop")
                assert probe.status.text() == "Cancelled; nothing more is measured."
                assert not probe.bar.isVisible() and probe.measure_button.isEnabled()
                await asyncio.sleep(0.3)
                assert len(asked(ollama_double)) == 1  # the second never asked
                assert probe.speeds == {}
        finally:
            await workspace.aclose()

    run(qt_loop, scenario())
