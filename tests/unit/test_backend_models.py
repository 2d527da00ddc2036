"""Parsing /api/show, /api/tags and /api/ps bodies into what the app needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.backend.models import InstalledModel, LoadedModel, ModelInfo, parse_time

SHOW = {
    "template": "{{ .Prompt }}",
    "system": "You are Phi.",
    "parameters": 'stop "<|im_end|>"',
    "details": {"family": "phi3", "parameter_size": "14.7B", "quantization_level": "Q4_K_M"},
    "model_info": {
        "general.architecture": "phi3",
        "general.parameter_count": 14659507200,
        "phi3.context_length": 16384,
        "phi3.embedding_length": 5120,
        "phi3.block_count": 40,
        "phi3.attention.head_count": 40,
        "phi3.attention.head_count_kv": 10,
        "llama.context_length": 999,
    },
    "capabilities": ["completion"],
}


def test_show_reads_keys_of_the_declared_architecture() -> None:
    info = ModelInfo.from_json("phi4", SHOW)
    assert info.architecture == "phi3"
    assert info.context_length == 16384
    assert (info.block_count, info.head_count, info.head_count_kv) == (40, 40, 10)
    assert info.embedding_length == 5120
    assert info.head_dim == 128
    assert info.parameter_count == 14659507200
    assert info.quantization == "Q4_K_M"
    assert info.system == "You are Phi."
    assert not info.supports_thinking


def test_show_of_a_llamafied_conversion_uses_llama_keys() -> None:
    raw = {**SHOW, "model_info": {"general.architecture": "llama", "llama.context_length": 999}}
    assert ModelInfo.from_json("x", raw).context_length == 999


def test_per_layer_head_counts_give_the_largest() -> None:
    raw = {"model_info": {"general.architecture": "a", "a.attention.head_count_kv": [8, 8, 16, 8]}}
    assert ModelInfo.from_json("x", raw).head_count_kv == 16


def test_gpu_share_rounds_like_ollama_ps() -> None:
    def share(size: int, vram: int) -> int:
        return LoadedModel("m", size, vram, 4096, None).gpu_percent

    assert share(100, 0) == 0
    assert share(100, 100) == 100
    assert share(1000, 333) == 33
    assert share(1000, 996) == 100  # 0.4% on CPU rounds to 0
    assert share(0, 0) == 0


def test_nanosecond_timestamps_and_forever() -> None:
    when = parse_time("2025-10-17T16:47:07.933551234-07:00")
    assert when == datetime(2025, 10, 17, 23, 47, 7, 933551, tzinfo=UTC)
    assert parse_time("2025-01-01T00:00:00Z") == datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_time("nonsense") is None
    far = datetime.now(UTC) + timedelta(days=365 * 292)
    loaded = LoadedModel.from_json(
        {"model": "phi4:latest", "size": 10, "size_vram": 5, "expires_at": far.isoformat()}
    )
    assert loaded.kept_forever()
    assert loaded.context_length is None


def test_tags_entry() -> None:
    entry = InstalledModel.from_json(
        {
            "model": "phi4:latest",
            "size": 9053116391,
            "digest": "ac89",
            "modified_at": "2025-05-10T08:06:48.639712648-07:00",
            "details": {"family": "phi3", "quantization_level": "Q4_K_M"},
        }
    )
    assert (entry.name, entry.size, entry.family, entry.quantization) == (
        "phi4:latest",
        9053116391,
        "phi3",
        "Q4_K_M",
    )
    assert entry.modified_at is not None and entry.modified_at.tzinfo is not None
