"""Start the Qt application on a qasync event loop; the single-instance guard; the self-test."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import PySide6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWebEngineCore import QWebEnginePage
from PySide6.QtWidgets import QApplication, QWidget

from app import __version__
from app.backend.hosts import HostProfiles
from app.config import APP_NAME, AppContext
from app.errors import PhiDeskError
from app.gui.tasks import new_qt_loop, run_on_qt_loop
from app.instance import instance_name, send_to_running
from app.resources import resources_dir
from app.workspace import Workspace
from app.workspace.notices import install_exception_hooks

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow
    from app.gui.tray import QuickAccess

log = logging.getLogger(__name__)

MIN_QT = (6, 12)
QUICK_ACTION = "quick"
"""The single-instance request that opens the quick prompt (`phidesk quick`)."""
SELF_TEST_PROMPT = "Show the quadratic formula in LaTeX math."


def check_qt() -> None:
    have = tuple(PySide6.__version_info__[:2])
    if have < MIN_QT:
        raise PhiDeskError(
            f"PhiDesk needs PySide6 {MIN_QT[0]}.{MIN_QT[1]} or newer, but {PySide6.__version__} "
            "is installed; reinstall PhiDesk"
        )


def chromium_environment(environ: Mapping[str, str], *, offscreen: bool) -> dict[str, str]:
    """The variables Qt and Chromium read at start, as PhiDesk sets them over `environ` (the
    bench starts its baseline web view with the same)."""
    wanted: dict[str, str] = {}
    if offscreen:
        wanted["QT_QPA_PLATFORM"] = "offscreen"
    platform = wanted.get("QT_QPA_PLATFORM", environ.get("QT_QPA_PLATFORM", ""))
    flags = environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "").split()
    if platform == "offscreen" and "--disable-gpu" not in flags:
        flags.append("--disable-gpu")
    wanted["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join(flags)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to run its sandbox as root ("Running as root without --no-sandbox
        # is not supported").
        wanted["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
    return wanted


def prepare_environment(*, offscreen: bool) -> None:
    """Set what Qt and Chromium read from the environment before QApplication exists."""
    os.environ.update(chromium_environment(os.environ, offscreen=offscreen))


def _application(argv: Sequence[str]) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    # The transcript's URL scheme must be registered before the QApplication exists.
    from app.gui.transcript import register_scheme

    register_scheme()
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication(list(argv))
    icon = resources_dir() / "icons" / "phidesk.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


async def _until(predicate: object, seconds: float) -> bool:
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return bool(predicate())


async def _page_has_katex(window: object) -> bool:
    from app.gui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    result: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    def done(value: object) -> None:
        if not result.done():
            result.set_result(value)

    window.pane.view.page().runJavaScript("document.querySelectorAll('.katex').length", 0, done)
    count = await asyncio.wait_for(result, 10)
    return isinstance(count, int | float) and count > 0


async def self_test(ctx: AppContext, window: object, *, with_turn: bool) -> list[str]:
    """Exercise the smallest useful path. Returns the failures (empty when all is well)."""
    from app.gui.main_window import MainWindow
    from app.gui.web_probe import katex_typesets

    assert isinstance(window, MainWindow)
    failures: list[str] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        print(f"self-test: {name}: {'ok' if ok else 'FAILED ' + detail}", flush=True)
        if not ok:
            failures.append(name)

    check("window shown", window.isVisible() and window.windowTitle() == "PhiDesk")
    await asyncio.sleep(0.01)
    check("event loop", True)
    try:
        with tempfile.TemporaryFile(dir=ctx.paths.config) as probe:
            probe.write(b"phidesk")
        check("data dir writable", True)
    except OSError as exc:
        check("data dir writable", False, str(exc))
    check("database", window.workspace.schema_revision is not None)
    try:
        await katex_typesets()
        check("KaTeX in QtWebEngine", True)
    except Exception as exc:
        check("KaTeX in QtWebEngine", False, str(exc))
    if not with_turn:
        return failures
    connected = await _until(lambda: window.monitor.state.value == "connected", 15)
    check("Ollama reachable", connected, window.monitor.detail)
    if not connected:
        return failures
    await _until(lambda: bool(window.pane.picker.models), 10)
    models = window.pane.picker.models
    check("models listed", bool(models))
    if not models:
        return failures
    window.pane.picker.select(models[0].name)
    window.new_chat()
    window.pane.send(SELF_TEST_PROMPT)
    await asyncio.sleep(0.1)
    finished = await _until(lambda: not window.pane.live, 60)
    chat_id = window.pane.current_chat
    answer = (await window.workspace.messages(chat_id))[-1] if chat_id is not None else None
    check(
        "chat turn",
        finished and answer is not None and answer.status == "complete" and bool(answer.content),
        "" if answer is None else f"{answer.status}: {answer.error or ''}",
    )
    try:
        typeset = await _wait_katex(window)
    except Exception as exc:
        check("answer math typeset", False, str(exc))
    else:
        check("answer math typeset", typeset)
    return failures


async def _wait_katex(window: object) -> bool:
    deadline = asyncio.get_running_loop().time() + 15
    while asyncio.get_running_loop().time() < deadline:
        if await _page_has_katex(window):
            return True
        await asyncio.sleep(0.1)
    return False


USABLE = "window usable"
"""Logged once the window is usable (what bench/startup_memory.py waits for)."""


async def log_when_usable(window: object, page_ready: asyncio.Event) -> None:
    """Log `USABLE` once the window is shown with its chat list filled, the transcript page is
    ready and, when the last chat was reopened, its newest messages are in the page."""
    from app.gui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    wanted = window.workspace.prefs.window.last_chat
    pane = window.pane

    def shown() -> bool:
        if not (page_ready.is_set() and window.isVisible() and window.sidebar.list.count()):
            return False
        return wanted is None or (pane.current_chat == wanted and pane.view.message_count > 0)

    while True:
        await _polled(shown)
        if wanted is None or pane.current_chat != wanted:
            log.info("%s: chat list on screen, no chat reopened", USABLE)
            return
        count = await _run_js(
            pane.view.page(), "document.querySelectorAll('article.message').length"
        )
        if isinstance(count, int | float) and count > 0:
            log.info("%s: chat list and the last chat on screen (%d messages)", USABLE, count)
            return


async def _polled(predicate: Callable[[], bool], every_ms: int = 5) -> None:
    """Return once `predicate()` holds, checked every `every_ms` on the Qt loop."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    timer = QTimer()
    timer.setInterval(every_ms)

    def check() -> None:
        if not done.done() and predicate():
            done.set_result(None)

    timer.timeout.connect(check)
    timer.start()
    try:
        check()
        await done
    finally:
        timer.stop()


