from __future__ import annotations

from app.backend.fit import architecture_of, describe_context_cost
from app.backend.hardware import Gpu, GpuVendor
from app.backend.models import ModelInfo

GIB = 1024**3


def phi4_info() -> ModelInfo:
    return ModelInfo.from_json(
        "phi4:latest",
        {
            "model_info": {
                "general.architecture": "phi3",
                "phi3.context_length": 16384,
                "phi3.block_count": 40,
                "phi3.attention.head_count": 40,
                "phi3.attention.head_count_kv": 10,
                "phi3.embedding_length": 5120,
            },
            "details": {"quantization_level": "Q4_K_M"},
            "capabilities": ["completion"],
        },
    )


def test_phi4_kv_cost_follows_the_reference_200_kib_per_token() -> None:
    arch = architecture_of(phi4_info())
    assert arch is not None
    text = describe_context_cost(phi4_info(), int(9.1 * GIB), 8192)
    assert text is not None
    # 8192 tokens x 200 KiB = 1.5625 GiB
    assert "KV cache of 1.6 GiB" in text
    assert "runs on the CPU" in text


def test_a_24_gib_gpu_holds_phi4_at_8k_and_an_8_gib_one_does_not() -> None:
    def gpu(free_gib: float) -> Gpu:
        return Gpu(
            index=0,
            name="test",
            vendor=GpuVendor.NVIDIA,
            total_bytes=int(free_gib * GIB),
            free_bytes=int(free_gib * GIB),
        )

    big = describe_context_cost(phi4_info(), int(9.1 * GIB), 8192, [gpu(24)])
    small = describe_context_cost(phi4_info(), int(9.1 * GIB), 8192, [gpu(8)])
    assert big is not None and "fits on GPU" in big
    assert small is not None and "partial offload" in small


def test_unknown_shape_gives_no_estimate() -> None:
    bare = ModelInfo.from_json("x", {"model_info": {"general.architecture": "llama"}})
    assert architecture_of(bare) is None
    assert describe_context_cost(bare, GIB, 4096) is None
