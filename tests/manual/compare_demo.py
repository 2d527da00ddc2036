"""Open the compare view (Chat > Compare…) against an in-process Ollama double, by hand or for
screenshots: phi4 q4_K_M vs q8_0 vs phi4-mini answering a question with math, one after another,
each model at its own pace so the figures differ.

    mkdir -p build/shots
    QTWEBENGINE_DISABLE_SANDBOX=1 xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python -m tests.manual.compare_demo --theme dark \
        --screenshot build/shots/compare-dark.png

`--scene done` (default) waits for the three answers and their figures; `--scene failed` makes
the middle target a model that is not installed. Without `--screenshot` the window stays open
until closed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from app.backend.client import OllamaClient
from app.config import AppContext, Paths, Settings
from app.gui.application import prepare_environment
from app.gui.compare_window import CompareWindow
from app.gui.connection import ConnectionMonitor
from app.gui.main_window import MainWindow
from app.gui.tasks import new_qt_loop, run_on_qt_loop
from app.gui.transcript import register_scheme
from app.workspace import Workspace
from tests.ollama_double.server import OllamaDouble

TARGETS = ("phi4:14b-q4_K_M", "phi4:14b-q8_0", "phi4-mini:latest")
PACE = {"phi4:14b-q4_K_M": 0.05, "phi4:14b-q8_0": 0.08, "phi4-mini:latest": 0.03}
PROMPT = "Solve $x^2 - 5x + 6 = 0$ and check the roots."
ANSWERS = (
    r"""By the quadratic formula with $a = 1$, $b = -5$, $c = 6$:

$$x = \frac{5 \pm \sqrt{25 - 24}}{2} = \frac{5 \pm 1}{2}$$

so $x = 3$ or $x = 2$. **Check:** $3^2 - 15 + 6 = 0$ and $2^2 - 10 + 6 = 0$.""",
    r"""Factor it: $x^2 - 5x + 6 = (x - 2)(x - 3)$, so the roots are

$$x_1 = 2, \qquad x_2 = 3.$$

| root | $x^2 - 5x + 6$ |
| --- | --- |
| 2 | $4 - 10 + 6 = 0$ |
| 3 | $9 - 15 + 6 = 0$ |

Both check out; note $x_1 + x_2 = 5$ and $x_1 x_2 = 6$ (Vieta).""",
    r"""The roots are $x = 2$ and $x = 3$, since $(x-2)(x-3) = x^2 - 5x + 6$.""",
)


def save(widget: QWidget, path: str) -> None:
    if not widget.grab().save(path, "PNG"):
        raise SystemExit(f"could not write {path}")
    print(path)


async def until(predicate: object, seconds: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not callable(predicate) or not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(str(predicate))
        await asyncio.sleep(0.05)


async def scene(name: str, window: MainWindow, double: OllamaDouble, shot: str | None) -> None:
    await until(lambda: window.monitor.state.value == "connected")
    window.open_compare()
    compare = window._compare
    assert isinstance(compare, CompareWindow)
    compare.resize(1380, 880)
    targets = list(TARGETS)
    if name == "failed":
        targets[1] = "phi4:14b-fp16"
    await until(lambda: all(len(c.picker.models) >= 3 for c in compare.active))
    for index, model in enumerate(targets):
        compare.choose(index, model)
    await until(lambda: all(c.view.loaded for c in compare.active))
    compare.prompt.setPlainText(PROMPT)
    compare.system.setText("Answer briefly and show the math.")
    for answer in ANSWERS if name != "failed" else (ANSWERS[0], ANSWERS[2]):
        double.script_reply(answer, chunk_size=3)
    compare.run()
    await until(lambda: not compare.is_running and compare.run_button.isEnabled(), 120)
    await asyncio.sleep(1.0)
    if shot is None:
        await until(lambda: not compare.isVisible(), 3600)
        return
    save(compare, shot)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", choices=("done", "failed"), default="done")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--screenshot", metavar="PATH")
    args = parser.parse_args(argv)
    prepare_environment(offscreen=False)
    register_scheme()
    app = QApplication(sys.argv[:1])
    loop = new_qt_loop(app)
    asyncio.set_event_loop(loop)
    double = OllamaDouble().start()
    for model in TARGETS:
        double.install(model)
        double.set_token_delay(model, PACE[model])
    data = Path(tempfile.mkdtemp(prefix="phidesk-demo-"))
    ctx = AppContext(paths=Paths.resolve(data).ensure(), host=double.url)
    Settings(theme=args.theme).save(ctx.paths.settings_file)
    workspace = Workspace.open(ctx.paths, OllamaClient(double.url))
    workspace.gpus_for_comparisons = list
    window = MainWindow(ctx, workspace, ConnectionMonitor(workspace.connection, None))
    window.show()
    window.monitor.check_now()

    async def everything() -> None:
        try:
            await asyncio.wait_for(scene(args.scene, window, double, args.screenshot), 3700)
        finally:
            window.close()
            await window.aclose()
            await workspace.aclose()

    try:
        run_on_qt_loop(loop, everything())
    finally:
        loop.close()
        double.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
