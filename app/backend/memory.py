"""How much memory a model needs at a given context, and whether it fits on this machine's GPUs.

The estimate follows docs/ollama-behaviour.md §8: weights (file size) + KV cache
(`n_ctx × n_parallel × Σ_layers head_count_kv × (key_length + value_length) × bytes per element`)
+ compute buffer (`max(0.5 GiB, head_count / head_count_kv × KV / 6)`, Ollama's old fallback for
phi3, an upper-ish bound) + a fixed overhead per GPU (457 MiB CUDA/ROCm, 512 MiB Metal, plus
`OLLAMA_GPU_OVERHEAD`). Layers are placed greedily, GPU by GPU, with the output layer last, the
way Ollama's classic estimator did. After a load, `/api/ps` gives the measured split
(`measured_split`), which is what to trust.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from app.backend.hardware import Gpu, GpuVendor

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

KvCacheType = Literal["f16", "q8_0", "q4_0"]
KV_CACHE_TYPES: tuple[KvCacheType, ...] = ("f16", "q8_0", "q4_0")

# Bytes per cached element as (numerator, denominator): ggml stores q8_0 as blocks of 32 values in
# 34 bytes and q4_0 as blocks of 32 values in 18 bytes.
_KV_BYTES: dict[KvCacheType, tuple[int, int]] = {"f16": (2, 1), "q8_0": (34, 32), "q4_0": (18, 32)}

MIN_COMPUTE_BYTES = GIB // 2
GPU_OVERHEAD_BYTES: dict[GpuVendor, int] = {
    GpuVendor.NVIDIA: 457 * MIB,
    GpuVendor.AMD: 457 * MIB,
    GpuVendor.APPLE: 512 * MIB,
}


class ArchitectureUnknown(ValueError):
    """`model_info` lacks the keys needed to size the KV cache."""


@dataclass(frozen=True, slots=True)
class ModelArchitecture:
    """The facts about a model the memory estimate needs.

    `head_count_kv` holds one value per layer (GGUF allows per-layer arrays); `key_length` and
    `value_length` are the per-head sizes (embedding_length / head_count when the GGUF omits them).
    """

    architecture: str
    block_count: int
    head_count: int
    head_count_kv: tuple[int, ...]
    embedding_length: int
    key_length: int
    value_length: int
    context_length: int | None = None
    parameter_count: int | None = None

    @classmethod
    def uniform(
        cls,
        *,
        architecture: str,
        block_count: int,
        head_count: int,
        head_count_kv: int,
        embedding_length: int,
        key_length: int | None = None,
        value_length: int | None = None,
        context_length: int | None = None,
        parameter_count: int | None = None,
    ) -> ModelArchitecture:
        """Facts for a model whose layers all have the same number of KV heads."""
        if min(block_count, head_count, head_count_kv, embedding_length) <= 0:
            raise ArchitectureUnknown("layer, head and embedding counts must be positive")
        head_dim = embedding_length // head_count
        return cls(
            architecture=architecture,
            block_count=block_count,
            head_count=head_count,
            head_count_kv=(head_count_kv,) * block_count,
            embedding_length=embedding_length,
            key_length=key_length or head_dim,
            value_length=value_length or head_dim,
            context_length=context_length,
            parameter_count=parameter_count,
        )

    @property
    def layer_count(self) -> int:
        """Layers as Ollama counts them for offload (`num_gpu`): the blocks plus the output."""
        return self.block_count + 1

    @property
    def gqa_ratio(self) -> float:
        """Query heads per KV head (4 for phi4, 3 for phi4-mini)."""
        kv_heads = max(self.head_count_kv)
        return self.head_count / kv_heads if kv_heads else 1.0


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _per_layer(value: object, block_count: int) -> tuple[int, ...] | None:
    single = _as_int(value)
    if single is not None:
        return (single,) * block_count
    if isinstance(value, list | tuple):
        items = [_as_int(item) for item in value]
        if len(items) == block_count and all(item is not None for item in items):
            return tuple(item for item in items if item is not None)
    return None


def architecture_from_model_info(model_info: Mapping[str, object]) -> ModelArchitecture:
    """Build the facts from `/api/show` `model_info` (keys prefixed by `general.architecture`)."""
    arch = model_info.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise ArchitectureUnknown("model_info has no general.architecture")

    def key(name: str) -> object:
        return model_info.get(f"{arch}.{name}")

    block_count = _as_int(key("block_count"))
    embedding_length = _as_int(key("embedding_length"))
    if not block_count or not embedding_length or block_count <= 0 or embedding_length <= 0:
        raise ArchitectureUnknown(f"model_info lacks {arch}.block_count or embedding_length")
    heads = _per_layer(key("attention.head_count"), block_count)
    if heads is None or max(heads) <= 0:
        raise ArchitectureUnknown(f"model_info lacks {arch}.attention.head_count")
    kv_heads = _per_layer(key("attention.head_count_kv"), block_count) or heads
    head_count = max(heads)
    head_dim = embedding_length // head_count
    key_length = _as_int(key("attention.key_length")) or head_dim
    value_length = _as_int(key("attention.value_length")) or head_dim
    return ModelArchitecture(
        architecture=arch,
        block_count=block_count,
        head_count=head_count,
        head_count_kv=kv_heads,
        embedding_length=embedding_length,
        key_length=key_length,
        value_length=value_length,
        context_length=_as_int(key("context_length")),
        parameter_count=_as_int(model_info.get("general.parameter_count")),
    )


def kv_cache_bytes(
    arch: ModelArchitecture,
    num_ctx: int,
    kv_cache_type: KvCacheType = "f16",
    num_parallel: int = 1,
) -> int:
    """KV cache size for `num_ctx` tokens in each of `num_parallel` slots."""
    numerator, denominator = _KV_BYTES[kv_cache_type]
    elements_per_token = sum(arch.head_count_kv) * (arch.key_length + arch.value_length)
    tokens = max(num_ctx, 0) * max(num_parallel, 1)
    return math.ceil(tokens * elements_per_token * numerator / denominator)


def kv_bytes_per_token(arch: ModelArchitecture, kv_cache_type: KvCacheType = "f16") -> float:
    """KV cache bytes per token of context (204,800 for phi4 at f16, 131,072 for phi4-mini)."""
    numerator, denominator = _KV_BYTES[kv_cache_type]
    elements_per_token = sum(arch.head_count_kv) * (arch.key_length + arch.value_length)
    return elements_per_token * numerator / denominator


def compute_buffer_bytes(arch: ModelArchitecture, kv_bytes: int) -> int:
    """Ollama's old phi3 fallback for the compute graph: GQA ratio × KV / 6, at least 0.5 GiB."""
    return max(MIN_COMPUTE_BYTES, math.ceil(arch.gqa_ratio * kv_bytes / 6))


