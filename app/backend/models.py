"""What the backend reports about models: installed (`/api/tags`), details (`/api/show`) and
loaded (`/api/ps`), as plain dataclasses parsed from Ollama's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# `expires_at` further ahead than this means "kept forever" (keep_alive < 0); the Ollama CLI
# uses the same threshold (docs/ollama-behaviour.md §1.9).
FOREVER_AFTER = timedelta(days=365 * 20)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple) and value:
        # Some architectures give per-layer head counts; the largest is what memory sizing needs.
        numbers = [v for v in (_int(item) for item in value) if v is not None]
        return max(numbers) if numbers else None
    return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_time(value: object) -> datetime | None:
    """Ollama timestamps (up to 9 fractional digits, any offset) as aware datetimes."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, tail = rest[:digits], rest[digits:]
        text = f"{head}.{frac[:6].ljust(6, '0')}{tail}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class InstalledModel:
    """One entry of `/api/tags`."""

    name: str
    size: int
    digest: str
    modified_at: datetime | None
    family: str
    parameter_size: str
    quantization: str
    capabilities: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> InstalledModel:
        details = raw.get("details") or {}
        return cls(
            name=_str(raw.get("model")) or _str(raw.get("name")),
            size=_int(raw.get("size")) or 0,
            digest=_str(raw.get("digest")),
            modified_at=parse_time(raw.get("modified_at")),
            family=_str(details.get("family")),
            parameter_size=_str(details.get("parameter_size")),
            quantization=_str(details.get("quantization_level")),
            capabilities=tuple(_str(c) for c in raw.get("capabilities") or ()),
        )


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """`/api/show`, with the architecture-prefixed `model_info` keys resolved."""

    name: str
    architecture: str
    context_length: int | None
    block_count: int | None
    head_count: int | None
    head_count_kv: int | None
    embedding_length: int | None
    parameter_count: int | None
    family: str
    parameter_size: str
    quantization: str
    capabilities: tuple[str, ...]
    template: str
    system: str
    parameters: str
    license: str = ""

    @property
    def supports_thinking(self) -> bool:
        """Ollama splits the reasoning into `thinking` itself (docs/ollama-behaviour.md §4)."""
        return "thinking" in self.capabilities

    @property
    def template_opens_think(self) -> bool:
        """The template writes `<think>` itself, so the reply starts inside the reasoning."""
        return self.template.rstrip().endswith("<think>")

    @property
    def head_dim(self) -> int | None:
        if self.embedding_length and self.head_count:
            return self.embedding_length // self.head_count
        return None

    @classmethod
    def from_json(cls, name: str, raw: Mapping[str, Any]) -> ModelInfo:
        info: Mapping[str, Any] = raw.get("model_info") or raw.get("modelinfo") or {}
        details: Mapping[str, Any] = raw.get("details") or {}
        arch = _str(info.get("general.architecture")) or _str(details.get("family"))

        def key(suffix: str) -> int | None:
            return _int(info.get(f"{arch}.{suffix}")) if arch else None

        return cls(
            name=name,
            architecture=arch,
            context_length=key("context_length"),
            block_count=key("block_count"),
            head_count=key("attention.head_count"),
            head_count_kv=key("attention.head_count_kv"),
            embedding_length=key("embedding_length"),
            parameter_count=_int(info.get("general.parameter_count")),
            family=_str(details.get("family")),
            parameter_size=_str(details.get("parameter_size")),
            quantization=_str(details.get("quantization_level")),
            capabilities=tuple(_str(c) for c in raw.get("capabilities") or ()),
            template=_str(raw.get("template")),
            system=_str(raw.get("system")),
            parameters=_str(raw.get("parameters")),
            license=_str(raw.get("license")),
        )


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """One entry of `/api/ps`: a model in memory right now."""

    name: str
    size: int
    size_vram: int
    context_length: int | None
    expires_at: datetime | None

    @property
    def gpu_percent(self) -> int:
        """Share of the model in GPU memory, rounded as `ollama ps` rounds it."""
        if self.size <= 0 or self.size_vram <= 0:
            return 0
        if self.size_vram >= self.size:
            return 100
        cpu = round((self.size - self.size_vram) / self.size * 100)
        return 100 - cpu

    def kept_forever(self, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return False
        return self.expires_at - (now or datetime.now(UTC)) > FOREVER_AFTER

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LoadedModel:
        return cls(
            name=_str(raw.get("model")) or _str(raw.get("name")),
            size=_int(raw.get("size")) or 0,
            size_vram=_int(raw.get("size_vram")) or 0,
            context_length=_int(raw.get("context_length")),
            expires_at=parse_time(raw.get("expires_at")),
        )
