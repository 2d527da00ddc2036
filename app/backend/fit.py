"""The memory cost of a context window for an installed model, in one line for the GUI."""

from __future__ import annotations

from collections.abc import Sequence

from app.backend.hardware import Gpu
from app.backend.memory import ArchitectureUnknown, Estimate, ModelArchitecture, estimate
from app.backend.models import ModelInfo

GIB = 1024**3


def architecture_of(info: ModelInfo) -> ModelArchitecture | None:
    """Estimate facts from `/api/show`, or None when the model does not say enough."""
    if not (info.block_count and info.head_count and info.head_count_kv and info.embedding_length):
        return None
    try:
        return ModelArchitecture.uniform(
            architecture=info.architecture or "unknown",
            block_count=info.block_count,
            head_count=info.head_count,
            head_count_kv=info.head_count_kv,
            embedding_length=info.embedding_length,
            context_length=info.context_length,
            parameter_count=info.parameter_count,
        )
    except ArchitectureUnknown:
        return None


def context_estimate(
    info: ModelInfo, size_bytes: int, num_ctx: int, gpus: Sequence[Gpu] = ()
) -> Estimate | None:
    arch = architecture_of(info)
    if arch is None or size_bytes <= 0:
        return None
    return estimate(arch, size_bytes, num_ctx, gpus=gpus)


def describe_context_cost(
    info: ModelInfo, size_bytes: int, num_ctx: int, gpus: Sequence[Gpu] = ()
) -> str | None:
    """E.g. "KV cache 1.6 GiB, about 10.2 GiB in all: fits on GPU" (None if unknown)."""
    result = context_estimate(info, size_bytes, num_ctx, gpus)
    if result is None:
        return None
    where = result.verdict if gpus else "no GPU found: runs on the CPU"
    return (
        f"{num_ctx:,} tokens need a KV cache of {result.kv_cache_bytes / GIB:.1f} GiB, "
        f"about {result.total_bytes / GIB:.1f} GiB with the model: {where}. "
        "Changing it reloads the model."
    )
