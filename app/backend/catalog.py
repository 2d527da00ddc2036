"""The Phi-4 family as PhiDesk offers it, read from `resources/catalog/*.json`.

The catalog is data, not code: each family member has its facts (context length, licence,
capabilities, the architecture numbers the memory estimate needs when the model is not installed)
and its quantization variants, from the Ollama library (`phi4:14b-q8_0`) or Hugging Face
(`hf.co/<repo>:<QUANT>`). Installed models are matched back to an entry by name, including
`:latest`, bare names and tag aliases; models the catalog does not know are fine (no match).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from app.backend.hardware import Gpu
from app.backend.memory import (
    ArchitectureUnknown,
    Estimate,
    KvCacheType,
    ModelArchitecture,
    architecture_from_model_info,
    estimate,
)
from app.errors import PhiDeskError
from app.resources import resources_dir

SCHEMA_VERSION = 1
CATALOG_FILE = "phi4-family.json"

VariantSource = Literal["ollama", "huggingface"]
Reasoning = Literal["none", "inline-think", "thinking-field"]

_REGISTRY_PREFIXES = ("registry.ollama.ai/library/", "registry.ollama.ai/", "library/")
_HF_HOSTS = ("huggingface.co/", "hf.co/")


class CatalogError(PhiDeskError):
    """The catalog file is missing or malformed (a broken installation)."""


@dataclass(frozen=True, slots=True)
class Variant:
    """One pullable quantization of a model. `name` is what to pull."""

    name: str
    source: VariantSource
    quantization: str
    size_bytes: int | None
    size_approximate: bool
    aliases: tuple[str, ...] = ()
    recommended: bool = False
    note: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One member of the family (phi4, phi4-mini, …) with its variants."""

    name: str
    display_name: str
    ollama_model: str
    good_for: str
    licence: str
    capabilities: tuple[str, ...]
    reasoning: Reasoning
    context_length: int
    architecture: ModelArchitecture
    variants: tuple[Variant, ...]

    @property
    def recommended_variant(self) -> Variant:
        return next((v for v in self.variants if v.recommended), self.variants[0])

    def variants_from(self, source: VariantSource) -> tuple[Variant, ...]:
        return tuple(v for v in self.variants if v.source == source)

    def variant_for_quantization(
        self, quantization: str, source: VariantSource = "ollama"
    ) -> Variant | None:
        """The variant with that quantization (`Q4_K_M`, `q8_0`, `F16`…), preferring `source`."""
        wanted = quantization.strip().casefold()
        matches = [v for v in self.variants if v.quantization.casefold() == wanted]
        preferred = [v for v in matches if v.source == source]
        candidates = preferred or matches
        return candidates[0] if candidates else None


@dataclass(frozen=True, slots=True)
class CatalogMatch:
    """An installed or typed model name resolved to its entry; `variant` is None when the tag is
    not one the catalog lists (a custom tag, or a quantization it does not carry)."""

    entry: CatalogEntry
    variant: Variant | None


def normalize_model_name(name: str) -> str:
    """Canonical form for comparing names: lower case, default registry prefix removed,
    `huggingface.co/` as `hf.co/`, and `:latest` when no tag is given."""
    text = name.strip().casefold()
    for prefix in _REGISTRY_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    if text.startswith(_HF_HOSTS[0]):
        text = _HF_HOSTS[1] + text[len(_HF_HOSTS[0]) :]
    base, tag = split_tag(text)
    return f"{base}:{tag or 'latest'}"


def split_tag(name: str) -> tuple[str, str]:
    """`("hf.co/a/b", "Q4_K_M")` from `hf.co/a/b:Q4_K_M`; the tag is "" when there is none."""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, ""


def _common_prefix(a: str, b: str) -> int:
    count = 0
    for left, right in zip(a, b, strict=False):
        if left != right:
            break
        count += 1
    return count


