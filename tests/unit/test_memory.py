"""The memory estimate against the worked numbers of docs/ollama-behaviour.md §8."""

from __future__ import annotations

import math

import pytest

from app.backend.hardware import Gpu, GpuVendor
from app.backend.memory import (
    GIB,
    KIB,
    MIB,
    ArchitectureUnknown,
    Fit,
    ModelArchitecture,
    architecture_from_model_info,
    compute_buffer_bytes,
    estimate,
    kv_bytes_per_token,
    kv_cache_bytes,
    measured_split,
)

# /api/show model_info of phi4 Q4_K_M as docs/ollama-behaviour.md §1.7 prints it.
PHI4_MODEL_INFO: dict[str, object] = {
    "general.architecture": "phi3",
    "general.file_type": 15,
    "general.parameter_count": 14659507200,
    "phi3.context_length": 16384,
    "phi3.embedding_length": 5120,
    "phi3.block_count": 40,
    "phi3.attention.head_count": 40,
    "phi3.attention.head_count_kv": 10,
    "phi3.rope.dimension_count": 128,
    "phi3.attention.sliding_window": 131072,
}
# phi4-mini per docs/ollama-behaviour.md §7: 32 layers, 24 heads, 8 KV heads, embedding 3072,
# rope dim 96.
PHI4_MINI_MODEL_INFO: dict[str, object] = {
    "general.architecture": "phi3",
    "phi3.context_length": 131072,
    "phi3.embedding_length": 3072,
    "phi3.block_count": 32,
    "phi3.attention.head_count": 24,
    "phi3.attention.head_count_kv": 8,
    "phi3.rope.dimension_count": 96,
}

PHI4 = architecture_from_model_info(PHI4_MODEL_INFO)
PHI4_MINI = architecture_from_model_info(PHI4_MINI_MODEL_INFO)

PHI4_Q4_K_M = 9_100_000_000  # 9.1 GB
PHI4_FP16 = 29_300_000_000
PHI4_MINI_Q4_K_M = 2_500_000_000

CUDA_OVERHEAD = 457 * MIB


def nvidia(free_gib: float, total_gib: int, index: int = 0) -> Gpu:
    return Gpu(
        index=index,
        name=f"{total_gib} GB card",
        vendor=GpuVendor.NVIDIA,
        total_bytes=total_gib * GIB,
        free_bytes=int(free_gib * GIB),
    )


GPU_8GB = nvidia(7.5, 8)
GPU_24GB = nvidia(23.5, 24)


# --- architecture facts --------------------------------------------------------------------------


def test_model_info_gives_phi4_facts_with_head_dim_from_embedding() -> None:
    assert PHI4.architecture == "phi3"
    assert (PHI4.block_count, PHI4.head_count, PHI4.embedding_length) == (40, 40, 5120)
    assert PHI4.head_count_kv == (10,) * 40
    assert (PHI4.key_length, PHI4.value_length) == (128, 128)  # 5120 / 40, no key_length key
    assert PHI4.context_length == 16384
    assert PHI4.parameter_count == 14659507200
    assert PHI4.layer_count == 41


def test_key_and_value_length_win_over_the_embedding_fallback() -> None:
    info = {
        "general.architecture": "llama",
        "llama.block_count": 2,
        "llama.embedding_length": 4096,
        "llama.attention.head_count": 32,
        "llama.attention.head_count_kv": 8,
        "llama.attention.key_length": 256,
        "llama.attention.value_length": 192,
    }
    arch = architecture_from_model_info(info)
    assert (arch.key_length, arch.value_length) == (256, 192)
    assert kv_bytes_per_token(arch) == 2 * 8 * (256 + 192) * 2


def test_per_layer_kv_head_arrays_are_summed() -> None:
    info = {
        "general.architecture": "mixed",
        "mixed.block_count": 4,
        "mixed.embedding_length": 1024,
        "mixed.attention.head_count": 8,
        "mixed.attention.head_count_kv": [8, 2, 2, 0],
    }
    arch = architecture_from_model_info(info)
    # 12 KV heads in all × (128 + 128) × 2 bytes
    assert kv_bytes_per_token(arch) == 12 * 256 * 2


