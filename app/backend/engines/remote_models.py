"""Models an OpenAI-compatible server lists: which belong to the Phi-4 family, and how long a
context each takes, from what the server says (vLLM `max_model_len`, OpenRouter
`context_length`, GitHub Models `limits.max_input_tokens`, LM Studio `max_context_length`), else
from the catalog's trained length."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.backend.catalog import Catalog, CatalogEntry

CONTEXT_KEYS = ("max_model_len", "context_length", "max_context_length", "context_window")
_NEUTRAL_WORDS = frozenset(
    {"instruct", "gguf", "awq", "gptq", "fp8", "fp16", "bf16", "f16", "f32", "int4", "int8"}
)
_NEUTRAL = re.compile(r"(q\d\w*|iq\d\w*|\d+(\.\d+)?b|latest)")


@dataclass(frozen=True, slots=True)
class RemoteModel:
    """One model a server offers: its id, the context length the server reports (None when it
    does not), and the catalog entry it is, if it is a Phi-4 model the catalog knows."""

    id: str
    context_length: int | None = None
    owned_by: str = ""
    phi4: bool = False
    catalog_name: str | None = None
    trained_context: int | None = None

    @property
    def known_context(self) -> int | None:
        """The server's figure, else the catalog's trained length."""
        return self.context_length or self.trained_context


def _short(model_id: str) -> str:
    name = model_id.strip().casefold().rsplit("/", 1)[-1]
    name = name.removesuffix(".gguf")
    return name.replace("phi-4", "phi4").replace("phi_4", "phi4")


def is_phi4(model_id: str) -> bool:
    return "phi4" in _short(model_id)


def catalog_entry_for(model_id: str, catalog: Catalog) -> CatalogEntry | None:
    """The catalog entry a served id names (`microsoft/Phi-4-mini-instruct` is phi4-mini); None
    for a variant the catalog does not carry (Phi-4-multimodal)."""
    name = _short(model_id)
    for entry in sorted(catalog.entries, key=lambda e: len(e.name), reverse=True):
        if name == entry.name:
            return entry
        if name.startswith((entry.name + "-", entry.name + ":", entry.name + "_")):
            rest = [w for w in re.split(r"[-.:]", name[len(entry.name) + 1 :]) if w]
            if all(w in _NEUTRAL_WORDS or _NEUTRAL.fullmatch(w) for w in rest):
                return entry
    return None


def reported_context(card: Mapping[str, Any]) -> int | None:
    """The context length a model card of `/models` reports, if any."""
    for key in CONTEXT_KEYS:
        value = card.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    limits = card.get("limits")
    if isinstance(limits, Mapping):
        value = limits.get("max_input_tokens")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def remote_model(card: Mapping[str, Any], catalog: Catalog) -> RemoteModel | None:
    """A `RemoteModel` from one card of `/models` (None for a card without an id)."""
    model_id = card.get("id")
    if not isinstance(model_id, str) or not model_id.strip():
        return None
    entry = catalog_entry_for(model_id, catalog)
    owner = card.get("owned_by") or card.get("publisher") or ""
    return RemoteModel(
        id=model_id,
        context_length=reported_context(card),
        owned_by=owner if isinstance(owner, str) else "",
        phi4=is_phi4(model_id),
        catalog_name=entry.name if entry else None,
        trained_context=entry.context_length if entry else None,
    )
