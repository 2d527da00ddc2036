"""The floor under PhiDesk's start and memory: an empty QWebEngineView window, nothing else.

bench/startup_memory.py starts it the way it starts PhiDesk (same platform, same Chromium flags
and sandbox setting, which it passes in the environment) and reads its time to a loaded page and
its memory beside PhiDesk's. Prints "loaded" once the page has loaded, then waits for SIGTERM.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/webview_baseline.py
"""

from __future__ import annotations

import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QApplication


def main() -> int:
    app = QApplication(sys.argv[:1])
    view = QWebEngineView()
    view.resize(1200, 780)

    def loaded(ok: bool) -> None:
        print("loaded" if ok else "failed", flush=True)

    view.loadFinished.connect(loaded)
    view.setHtml("<!doctype html><html><head><meta charset='utf-8'></head><body></body></html>")
    view.show()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: QTimer.singleShot(0, app.quit))
    keepalive = QTimer()  # lets Python see the signal while Qt's loop runs
    keepalive.start(100)
    status = app.exec()
    view.deleteLater()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
