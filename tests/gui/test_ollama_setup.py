"""Ollama out of the box, in the real main window: from "no Ollama" (no `ollama` on PATH, nothing
answering) through "Set up Ollama" on the first-start page, against a stand-in releases API and
download host over a real socket (tests/release_server.py), to PhiDesk's own copy (the fake
`ollama`, which runs the Ollama double) answering, the model suggested for this machine, and a
streamed answer; cancel and resume; a checksum failure; a taken port; the daily update check."""

from __future__ import annotations

import asyncio
import platform
import random
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from app.backend.client import OllamaClient
from app.backend.ollama_setup import RELEASES_URL_ENV, ManagedOllama, install_latest
from app.config import AppContext, Paths
from app.gui.connection import ConnectionMonitor
from app.gui.main_window import MainWindow
from app.gui.ollama_setup import ollama_server, stop_on_quit
from app.gui.ollama_setup_updates import ASK
from app.workspace import Workspace
from tests.qt_async import drive, until
from tests.release_server import ReleaseServer, make_tgz, ollama_tree

ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), "amd64"
)
LINUX_TGZ = f"ollama-linux-{ARCH}.tgz"


def _archive() -> bytes:
    """A Linux Ollama archive of about 3 MB that gzip cannot shrink (so a download takes a
    while when the server is slowed down)."""
    tree = ollama_tree()
    tree["lib/ollama/libggml-base.so"] = random.Random(21).randbytes(3_000_000)
    return make_tgz(tree)


ARCHIVE = _archive()

pytestmark = [
    pytest.mark.web,
    pytest.mark.skipif(
        platform.system() != "Linux", reason="the release archive and fake ollama are Linux"
    ),
]


def free_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def releases(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseServer]:
    with ReleaseServer() as server:
        server.publish("v0.6.2", {LINUX_TGZ: ARCHIVE})
        monkeypatch.setenv(RELEASES_URL_ENV, server.releases_url)
        yield server


