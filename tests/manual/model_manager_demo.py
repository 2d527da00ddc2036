"""Open the model manager against an in-process Ollama double, by hand or for screenshots.

    xvfb-run -a -s "-screen 0 1400x900x24" env QT_QPA_PLATFORM=xcb \
        .venv/bin/python -m tests.manual.model_manager_demo --screenshot build/shots

Without `--screenshot` the window stays open until closed. The double has the default Phi-4
models installed, phi4 loaded with 20 of its 41 layers on a pretend GPU (a partial split), and
phi4-mini loaded fully; pulls are slowed down so a pull in progress can be seen.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx
import qasync
from PySide6.QtWidgets import QApplication, QWidget

from app.backend.client import OllamaClient
from app.backend.hardware import Gpu, GpuVendor
from app.config import Paths
from app.gui.model_manager import ModelManagerWindow
from tests.ollama_double.server import GIB, OllamaDouble

GPUS = {
    8: Gpu(0, "NVIDIA GeForce RTX 4060", GpuVendor.NVIDIA, 8 * GIB, int(7.6 * GIB)),
    24: Gpu(0, "NVIDIA GeForce RTX 4090", GpuVendor.NVIDIA, 24 * GIB, int(23.4 * GIB)),
}
SPEEDS = {"phi4:latest": 11.8, "phi4-mini:latest": 48.3}


def measured_speed(name: str) -> float | None:
    return SPEEDS.get(name)


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
    QApplication.processEvents()
    widget.grab().save(str(path))
    print(f"saved {path}")


async def screenshots(double: OllamaDouble, client: OllamaClient, out: Path, data: Path) -> None:
    paths = Paths.resolve(data).ensure()
    windows: list[ModelManagerWindow] = []
    for gib in (8, 24):
        window = ModelManagerWindow(client, paths, gpus=[GPUS[gib]], measured_speed=measured_speed)
        windows.append(window)
        window.resize(1380, 880)
        window.show()
        await wait_for(lambda w=window: len(w.installed) >= 4)
        await asyncio.sleep(0.3)
        grab(window, out / f"manager-fit-{gib}gb.png")
    window = windows[0]
    double.set_fault("slow", delay=0.05, path="/api/pull")
    card = window.cards["phi4"]
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
    await wait_for(lambda: window.loaded_table.rowCount() == 2)
    await asyncio.sleep(0.2)
    grab(window, out / "manager-loaded.png")
    window.tabs.setCurrentIndex(1)
    window.select_installed("phi4-mini:latest")
    window.default_button.click()
    window.select_installed("phi4:latest")
    window.layers_mode.setCurrentIndex(3)
    window.layer_count.setValue(20)
    await asyncio.sleep(0.2)
    grab(window, out / "manager-installed.png")
    window.tabs.setCurrentIndex(3)
    window.kv_type.setCurrentIndex(1)
    await asyncio.sleep(0.2)
    grab(window, out / "manager-server.png")
    for each in windows:
        await each.aclose()
        each.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, help="save PNGs here and exit")
    parser.add_argument("--gpu-gib", type=int, choices=sorted(GPUS), default=8)
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    double = OllamaDouble(
        vram_bytes=args.gpu_gib * GIB, pull_step_delay=0.0, pull_steps=400
    ).start()
    client = OllamaClient(double.url)
    try:
        load_models(double)
        with tempfile.TemporaryDirectory(prefix="phidesk-demo-") as data:
            if args.screenshot:
                args.screenshot.mkdir(parents=True, exist_ok=True)
                loop.run_until_complete(screenshots(double, client, args.screenshot, Path(data)))
            else:
                window = ModelManagerWindow(
                    client,
                    Paths.resolve(data).ensure(),
                    gpus=[GPUS[args.gpu_gib]],
                    measured_speed=measured_speed,
                )
                window.show()
                closed = asyncio.Event()
                window.destroyed.connect(closed.set)
                app.lastWindowClosed.connect(closed.set)
                loop.run_until_complete(closed.wait())
    finally:
        loop.run_until_complete(client.aclose())
        double.stop()
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