class Catalog:
    """The loaded catalog: entries in display order, and name lookup."""

    def __init__(self, entries: Sequence[CatalogEntry]) -> None:
        self.entries: tuple[CatalogEntry, ...] = tuple(entries)
        self._by_name: dict[str, tuple[CatalogEntry, Variant]] = {}
        self._tags_by_base: dict[str, list[tuple[CatalogEntry, str]]] = {}
        for entry in self.entries:
            for variant in entry.variants:
                for name in variant.names:
                    key = normalize_model_name(name)
                    if key in self._by_name:
                        raise CatalogError(f"The model catalog lists {name} twice")
                    self._by_name[key] = (entry, variant)
                    base, tag = split_tag(key)
                    self._tags_by_base.setdefault(base, []).append((entry, tag))
            base = split_tag(normalize_model_name(entry.ollama_model))[0]
            self._tags_by_base.setdefault(base, []).append((entry, ""))

    def entry(self, name: str) -> CatalogEntry | None:
        """The entry called `name` (`phi4-mini`, `phi4-reasoning-plus`…)."""
        return next((e for e in self.entries if e.name == name), None)

    def lookup(self, model_name: str) -> CatalogMatch | None:
        """Resolve an installed or typed model name to its catalog entry and variant, if any."""
        key = normalize_model_name(model_name)
        exact = self._by_name.get(key)
        if exact is not None:
            return CatalogMatch(entry=exact[0], variant=exact[1])
        base, tag = split_tag(key)
        # Same model, tag not listed: pick the entry whose tags look most like this one
        # (`phi4-reasoning:14b-plus-q5_K_M` belongs to reasoning-plus, not reasoning).
        best: tuple[int, CatalogEntry] | None = None
        for entry, known_tag in self._tags_by_base.get(base, []):
            score = _common_prefix(tag, known_tag)
            if best is None or score > best[0]:
                best = (score, entry)
        return CatalogMatch(entry=best[1], variant=None) if best else None


def architecture_for(
    model_info: Mapping[str, object] | None, match: CatalogMatch | None
) -> ModelArchitecture | None:
    """Facts for the estimate: from `/api/show` `model_info` when the model is installed and its
    keys are readable, else from the catalog entry, else None (cannot estimate)."""
    if model_info:
        try:
            return architecture_from_model_info(model_info)
        except ArchitectureUnknown:
            pass
    return match.entry.architecture if match is not None else None


def estimate_variant(
    entry: CatalogEntry,
    variant: Variant,
    num_ctx: int,
    kv_cache_type: KvCacheType = "f16",
    num_parallel: int = 1,
    gpus: Sequence[Gpu] = (),
    *,
    gpu_overhead_bytes: int = 0,
) -> Estimate | None:
    """The memory estimate for a catalog variant that is not installed; None when the catalog
    does not know its size."""
    if variant.size_bytes is None:
        return None
    return estimate(
        entry.architecture,
        variant.size_bytes,
        num_ctx,
        kv_cache_type,
        num_parallel,
        gpus,
        gpu_overhead_bytes=gpu_overhead_bytes,
    )


# --- loading -------------------------------------------------------------------------------------


def _require(mapping: Mapping[str, object], key: str, kind: type, where: str) -> object:
    value = mapping.get(key)
    if kind is int and isinstance(value, bool):
        value = None
    if not isinstance(value, kind):
        raise CatalogError(f"The model catalog is damaged: {where} needs {key!r} ({kind.__name__})")
    return value


def _str(mapping: Mapping[str, object], key: str, where: str) -> str:
    value = cast(str, _require(mapping, key, str, where))
    if not value.strip():
        raise CatalogError(f"The model catalog is damaged: {where} has an empty {key!r}")
    return value


def _int(mapping: Mapping[str, object], key: str, where: str) -> int:
    value = cast(int, _require(mapping, key, int, where))
    if value <= 0:
        raise CatalogError(f"The model catalog is damaged: {where} has {key!r} = {value}")
    return value


