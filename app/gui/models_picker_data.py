"""What the model picker lists: a `Section` per engine with its `Choice`s (friendly labels, fit
badges for this computer's engine, capability chips), loaded from every engine of the
workspace, and the `DefaultPick` of a new chat (decision 7)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.backend.catalog import Catalog, CatalogEntry
from app.backend.engines import DEFAULT_ENGINE
from app.backend.engines.remote_models import RemoteModel
from app.backend.hardware import Gpu, probe_gpus
from app.backend.memory import Fit
from app.backend.models import InstalledModel
from app.errors import PhiDeskError
from app.gui.model_names import family_name
from app.workspace import Workspace

log = logging.getLogger(__name__)

RECOMMENDED = "Recommended for this computer"
FIT_BADGES = {Fit.GPU: ("fits GPU", "success"), Fit.PARTIAL: ("part GPU", "warning")}
CPU_BADGE = ("CPU", "neutral")
DEFAULT_NUM_CTX = 4096
OTHER = "Other models"


@dataclass(frozen=True, slots=True)
class Choice:
    """One model in the picker."""

    engine: str
    model: str
    label: str
    detail: str
    family: str = OTHER
    chips: tuple[str, ...] = ()
    badge: tuple[str, str] | None = None
    """(text, accent name) for local engines: how the model fits this computer."""
    installed: bool = True


@dataclass(slots=True)
class Section:
    """An engine's models: its title, whether it runs on this computer, and a sentence when its
    models could not be listed."""

    engine: str
    title: str
    local: bool
    choices: list[Choice] = field(default_factory=list)
    problem: str = ""


@dataclass(frozen=True, slots=True)
class DefaultPick:
    """What a new chat starts with, and why (shown in the picker)."""

    engine: str
    model: str
    why: str
    pull: bool = False
    label: str = ""


# --- labels ----------------------------------------------------------------------------------


def size_text(size: int | None) -> str:
    if not size:
        return ""
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def chips_for(entry: CatalogEntry | None, capabilities: Sequence[str] = ()) -> tuple[str, ...]:
    caps = set(capabilities) | set(entry.capabilities if entry is not None else ())
    found = []
    if (entry is not None and entry.reasoning != "none") or "thinking" in caps:
        found.append("thinking")
    if "tools" in caps:
        found.append("tools")
    return tuple(found)


def context_chip(tokens: int | None) -> tuple[str, ...]:
    """ "128K context" for a remote model whose window is known."""
    if not tokens:
        return ()
    return (f"{tokens // 1024}K context" if tokens >= 1024 else f"{tokens} context",)


def fit_badge(
    entry: CatalogEntry | None, size: int, gpus: Sequence[Gpu] | None
) -> tuple[str, str] | None:
    if entry is None or gpus is None or size <= 0:
        return None
    if not gpus:
        return CPU_BADGE
    from app.backend.memory import estimate

    result = estimate(entry.architecture, size, DEFAULT_NUM_CTX, gpus=gpus)
    return FIT_BADGES.get(result.fit, CPU_BADGE)


def model_label(model: InstalledModel, catalog: Catalog | None = None) -> str:
    """ "Phi-4 mini · Q4_K_M · 2.5 GB" (the tag itself for a model the catalog does not know)."""
    match = catalog.lookup(model.name) if catalog is not None else None
    parts = [family_name(match.entry) if match is not None else model.name]
    if model.quantization:
        parts.append(model.quantization)
    if model.size:
        parts.append(size_text(model.size))
    elif model.parameter_size:
        parts.append(model.parameter_size)
    return " · ".join(parts)


def order_models(models: list[InstalledModel], catalog: Catalog | None) -> list[InstalledModel]:
    """Phi-4 family (catalog order) first, then everything else by name."""

    def key(model: InstalledModel) -> tuple[int, int, str]:
        match = catalog.lookup(model.name) if catalog else None
        if match is None or catalog is None:
            return (1, 0, model.name)
        return (0, catalog.entries.index(match.entry), model.name)

    return sorted(models, key=key)


def local_choices(
    models: list[InstalledModel],
    catalog: Catalog | None,
    gpus: Sequence[Gpu] | None = None,
    engine: str = DEFAULT_ENGINE,
) -> list[Choice]:
    choices = []
    for model in order_models(models, catalog):
        match = catalog.lookup(model.name) if catalog is not None else None
        entry = match.entry if match is not None else None
        choices.append(
            Choice(
                engine=engine,
                model=model.name,
                label=model_label(model, catalog),
                detail=model.name,
                family=family_name(entry) if entry is not None else OTHER,
                chips=chips_for(entry, model.capabilities),
                badge=fit_badge(entry, model.size, gpus),
            )
        )
    return choices


def remote_choices(engine: str, models: list[RemoteModel], catalog: Catalog | None) -> list[Choice]:
    choices = []
    for model in models:
        entry = catalog.entry(model.catalog_name) if catalog and model.catalog_name else None
        label = family_name(entry) if entry is not None else model.id.rsplit("/", 1)[-1]
        detail = model.id
        if model.known_context:
            detail += f" · {model.known_context:,}-token context"
        choices.append(
            Choice(
                engine=engine,
                model=model.id,
                label=label,
                detail=detail,
                family=family_name(entry) if entry is not None else OTHER,
                chips=chips_for(entry) + context_chip(model.known_context),
            )
        )
    return sorted(choices, key=lambda c: (c.family == OTHER, c.family, c.label))


# --- the default of a new chat ---------------------------------------------------------------


def default_pick(
    user_default: str,
    installed: Sequence[InstalledModel],
    catalog: Catalog | None,
    gpus: Sequence[Gpu] | None,
) -> DefaultPick | None:
    """Decision 7: the user's default model, else the catalog's recommended installed variant
    that fits this computer, else the recommended variant to pull."""
    if user_default:
        return DefaultPick(DEFAULT_ENGINE, user_default, "Your default model")
    if catalog is None:
        return None
    from app.gui.ollama_setup_suggest import suggest

    names = {m.name for m in installed} | {m.name.removesuffix(":latest") for m in installed}
    general = [e for e in catalog.entries if e.reasoning == "none"] or list(catalog.entries)
    fitting: list[tuple[int, str]] = []
    for entry in general:
        variant = entry.recommended_variant
        have = next((n for n in variant.names if n in names), None)
        badge = fit_badge(entry, variant.size_bytes or 0, gpus)
        if have is not None and badge is not None and badge[0] == FIT_BADGES[Fit.GPU][0]:
            fitting.append((variant.size_bytes or 0, have))
    if fitting:
        return DefaultPick(DEFAULT_ENGINE, max(fitting)[1], RECOMMENDED)
    found = suggest(catalog, gpus if gpus is not None else [], DEFAULT_NUM_CTX)
    if found is None:
        return None
    have = next((n for n in found.variant.names if n in names), None)
    if have is not None:
        return DefaultPick(DEFAULT_ENGINE, have, RECOMMENDED)
    label = " · ".join(
        (family_name(found.entry), found.variant.quantization, size_text(found.variant.size_bytes))
    )
    return DefaultPick(DEFAULT_ENGINE, found.variant.name, RECOMMENDED, True, label.strip(" ·"))


# --- loading every engine's models -----------------------------------------------------------

_gpus: list[Gpu] | None = None


async def machine_gpus() -> list[Gpu]:
    """This computer's GPUs, probed once per process on a worker thread."""
    global _gpus
    if _gpus is None:
        probe = await asyncio.to_thread(probe_gpus)
        _gpus = list(probe.gpus)
    return _gpus


