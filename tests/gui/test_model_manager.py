"""The model manager window driven for real against the Ollama test double on 127.0.0.1.

Each test runs a scenario on the session's qasync loop: it opens the window on a real
`Workspace` (SQLite file in the test's data directory), clicks, and polls until the window (and
the double) reach the expected state.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton, QTableWidget
from pytestqt.qtbot import QtBot

from app.backend.client import OllamaClient
from app.backend.events import ChatStats
from app.backend.hardware import Gpu, GpuVendor
from app.backend.offload import OffloadPreferences
from app.config import Paths, Settings
from app.gui.model_manager import ModelManagerWindow
from app.gui.model_manager_text import download_size
from app.store import Provenance
from app.workspace import Level, Workspace
from tests.ollama_double.models import GIB, REGISTRY
from tests.ollama_double.server import OllamaDouble

GPU_8GB = Gpu(0, "NVIDIA GeForce RTX 4060", GpuVendor.NVIDIA, 8 * GIB, int(7.6 * GIB))
GPU_24GB = Gpu(0, "NVIDIA GeForce RTX 4090", GpuVendor.NVIDIA, 24 * GIB, int(23.4 * GIB))
Q8 = "phi4:14b-q8_0"


async def until(condition: Callable[[], object], what: str, seconds: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def cell(table: QTableWidget, row: int, column: int) -> str:
    """The text of a table cell that must exist."""
    item = table.item(row, column)
    assert item is not None, f"no cell at row {row}, column {column}"
    return item.text()


def open_workspace(url: str) -> Workspace:
    """A real workspace on the test's data directory (see the `data_dir` fixture)."""
    return Workspace.open(Paths.resolve().ensure(), OllamaClient(url))


@contextlib.asynccontextmanager
async def manager(
    qtbot: QtBot,
    url: str,
    *,
    wait_for_models: bool = True,
    workspace: Workspace | None = None,
    **kwargs: Any,
) -> AsyncIterator[ModelManagerWindow]:
    ws = open_workspace(url) if workspace is None else workspace
    window = ModelManagerWindow(ws, **kwargs)
    qtbot.addWidget(window)
    window.show()
    try:
        if wait_for_models:
            await until(lambda: window.installed_tab.table.rowCount() > 0, "the installed models")
        yield window
    finally:
        await window.aclose()
        if workspace is None:
            await ws.aclose()


def installed_rows(window: ModelManagerWindow) -> list[str]:
    table = window.installed_tab.table
    return [cell(table, row, 0) for row in range(table.rowCount())]


def run(qt_loop: asyncio.AbstractEventLoop, scenario: Any) -> None:
    qt_loop.run_until_complete(asyncio.wait_for(scenario, 60))


# --- pulling --------------------------------------------------------------------------------


def test_pull_shows_bytes_speed_and_eta_across_several_layers_then_lists_the_model(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    ollama_double.set_fault("slow", delay=0.04, path="/api/pull")
    spec = REGISTRY[Q8]
    assert len(spec.layers) >= 4  # weights, template, licence, params

    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[GPU_8GB]) as window:
            changed: list[bool] = []
            window.modelsChanged.connect(lambda: changed.append(True))
            card = window.catalog_tab.cards["phi4"]
            card.choose("Q8_0")
            assert card.variant.name == Q8
            values: list[int] = []
            card.panel.bar.valueChanged.connect(values.append)
            texts: list[str] = []
            card.pull_button.click()
            assert not card.chooser.isEnabled()  # the chosen variant is fixed while pulling
            while Q8 not in installed_rows(window):
                text = card.panel.text.text()
                if not texts or texts[-1] != text:
                    texts.append(text)
                await asyncio.sleep(0.01)
                assert len(texts) < 10_000
            await until(lambda: not card.panel.running, "the pull to end")

            progress = [v for v in values if v > 0]
            assert len(set(progress)) >= 4, values
            assert progress == sorted(progress)
            assert max(progress) == card.panel.bar.maximum()
            total = download_size(sum(layer.size for layer in spec.layers))
            sized = [t for t in texts if f" of {total}" in t]
            assert len(sized) >= 4, texts
            assert any(re.search(r"\d B/s|[kMG]B/s", t) for t in sized), texts
            assert any(t.endswith("left") for t in sized), texts
            assert "ready" in card.panel.text.text()
            assert not card.panel.bar.isVisible()
            assert changed
            assert card.pull_button.text() == "Check for update"
            assert "Installed:" in card.installed_label.text()
            assert Q8 in card.installed_label.text()

    run(qt_loop, scenario())
    assert ollama_double.installed.get(Q8) is not None