def test_missing_head_count_kv_means_one_kv_head_per_head() -> None:
    info = {key: value for key, value in PHI4_MODEL_INFO.items() if "head_count_kv" not in key}
    assert kv_bytes_per_token(architecture_from_model_info(info)) == 4 * 204_800


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"general.architecture": "phi3"},
        {**PHI4_MODEL_INFO, "general.architecture": "llama"},  # keys are phi3.*
        {**PHI4_MODEL_INFO, "phi3.attention.head_count": "forty"},
        {**PHI4_MODEL_INFO, "phi3.block_count": 0},
    ],
)
def test_model_info_without_the_needed_keys_is_refused(broken: dict[str, object]) -> None:
    with pytest.raises(ArchitectureUnknown):
        architecture_from_model_info(broken)


# --- KV cache: the worked table of docs/ollama-behaviour.md §8.1 ---------------------------


def test_kv_per_token_worked_numbers() -> None:
    assert kv_bytes_per_token(PHI4) == 204_800 == 200 * KIB
    assert kv_bytes_per_token(PHI4_MINI) == 131_072 == 128 * KIB


@pytest.mark.parametrize(
    ("arch", "num_ctx", "expected"),
    [
        (PHI4, 4096, 800 * MIB),
        (PHI4, 16384, 3.125 * GIB),
        (PHI4, 32768, 6.25 * GIB),
        (PHI4_MINI, 4096, 512 * MIB),
        (PHI4_MINI, 16384, 2 * GIB),
        (PHI4_MINI, 32768, 4 * GIB),
        (PHI4_MINI, 131072, 16 * GIB),
    ],
)
def test_kv_cache_worked_table(arch: ModelArchitecture, num_ctx: int, expected: float) -> None:
    assert kv_cache_bytes(arch, num_ctx) == expected


def test_quantized_kv_cache_roughly_halves_and_quarters() -> None:
    f16 = kv_cache_bytes(PHI4, 16384, "f16")
    q8 = kv_cache_bytes(PHI4, 16384, "q8_0")
    q4 = kv_cache_bytes(PHI4, 16384, "q4_0")
    # ggml blocks: 32 values in 34 bytes (q8_0) and in 18 bytes (q4_0), against 64 bytes in f16.
    assert q8 == f16 * 34 // 64 and 0.5 < q8 / f16 < 0.55
    assert q4 == f16 * 18 // 64 and 0.25 < q4 / f16 < 0.3
    assert kv_bytes_per_token(PHI4_MINI, "q8_0") == 131_072 * 34 / 64


def test_parallel_slots_multiply_the_cache() -> None:
    assert kv_cache_bytes(PHI4, 4096, num_parallel=2) == 1600 * MIB
    assert kv_cache_bytes(PHI4_MINI, 8192, num_parallel=4) == 4 * kv_cache_bytes(PHI4_MINI, 8192)
    two_slots = estimate(PHI4, PHI4_Q4_K_M, 4096, num_parallel=2)
    assert two_slots.kv_cache_bytes == 1600 * MIB
    assert two_slots.kv_bytes_per_token == 204_800  # per token of one slot


def test_compute_buffer_uses_the_phi3_fallback_with_a_half_gib_floor() -> None:
    # phi4 has 4 query heads per KV head, phi4-mini 3: (heads / KV heads) × KV / 6, ≥ 0.5 GiB.
    assert compute_buffer_bytes(PHI4, kv_cache_bytes(PHI4, 4096)) == math.ceil(4 * 800 * MIB / 6)
    assert compute_buffer_bytes(PHI4, kv_cache_bytes(PHI4, 16384)) == math.ceil(4 * 3.125 * GIB / 6)
    assert compute_buffer_bytes(PHI4_MINI, kv_cache_bytes(PHI4_MINI, 4096)) == GIB // 2
    assert compute_buffer_bytes(PHI4_MINI, kv_cache_bytes(PHI4_MINI, 131072)) == 8 * GIB