async def _run_js(page: QWebEnginePage, script: str) -> object:
    result: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    def done(value: object) -> None:
        if not result.done():
            result.set_result(value)

    page.runJavaScript(script, 0, done)
    return await result


async def _main(
    ctx: AppContext,
    app: QApplication,
    *,
    run_self_test: bool,
    host_given: bool,
    quick: bool = False,
) -> int:
    from app.gui.connection import ConnectionMonitor
    from app.gui.main_window import MainWindow
    from app.gui.ollama_setup import ollama_server, stop_on_quit
    from app.gui.single_instance import InstanceServer

    hosts = HostProfiles(ctx.paths, local_url=ctx.host)
    workspace = Workspace.open(ctx.paths, hosts.client_for_url(ctx.host))
    workspace.auto_titles = True  # the window and the quick prompt title chats; the CLI does not
    hooks = install_exception_hooks(
        workspace.notices, ctx.paths.log_file, asyncio.get_running_loop()
    )
    saved = workspace.prefs.host_url
    if not host_given and not os.environ.get("OLLAMA_HOST") and saved and saved != ctx.host:
        # The host the user last chose in the window (File > Ollama host).
        await workspace.use_client(hosts.client_for_url(saved))
    # An Ollama installed on this computer wins; PhiDesk's own copy otherwise (started on
    # demand when nothing answers).
    managed, choice = ollama_server(workspace, ctx.host)
    monitor = ConnectionMonitor(workspace.connection, managed)
    monitor.start_on_demand = choice.managed
    window = MainWindow(ctx, workspace, monitor, hosts)
    later = Later(window, workspace)
    instance: InstanceServer | None = None
    if not run_self_test:
        instance = InstanceServer(instance_name(ctx.paths))
        instance.listen()

        def on_request(message: dict[str, object]) -> None:
            # {"action": "quick"} opens the prompt
            if not later.quick_access().handle_request(message):
                _handle_request(window, message)

        instance.requested.connect(on_request)
    page_ready = asyncio.Event()
    window.pane.view.page_ready.connect(page_ready.set)
    usable = asyncio.ensure_future(log_when_usable(window, page_ready))
    if run_self_test or not later.start_minimised():
        window.show()
        log.info("window shown")
    if quick:
        later.quick_access().quick.show_prompt()

    def after_first_paint() -> None:
        # Nothing here is needed to draw the window: the quick prompt (its web view waits until
        # it is opened), the tray and the global shortcut, the first call to Ollama (the model
        # list follows it), the check for Ollama updates.
        later.quick_access()
        monitor.check_now()
        if not run_self_test:
            window.ollama.updates.start()

    first_paint = FirstPaint(window, after_first_paint)
    try:
        if run_self_test:
            try:
                failures = await self_test(ctx, window, with_turn=host_given)
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

        def request_quit(_signum: int, _frame: object) -> None:
            # Ctrl-C in a terminal or a polite kill: close like the user would, so streaming
            # answers are saved as stopped.
            # quit_action really quits even when "keep running in the tray" hides on close.
            QTimer.singleShot(0, window.quit_action.trigger)

        signal.signal(signal.SIGINT, request_quit)
        signal.signal(signal.SIGTERM, request_quit)
        await closed
        return 0
    finally:
        usable.cancel()
        first_paint.cancel()
        monitor.close()
        await later.aclose()
        await window.aclose()
        if instance is not None:
            instance.close()
        await stop_on_quit(monitor.managed, keep_running=workspace.prefs.ollama.keep_running)
        # Every answer saved, queued writes finished, then the database and the connection.
        await workspace.aclose()
        hooks.uninstall()
        # Delete the web view while the loop still runs; QtWebEngine objects released at
        # interpreter exit complain and can crash.
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