def test_cancel_keeps_the_partial_download_and_pulling_again_resumes_it(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    ollama_double.set_fault("slow", delay=0.08, path="/api/pull")
    weights = REGISTRY[Q8].layers[0]

    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[GPU_24GB]) as window:
            card = window.catalog_tab.cards["phi4"]
            card.choose("Q8_0")
            card.pull_button.click()
            await until(lambda: card.panel.bar.value() >= 250, "a quarter of the download")
            card.panel.cancel_button.click()
            await until(lambda: not card.panel.running, "the cancelled pull to stop")
            assert "Cancelled" in card.panel.text.text()
            assert "again" in card.panel.text.text()
            assert not card.panel.error.isVisible()
            await until(lambda: "/api/pull" in ollama_double.disconnects, "the server to see it")
            partial = ollama_double.blobs.get(weights.digest, 0)
            assert 0 < partial < weights.size
            assert Q8 not in installed_rows(window)
            assert card.chooser.isEnabled() and card.pull_button.isEnabled()

            ollama_double.clear_faults()
            ollama_double.pull_step_delay = 0.05
            texts: list[str] = []
            card.pull_button.click()
            while card.panel.running:
                text = card.panel.text.text()
                if not texts or texts[-1] != text:
                    texts.append(text)
                await asyncio.sleep(0.005)
            sized = [t for t in texts if " of " in t]
            assert sized, texts
            assert not any(t.startswith("0 B of") for t in sized), texts
            assert "ready" in card.panel.text.text()
            await until(lambda: Q8 in installed_rows(window), "the pulled model in the table")

    run(qt_loop, scenario())
    assert len(ollama_double.requests_to("/api/pull")) == 2


def test_closing_the_window_lets_a_download_finish(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    ollama_double.set_fault("slow", delay=0.03, path="/api/pull")

    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[]) as window:
            changed: list[bool] = []
            window.modelsChanged.connect(lambda: changed.append(True))
            window.catalog_tab.other_name.setText("phi4-mini:3.8b-fp16")
            window.catalog_tab.other_pull.click()
            await until(
                lambda: window.catalog_tab.other_panel.bar.value() > 0, "the download to start"
            )
            window.close()
            assert window.pulls_running == 1
            await until(lambda: changed, "the download to finish while the window is closed")
            assert window.pulls_running == 0

    run(qt_loop, scenario())
    assert "phi4-mini:3.8b-fp16" in ollama_double.installed


