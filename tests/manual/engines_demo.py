"""The engines dialog and the grouped model picker, against the Ollama double and the
OpenAI-compatible double, by hand or for screenshots.

    QTWEBENGINE_DISABLE_SANDBOX=1 xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python -m tests.manual.engines_demo --theme dark --screenshot engines-dark.png

Saves the main window with File > Engines… open (an engine added from the vLLM preset and
tested) at PATH, and the window with the model picker open (a section per engine) beside it as
`…-picker.png`. Both are grabs of the whole screen, so the picker's popup is in them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.backend.client import OllamaClient
from app.config import AppContext, Paths, Settings
from app.gui.application import prepare_environment
from app.gui.connection import ConnectionMonitor
from app.gui.engines_dialog import EnginesDialog
from app.gui.main_window import MainWindow
from app.gui.tasks import new_qt_loop, run_on_qt_loop
from app.gui.transcript import register_scheme
from app.workspace import Workspace
from tests.ollama_double.server import OllamaDouble
from tests.openai_double.server import OpenAIDouble


async def until(condition: object, seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the demo did not reach the expected state")
        await asyncio.sleep(0.05)


def save_screen(path: str) -> None:
    screen = QGuiApplication.primaryScreen()
    screen.grabWindow(0).save(path)
    print(f"saved {path}")


async def scenes(window: MainWindow, remote: OpenAIDouble, shot: str) -> None:
    await until(lambda: window.pane.picker.engines() == ["ollama", "team-vllm"])
    await until(lambda: window.pane.view.loaded)
    window.engines_action.trigger()
    dialog = window._engines
    assert isinstance(dialog, EnginesDialog)
    dialog.move(window.geometry().center() - dialog.rect().center())
    dialog.add_button.click()
    dialog.preset.setCurrentIndex(dialog.preset.findData("vllm"))
    dialog.name.setText("lab-vllm")
    dialog.url.setText(remote.url)
    dialog.headers.setPlainText("X-Team: maths")
    dialog.form_buttons.accepted.emit()
    await until(lambda: "Connected" in dialog.status.text())
    dialog.start_edit()  # show the form as it looks for an engine with a key
    await asyncio.sleep(0.6)
    save_screen(shot)
    dialog.cancel_form()
    dialog.close()
    await until(lambda: "lab-vllm" in window.pane.picker.engines())
    window.pane.picker.showPopup()
    await asyncio.sleep(0.6)
    save_screen(shot.replace(".png", "-picker.png"))
    window.pane.picker.hidePopup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--screenshot", required=True, metavar="PATH")
    args = parser.parse_args(argv)
    prepare_environment(offscreen=False)
    register_scheme()
    app = QApplication(sys.argv[:1])
    loop = new_qt_loop(app)
    asyncio.set_event_loop(loop)
    double = OllamaDouble().start()
    remote = OpenAIDouble()
    remote.start()
    data = Path(tempfile.mkdtemp(prefix="phidesk-demo-"))
    ctx = AppContext(paths=Paths.resolve(data).ensure(), host=double.url)
    Settings(theme=args.theme).save(ctx.paths.settings_file)
    workspace = Workspace.open(ctx.paths, OllamaClient(double.url))
    workspace.add_engine("team-vllm", remote.url)
    window = MainWindow(ctx, workspace, ConnectionMonitor(workspace.connection, None))
    window.resize(1400, 900)
    window.move(0, 0)
    window.show()
    window.monitor.check_now()

    async def everything() -> None:
        try:
            await asyncio.wait_for(scenes(window, remote, args.screenshot), 90)
        finally:
            window.close()
            await window.aclose()
            await workspace.close_engines()
            await workspace.aclose()

    try:
        run_on_qt_loop(loop, everything())
    finally:
        loop.close()
        double.stop()
        remote.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