def _strings(mapping: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    value = mapping.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CatalogError(f"The model catalog is damaged: {where} {key!r} must list strings")
    return tuple(cast(list[str], value))


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise CatalogError(f"The model catalog is damaged: {where} must be an object")
    return cast(Mapping[str, object], value)


def _parse_variant(raw: object, where: str) -> Variant:
    data = _mapping(raw, where)
    name = _str(data, "name", where)
    where = f"variant {name}"
    source = _str(data, "source", where)
    if source not in ("ollama", "huggingface"):
        raise CatalogError(f"The model catalog is damaged: {where} has source {source!r}")
    size = data.get("size_bytes")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
        raise CatalogError(f"The model catalog is damaged: {where} has size_bytes {size!r}")
    note = data.get("note")
    return Variant(
        name=name,
        source=cast(VariantSource, source),
        quantization=_str(data, "quantization", where),
        size_bytes=size,
        size_approximate=bool(data.get("size_approximate", True)),
        aliases=_strings(data, "aliases", where),
        recommended=data.get("recommended") is True,
        note=note if isinstance(note, str) else None,
    )


def _parse_entry(raw: object, index: int) -> CatalogEntry:
    data = _mapping(raw, f"model #{index + 1}")
    name = _str(data, "name", f"model #{index + 1}")
    where = f"model {name}"
    arch = _mapping(data.get("architecture"), f"{where} architecture")
    context_length = _int(data, "context_length", where)
    architecture = ModelArchitecture.uniform(
        architecture=_str(arch, "name", where),
        block_count=_int(arch, "block_count", where),
        head_count=_int(arch, "head_count", where),
        head_count_kv=_int(arch, "head_count_kv", where),
        embedding_length=_int(arch, "embedding_length", where),
        key_length=cast(int | None, arch.get("key_length")),
        value_length=cast(int | None, arch.get("value_length")),
        context_length=context_length,
        parameter_count=_int(arch, "parameter_count", where),
    )
    raw_variants = data.get("variants")
    if not isinstance(raw_variants, list) or not raw_variants:
        raise CatalogError(f"The model catalog is damaged: {where} lists no variants")
    reasoning = _str(data, "reasoning", where)
    if reasoning not in ("none", "inline-think", "thinking-field"):
        raise CatalogError(f"The model catalog is damaged: {where} has reasoning {reasoning!r}")
    return CatalogEntry(
        name=name,
        display_name=_str(data, "display_name", where),
        ollama_model=_str(data, "ollama_model", where),
        good_for=_str(data, "good_for", where),
        licence=_str(data, "licence", where),
        capabilities=_strings(data, "capabilities", where),
        reasoning=cast(Reasoning, reasoning),
        context_length=context_length,
        architecture=architecture,
        variants=tuple(_parse_variant(v, f"{where} variant") for v in raw_variants),
    )


def parse_catalog(document: object) -> list[CatalogEntry]:
    """Typed entries from one catalog document (the parsed JSON)."""
    data = _mapping(document, "the catalog")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CatalogError(
            f"The model catalog has format version {version!r}; this PhiDesk reads version "
            f"{SCHEMA_VERSION}. Reinstall PhiDesk."
        )
    models = data.get("models")
    if not isinstance(models, list):
        raise CatalogError("The model catalog is damaged: it lists no models")
    return [_parse_entry(raw, index) for index, raw in enumerate(models)]


def load_catalog(paths: Iterable[Path] | None = None) -> Catalog:
    """Read catalog files (default: the one shipped in `resources/catalog/`)."""
    files = list(paths) if paths is not None else [catalog_dir() / CATALOG_FILE]
    entries: list[CatalogEntry] = []
    for path in files:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CatalogError(
                f"The model catalog {path.name} cannot be read ({exc.strerror}); reinstall PhiDesk"
            ) from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CatalogError(
                f"The model catalog {path.name} is not valid JSON; reinstall PhiDesk"
            ) from exc
        entries += parse_catalog(document)
    return Catalog(entries)


def catalog_dir() -> Path:
    return resources_dir() / "catalog"


@functools.cache
def default_catalog() -> Catalog:
    """The shipped catalog, read once."""
    return load_catalog()