def test_a_pull_that_stalls_says_so_then_gives_up_after_the_stall_timeout(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    ollama_double.set_fault("stall", after=2, seconds=60.0, path="/api/pull")

    async def scenario() -> None:
        workspace = open_workspace(ollama_double.url)
        workspace.settings.set(stall_timeout=2)  # the preference chats and pulls share
        try:
            async with manager(qtbot, ollama_double.url, workspace=workspace, gpus=[]) as window:
                card = window.catalog_tab.cards["phi4"]
                card.choose("Q8_0")
                card.pull_button.click()
                await until(lambda: "No progress" in card.panel.text.text(), "the stall note")
                assert "still waiting" in card.panel.text.text()
                await until(lambda: card.panel.error.isVisible(), "the pull to give up")
                message = card.panel.error.text()
                assert "2 s" in message and "pull again" in message
                assert message[0].isupper() and message.endswith(".") and "\n" not in message
                assert not card.panel.running
                assert card.pull_button.isEnabled()
                await until(lambda: "/api/pull" in ollama_double.disconnects, "the server to see")
        finally:
            await workspace.aclose()

    run(qt_loop, scenario())


def test_a_tag_that_does_not_exist_shows_one_clear_sentence(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    missing = "phi4:14b-q9_9"

    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[]) as window:
            window.tabs.setCurrentIndex(0)
            window.catalog_tab.other_name.setText(missing)
            window.catalog_tab.other_pull.click()
            panel = window.catalog_tab.other_panel
            await until(lambda: panel.error.isVisible(), "the error")
            message = panel.error.text()
            assert missing in message
            assert "Traceback" not in message and "Error(" not in message
            assert message[0].isupper() and message.endswith(".")
            assert "\n" not in message
            assert not panel.bar.isVisible()
            assert window.catalog_tab.other_pull.isEnabled()
            assert not window.notice_area.isVisible()
            assert missing not in installed_rows(window)

    run(qt_loop, scenario())


def test_a_name_ollama_would_reject_is_explained_without_a_request(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[]) as window:
            window.catalog_tab.other_name.setText("phi 4 please")
            window.catalog_tab.other_pull.click()
            await until(lambda: window.catalog_tab.other_panel.error.isVisible(), "the error")
            assert "phi 4 please" in window.catalog_tab.other_panel.error.text()

    run(qt_loop, scenario())
    assert ollama_double.requests_to("/api/pull") == []


# --- installed ------------------------------------------------------------------------------


def test_delete_asks_first_and_only_yes_deletes(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[]) as window:
            changed: list[bool] = []
            window.modelsChanged.connect(lambda: changed.append(True))
            window.tabs.setCurrentIndex(1)
            window.select_installed("phi4-mini:latest")

            window.installed_tab.delete_button.click()
            box = window.findChild(QMessageBox, "ConfirmDelete")
            assert box is not None and box.isVisible()
            assert "phi4-mini:latest" in box.text()
            box.button(QMessageBox.StandardButton.No).click()
            await asyncio.sleep(0.2)
            assert "phi4-mini:latest" in installed_rows(window)
            assert ollama_double.requests_to("/api/delete") == []

            window.installed_tab.delete_button.click()
            box = window.findChild(QMessageBox, "ConfirmDelete")
            assert box is not None
            box.button(QMessageBox.StandardButton.Yes).click()
            await until(
                lambda: "phi4-mini:latest" not in installed_rows(window), "the row to go away"
            )
            assert changed
            assert len(installed_rows(window)) == 3

    run(qt_loop, scenario())
    assert "phi4-mini:latest" not in ollama_double.installed


def test_set_as_default_saves_it_and_tells_the_main_window(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    chosen: list[str] = []

    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[]) as window:
            window.defaultModelChosen.connect(chosen.append)
            window.tabs.setCurrentIndex(1)
            window.select_installed("phi4-mini:latest")
            window.installed_tab.default_button.click()
            table = window.installed_tab.table
            marks = {cell(table, row, 0): cell(table, row, 5) for row in range(table.rowCount())}
            assert marks["phi4-mini:latest"]
            assert not any(mark for name, mark in marks.items() if name != "phi4-mini:latest")

    run(qt_loop, scenario())
    assert chosen == ["phi4-mini:latest"]
    assert Settings.load(Paths.resolve().settings_file).default_model == "phi4-mini:latest"


def test_installed_models_outside_the_catalog_are_listed_and_usable(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    httpx.post(
        f"{ollama_double.url}/api/copy",
        json={"source": "phi4-mini", "destination": "my-helper:latest"},
    ).raise_for_status()
    chosen: list[str] = []

    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[GPU_8GB]) as window:
            window.defaultModelChosen.connect(chosen.append)
            await until(lambda: "my-helper:latest" in installed_rows(window), "the custom model")
            row = installed_rows(window).index("my-helper:latest")
            assert "not in the Phi-4 catalog" in cell(window.installed_tab.table, row, 1)
            window.select_installed("my-helper:latest")
            window.installed_tab.default_button.click()
            # Its size and model_info come from the server, so it still gets an estimate.
            assert "Estimate at" in window.installed_tab.offload.estimate.text()

    run(qt_loop, scenario())
    assert chosen == ["my-helper:latest"]


def test_offload_choice_is_saved_per_model_and_says_when_it_reloads(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    second = Gpu(1, "NVIDIA GeForce RTX 3060", GpuVendor.NVIDIA, 12 * GIB, 11 * GIB)
    phi4_layers = REGISTRY["phi4:latest"].block_count + 1  # blocks plus the output layer

    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[GPU_8GB, second]) as window:
            window.tabs.setCurrentIndex(1)
            window.select_installed("phi4:latest")
            assert window.installed_tab.offload.isEnabled()
            assert window.installed_tab.offload.layer_count.maximum() == phi4_layers
            assert not window.installed_tab.offload.layer_count.isEnabled()

            window.installed_tab.offload.layers_mode.setCurrentIndex(
                window.installed_tab.offload.layers_mode.findData("some")
            )
            assert window.installed_tab.offload.layer_count.isEnabled()
            window.installed_tab.offload.layer_count.setValue(20)
            window.installed_tab.offload.main_gpu.setCurrentIndex(
                window.installed_tab.offload.main_gpu.findData(1)
            )
            assert "reloads" in window.installed_tab.offload.note.text()
            prefs = OffloadPreferences.load(Paths.resolve())
            assert prefs.options_for("phi4:latest") == {"num_gpu": 20, "main_gpu": 1}
            assert prefs.options_for("phi4-mini:latest") == {}

            window.select_installed("phi4-mini:latest")
            assert window.installed_tab.offload.layers_mode.currentData() == "auto"
            window.installed_tab.offload.layers_mode.setCurrentIndex(
                window.installed_tab.offload.layers_mode.findData("cpu")
            )
            assert OffloadPreferences.load(Paths.resolve()).options_for("phi4-mini") == {
                "num_gpu": 0
            }

            window.select_installed("phi4:latest")  # its choice comes back
            assert window.installed_tab.offload.layers_mode.currentData() == "some"
            assert window.installed_tab.offload.layer_count.value() == 20
            assert window.installed_tab.offload.main_gpu.currentData() == 1
            window.installed_tab.offload.layers_mode.setCurrentIndex(
                window.installed_tab.offload.layers_mode.findData("all")
            )
            assert OffloadPreferences.load(Paths.resolve()).options_for("phi4")["num_gpu"] == (
                phi4_layers
            )

    run(qt_loop, scenario())


def test_server_settings_are_saved_and_show_what_the_kv_cache_saves(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[GPU_8GB]) as window:
            window.tabs.setCurrentIndex(3)
            before = window.catalog_tab.cards["phi4"].estimate_label.text()
            window.server_tab.kv_type.setCurrentIndex(window.server_tab.kv_type.findData("q8_0"))
            assert "saving" in window.server_tab.kv_saving.text()
            assert "unloads every model" in window.server_tab.note.text()
            # The estimates now count a smaller cache.
            assert window.catalog_tab.cards["phi4"].estimate_label.text() != before

            window.server_tab.keep_alive.setText("soon")
            window.server_tab.keep_alive.editingFinished.emit()
            assert window.server_tab.error.isVisible()
            assert "soon" in window.server_tab.error.text()
            window.server_tab.keep_alive.setText("30m")
            window.server_tab.keep_alive.editingFinished.emit()
            assert not window.server_tab.error.isVisible()
            window.server_tab.max_loaded.setValue(2)
            window.server_tab.flash_attention.setCurrentIndex(
                window.server_tab.flash_attention.findData("on")
            )

    run(qt_loop, scenario())
    env = (
        OffloadPreferences.load(Paths.resolve()).server_settings(ollama_double.url).environment({})
    )
    assert env["OLLAMA_KV_CACHE_TYPE"] == "q8_0"
    assert env["OLLAMA_KEEP_ALIVE"] == "30m"
    assert env["OLLAMA_MAX_LOADED_MODELS"] == "2"
    assert env["OLLAMA_FLASH_ATTENTION"] == "1"


# --- estimates ------------------------------------------------------------------------------


def test_fit_badges_for_an_8_gb_and_a_24_gb_gpu(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[GPU_8GB]) as small:
            # phi4 Q4_K_M weighs 9.1 GB: more than the whole 8 GiB card.
            assert small.fit_of("phi4") == "partial"
            assert small.badge_for("phi4").text().startswith("partial offload: ~")
            assert small.badge_for("phi4").text().endswith(" of 41 layers")
            # phi4-mini Q4_K_M (2.5 GB) with a 4K context needs about 4 GiB.
            assert small.fit_of("phi4-mini") == "gpu"
            assert small.badge_for("phi4-mini").text() == "fits on GPU"
            # At 128K its f16 KV cache alone is 16 GiB (docs/ollama-behaviour.md §8.1).
            small.context_chooser.setCurrentIndex(small.context_chooser.findData(131072))
            assert small.fit_of("phi4-mini") != "gpu"
            assert "131,072 tokens" in small.catalog_tab.cards["phi4-mini"].estimate_label.text()
            # phi4 is clamped to its trained 16K context.
            assert "16,384 tokens" in small.catalog_tab.cards["phi4"].estimate_label.text()

        async with manager(qtbot, ollama_double.url, gpus=[GPU_24GB]) as large:
            assert large.fit_of("phi4") == "gpu"
            assert large.badge_for("phi4").text() == "fits on GPU"
            assert large.fit_of("phi4-reasoning") == "gpu"
            large.catalog_tab.cards["phi4"].choose("F16")  # 29.3 GB of weights > 24 GiB
            assert large.fit_of("phi4") == "partial"

        async with manager(qtbot, ollama_double.url, gpus=[]) as cpu:
            assert cpu.fit_of("phi4-mini") == "cpu"
            assert cpu.badge_for("phi4-mini").text() == "CPU only (slow)"
            assert "No GPU" in cpu.gpu_label.text()

    run(qt_loop, scenario())


def test_measured_speed_from_past_answers_is_shown_when_known(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> None:
        workspace = open_workspace(ollama_double.url)
        db = workspace.db
        chat = db.create_chat(model="phi4-mini:latest")
        for tps in (40.0, 48.25, 60.0):  # the median of complete answers
            message = db.add_message(chat.id, "assistant", "x", status="streaming")
            db.finish_message(
                message.id,
                status="complete",
                stats=ChatStats(eval_count=10),
                provenance=Provenance(model="phi4-mini:latest", tokens_per_second=tps),
            )
        try:
            async with manager(qtbot, ollama_double.url, gpus=[], workspace=workspace) as window:
                mini = window.catalog_tab.cards["phi4-mini"].speed_label
                await until(mini.isVisible, "the measured speed")
                assert "48.2" in mini.text() and "tokens/s" in mini.text()
                assert not window.catalog_tab.cards["phi4"].speed_label.isVisible()
                assert window.state.speeds["phi4-mini:latest"] == 48.25
        finally:
            await workspace.aclose()

    run(qt_loop, scenario())


def test_without_a_gpu_override_the_window_detects_gpus_itself(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url) as window:
            await until(lambda: window.gpus is not None, "GPU detection")
            assert "Looking" not in window.gpu_label.text()
            assert window.badge_for("phi4").text() != "checking GPU…"

    run(qt_loop, scenario())


# --- loaded ---------------------------------------------------------------------------------


def test_loaded_panel_shows_the_measured_partial_split_and_unloads(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    ollama_double.vram_bytes = 8 * GIB

    async def scenario() -> None:
        client = OllamaClient(ollama_double.url)
        try:
            messages = [{"role": "user", "content": "hello"}]
            stream = client.chat("phi4", messages, options={"num_gpu": 20}, num_ctx=8192)
            async for _ in stream:
                pass
        finally:
            await client.aclose()
        async with httpx.AsyncClient() as http:
            ps = (await http.get(f"{ollama_double.url}/api/ps")).json()["models"][0]
        size, vram = ps["size"], ps["size_vram"]
        # As `ollama ps` rounds (docs/ollama-behaviour.md §1.9).
        cpu = round((size - vram) / size * 100)
        assert 0 < cpu < 100

        async with manager(qtbot, ollama_double.url, gpus=[GPU_8GB]) as window:
            window.tabs.setCurrentIndex(2)
            table = window.loaded_tab.table
            await until(lambda: table.rowCount() == 1, "the loaded model")
            assert cell(table, 0, 0) == "phi4:latest"
            assert cell(table, 0, 2).startswith(f"{100 - cpu}%")
            assert cell(table, 0, 3) == f"{cpu}%/{100 - cpu}% CPU/GPU"
            assert cell(table, 0, 4) == "8,192"
            assert cell(table, 0, 5).startswith("in ")
            assert cell(table, 0, 6).startswith("estimated: partial offload")
            assert not window.loaded_tab.empty.isVisible()

            unload = table.findChild(QPushButton, "Unload:phi4:latest")
            assert unload is not None
            unload.click()
            await until(lambda: table.rowCount() == 0, "the model to unload")
            assert window.loaded_tab.empty.isVisible()

    run(qt_loop, scenario())
    assert ollama_double.loaded_names() == []


def test_an_unreachable_server_is_one_sentence_not_a_crash(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        url = f"http://127.0.0.1:{port}"
        async with manager(qtbot, url, wait_for_models=False, gpus=[GPU_8GB]) as window:
            area = window.notice_area
            await until(area.isVisible, "the error")
            assert "not answering" in area.text.text()
            assert f"127.0.0.1:{port}" in area.text.text()
            # The catalog still works offline: cards and estimates are there.
            assert window.fit_of("phi4-mini") == "gpu"

    run(qt_loop, scenario())


def test_after_a_host_switch_refresh_lists_the_new_servers_models(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> None:
        workspace = open_workspace(ollama_double.url)
        first = workspace.client
        try:
            with OllamaDouble(installed=["phi4-mini:3.8b-q8_0"]) as second:
                async with manager(
                    qtbot, ollama_double.url, gpus=[GPU_8GB], workspace=workspace
                ) as window:
                    assert "phi4:latest" in installed_rows(window)
                    await workspace.use_client(OllamaClient(second.url))  # File > Ollama host
                    window.refresh_button.click()
                    await until(
                        lambda: installed_rows(window) == ["phi4-mini:3.8b-q8_0"],
                        "the second server's models",
                    )
                    await asyncio.sleep(0.2)  # any late answer from the first server
                    assert installed_rows(window) == ["phi4-mini:3.8b-q8_0"]
                    assert not window.notice_area.isVisible()
                    assert not [n for n in workspace.notices.history if n.level is Level.ERROR]
                    assert second.requests_to("/api/tags")
                    assert workspace.connection.leases(first) == 0
        finally:
            await workspace.aclose()

    run(qt_loop, scenario())


def test_an_error_during_refresh_is_one_sentence_in_the_notice_area(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> None:
        workspace = open_workspace(ollama_double.url)
        try:
            async with manager(
                qtbot, ollama_double.url, gpus=[GPU_8GB], workspace=workspace
            ) as window:
                area = window.notice_area
                assert not area.isVisible()
                ollama_double.set_fault("status", status=503)
                window.refresh_button.click()
                await until(area.isVisible, "the error")
                await asyncio.sleep(0.2)  # both listings have failed by now
                errors = [n for n in workspace.notices.history if n.level is Level.ERROR]
                assert len(errors) == 1, errors
                text = area.text.text()
                assert text == errors[0].text
                assert text[0].isupper() and text.endswith(".")
                assert "\n" not in text and "Traceback" not in text and "Error(" not in text
                assert area.notice is not None and area.notice.level is Level.ERROR

                ollama_double.clear_faults()
                window.refresh_button.click()
                await until(lambda: not area.isVisible(), "the error to go once it works")
        finally:
            await workspace.aclose()

    run(qt_loop, scenario())


def test_a_default_model_chosen_elsewhere_moves_the_mark(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> None:
        workspace = open_workspace(ollama_double.url)
        try:
            async with manager(qtbot, ollama_double.url, gpus=[], workspace=workspace) as window:
                workspace.set_default_model("phi4-reasoning:latest")  # e.g. the main window
                table = window.installed_tab.table
                await until(
                    lambda: any(
                        cell(table, row, 0) == "phi4-reasoning:latest" and cell(table, row, 5)
                        for row in range(table.rowCount())
                    ),
                    "the default mark",
                )
        finally:
            await workspace.aclose()

    run(qt_loop, scenario())


@pytest.mark.parametrize("tab", [0, 1, 2, 3])
def test_every_tab_fits_a_small_window_without_clipping_its_controls(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble, tab: int
) -> None:
    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[GPU_8GB]) as window:
            window.resize(900, 640)
            window.tabs.setCurrentIndex(tab)
            await asyncio.sleep(0.05)
            page = window.tabs.currentWidget()
            for button in page.findChildren(QPushButton):
                if button.isVisible():
                    assert button.width() >= button.minimumSizeHint().width() - 1, button.text()

    run(qt_loop, scenario())


# --- the pull button after a pull that did not finish; wording ------------------------------


def test_a_cancelled_then_a_failed_pull_give_the_button_back_as_pull_then_retry(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    ollama_double.set_fault("slow", delay=0.08, path="/api/pull")

    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[GPU_24GB]) as window:
            card = window.catalog_tab.cards["phi4"]
            card.choose("Q8_0")
            assert card.pull_button.text() == "Pull"
            card.pull_button.click()
            await until(lambda: card.pull_button.text() == "Pulling…", "the pull to start")
            await until(lambda: card.panel.bar.value() >= 100, "some of the download")
            card.panel.cancel_button.click()
            await until(lambda: not card.panel.running, "the cancelled pull to stop")
            assert card.pull_button.text() == "Pull"
            assert card.pull_button.isEnabled() and card.chooser.isEnabled()

            ollama_double.clear_faults()
            ollama_double.set_fault("error_line", after=1, path="/api/pull")
            card.pull_button.click()
            await until(lambda: card.panel.error.isVisible(), "the failure")
            await until(lambda: not card.panel.running, "the failed pull to stop")
            assert card.pull_button.text() == "Retry"
            assert card.pull_button.isEnabled() and card.chooser.isEnabled()

            ollama_double.clear_faults()
            card.pull_button.click()
            await until(lambda: "ready" in card.panel.text.text(), "the retried pull")
            await until(lambda: card.pull_button.text() == "Check for update", "installed")

    run(qt_loop, scenario())


def test_installed_variants_offer_use_in_new_chat_delete_and_check_for_update(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> None:
        async with manager(qtbot, ollama_double.url, gpus=[GPU_24GB]) as window:
            cards = window.catalog_tab.cards
            await until(lambda: any(c.installed_label.text() for c in cards.values()), "marks")
            card = next(c for c in cards.values() if c.installed_label.text())
            installed = next(v for v in card.entry.variants if card.installed_variant(v))
            card.chooser.setCurrentIndex(card.chooser.findData(installed.name))
            assert card.pull_button.text() == "Check for update"
            assert card.use_button.isVisible() and card.use_button.text() == "Use in new chat"
            assert card.delete_button.isVisible() and card.delete_button.text() == "Delete…"
            wanted: list[str] = []
            window.newChatRequested.connect(wanted.append)
            card.use_button.click()
            model = card.installed_variant(installed)
            assert model is not None and wanted == [model.name]

            window.tabs.setCurrentWidget(window.installed_tab)
            window.installed_tab.select(model.name)
            window.installed_tab.use_button.click()
            assert wanted == [model.name, model.name]

            for label in window.findChildren(QLabel):
                assert "<think>" not in label.text(), label.text()
                assert "&lt;think&gt;" not in label.text(), label.text()
            assert not any(b.text() == "Update" for b in window.findChildren(QPushButton))

    run(qt_loop, scenario())
