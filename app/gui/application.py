"""Start the Qt application on a qasync event loop; run the self-test."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Sequence

import PySide6
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

from app import __version__
from app.config import APP_NAME, AppContext, Settings
from app.errors import PhiDeskError
from app.gui.main_window import MainWindow

log = logging.getLogger(__name__)

MIN_QT = (6, 12)


def check_qt() -> None:
    have = tuple(PySide6.__version_info__[:2])
    if have < MIN_QT:
        raise PhiDeskError(
            f"PhiDesk needs PySide6 {MIN_QT[0]}.{MIN_QT[1]} or newer, but {PySide6.__version__} "
            "is installed; reinstall PhiDesk"
        )


def prepare_environment(*, offscreen: bool) -> None:
    """Set what Qt and Chromium read from the environment before QApplication exists."""
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "").split()
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen" and "--disable-gpu" not in flags:
        flags.append("--disable-gpu")
    os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join(flags)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to run its sandbox as root ("Running as root without --no-sandbox
        # is not supported").
        os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"


def _application(argv: Sequence[str]) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)
    return QApplication(list(argv))


async def self_test(ctx: AppContext, window: MainWindow) -> list[str]:
    """Exercise the smallest useful path. Returns the failures (empty when all is well)."""
    from app.gui.web_probe import katex_typesets

    failures: list[str] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        print(f"self-test: {name}: {'ok' if ok else 'FAILED ' + detail}", flush=True)
        if not ok:
            failures.append(name)

    check("window shown", window.isVisible() and window.windowTitle() == "PhiDesk")
    await asyncio.sleep(0.01)
    check("event loop", True)
    try:
        settings = Settings.load(ctx.paths.settings_file)
        settings.save(ctx.paths.settings_file)
        check("data dir writable", Settings.load(ctx.paths.settings_file) == settings)
    except OSError as exc:
        check("data dir writable", False, str(exc))
    try:
        await katex_typesets()
        check("KaTeX in QtWebEngine", True)
    except Exception as exc:
        check("KaTeX in QtWebEngine", False, str(exc))
    return failures


async def _main(ctx: AppContext, app: QApplication, *, run_self_test: bool) -> int:
    window = MainWindow(ctx)
    window.show()
    if run_self_test:
        try:
            failures = await self_test(ctx, window)
        except Exception:
            log.exception("self-test crashed")
            traceback.print_exc()
            failures = ["crashed"]
        window.close()
        return 1 if failures else 0
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_quit() -> None:
        if not closed.done():
            closed.set_result(None)

    app.aboutToQuit.connect(on_quit)
    window.closed.connect(on_quit)
    await closed
    return 0


def run_gui(ctx: AppContext, *, self_test: bool, argv: Sequence[str]) -> int:
    prepare_environment(offscreen=self_test)
    check_qt()
    import qasync

    app = _application(argv)
    # Let Python handle Ctrl-C in a terminal: Qt's loop otherwise holds the signal back.
    keepalive = QTimer()
    keepalive.start(200)
    keepalive.timeout.connect(lambda: None)
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        status: int = loop.run_until_complete(_main(ctx, app, run_self_test=self_test))
    finally:
        keepalive.stop()
        loop.close()
        asyncio.set_event_loop(None)
    log.info("GUI exited with status %s", status)
    sys.stdout.flush()
    return status