def effective_context(arch: ModelArchitecture, num_ctx: int) -> int:
    """The context Ollama will really allocate: clamped to the trained length, at least 4."""
    if arch.context_length:
        num_ctx = min(num_ctx, arch.context_length)
    return max(num_ctx, 4)


class Fit(StrEnum):
    GPU = "gpu"
    PARTIAL = "partial"
    CPU = "cpu"


@dataclass(frozen=True, slots=True)
class Estimate:
    """Memory needed by one model × quantization × context, and where its layers would go."""

    num_ctx: int  # after clamping to the trained context, as Ollama does
    weights_bytes: int
    kv_bytes_per_token: float  # per token of context in one slot
    kv_cache_bytes: int  # for num_ctx tokens in every parallel slot
    compute_bytes: int
    overhead_bytes: int
    free_vram_bytes: int
    layers_on_gpu: int
    layer_count: int
    fit: Fit

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.overhead_bytes

    @property
    def num_gpu(self) -> int:
        """The `num_gpu` option to request: every layer, N layers, or 0 for CPU only."""
        return self.layers_on_gpu

    @property
    def verdict(self) -> str:
        if self.fit is Fit.GPU:
            return "fits on GPU"
        if self.fit is Fit.PARTIAL:
            return f"partial offload: ~{self.layers_on_gpu} of {self.layer_count} layers"
        return "CPU only (slow)"


