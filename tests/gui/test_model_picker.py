"""The model picker: friendly names, fit badges and chips, a new chat's default (the user's
choice, else the catalog's recommended installed variant that fits this computer, else the
recommended variant with Pull model), and the quick prompt choosing a model of any engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from pytestqt.qtbot import QtBot

from app.backend.catalog import default_catalog
from app.backend.client import OllamaClient
from app.backend.connection import Connection
from app.backend.hardware import Gpu, GpuVendor
from app.backend.models import InstalledModel
from app.config import Paths
from app.gui.chat_flows import PULL_MODEL
from app.gui.models_picker import BADGE, CHIPS, ENGINE, ROW, ModelPicker, offer_pull
from app.gui.models_picker_data import RECOMMENDED, Section, default_pick, local_choices
from app.gui.quick_prompt import QuickPrompt
from app.store import Database
from app.workspace import Notice, Notices, Workspace
from tests.ollama_double.server import OllamaDouble
from tests.openai_double.server import OpenAIDouble
from tests.qt_async import drive, until

GB = 1_000_000_000
BIG_GPU = [Gpu(0, "Big", GpuVendor.NVIDIA, 24 * 1024**3, 23 * 1024**3)]
CPU_ONLY: list[Gpu] = []


def installed(name: str, size: int, quantization: str = "Q4_K_M") -> InstalledModel:
    return InstalledModel(name, size, "sha256:" + "0" * 64, None, "phi3", "", quantization)


PHI4 = installed("phi4:latest", int(9.1 * GB))
MINI = installed("phi4-mini:latest", int(2.5 * GB))
MINI_Q8 = installed("phi4-mini:3.8b-q8_0", int(4.1 * GB), "Q8_0")
REASONING = installed("phi4-reasoning:latest", 11 * GB)


def test_friendly_names_fit_badges_and_chips() -> None:
    catalog = default_catalog()
    choices = local_choices([REASONING, MINI, PHI4], catalog, CPU_ONLY)
    assert [c.label for c in choices] == [
        "Phi-4 · Q4_K_M · 9.1 GB",
        "Phi-4 mini · Q4_K_M · 2.5 GB",
        "Phi-4 reasoning · Q4_K_M · 11.0 GB",
    ]
    assert [c.detail for c in choices] == [PHI4.name, MINI.name, REASONING.name]
    assert choices[2].chips[0] == "thinking"
    assert all(c.badge == ("CPU", "neutral") for c in choices)
    on_gpu = local_choices([MINI], catalog, BIG_GPU)
    assert on_gpu[0].badge == ("fits GPU", "success")


def test_the_users_default_model_comes_first() -> None:
    pick = default_pick("phi4-reasoning:latest", [PHI4, MINI], default_catalog(), BIG_GPU)
    assert pick is not None
    assert (pick.engine, pick.model, pick.why, pick.pull) == (
        "ollama",
        "phi4-reasoning:latest",
        "Your default model",
        False,
    )


def test_else_the_recommended_installed_variant_that_fits() -> None:
    catalog = default_catalog()
    big = default_pick("", [MINI, PHI4, REASONING], catalog, BIG_GPU)
    assert big is not None and (big.model, big.why, big.pull) == ("phi4:latest", RECOMMENDED, False)
    # No GPU: never the biggest model; the small recommended variant that is installed.
    cpu = default_pick("", [PHI4, MINI], catalog, CPU_ONLY)
    assert cpu is not None and (cpu.model, cpu.pull) == ("phi4-mini:latest", False)


def test_else_the_recommended_variant_with_pull_model(qtbot: QtBot) -> None:
    catalog = default_catalog()
    pick = default_pick("", [PHI4, MINI_Q8], catalog, CPU_ONLY)
    assert pick is not None and pick.pull
    assert pick.model == "phi4-mini:3.8b-q4_K_M"
    picker = ModelPicker()
    qtbot.addWidget(picker)
    section = Section("ollama", "This computer · Ollama", True)
    section.choices = local_choices([PHI4, MINI_Q8], catalog, CPU_ONLY)
    picker.set_sections([section], [PHI4, MINI_Q8], pick)
    picker.select_default()
    assert picker.current_model() == "phi4-mini:3.8b-q4_K_M"
    assert picker.currentText() == (
        "Phi-4 mini · Q4_K_M · 2.5 GB · not installed — Recommended for this computer"
    )
    assert "pull it to use it" in picker.itemData(
        picker.currentIndex(), Qt.ItemDataRole.ToolTipRole
    )
    notices = Notices()
    seen: list[Notice] = []
    notices.subscribe(seen.append)
    offer_pull(picker, notices)
    offer_pull(picker, notices)  # once only
    assert len(seen) == 1
    notice = seen[0]
    assert notice.text.startswith("Phi-4 mini · Q4_K_M · 2.5 GB is recommended for this computer")
    assert [(a.label, a.key, a.argument) for a in notice.actions] == [
        ("Pull model", PULL_MODEL, "phi4-mini:3.8b-q4_K_M")
    ]


def test_rows_carry_engine_badge_and_chips(qtbot: QtBot) -> None:
    picker = ModelPicker()
    qtbot.addWidget(picker)
    picker.set_models([MINI, MINI_Q8, REASONING], default_catalog(), BIG_GPU)
    models = [i for i in range(picker.count()) if picker.itemData(i, ROW) == "model"]
    assert [picker.itemData(i, ENGINE) for i in models] == ["ollama"] * 3
    assert picker.itemData(models[0], BADGE) == ("fits GPU", "success")
    assert "thinking" in picker.itemData(models[2], CHIPS)
    headings = [
        picker.itemText(i) for i in range(picker.count()) if picker.itemData(i, ROW) == "family"
    ]
    assert headings == ["Phi-4 mini"]  # a heading over two variants; a lone model names its family
    assert not picker.items.item(0).isEnabled()  # headings cannot be chosen


@pytest.fixture
def quick(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    ollama_double: OllamaDouble,
    openai_double: OpenAIDouble,
) -> Iterator[tuple[QuickPrompt, Workspace]]:
    paths = Paths.resolve().ensure()
    db = Database.open(paths.database)
    workspace = Workspace(db, Connection(OllamaClient(ollama_double.url, stall_seconds=30)), paths)
    workspace.add_engine("lab", openai_double.url)
    window = QuickPrompt(workspace, default_catalog())
    window.show_prompt()
    drive(qt_loop, until(lambda: window.picker.engines() == ["ollama", "lab"]))
    drive(qt_loop, until(lambda: window.view.loaded))
    yield window, workspace
    window.close()

    async def finish() -> None:
        await window.aclose()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        await asyncio.sleep(0.05)
        await workspace.close_engines()
        await workspace.aclose()

    drive(qt_loop, finish())


@pytest.mark.web
def test_the_quick_prompt_asks_a_model_of_another_engine(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    quick: tuple[QuickPrompt, Workspace],
    openai_double: OpenAIDouble,
) -> None:
    window, workspace = quick
    openai_double.script_reply("Quick and remote.")

    async def scenario() -> None:
        picker = window.picker
        assert RECOMMENDED in picker.currentText()  # a fresh quick prompt takes the default
        index = next(
            i
            for i in range(picker.count())
            if picker.itemData(i, ENGINE) == "lab" and picker.itemData(i) == "microsoft/phi-4"
        )
        picker.setCurrentIndex(index)
        window.input.setText("hi there")
        qtbot.keyClick(window.input, Qt.Key.Key_Return)
        await until(lambda: window.current_chat is not None and not window.streaming)
        assert window.current_chat is not None
        chat = await workspace.chat(window.current_chat)
        assert (chat.engine, chat.model) == ("lab", "microsoft/phi-4")
        assert workspace.db.messages(chat.id)[-1].content == "Quick and remote."
        assert openai_double.requests_to("/v1/chat/completions")[-1].body["model"] == (
            "microsoft/phi-4"
        )

    drive(qt_loop, scenario())
