"""Friendly model names from the catalog: "Phi-4 mini" for `phi4-mini:latest`, the raw tag kept
as detail. A model the catalog does not know keeps its tag."""

from __future__ import annotations

import logging
import re
from functools import cache

from app.backend.catalog import Catalog, CatalogEntry, default_catalog
from app.errors import PhiDeskError

log = logging.getLogger(__name__)

_SIZE = re.compile(r"\s+\d+(?:\.\d+)?[BM]$")


@cache
def shared_catalog() -> Catalog | None:
    """The catalog shipped with the app (None when it cannot be read: names stay raw)."""
    try:
        return default_catalog()
    except PhiDeskError as exc:
        log.warning("no model catalog for friendly names: %s", exc)
        return None


def family_name(entry: CatalogEntry) -> str:
    """ "Phi-4-mini-reasoning 3.8B" -> "Phi-4 mini reasoning"."""
    name = _SIZE.sub("", entry.display_name.strip())
    head, sep, rest = name.partition("Phi-4-")
    if sep and not head:
        return "Phi-4 " + rest.replace("-", " ")
    return name


def catalog_entry(tag: str, catalog: Catalog | None = None) -> CatalogEntry | None:
    catalog = catalog if catalog is not None else shared_catalog()
    if catalog is None or not tag:
        return None
    match = catalog.lookup(tag)
    return match.entry if match is not None else None


def friendly_name(tag: str, catalog: Catalog | None = None) -> str:
    """The model's name as people say it; the tag itself when the catalog does not know it."""
    entry = catalog_entry(tag, catalog)
    return family_name(entry) if entry is not None else tag
