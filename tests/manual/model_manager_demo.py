"""Open the model manager against an in-process Ollama double, by hand or for screenshots.

    xvfb-run -a -s "-screen 0 1400x900x24" env QT_QPA_PLATFORM=xcb \
        .venv/bin/python -m tests.manual.model_manager_demo --screenshot build/shots

Without `--screenshot` the window stays open until closed. The double has the default Phi-4
models installed, phi4 loaded with 20 of its 41 layers on a pretend GPU (a partial split), and
phi4-mini loaded fully; pulls are slowed down so a pull in progress can be seen. The window runs
on a real `Workspace` in a temporary data directory whose database holds a few answers, so the
cards show speeds "measured here". `--theme light|dark` sets the palette and `--size WxH` the
windows' size (1380x880 unless told; 720x560 shows the cards in one column).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import cast

import httpx
from PySide6.QtWidgets import QApplication, QWidget

from app.backend.client import OllamaClient
from app.backend.events import ChatStats
from app.backend.hardware import Gpu, GpuVendor
from app.config import Paths
from app.gui.model_manager import ModelManagerWindow
from app.gui.tasks import new_qt_loop, run_on_qt_loop
from app.gui.theme import apply_theme
from app.store import Provenance
from app.workspace import Workspace
from tests.ollama_double.server import GIB, OllamaDouble

GPUS = {
    8: Gpu(0, "NVIDIA GeForce RTX 4060", GpuVendor.NVIDIA, 8 * GIB, int(7.6 * GIB)),
    24: Gpu(0, "NVIDIA GeForce RTX 4090", GpuVendor.NVIDIA, 24 * GIB, int(23.4 * GIB)),
}
SPEEDS = {"phi4:latest": 11.8, "phi4-mini:latest": 48.3}


def record_speeds(workspace: Workspace) -> None:
    """One complete answer per model at the speed in SPEEDS, as chats would have saved it."""
    db = workspace.db
    for model, tokens_per_second in SPEEDS.items():
        chat = db.create_chat(model=model)
        message = db.add_message(chat.id, "assistant", "hello", status="streaming")
        db.finish_message(
            message.id,
            status="complete",
            stats=ChatStats(eval_count=10),
            provenance=Provenance(model=model, tokens_per_second=tokens_per_second),
        )


def load_models(double: OllamaDouble) -> None:
    """phi4 partly on the GPU (num_gpu 20), phi4-mini fully, as chats would load them."""
    for model, options in (
        ("phi4:latest", {"num_ctx": 8192, "num_gpu": 20}),
        ("phi4-mini:latest", {"num_ctx": 16384}),
    ):
        httpx.post(
            f"{double.url}/api/chat",
            json={
                "model": model,
                "messages": [{"role": "user", "content": "hi"}],
                "stream": False,
                "options": options,
                "keep_alive": "30m",
            },
            timeout=10,
        ).raise_for_status()


async def wait_for(condition: object, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the demo window did not reach the expected state")
        await asyncio.sleep(0.05)


def grab(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"saved {path}")


async def screenshots(
    double: OllamaDouble, workspace: Workspace, out: Path, size: tuple[int, int]
) -> None:
    windows: list[ModelManagerWindow] = []
    for gib in (8, 24):
        window = ModelManagerWindow(workspace, gpus=[GPUS[gib]])
        windows.append(window)
        window.resize(*size)
        window.show()
        await wait_for(lambda w=window: len(w.state.installed) >= 4)
        await asyncio.sleep(0.3)
        grab(window, out / f"manager-fit-{gib}gb.png")
    window = windows[0]
    double.set_fault("slow", delay=0.05, path="/api/pull")
    card = window.catalog_tab.cards["phi4"]
    card.choose("Q8_0")
    card.pull_button.click()
    await wait_for(
        lambda: card.panel.bar.maximum() > 0 and card.panel.bar.value() > 150, seconds=30
    )
    await asyncio.sleep(0.4)
    grab(window, out / "manager-pull.png")
    card.panel.cancel()
    double.clear_faults()
    window.tabs.setCurrentIndex(2)
    await wait_for(lambda: window.loaded_tab.table.rowCount() == 2)
    await asyncio.sleep(0.2)
    grab(window, out / "manager-loaded.png")
    installed = window.installed_tab
    window.tabs.setCurrentIndex(1)
    window.select_installed("phi4-mini:latest")
    installed.default_button.click()
    window.select_installed("phi4:latest")
    installed.offload.layers_mode.setCurrentIndex(3)
    installed.offload.layer_count.setValue(20)
    await asyncio.sleep(0.2)
    grab(window, out / "manager-installed.png")
    server = window.server_tab
    window.tabs.setCurrentIndex(3)
    server.kv_type.setCurrentIndex(1)
    server.keep_alive.setText("soon")
    server.keep_alive.editingFinished.emit()
    await asyncio.sleep(0.2)
    grab(window, out / "manager-server.png")
    window.tabs.setCurrentIndex(0)
    other = window.catalog_tab
    other.other_name.setText("phi4:14b-q9_9")
    other.other_pull.click()
    await wait_for(other.other_panel.error.isVisible)
    double.set_fault("status", status=503)
    window.refresh()
    await wait_for(window.notice_area.isVisible)
    await asyncio.sleep(0.3)
    grab(window, out / "manager-error.png")
    double.clear_faults()
    for each in windows:
        await each.aclose()
        each.close()


async def demo(
    app: QApplication,
    double: OllamaDouble,
    workspace: Workspace,
    out: Path | None,
    gib: int,
    size: tuple[int, int],
) -> None:
    try:
        if out is not None:
            await screenshots(double, workspace, out, size)
            return
        window = ModelManagerWindow(workspace, gpus=[GPUS[gib]])
        window.show()
        closed = asyncio.Event()
        window.destroyed.connect(closed.set)
        app.lastWindowClosed.connect(closed.set)
        await closed.wait()
        await window.aclose()
    finally:
        await workspace.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, help="save PNGs here and exit")
    parser.add_argument("--gpu-gib", type=int, choices=sorted(GPUS), default=8)
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--size", default="1380x880", metavar="WxH", help="the windows' size")
    args = parser.parse_args(argv)
    width, height = (int(n) for n in args.size.split("x"))

    app = cast(QApplication, QApplication.instance() or QApplication(sys.argv))
    apply_theme(app, args.theme)
    loop = new_qt_loop(app)
    asyncio.set_event_loop(loop)
    double = OllamaDouble(
        vram_bytes=args.gpu_gib * GIB, pull_step_delay=0.0, pull_steps=400
    ).start()
    try:
        load_models(double)
        with tempfile.TemporaryDirectory(prefix="phidesk-demo-") as data:
            workspace = Workspace.open(Paths.resolve(data).ensure(), OllamaClient(double.url))
            record_speeds(workspace)
            if args.screenshot:
                args.screenshot.mkdir(parents=True, exist_ok=True)
            run_on_qt_loop(
                loop,
                demo(
                    app,
                    double,
                    workspace,
                    args.screenshot,
                    args.gpu_gib,
                    (width, height),
                ),
            )
    finally:
        double.stop()
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