async def load_sections(
    workspace: Workspace, catalog: Catalog | None, *, gpus: Sequence[Gpu] | None = None
) -> tuple[list[Section], list[InstalledModel]]:
    """A section per engine of `workspace` (a `Workspace`), the default Ollama first, and the
    models installed there. An engine that cannot list its models says why in its section."""
    profiles = workspace.engine_profiles()

    async def local() -> tuple[Section, list[InstalledModel]]:
        section = Section(DEFAULT_ENGINE, "This computer · Ollama", True)
        try:
            installed = await workspace.client.list_models()
        except PhiDeskError as exc:
            section.problem = str(exc)
            return section, []
        section.choices = local_choices(installed, catalog, gpus)
        return section, installed

    async def remote(name: str, kind: str, is_local: bool) -> Section:
        title = f"{name} · {'Ollama' if kind == 'ollama' else 'OpenAI-compatible'}"
        section = Section(name, title, False)
        try:
            models = await workspace.engine_models(name)
        except PhiDeskError as exc:
            section.problem = str(exc)
            return section
        section.choices = remote_choices(name, models, catalog)
        return section

    others = [remote(p.name, p.kind, p.is_local) for p in profiles if not p.is_default]
    (first, installed), rest = await asyncio.gather(local(), asyncio.gather(*others))
    return [first, *rest], installed
