"""The start begins Chromium's renderer process before the window is built, and the window's
transcript then lives in that same process (a real process with PhiDesk's Chromium switches;
the page started first and a transcript made after it report their renderer's pid)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import sys
from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from app.gui.application import _application, prepare_environment, start_renderer
prepare_environment(offscreen=True)
app = _application(["phidesk"])
first = start_renderer(app)
from app.gui.transcript import TranscriptView
view = TranscriptView()
view.show()
def check():
    if view.loaded and first.renderProcessPid() and view.page().renderProcessPid():
        print(first.renderProcessPid(), view.page().renderProcessPid())
        app.quit()
timer = QTimer()
timer.timeout.connect(check)
timer.start(50)
QTimer.singleShot(60_000, app.quit)
app.exec()
view.deleteLater()
first.deleteLater()
QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
"""


def test_the_transcript_uses_the_renderer_process_the_start_began_first() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("QTWEBENGINE_CHROMIUM_FLAGS", None)  # PhiDesk's own switches, as a user gets them
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    started, transcript = done.stdout.split()
    assert int(started) > 0
    assert transcript == started
