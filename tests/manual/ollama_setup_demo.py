"""Screenshots of "Set up Ollama": the first-start page, a failure, the download in progress, and
the model suggested afterwards in the model manager.

    QTWEBENGINE_DISABLE_SANDBOX=1 xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python -m tests.manual.ollama_setup_demo --theme dark --screenshot build/shots

It runs the real main window in a temporary data folder with no `ollama` on PATH and nothing
answering, against the stand-in releases server of the tests (tests/release_server.py, slowed
down so the download can be seen), whose archive holds the fake `ollama` (the Ollama double).
The model manager is given a pretend 8 GiB GPU, so the suggestion reads "fits on your GPU".
Saves setup-start-, setup-error-, setup-progress- and setup-suggest-<theme>.png.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import sys
import tempfile
from pathlib import Path

import httpx
from PySide6.QtWidgets import QApplication, QWidget

from app.backend.client import OllamaClient
from app.backend.hardware import Gpu, GpuVendor
from app.backend.ollama_setup import RELEASES_URL_ENV
from app.config import AppContext, Paths, Settings
from app.gui.application import prepare_environment
from app.gui.connection import ConnectionMonitor
from app.gui.main_window import MainWindow
from app.gui.model_manager import ModelManagerWindow
from app.gui.ollama_setup import ollama_server, stop_on_quit
from app.gui.tasks import new_qt_loop, run_on_qt_loop
from app.gui.transcript import register_scheme
from app.workspace import Workspace
from tests.ollama_double.server import GIB
from tests.release_server import ReleaseServer, make_tgz, ollama_tree

ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), "amd64"
)
LINUX_TGZ = f"ollama-linux-{ARCH}.tgz"
GPU = Gpu(0, "NVIDIA GeForce RTX 4060", GpuVendor.NVIDIA, 8 * GIB, int(7.6 * GIB))


def free_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def archive() -> bytes:
    tree = ollama_tree()
    tree["lib/ollama/libggml-base.so"] = random.Random(21).randbytes(6_000_000)
    return make_tgz(tree)


async def wait_for(condition: object, seconds: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the demo window did not reach the expected state")
        await asyncio.sleep(0.03)


def grab(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"saved {path}")


def give_manager_a_gpu(window: MainWindow) -> None:
    """The model manager the window opens after setup, with a pretend GPU."""
    manager = ModelManagerWindow(
        window.workspace, parent=window, catalog=window.catalog, gpus=[GPU]
    )
    manager.modelsChanged.connect(window.refresh_models)
    manager.resize(1280, 820)
    window._manager = manager


async def scenes(window: MainWindow, releases: ReleaseServer, out: Path, theme: str) -> None:
    page = window.onboarding
    await wait_for(lambda: window.stack.currentWidget() is page and page.setup.isVisible())
    await asyncio.sleep(0.3)
    grab(window, out / f"setup-start-{theme}.png")

    releases.wrong_checksum_for = {LINUX_TGZ}
    page.setup.setup_button.click()
    await wait_for(page.setup.error.isVisible)
    await asyncio.sleep(0.2)
    grab(window, out / f"setup-error-{theme}.png")

    releases.wrong_checksum_for = set()
    releases.delay = 0.06
    page.setup.setup_button.click()
    await wait_for(lambda: 350 < page.setup.bar.value() < 700 and page.setup.bar.maximum() > 0)
    await asyncio.sleep(0.3)
    grab(window, out / f"setup-progress-{theme}.png")

    give_manager_a_gpu(window)
    await wait_for(lambda: window.monitor.state.value == "connected", 90)
    manager = window._manager
    await wait_for(lambda: manager.isVisible() and manager.suggestion.isVisible())
    # A fresh copy has no models; the double starts with the Phi-4 family installed.
    async with httpx.AsyncClient(base_url=window.client.host) as http:
        listed = (await http.get("/api/tags")).json()["models"]
        for model in listed:
            await http.request("DELETE", "/api/delete", json={"model": model["name"]})
    manager.refresh()
    await wait_for(lambda: manager.suggestion.pull_button.isEnabled())
    await asyncio.sleep(0.5)
    grab(manager, out / f"setup-suggest-{theme}.png")
    await manager.aclose()
    manager.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--screenshot", required=True, type=Path, metavar="FOLDER")
    args = parser.parse_args(argv)
    args.screenshot.mkdir(parents=True, exist_ok=True)
    prepare_environment(offscreen=False)
    register_scheme()
    app = QApplication(sys.argv[:1])
    loop = new_qt_loop(app)
    asyncio.set_event_loop(loop)
    data = Path(tempfile.mkdtemp(prefix="phidesk-demo-"))
    empty = data / "empty-bin"
    empty.mkdir()
    os.environ["PATH"] = str(empty)  # no ollama anywhere
    host = free_url()
    with ReleaseServer() as releases:
        releases.publish("v0.12.0", {LINUX_TGZ: archive()})
        os.environ[RELEASES_URL_ENV] = releases.releases_url
        ctx = AppContext(paths=Paths.resolve(data).ensure(), host=host)
        Settings(theme=args.theme).save(ctx.paths.settings_file)
        workspace = Workspace.open(ctx.paths, OllamaClient(host))
        server, choice = ollama_server(workspace, host)
        monitor = ConnectionMonitor(workspace.connection, server)
        monitor.start_on_demand = choice.managed
        window = MainWindow(ctx, workspace, monitor)
        window.resize(1180, 760)
        window.show()
        monitor.check_now()

        async def everything() -> None:
            try:
                await asyncio.wait_for(scenes(window, releases, args.screenshot, args.theme), 180)
            finally:
                window.close()
                await window.aclose()
                await stop_on_quit(window.monitor.managed, keep_running=False)
                monitor.close()
                await workspace.aclose()

        try:
            run_on_qt_loop(loop, everything())
        finally:
            loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