# --- the estimate and its verdict ----------------------------------------------------------------


def test_worked_example_phi4_q4_at_4096() -> None:
    result = estimate(PHI4, PHI4_Q4_K_M, 4096, gpus=[GPU_24GB])
    assert result.weights_bytes == PHI4_Q4_K_M
    assert result.kv_cache_bytes == 800 * MIB
    # The example in docs/ollama-behaviour.md §8 rounds the compute buffer to 0.5 GiB; its
    # formula gives 4/6 × KV.
    compute = math.ceil(4 * 800 * MIB / 6)
    assert result.compute_bytes == compute
    assert result.overhead_bytes == CUDA_OVERHEAD
    assert result.total_bytes == PHI4_Q4_K_M + 800 * MIB + compute + CUDA_OVERHEAD
    # The reference puts this at "≈ 10.3 GiB".
    assert 10.1 * GIB < result.total_bytes < 10.3 * GIB
    assert result.fit is Fit.GPU
    assert result.verdict == "fits on GPU"
    assert result.num_gpu == result.layer_count == 41


def test_worked_example_phi4_q4_at_16384_fits_a_24gb_gpu() -> None:
    result = estimate(PHI4, PHI4_Q4_K_M, 16384, gpus=[GPU_24GB])
    assert result.kv_cache_bytes == 3.125 * GIB
    assert result.compute_bytes == math.ceil(4 * 3.125 * GIB / 6)
    assert 14 * GIB < result.total_bytes < 14.8 * GIB
    assert result.fit is Fit.GPU


def test_phi4_q4_on_an_8gb_gpu_is_a_partial_offload() -> None:
    result = estimate(PHI4, PHI4_Q4_K_M, 4096, gpus=[GPU_8GB])
    # docs/ollama-behaviour.md §8.3:
    # floor((free - overhead - compute) / (weights per layer + KV per block)).
    budget = 7.5 * GIB - CUDA_OVERHEAD - 4 * 800 * MIB / 6
    per_layer = PHI4_Q4_K_M / 41 + 800 * MIB / 40
    expected = math.floor(budget / per_layer)
    assert expected == 28
    assert result.fit is Fit.PARTIAL
    assert result.layers_on_gpu == result.num_gpu == expected
    assert result.verdict == "partial offload: ~28 of 41 layers"


def test_phi4_mini_fits_an_8gb_gpu() -> None:
    result = estimate(PHI4_MINI, PHI4_MINI_Q4_K_M, 4096, gpus=[GPU_8GB])
    assert result.fit is Fit.GPU
    assert result.num_gpu == 33
    assert result.total_bytes == PHI4_MINI_Q4_K_M + 512 * MIB + GIB // 2 + CUDA_OVERHEAD


def test_longer_context_costs_layers_on_the_same_gpu() -> None:
    short = estimate(PHI4, PHI4_Q4_K_M, 4096, gpus=[GPU_8GB])
    long = estimate(PHI4, PHI4_Q4_K_M, 16384, gpus=[GPU_8GB])
    assert long.fit is Fit.PARTIAL
    assert long.layers_on_gpu < short.layers_on_gpu


def test_fp16_phi4_does_not_fit_24gb_but_two_cards_hold_it() -> None:
    one = estimate(PHI4, PHI4_FP16, 4096, gpus=[GPU_24GB])
    assert one.fit is Fit.PARTIAL and 0 < one.layers_on_gpu < 41
    two = estimate(PHI4, PHI4_FP16, 4096, gpus=[GPU_24GB, nvidia(23.5, 24, index=1)])
    assert two.fit is Fit.GPU
    assert two.overhead_bytes == 2 * CUDA_OVERHEAD
    assert two.free_vram_bytes == 47 * GIB


