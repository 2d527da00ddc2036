"""Offload preferences: what a chat sends for each choice, what a managed server is started with,
and that the JSON file survives restarts and damage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.backend.catalog import default_catalog
from app.backend.memory import KIB, MIB
from app.backend.offload import (
    ALL_LAYERS,
    FlashAttention,
    GpuLayers,
    ManagedServerPreferences,
    ModelOffload,
    OffloadPreferences,
    kv_cache_saving,
    validate_keep_alive,
)
from app.config import Paths
from app.errors import UsageError


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths.resolve(tmp_path / "data").ensure()


def test_auto_sends_no_option_so_ollama_decides(paths: Paths) -> None:
    prefs = OffloadPreferences.load(paths)
    assert prefs.options_for("phi4") == {}
    prefs.set_model("phi4", ModelOffload(GpuLayers.AUTO))
    assert prefs.options_for("phi4") == {}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (ModelOffload(GpuLayers.CPU), {"num_gpu": 0}),
        (ModelOffload(GpuLayers.SOME, 20), {"num_gpu": 20}),
        (ModelOffload(GpuLayers.ALL, 41), {"num_gpu": 41}),
        (ModelOffload(GpuLayers.ALL), {"num_gpu": ALL_LAYERS}),
        (ModelOffload(GpuLayers.AUTO, main_gpu=1), {"main_gpu": 1}),
        (ModelOffload(GpuLayers.SOME, 12, main_gpu=0), {"num_gpu": 12, "main_gpu": 0}),
    ],
)
def test_each_choice_becomes_the_ollama_options(
    paths: Paths, choice: ModelOffload, expected: dict[str, int]
) -> None:
    prefs = OffloadPreferences.load(paths)
    prefs.set_model("phi4:latest", choice)
    assert prefs.options_for("phi4:latest") == expected


def test_all_layers_is_more_than_any_phi4_model_has() -> None:
    # "Every layer" without a known count must still cover the largest family member.
    most = max(entry.architecture.layer_count for entry in default_catalog().entries)
    assert ModelOffload(GpuLayers.ALL).num_gpu is not None
    assert ModelOffload(GpuLayers.ALL).num_gpu > most  # type: ignore[operator]


def test_names_that_mean_the_same_model_share_one_choice(paths: Paths) -> None:
    prefs = OffloadPreferences.load(paths)
    prefs.set_model("phi4", ModelOffload(GpuLayers.CPU))
    assert prefs.options_for("phi4:latest") == {"num_gpu": 0}
    assert prefs.options_for("registry.ollama.ai/library/phi4:latest") == {"num_gpu": 0}
    assert prefs.options_for("phi4-mini") == {}


def test_choices_survive_a_restart(paths: Paths) -> None:
    prefs = OffloadPreferences.load(paths)
    prefs.set_model("phi4", ModelOffload(GpuLayers.SOME, 20, main_gpu=1))
    prefs.set_model("phi4-mini", ModelOffload(GpuLayers.CPU))
    prefs.set_server(
        flash_attention=FlashAttention.ON,
        kv_cache_type="q8_0",
        keep_alive="30m",
        max_loaded_models=2,
    )
    prefs.save()

    again = OffloadPreferences.load(paths)
    assert again.options_for("phi4") == {"num_gpu": 20, "main_gpu": 1}
    assert again.options_for("phi4-mini:latest") == {"num_gpu": 0}
    assert again.server == ManagedServerPreferences(FlashAttention.ON, "q8_0", "30m", 2)
    assert (paths.config / "offload.json").is_file()


def test_back_to_auto_forgets_the_model(paths: Paths) -> None:
    prefs = OffloadPreferences.load(paths)
    prefs.set_model("phi4", ModelOffload(GpuLayers.CPU))
    prefs.set_model("phi4", ModelOffload())
    prefs.save()
    stored = json.loads((paths.config / "offload.json").read_text(encoding="utf-8"))
    assert stored["models"] == {}


@pytest.mark.parametrize(
    "content",
    ["{not json", '["a list"]', '{"version": 1, "models": {"phi4": {"layers": "sideways"}}}'],
)
def test_a_damaged_file_is_set_aside_and_defaults_are_used(paths: Paths, content: str) -> None:
    path = paths.config / "offload.json"
    path.write_text(content, encoding="utf-8")
    prefs = OffloadPreferences.load(paths)
    assert prefs.options_for("phi4") == {}
    assert prefs.server == ManagedServerPreferences()
    assert not path.exists()
    assert (paths.config / "offload.json.damaged").read_text(encoding="utf-8") == content


def test_managed_server_gets_the_ollama_variables(paths: Paths) -> None:
    prefs = OffloadPreferences.load(paths)
    prefs.set_server(
        flash_attention=FlashAttention.OFF,
        kv_cache_type="q4_0",
        keep_alive="-1",
        max_loaded_models=1,
    )
    settings = prefs.server_settings("http://127.0.0.1:11500")
    env = settings.environment(base={})
    assert env["OLLAMA_HOST"] == "127.0.0.1:11500"
    assert env["OLLAMA_FLASH_ATTENTION"] == "0"
    assert env["OLLAMA_KV_CACHE_TYPE"] == "q4_0"
    assert env["OLLAMA_KEEP_ALIVE"] == "-1"
    assert env["OLLAMA_MAX_LOADED_MODELS"] == "1"
    assert prefs.server.quantized_cache_without_flash_attention


def test_defaults_leave_ollamas_own_defaults_alone(paths: Paths) -> None:
    env = OffloadPreferences.load(paths).server_settings("http://127.0.0.1:11434").environment({})
    for name in (
        "OLLAMA_FLASH_ATTENTION",
        "OLLAMA_KV_CACHE_TYPE",
        "OLLAMA_KEEP_ALIVE",
        "OLLAMA_MAX_LOADED_MODELS",
    ):
        assert name not in env


def test_bad_values_are_refused_with_a_sentence(paths: Paths) -> None:
    prefs = OffloadPreferences.load(paths)
    with pytest.raises(UsageError, match="keep-alive"):
        prefs.set_server(keep_alive="300 seconds")
    with pytest.raises(UsageError, match="KV cache type"):
        prefs.set_server(kv_cache_type="q5_1")
    with pytest.raises(UsageError):
        prefs.set_server(max_loaded_models=0)
    with pytest.raises(UsageError):
        ModelOffload(GpuLayers.SOME, 0)
    assert prefs.server == ManagedServerPreferences()


@pytest.mark.parametrize("text", ["5m", "1h30m", "300", "-1", "-1m", "0", "2.5h"])
def test_keep_alive_accepts_what_ollama_serve_reads(text: str) -> None:
    assert validate_keep_alive(f" {text} ") == text


def test_reload_notes(paths: Paths) -> None:
    prefs = OffloadPreferences.load(paths)
    assert prefs.set_model("phi4", ModelOffload()) is None
    to_some = prefs.set_model("phi4", ModelOffload(GpuLayers.SOME, 20))
    assert to_some is not None and "reloads" in to_some
    to_auto = prefs.set_model("phi4", ModelOffload())
    assert to_auto is not None and "keeps its current split" in to_auto
    assert prefs.set_server(kv_cache_type="f16") is None
    server = prefs.set_server(kv_cache_type="q8_0")
    assert server is not None and "unloads every model" in server


def test_kv_cache_saving_follows_the_reference_numbers() -> None:
    # docs/ollama-behaviour.md §8.1: phi4 keeps 200 KiB per token at f16, phi4-mini 128 KiB;
    # ggml stores q8_0 as 34 bytes per 32 values and q4_0 as 18 bytes per 32 values.
    catalog = default_catalog()
    phi4 = catalog.entry("phi4")
    mini = catalog.entry("phi4-mini")
    assert phi4 is not None and mini is not None
    tokens = 16384
    phi4_f16 = tokens * 200 * KIB
    assert phi4_f16 == 3200 * MIB  # 3.125 GiB, as in the table of docs/ollama-behaviour.md §8.1
    assert kv_cache_saving(phi4.architecture, tokens, "q8_0") == phi4_f16 - phi4_f16 * 34 // 64
    assert kv_cache_saving(phi4.architecture, tokens, "q4_0") == phi4_f16 - phi4_f16 * 18 // 64
    mini_f16 = tokens * 128 * KIB
    assert kv_cache_saving(mini.architecture, tokens, "q8_0") == mini_f16 - mini_f16 * 34 // 64
    assert kv_cache_saving(mini.architecture, tokens, "f16") == 0