@pytest.fixture
def no_ollama(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """No `ollama` on PATH, and a host where nothing answers; returns that host."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return free_url()


def managed_copy() -> ManagedOllama:
    return ManagedOllama.for_paths(Paths.resolve())


def open_window(host: str) -> MainWindow:
    """As the app builds it (app/gui/application.py)."""
    ctx = AppContext(paths=Paths.resolve().ensure(), host=host)
    workspace = Workspace.open(ctx.paths, OllamaClient(host, stall_seconds=30))
    server, choice = ollama_server(workspace, host)
    monitor = ConnectionMonitor(workspace.connection, server)
    monitor.start_on_demand = choice.managed
    window = MainWindow(ctx, workspace, monitor)
    window.show()
    monitor.check_now()
    return window


@pytest.fixture
def window(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, releases: ReleaseServer, no_ollama: str
) -> Iterator[MainWindow]:
    window = open_window(no_ollama)
    yield window
    close(qt_loop, window)


def close(loop: asyncio.AbstractEventLoop, window: MainWindow) -> None:
    window.close()

    async def finish() -> None:
        await window.aclose()
        await stop_on_quit(window.monitor.managed, keep_running=False)
        window.monitor.close()
        await window.workspace.aclose()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        await asyncio.sleep(0.05)

    drive(loop, finish())


def click(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def connected(window: MainWindow) -> bool:
    return window.monitor.state.value == "connected"


def nothing_installed(managed: ManagedOllama) -> bool:
    versions = managed.versions
    return managed.current() is None and (not versions.exists() or not any(versions.iterdir()))


async def first_start_page(window: MainWindow) -> None:
    page = window.onboarding
    await until(lambda: window.stack.currentWidget() is page and page.setup.isVisible())


def test_first_start_sets_up_ollama_suggests_a_model_and_streams_an_answer(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, window: MainWindow, releases: ReleaseServer
) -> None:
    page = window.onboarding
    shown: list[str] = []

    def record(_progress: object) -> None:  # after the panel showed it (connected earlier)
        shown.append(page.setup.text.text())

    window.ollama.setup.progressed.connect(record)

    async def scenario() -> None:
        await first_start_page(window)
        assert "Set up Ollama" in page.title.text()
        assert page.setup.setup_button.text() == "Set up Ollama"
        assert not page.start_button.isVisible()
        click(qtbot, page.setup.setup_button)
        await until(lambda: connected(window), 90)

        copy = managed_copy().current()
        assert copy is not None and copy.tag == "v0.6.2"
        server = window.monitor.managed
        assert server is not None and server.started_by_us
        assert server.program == copy.binary
        assert window.stack.currentWidget() is window.pane

        # The model manager opens with the variant suggested for this machine preselected.
        await until(lambda: getattr(window, "_manager", None) is not None)
        manager = window._manager
        await until(lambda: manager.isVisible() and manager.gpus is not None)
        banner = manager.suggestion
        await until(lambda: banner.isVisible() and banner.suggestion is not None)
        found = banner.suggestion
        assert found is not None
        # No GPU tool on PATH: no GPU, so the smallest general model, on the CPU.
        assert banner.label.text() == "Phi-4-mini 3.8B · Q4_K_M · 2.5 GB · runs on the CPU (slower)"
        card = manager.catalog_tab.cards[found.entry.name]
        assert card.variant.name == found.variant.name == "phi4-mini:3.8b-q4_K_M"
        assert manager.tabs.currentWidget() is manager.catalog_tab

        # One click pulls it.
        click(qtbot, banner.pull_button)
        await until(lambda: card.panel.text.text() == "phi4-mini:3.8b-q4_K_M is ready.", 60)
        await until(lambda: banner.pull_button.text() == "Installed")
        manager.close()

        # And a chat streams an answer from PhiDesk's own Ollama.
        await until(lambda: "phi4-mini:3.8b-q4_K_M" in [m.name for m in window.pane.picker.models])
        await until(lambda: window.pane.view.loaded)
        window.pane.picker.select("phi4-mini:3.8b-q4_K_M")
        window.pane.composer.edit.setPlainText("Say hello from the managed Ollama")
        qtbot.keyClick(window.pane.composer.edit, Qt.Key.Key_Return)
        await until(lambda: window.pane.current_chat is not None)
        chat_id = window.pane.current_chat
        assert chat_id is not None

        def answered() -> bool:  # the turn registers after the chat exists: wait for its end
            path = window.workspace.db.messages(chat_id)
            return len(path) == 2 and path[1].status != "streaming"

        await until(answered, 60)
        question, answer = await window.workspace.messages(chat_id)
        assert question.content == "Say hello from the managed Ollama"
        assert answer.status == "complete" and answer.content

    drive(qt_loop, scenario(), 180)
    # "Downloading ollama-linux-amd64.tgz: 3 MB of 3 MB · 171.6 MB/s"
    assert shown and shown[-1].startswith(f"Downloading {LINUX_TGZ}: 3 MB of 3 MB · ")


def test_cancel_keeps_the_download_and_set_up_again_resumes_it(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, window: MainWindow, releases: ReleaseServer
) -> None:
    page = window.onboarding
    managed = managed_copy()
    part = managed.downloads / (LINUX_TGZ + ".part")
    releases.delay = 0.05  # 64 KiB every 50 ms: about 2.4 s for the archive

    async def scenario() -> None:
        await first_start_page(window)
        click(qtbot, page.setup.setup_button)
        progress = window.ollama.setup
        await until(lambda: progress.last_progress is not None and progress.last_progress.completed)
        click(qtbot, page.setup.cancel_button)
        await until(lambda: not window.ollama.setup.running)
        assert page.setup.text.text() == (
            "Cancelled; what was downloaded is kept, and Set up Ollama resumes where it stopped."
        )
        assert not page.setup.bar.isVisible() and not page.setup.error.isVisible()
        assert page.setup.setup_button.text() == "Set up Ollama"
        kept = part.stat().st_size
        assert 0 < kept < len(ARCHIVE)
        assert nothing_installed(managed)
        assert not connected(window)

        releases.delay = 0
        click(qtbot, page.setup.setup_button)
        await until(lambda: connected(window), 90)
        ranges = releases.downloads_of(LINUX_TGZ)
        assert ranges[0] is None
        assert ranges[-1] is not None and int(ranges[-1][len("bytes=") : -1]) >= kept
        assert not part.exists()

    drive(qt_loop, scenario(), 120)
    copy = managed.current()
    assert copy is not None and copy.tag == "v0.6.2"


def test_a_checksum_mismatch_is_one_sentence_with_retry_and_installs_nothing(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, window: MainWindow, releases: ReleaseServer
) -> None:
    page = window.onboarding
    managed = managed_copy()
    releases.wrong_checksum_for = {LINUX_TGZ}

    async def scenario() -> None:
        await first_start_page(window)
        click(qtbot, page.setup.setup_button)
        await until(lambda: page.setup.error.isVisible(), 60)
        text = page.setup.error.text()
        assert text == (
            f"The downloaded {LINUX_TGZ} does not match the checksum its release publishes (it "
            "was damaged or altered on the way), so PhiDesk deleted it and installed nothing."
        )
        assert not page.setup.bar.isVisible()
        assert page.setup.setup_button.text() == "Retry"
        assert nothing_installed(managed)
        assert not list(managed.downloads.iterdir())

        releases.wrong_checksum_for = set()
        click(qtbot, page.setup.setup_button)
        await until(lambda: connected(window), 90)
        assert not page.setup.error.isVisible()

    drive(qt_loop, scenario(), 120)


class _NotOllama(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>another program</html>"
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def taken_port() -> Iterator[str]:
    """A web server that is not Ollama on a port of this computer; yields its address."""
    http = ThreadingHTTPServer(("127.0.0.1", 0), _NotOllama)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}"
    finally:
        http.shutdown()
        http.server_close()


def install_copy(releases: ReleaseServer) -> None:
    """PhiDesk's own copy, installed beforehand (on a thread: its trial run uses asyncio.run,
    which would leave this thread without the Qt event loop)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            install_latest, managed_copy(), releases_url=releases.releases_url, amd_gpu=False
        ).result()


