"""What a comparison is made of and what it measures: targets (model × engine), the settings every
target shares, the figures measured per target, the marks (fastest, smallest) and the memory
check made before running.

Figures (see `Figures`):
- `ttft_ms`: from the request leaving to the first token (reasoning or answer), with the model's
  load time taken out: Ollama reports it (`load_duration`), and a warm-up run loads the model
  before the request, so a cold model does not make its target look slow.
- `load_ms`: the load time, apart (the warm-up's, else the request's own `load_duration`).
- `prompt_tokens_per_s` and `tokens_per_s`: from Ollama's durations; an OpenAI-compatible
  engine's usage over wall time (the engine computes the same durations from it).
- `gpu_percent`, `memory_bytes`, `vram_bytes`, `context_length`: from Ollama's `/api/ps` right
  after the answer; unknown for other engines.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from app.backend.engines import DEFAULT_ENGINE
from app.backend.fit import GIB, context_estimate
from app.backend.hardware import Gpu
from app.backend.models import InstalledModel, ModelInfo
from app.errors import UsageError
from app.store import ChatSettings
from app.values import ChatStats

log = logging.getLogger(__name__)

MIN_TARGETS = 2
MAX_TARGETS = 4
DEFAULT_SEED = 42
DEFAULT_TEMPERATURE = 0.8
"""Ollama's own default, sent explicitly so that every target gets the same."""


@dataclass(frozen=True, slots=True)
class Target:
    """One column: a model on an engine (a profile name; `ollama` is the default host)."""

    model: str
    engine: str = DEFAULT_ENGINE

    @classmethod
    def parse(cls, spec: str, default_engine: str = DEFAULT_ENGINE) -> Target:
        """`MODEL` or `MODEL@ENGINE`."""
        model, at, engine = spec.strip().rpartition("@")
        if not at:
            model, engine = spec.strip(), default_engine
        if not model or not engine:
            raise UsageError(f"{spec!r} is not a target; write MODEL or MODEL@ENGINE")
        return cls(model, engine)

    @property
    def label(self) -> str:
        return self.model if self.engine == DEFAULT_ENGINE else f"{self.model}@{self.engine}"


def check_targets(targets: Sequence[Target]) -> None:
    if not MIN_TARGETS <= len(targets) <= MAX_TARGETS:
        raise UsageError(
            f"a comparison takes {MIN_TARGETS} to {MAX_TARGETS} targets, not {len(targets)}"
        )
    if len(set(targets)) != len(targets):
        raise UsageError("each target of a comparison must be a different model or engine")


@dataclass(frozen=True, slots=True)
class CompareSettings:
    """What every target gets alike, and how the comparison runs."""

    system_prompt: str = ""
    temperature: float | None = DEFAULT_TEMPERATURE
    seed: int | None = DEFAULT_SEED
    num_ctx: int | None = None
    think: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    parallel: bool = False
    """Run targets on the same Ollama at once (they then share its memory and GPU)."""
    warm_up: bool = False
    """Load each Ollama model before its request, so its load time is not in its figures."""

    def chat_settings(self) -> ChatSettings:
        return ChatSettings(
            num_ctx=self.num_ctx,
            temperature=self.temperature,
            seed=self.seed,
            think=self.think,
            extra=dict(self.extra),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "seed": self.seed,
            "num_ctx": self.num_ctx,
            "think": self.think,
            "extra": dict(self.extra),
            "parallel": self.parallel,
            "warm_up": self.warm_up,
        }

    @classmethod
    def from_json(cls, system_prompt: str, raw: Mapping[str, Any]) -> CompareSettings:
        def number(key: str) -> Any:
            value = raw.get(key)
            return value if isinstance(value, int | float) and not isinstance(value, bool) else None

        extra = raw.get("extra")
        think = raw.get("think")
        seed = number("seed")
        num_ctx = number("num_ctx")
        return cls(
            system_prompt=system_prompt,
            temperature=number("temperature"),
            seed=int(seed) if seed is not None else None,
            num_ctx=int(num_ctx) if num_ctx is not None else None,
            think=think if isinstance(think, bool) else None,
            extra=dict(extra) if isinstance(extra, dict) else {},
            parallel=raw.get("parallel") is True,
            warm_up=raw.get("warm_up") is True,
        )


