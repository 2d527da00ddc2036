"""Where a model's layers go, and how PhiDesk starts its own `ollama serve`: the user's choices.

Per model (keyed by its normalized name, so `phi4` and `phi4:latest` share one entry):
- GPU layers: Auto (send nothing: Ollama, or llama-server's `--fit`, decides), all layers on the
  GPU, CPU only (`num_gpu: 0`), or N of the model's layers (`num_gpu: N`);
- main GPU: which GPU holds the model (`main_gpu`; Ollama then keeps it on that one GPU).

For a server PhiDesk starts itself (a managed server): flash attention, KV-cache type,
keep-alive and the number of models kept loaded at once; these become `OLLAMA_*` variables of
the `ollama serve` process (`ServerSettings`).

Both are stored as JSON in `offload.json` in the config directory. A damaged file is set aside
(`offload.json.damaged`) and the defaults are used, so the app always starts. No Qt here.

Reload rules (docs/ollama-behaviour.md §2.1, §2.4): a model reloads when a load-time option it is
sent differs from the runner's (`num_gpu` ≥ 0, `main_gpu`); `num_gpu` Auto is not sent and never
forces a reload; server variables only apply when the server restarts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.backend.catalog import normalize_model_name
from app.backend.memory import KV_CACHE_TYPES, KvCacheType, ModelArchitecture, kv_cache_bytes
from app.backend.server import ServerSettings
from app.config import Paths
from app.errors import UsageError

log = logging.getLogger(__name__)

OFFLOAD_FILE = "offload.json"
FORMAT_VERSION = 1
ALL_LAYERS = 999
"""`num_gpu` for "every layer" when the model's layer count is not known: Ollama and llama.cpp
place at most the layers a model has."""

_KEEP_ALIVE = re.compile(r"^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^-?\d+$")


class GpuLayers(StrEnum):
    """How many of a model's layers to put on the GPU."""

    AUTO = "auto"
    ALL = "all"
    CPU = "cpu"
    SOME = "some"


@dataclass(frozen=True, slots=True)
class ModelOffload:
    """One model's offload choice. `count` is N for `SOME`, and the model's layer count for `ALL`
    when it was known (else `ALL_LAYERS` is sent). `main_gpu` is a GPU index or None (Auto)."""

    layers: GpuLayers = GpuLayers.AUTO
    count: int | None = None
    main_gpu: int | None = None

    def __post_init__(self) -> None:
        if self.layers is GpuLayers.SOME and (self.count is None or self.count <= 0):
            raise UsageError("choose at least one layer for the GPU, or CPU only")
        if self.count is not None and self.count <= 0:
            raise UsageError("the number of GPU layers must be positive")
        if self.main_gpu is not None and self.main_gpu < 0:
            raise UsageError("the main GPU index cannot be negative")

    @property
    def num_gpu(self) -> int | None:
        """The `num_gpu` option to send, or None (Auto: send nothing)."""
        if self.layers is GpuLayers.AUTO:
            return None
        if self.layers is GpuLayers.CPU:
            return 0
        if self.layers is GpuLayers.ALL:
            return self.count or ALL_LAYERS
        return self.count

    @property
    def is_default(self) -> bool:
        return self.layers is GpuLayers.AUTO and self.main_gpu is None

    def describe(self, layer_count: int | None = None) -> str:
        """E.g. "20 of 41 layers on the GPU, GPU 1 first"."""
        if self.layers is GpuLayers.AUTO:
            text = "Auto (Ollama decides)"
        elif self.layers is GpuLayers.CPU:
            text = "CPU only"
        elif self.layers is GpuLayers.ALL:
            text = "all layers on the GPU"
        else:
            of = f" of {layer_count}" if layer_count else ""
            text = f"{self.count}{of} layers on the GPU"
        if self.main_gpu is not None:
            text += f", on GPU {self.main_gpu}"
        return text