def test_phidesks_copy_starts_on_demand_and_a_taken_port_gets_a_sentence_and_another_port(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    releases: ReleaseServer,
    no_ollama: str,
    taken_port: str,
) -> None:
    install_copy(releases)
    window = open_window(taken_port)
    try:

        async def scenario() -> None:
            await until(lambda: connected(window), 90)
            port = taken_port.rsplit(":", 1)[1]
            moved = window.client.host.rsplit(":", 1)[1]
            assert moved != port
            said = (
                f"Port {port} on this computer is used by another program, so PhiDesk started "
                f"Ollama on port {moved} instead."
            )
            # Posted as a warning (shown until closed, unless a later notice replaces it).
            assert said in [n.text for n in window.workspace.notices.history]
            assert window.stack.currentWidget() is window.pane

        drive(qt_loop, scenario(), 120)
    finally:
        close(qt_loop, window)


def test_the_server_phidesk_started_stops_on_quit_unless_kept_running(
    qt_loop: asyncio.AbstractEventLoop, releases: ReleaseServer, no_ollama: str
) -> None:
    install_copy(releases)
    paths = Paths.resolve().ensure()
    workspace = Workspace.open(paths, OllamaClient(no_ollama))
    server, choice = ollama_server(workspace, no_ollama)
    assert choice.managed

    async def scenario() -> None:
        assert await server.ensure_running(wait=60)
        assert not await stop_on_quit(server, keep_running=True)
        assert server.started_by_us  # left running for the user
        assert await stop_on_quit(server, keep_running=False)
        assert not server.started_by_us
        await workspace.aclose()

    drive(qt_loop, scenario(), 90)


def restarted(window: MainWindow, before: object) -> bool:
    server = window.monitor.managed
    return server is not None and server is not before and server.started_by_us


def notice_button(window: MainWindow, key: str) -> QPushButton:
    button = window.notice_area.findChild(QPushButton, f"NoticeAction-{key}")
    assert button is not None, key
    return button


def test_the_daily_check_asks_once_then_offers_the_update_and_updates(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, releases: ReleaseServer, no_ollama: str
) -> None:
    releases.publish("v0.12.0", {LINUX_TGZ: ARCHIVE})  # newer than PhiDesk and the models need
    install_copy(releases)
    window = open_window(no_ollama)
    updates = window.ollama.updates
    updates.online = lambda: True
    try:

        async def scenario() -> None:
            await until(lambda: connected(window), 90)
            releases.publish("v0.13.0", {LINUX_TGZ: ARCHIVE})
            updates.start()
            await until(lambda: window.notice_text() == ASK)
            click(qtbot, notice_button(window, "ollama-check-daily"))
            assert window.workspace.prefs.ollama.update_check is True
            await until(
                lambda: window.notice_text() == "Ollama 0.13.0 is available (you have 0.12.0)."
            )
            first = window.monitor.managed
            click(qtbot, notice_button(window, "update-ollama"))
            await until(lambda: updates.progress.isVisible())
            await until(lambda: window.notice_text() == "Ollama is updated to 0.13.0.", 90)
            assert not updates.progress.isVisible()
            await until(lambda: restarted(window, first), 90)
            await until(lambda: connected(window))
            assert first is not None and not first.started_by_us  # the old copy was stopped
            server = window.monitor.managed
            copy = managed_copy().current()
            assert copy is not None and copy.tag == "v0.13.0"
            assert server is not None and server.started_by_us and server.program == copy.binary

            # Asked once: the next start does not ask again, and checks at most daily.
            before = len(releases.requests)
            updates.start()
            await asyncio.sleep(0.3)
            assert len(releases.requests) == before
            assert window.workspace.prefs.ollama.update_check is True

        drive(qt_loop, scenario(), 180)
    finally:
        close(qt_loop, window)


def test_not_now_turns_the_check_off_for_good(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, releases: ReleaseServer, no_ollama: str
) -> None:
    install_copy(releases)
    window = open_window(no_ollama)
    window.ollama.updates.online = lambda: True
    try:

        async def scenario() -> None:
            window.ollama.updates.start()
            await until(lambda: window.notice_text() == ASK)
            click(qtbot, notice_button(window, "ollama-check-off"))
            assert window.workspace.prefs.ollama.update_check is False
            before = len(releases.requests)
            window.ollama.updates.start()
            await asyncio.sleep(0.3)
            assert window.notice_text() != ASK
            assert len(releases.requests) == before

        drive(qt_loop, scenario(), 60)
    finally:
        close(qt_loop, window)