def test_quantized_kv_cache_turns_a_partial_offload_into_a_fit() -> None:
    # phi4-mini at its full 128K context: 16 GiB of f16 KV plus a 8 GiB compute estimate.
    f16 = estimate(PHI4_MINI, PHI4_MINI_Q4_K_M, 131072, "f16", gpus=[GPU_24GB])
    q4 = estimate(PHI4_MINI, PHI4_MINI_Q4_K_M, 131072, "q4_0", gpus=[GPU_24GB])
    assert f16.fit is Fit.PARTIAL
    assert q4.fit is Fit.GPU
    assert f16.kv_cache_bytes - q4.kv_cache_bytes == 16 * GIB - 16 * GIB * 18 // 64


def test_no_gpu_means_cpu_only() -> None:
    result = estimate(PHI4_MINI, PHI4_MINI_Q4_K_M, 4096, gpus=[])
    assert result.fit is Fit.CPU
    assert result.verdict == "CPU only (slow)"
    assert result.num_gpu == 0
    assert result.overhead_bytes == 0
    assert result.total_bytes == PHI4_MINI_Q4_K_M + 512 * MIB + GIB // 2


def test_gpu_too_small_for_one_layer_means_cpu_only() -> None:
    tiny = nvidia(1.0, 2)
    result = estimate(PHI4, PHI4_FP16, 16384, gpus=[tiny])
    assert result.fit is Fit.CPU and result.num_gpu == 0


def test_server_gpu_overhead_is_reserved_on_each_gpu() -> None:
    plain = estimate(PHI4, PHI4_Q4_K_M, 4096, gpus=[GPU_8GB])
    reserved = estimate(PHI4, PHI4_Q4_K_M, 4096, gpus=[GPU_8GB], gpu_overhead_bytes=GIB)
    assert reserved.layers_on_gpu < plain.layers_on_gpu
    assert reserved.overhead_bytes == CUDA_OVERHEAD + GIB


def test_apple_gpu_reserves_the_metal_overhead() -> None:
    mac = Gpu(0, "Apple M2", GpuVendor.APPLE, 16 * GIB, 10 * GIB, unified_memory=True)
    result = estimate(PHI4_MINI, PHI4_MINI_Q4_K_M, 4096, gpus=[mac])
    assert result.fit is Fit.GPU
    assert result.overhead_bytes == 512 * MIB


def test_output_layer_is_placed_last() -> None:
    # Exactly room for the 40 blocks but not the output layer: 40 of 41.
    kv = kv_cache_bytes(PHI4, 4096)
    blocks = 40 * (PHI4_Q4_K_M / 41 + kv / 40)
    compute = compute_buffer_bytes(PHI4, kv)
    free = CUDA_OVERHEAD + compute + math.ceil(blocks) + 1024
    gpu = Gpu(0, "just enough", GpuVendor.NVIDIA, free, free)
    result = estimate(PHI4, PHI4_Q4_K_M, 4096, gpus=[gpu])
    assert result.verdict == "partial offload: ~40 of 41 layers"


# --- measured split from /api/ps -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "size_vram", "text", "gpu_percent"),
    [
        (10_000, 10_000, "100% GPU", 100),
        (10_000, 0, "100% CPU", 0),
        (12_000_000_000, 6_240_000_000, "48%/52% CPU/GPU", 52),
        (8_000, 2_000, "75%/25% CPU/GPU", 25),
    ],
)
def test_measured_split_reads_like_ollama_ps(
    size: int, size_vram: int, text: str, gpu_percent: int
) -> None:
    split = measured_split(size, size_vram)
    assert split.text == text
    assert split.gpu_percent == gpu_percent
    assert split.cpu_percent == 100 - gpu_percent


def test_context_beyond_the_trained_length_is_clamped_like_ollama() -> None:
    # phi4 is trained for 16384 tokens; asking for 32768 allocates 16384.
    result = estimate(PHI4, PHI4_Q4_K_M, 32768, gpus=[GPU_24GB])
    assert result.num_ctx == 16384
    assert result.kv_cache_bytes == 3.125 * GIB
    assert estimate(PHI4_MINI, PHI4_MINI_Q4_K_M, 32768).num_ctx == 32768