def estimate(
    arch: ModelArchitecture,
    weights_bytes: int,
    num_ctx: int,
    kv_cache_type: KvCacheType = "f16",
    num_parallel: int = 1,
    gpus: Sequence[Gpu] = (),
    *,
    gpu_overhead_bytes: int = 0,
) -> Estimate:
    """Estimate memory for a model and place its layers on `gpus` (none: CPU only).

    `weights_bytes` is the model file size (`/api/tags` size, or the catalog's approximate size);
    `gpu_overhead_bytes` is the server's `OLLAMA_GPU_OVERHEAD`, reserved on every GPU.
    """
    num_ctx = effective_context(arch, num_ctx)
    kv = kv_cache_bytes(arch, num_ctx, kv_cache_type, num_parallel)
    compute = compute_buffer_bytes(arch, kv)
    layer_weights = weights_bytes / arch.layer_count
    kv_per_block = kv / arch.block_count
    block_cost = layer_weights + kv_per_block

    # The main GPU (most free memory) also holds the compute buffer.
    ordered = sorted(gpus, key=lambda gpu: gpu.free_bytes, reverse=True)
    reserved = [GPU_OVERHEAD_BYTES[gpu.vendor] + gpu_overhead_bytes for gpu in ordered]
    budgets: list[float] = [
        gpu.free_bytes - reserved[position] - (compute if position == 0 else 0)
        for position, gpu in enumerate(ordered)
    ]
    used: set[int] = set()
    blocks_left = arch.block_count
    for position, budget in enumerate(budgets):
        if blocks_left == 0 or budget < block_cost:
            continue
        blocks = min(blocks_left, int(budget // block_cost))
        blocks_left -= blocks
        budgets[position] -= blocks * block_cost
        used.add(position)
    output_placed = False
    if blocks_left == 0:
        # Like Ollama, the output layer goes last, onto whichever GPU still has room for it.
        for position, budget in enumerate(budgets):
            if budget >= layer_weights:
                output_placed = True
                used.add(position)
                break
    overhead = sum(reserved[position] for position in used)

    layers_on_gpu = arch.block_count - blocks_left + (1 if output_placed else 0)
    if layers_on_gpu == 0:
        fit = Fit.CPU
    elif layers_on_gpu == arch.layer_count:
        fit = Fit.GPU
    else:
        fit = Fit.PARTIAL
    return Estimate(
        num_ctx=num_ctx,
        weights_bytes=weights_bytes,
        kv_bytes_per_token=kv_bytes_per_token(arch, kv_cache_type),
        kv_cache_bytes=kv,
        compute_bytes=compute,
        overhead_bytes=overhead,
        free_vram_bytes=sum(gpu.free_bytes for gpu in gpus),
        layers_on_gpu=layers_on_gpu,
        layer_count=arch.layer_count,
        fit=fit,
    )


@dataclass(frozen=True, slots=True)
class MeasuredSplit:
    """Where a loaded model really sits, from `/api/ps` `size` and `size_vram`."""

    size_bytes: int
    vram_bytes: int

    @property
    def gpu_percent(self) -> int:
        return 100 - self.cpu_percent

    @property
    def cpu_percent(self) -> int:
        if self.size_bytes <= 0 or self.vram_bytes <= 0:
            return 100
        if self.vram_bytes >= self.size_bytes:
            return 0
        return round((self.size_bytes - self.vram_bytes) / self.size_bytes * 100)

    @property
    def text(self) -> str:
        """As `ollama ps` prints it: "100% GPU", "100% CPU" or "48%/52% CPU/GPU"."""
        if self.vram_bytes <= 0 or self.size_bytes <= 0:
            return "100% CPU"
        if self.vram_bytes >= self.size_bytes:
            return "100% GPU"
        return f"{self.cpu_percent}%/{self.gpu_percent}% CPU/GPU"


def measured_split(size: int, size_vram: int) -> MeasuredSplit:
    return MeasuredSplit(size_bytes=size, vram_bytes=size_vram)