class FirstPaint(QObject):
    """Calls `callback` once, on the event loop right after `window` first painted (at once
    when the window is hidden: started minimised to the tray). A window that is shown but not
    painted (minimised by the window manager) gets it after `LATEST_MS` all the same."""

    LATEST_MS = 1000

    def __init__(self, window: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._callback: Callable[[], None] | None = callback
        if window.isVisible():
            window.installEventFilter(self)
            QTimer.singleShot(self.LATEST_MS, self, self._run)
        else:
            QTimer.singleShot(0, self, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() in (
            QEvent.Type.Paint,
            QEvent.Type.UpdateRequest,
        ):
            self._window.removeEventFilter(self)
            QTimer.singleShot(0, self, self._run)
        return False

    def _run(self) -> None:
        self._window.removeEventFilter(self)
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()

    def cancel(self) -> None:
        self._callback = None
        self._window.removeEventFilter(self)


class Later:
    """What the window does not need for its first paint, made on first use: the quick prompt
    with the tray and the global shortcut (`QuickAccess`)."""

    def __init__(self, window: MainWindow, workspace: Workspace) -> None:
        self._window = window
        self._workspace = workspace
        self._access: QuickAccess | None = None

    def start_minimised(self) -> bool:
        """Leave the window hidden at start (only where a tray can bring it back)."""
        from app.gui.tray import tray_available

        return self._workspace.prefs.quick.start_minimised and tray_available()

    def quick_access(self) -> QuickAccess:
        if self._access is None:
            from app.gui.tray import QuickAccess

            access = QuickAccess(self._window, self._workspace)
            self._window.add_quick_access(
                access.quick.show_prompt, access.open_settings, access.settings_panel
            )
            tray = "shown" if access.tray.available else "none on this desktop"
            log.info("quick access ready (tray: %s)", tray)
            self._access = access
        return self._access

    async def aclose(self) -> None:
        if self._access is not None:
            await self._access.aclose()


def _handle_request(window: object, message: dict[str, object]) -> None:
    from app.gui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    log.info("another launch asked for %s; bringing the window to the front", message)
    window.showNormal()
    window.raise_()
    window.activateWindow()


def run_gui(
    ctx: AppContext,
    *,
    self_test: bool,
    argv: Sequence[str],
    host_given: bool = False,
    quick: bool = False,
) -> int:
    prepare_environment(offscreen=self_test)
    check_qt()
    request = {"action": QUICK_ACTION if quick else "activate"}
    if not self_test and send_to_running(ctx.paths, request):
        if not quick:
            print(
                "PhiDesk is already running; its window was brought to the front.",
                file=sys.stderr,
            )
        return 0
    app = _application(argv)
    app.setQuitOnLastWindowClosed(False)
    # Let Python handle Ctrl-C in a terminal: Qt's loop otherwise holds the signal back.
    keepalive = QTimer()
    keepalive.start(200)
    keepalive.timeout.connect(lambda: None)
    loop = new_qt_loop(app)
    asyncio.set_event_loop(loop)
    try:
        status: int = run_on_qt_loop(
            loop, _main(ctx, app, run_self_test=self_test, host_given=host_given, quick=quick)
        )
    finally:
        keepalive.stop()
        loop.close()
        asyncio.set_event_loop(None)
    log.info("GUI exited with status %s", status)
    sys.stdout.flush()
    return status
