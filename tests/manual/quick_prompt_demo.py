"""Show the quick prompt answering with math against an in-process Ollama double, for a look
or a screenshot:

    mkdir -p build/shots
    xvfb-run -a -s "-screen 0 1400x900x24" env QT_QPA_PLATFORM=xcb \
        .venv/bin/python -m tests.manual.quick_prompt_demo --screenshot build/shots/quick-math.png
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.backend.catalog import default_catalog
from app.backend.client import OllamaClient
from app.backend.connection import Connection
from app.config import Paths
from app.gui.application import prepare_environment
from app.gui.quick_prompt import QuickPrompt
from app.gui.tasks import new_qt_loop, run_on_qt_loop
from app.gui.theme import apply_theme
from app.gui.transcript import register_scheme
from app.store import Database
from app.workspace import Workspace
from tests.ollama_double.server import OllamaDouble

ANSWER = r"""The roots of $ax^2 + bx + c = 0$ are

$$x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}$$

For $x^2 - 5x + 6 = 0$: $\Delta = 25 - 24 = 1$, so $x = 3$ or $x = 2$.

```python
roots = [(5 + s) / 2 for s in (1, -1)]  # [3.0, 2.0]
```
"""


async def until(predicate: Callable[[], object], seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(str(predicate))
        await asyncio.sleep(0.05)


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
    paths = Paths.resolve(Path(tempfile.mkdtemp(prefix="phidesk-quick-demo-"))).ensure()
    db = Database.open(paths.database)
    workspace = Workspace(db, Connection(OllamaClient(double.url)), paths)
    workspace.settings.set(theme=args.theme)
    quick = QuickPrompt(workspace, default_catalog())  # as the tray gives it
    apply_theme(app, args.theme)
    quick.view.set_theme(args.theme)
    quick.show_prompt()

    async def scene() -> None:
        try:
            await until(lambda: len(quick.picker.models) >= 3 and quick.view.loaded)
            quick.picker.select("phi4-mini:latest")
            double.script_reply(ANSWER, chunk_size=6)
            quick.input.setText("Solve x^2 - 5x + 6 = 0")
            quick.input.returnPressed.emit()
            await until(lambda: not quick.streaming)
            quick.input.setText("And the vertex?")
            await asyncio.sleep(1.0)
            if not quick.grab().save(args.screenshot, "PNG"):
                raise SystemExit(f"could not write {args.screenshot}")
            print(args.screenshot)
        finally:
            quick.close()
            await quick.aclose()
            await workspace.aclose()  # the database and the client

    try:
        run_on_qt_loop(loop, asyncio.wait_for(scene(), 90))
    finally:
        double.stop()
        # The workspace closed its database threads through the loop's default executor
        # (QThreads under qasync); closing the loop ends them before Qt tears down.
        loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
