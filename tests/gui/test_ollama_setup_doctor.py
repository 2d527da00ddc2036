"""The doctor offers "Set up Ollama" when no Ollama is found on this computer: the Ollama line's
advice says so, and Help > Diagnose shows a button that starts the setup."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.backend.client import OllamaClient
from app.config import Paths
from app.gui.diagnose import DiagnoseDialog
from app.workspace.doctor import Status, run_checks
from app.workspace.doctor_setup import SET_UP_ADVICE, SET_UP_OLLAMA
from tests.ollama_double.fake_ollama import write_fake_ollama
from tests.qt_async import drive, until


def free_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "empty-bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def test_no_ollama_anywhere_offers_set_up(
    qt_loop: asyncio.AbstractEventLoop, empty_path: Path
) -> None:
    paths = Paths.resolve().ensure()

    async def check() -> None:
        async with OllamaClient(free_url()) as client:
            checks = await run_checks(paths, client, tray=True)
        ollama = checks[0]
        assert ollama.name == "Ollama" and ollama.status is Status.PROBLEM
        assert ollama.action == SET_UP_OLLAMA
        assert ollama.advice == SET_UP_ADVICE  # not "start it (ollama serve)": there is none
        assert ollama.line().endswith("; " + SET_UP_ADVICE)

    drive(qt_loop, check())  # on the session's loop: asyncio.run would unset it


def test_an_installed_ollama_is_started_not_set_up(
    qt_loop: asyncio.AbstractEventLoop, empty_path: Path
) -> None:
    write_fake_ollama(empty_path)
    paths = Paths.resolve().ensure()

    async def check() -> None:
        async with OllamaClient(free_url()) as client:
            checks = await run_checks(paths, client, tray=True)
        assert checks[0].status is Status.PROBLEM
        assert checks[0].action == ""

    drive(qt_loop, check())  # on the session's loop: asyncio.run would unset it


def test_diagnose_shows_set_up_ollama_and_asks_for_it(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, empty_path: Path
) -> None:
    paths = Paths.resolve().ensure()
    client = OllamaClient(free_url())
    dialog = DiagnoseDialog(paths, client, tray=True)
    qtbot.addWidget(dialog)
    dialog.show()
    drive(qt_loop, until(lambda: not dialog.running and bool(dialog.checks), 60))
    button = dialog.set_up_button
    assert button is not None and button.text() == "Set up Ollama" and button.isVisible()
    with qtbot.waitSignal(dialog.setUpOllamaRequested, timeout=5000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    drive(qt_loop, client.aclose())