class FlashAttention(StrEnum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class ManagedServerPreferences:
    """Settings for an `ollama serve` PhiDesk starts. None / AUTO keeps Ollama's own default."""

    flash_attention: FlashAttention = FlashAttention.AUTO
    kv_cache_type: KvCacheType = "f16"
    keep_alive: str | None = None
    max_loaded_models: int | None = None

    def __post_init__(self) -> None:
        if self.kv_cache_type not in KV_CACHE_TYPES:
            raise UsageError(
                f"the KV cache type {self.kv_cache_type!r} is not one Ollama knows; "
                f"choose one of {', '.join(KV_CACHE_TYPES)}"
            )
        if self.keep_alive is not None:
            validate_keep_alive(self.keep_alive)
        if self.max_loaded_models is not None and self.max_loaded_models <= 0:
            raise UsageError("the number of models kept loaded must be at least 1 (or Auto)")

    @property
    def quantized_cache_without_flash_attention(self) -> bool:
        """A q8_0/q4_0 cache needs flash attention; forced off, older Ollama ignores the type."""
        return self.kv_cache_type != "f16" and self.flash_attention is FlashAttention.OFF


def validate_keep_alive(text: str) -> str:
    """`OLLAMA_KEEP_ALIVE` as the server reads it: a Go duration (`10m`, `1h30m`, `-1m` for
    forever) or a bare number of seconds. Returns the trimmed text or raises `UsageError`."""
    value = text.strip()
    if not value or not _KEEP_ALIVE.match(value):
        raise UsageError(
            f"keep-alive {text!r} is not a duration Ollama understands; write it like 5m, 1h, "
            "300 (seconds) or -1 (forever)"
        )
    return value


def kv_cache_saving(arch: ModelArchitecture, num_ctx: int, kv_cache_type: KvCacheType) -> int:
    """Bytes a `kv_cache_type` cache saves over f16 for `num_ctx` tokens (one slot)."""
    return kv_cache_bytes(arch, num_ctx, "f16") - kv_cache_bytes(arch, num_ctx, kv_cache_type)


def model_change_note(before: ModelOffload, after: ModelOffload) -> str | None:
    """What changing a model's offload choice does to a loaded copy, or None for no change."""
    if before == after:
        return None
    if after.num_gpu is None and after.main_gpu is None:
        return (
            "Auto is not sent to Ollama, so a loaded copy keeps its current split until it is "
            "unloaded; the next load lets Ollama decide."
        )
    return "Changing this reloads the model at its next message if it is loaded now."


def server_change_note(
    before: ManagedServerPreferences, after: ManagedServerPreferences
) -> str | None:
    """What changing the managed server's settings does, or None for no change."""
    if before == after:
        return None
    return (
        "This applies when PhiDesk next starts Ollama itself; restarting that server unloads "
        "every model."
    )


@dataclass
class OffloadPreferences:
    """The user's offload choices, loaded from and saved to `offload.json` in `Paths.config`."""

    path: Path
    models: dict[str, ModelOffload] = field(default_factory=dict)
    server: ManagedServerPreferences = field(default_factory=ManagedServerPreferences)

    @classmethod
    def file_for(cls, paths: Paths) -> Path:
        return paths.config / OFFLOAD_FILE

    @classmethod
    def load(cls, paths: Paths) -> OffloadPreferences:
        path = cls.file_for(paths)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            return cls._set_aside(path, f"unreadable ({exc})")
        try:
            return cls._parse(path, raw)
        except (UsageError, TypeError, ValueError, AttributeError) as exc:
            return cls._set_aside(path, str(exc))

    @classmethod
    def _set_aside(cls, path: Path, why: str) -> OffloadPreferences:
        log.warning("offload preferences %s are damaged (%s); using the defaults", path, why)
        with contextlib.suppress(OSError):
            path.replace(path.with_name(path.name + ".damaged"))
        return cls(path)

    @classmethod
    def _parse(cls, path: Path, raw: Any) -> OffloadPreferences:
        if not isinstance(raw, dict) or raw.get("version") != FORMAT_VERSION:
            raise ValueError("not a version 1 offload file")
        models: dict[str, ModelOffload] = {}
        for name, item in (raw.get("models") or {}).items():
            if not isinstance(item, dict):
                raise ValueError(f"entry {name!r} is not an object")
            models[normalize_model_name(str(name))] = ModelOffload(
                layers=GpuLayers(item.get("layers", "auto")),
                count=_optional_int(item.get("count")),
                main_gpu=_optional_int(item.get("main_gpu")),
            )
        server = raw.get("server") or {}
        if not isinstance(server, dict):
            raise ValueError("server settings are not an object")
        keep_alive = server.get("keep_alive")
        return cls(
            path,
            models=models,
            server=ManagedServerPreferences(
                flash_attention=FlashAttention(server.get("flash_attention", "auto")),
                kv_cache_type=server.get("kv_cache_type", "f16"),
                keep_alive=str(keep_alive) if keep_alive is not None else None,
                max_loaded_models=_optional_int(server.get("max_loaded_models")),
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "models": {
                name: {"layers": str(m.layers), "count": m.count, "main_gpu": m.main_gpu}
                for name, m in sorted(self.models.items())
                if not m.is_default
            },
            "server": {
                "flash_attention": str(self.server.flash_attention),
                "kv_cache_type": self.server.kv_cache_type,
                "keep_alive": self.server.keep_alive,
                "max_loaded_models": self.server.max_loaded_models,
            },
        }

    def save(self) -> None:
        """Write atomically: a crash mid-write leaves the previous file intact."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".offload-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_json(), handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --- per model ----------------------------------------------------------------------------

    def for_model(self, model_name: str) -> ModelOffload:
        return self.models.get(normalize_model_name(model_name), ModelOffload())

    def set_model(self, model_name: str, choice: ModelOffload) -> str | None:
        """Remember `choice` for the model; returns what the change does (see
        `model_change_note`)."""
        key = normalize_model_name(model_name)
        before = self.models.get(key, ModelOffload())
        if choice.is_default:
            self.models.pop(key, None)
        else:
            self.models[key] = choice
        return model_change_note(before, choice)

    def options_for(self, model_name: str) -> dict[str, int]:
        """Ollama options to add to a chat request for this model: empty for Auto."""
        choice = self.for_model(model_name)
        options: dict[str, int] = {}
        if choice.num_gpu is not None:
            options["num_gpu"] = choice.num_gpu
        if choice.main_gpu is not None:
            options["main_gpu"] = choice.main_gpu
        return options

    # --- managed server -----------------------------------------------------------------------

    def set_server(self, **changes: Any) -> str | None:
        """Change managed-server settings (fields of `ManagedServerPreferences`); returns what
        the change does, or None when nothing changed. Raises `UsageError` for bad values."""
        before = self.server
        self.server = replace(before, **changes)
        return server_change_note(before, self.server)

    def server_settings(self, host: str) -> ServerSettings:
        """How to start `ollama serve` at `host` with these preferences."""
        prefs = self.server
        flash = {
            FlashAttention.AUTO: None,
            FlashAttention.ON: True,
            FlashAttention.OFF: False,
        }[prefs.flash_attention]
        return ServerSettings(
            host=host,
            flash_attention=flash,
            kv_cache_type=None if prefs.kv_cache_type == "f16" else prefs.kv_cache_type,
            keep_alive=prefs.keep_alive,
            max_loaded_models=prefs.max_loaded_models,
        )


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value