@dataclass(frozen=True, slots=True)
class Figures:
    """What was measured for one target (each None when unknown)."""

    ttft_ms: float | None = None
    load_ms: float | None = None
    prompt_tokens_per_s: float | None = None
    tokens_per_s: float | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    gpu_percent: int | None = None
    memory_bytes: int | None = None
    vram_bytes: int | None = None
    context_used: int | None = None
    context_length: int | None = None
    answer_chars: int = 0
    wall_ms: float | None = None
    quantization: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Figures:
        known: dict[str, Any] = {}
        for f in fields(cls):
            value = raw.get(f.name)
            if f.name == "quantization":
                known[f.name] = value if isinstance(value, str) else None
            elif isinstance(value, int | float) and not isinstance(value, bool):
                known[f.name] = value
        return cls(**known)


def rate(count: int | None, duration_ns: int | None) -> float | None:
    if not count or not duration_ns or duration_ns <= 0:
        return None
    return count / (duration_ns / 1e9)


def measured(
    stats: ChatStats | None,
    *,
    first_token_s: float | None,
    wall_s: float | None,
    warm_load_ms: float | None,
    answer: str,
    gpu_percent: int | None = None,
    memory_bytes: int | None = None,
    vram_bytes: int | None = None,
    context_length: int | None = None,
    quantization: str | None = None,
) -> Figures:
    """The figures of one answer: the stats of its last chunk, and the times seen here
    (`first_token_s` and `wall_s` from the moment the request left)."""
    request_load = (stats.load_duration_ns or 0) / 1e6 if stats is not None else 0.0
    ttft = None if first_token_s is None else max(0.0, first_token_s * 1000 - request_load)
    load = warm_load_ms if warm_load_ms is not None else (request_load or None)
    return Figures(
        ttft_ms=ttft,
        load_ms=load,
        prompt_tokens_per_s=rate(stats.prompt_eval_count, stats.prompt_eval_duration_ns)
        if stats
        else None,
        tokens_per_s=rate(stats.eval_count, stats.eval_duration_ns) if stats else None,
        prompt_eval_count=stats.prompt_eval_count if stats else None,
        eval_count=stats.eval_count if stats else None,
        gpu_percent=gpu_percent,
        memory_bytes=memory_bytes,
        vram_bytes=vram_bytes,
        context_used=stats.context_used if stats else None,
        context_length=context_length,
        answer_chars=len(answer),
        wall_ms=None if wall_s is None else wall_s * 1000,
        quantization=quantization,
    )


def marks(figures: Sequence[Figures | None]) -> dict[int, tuple[str, ...]]:
    """Per column: "fastest" (the highest generation rate) and "smallest" (the least memory),
    among the columns that have the figure (none when fewer than two do)."""
    found: dict[int, list[str]] = {}

    def mark(name: str, values: dict[int, float], best: Any) -> None:
        if len(values) >= 2:
            winner = best(values, key=lambda i: values[i])
            found.setdefault(winner, []).append(name)

    speeds = {i: f.tokens_per_s for i, f in enumerate(figures) if f and f.tokens_per_s}
    sizes = {i: float(f.memory_bytes) for i, f in enumerate(figures) if f and f.memory_bytes}
    mark("fastest", speeds, max)
    mark("smallest", sizes, min)
    return {i: tuple(names) for i, names in found.items()}


# --- will it fit? -------------------------------------------------------------------------


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """The memory the system can give a program now (Linux's MemAvailable), None if unknown."""
    try:
        text = meminfo.read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024
    return None


def fit_warning(
    model: str,
    info: ModelInfo | None,
    installed: Sequence[InstalledModel],
    num_ctx: int,
    gpus: Sequence[Gpu],
    free_ram: int | None,
) -> str | None:
    """One sentence when the model with this window needs more memory than is free (GPU memory
    and the system's together), else None (also when that cannot be told)."""
    from app.backend.engines.ollama_engine import same_model

    size = next((m.size for m in installed if same_model(m.name, model)), 0)
    if info is None or size <= 0 or free_ram is None:
        return None
    estimate = context_estimate(info, size, num_ctx, gpus)
    if estimate is None:
        return None
    free = free_ram + sum(g.free_bytes for g in gpus)
    if estimate.total_bytes <= free:
        return None
    return (
        f"{model} needs about {estimate.total_bytes / GIB:.1f} GiB with a {num_ctx:,}-token "
        f"window but only {free / GIB:.1f} GiB is free, so it may fail to load or run very slowly"
    )
