"""Find PhiDesk's data files: in the source tree, in an installed wheel, or in a frozen bundle."""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(candidates: list[Path]) -> Path | None:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return None


def _bundle_root() -> Path | None:
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if isinstance(frozen, str) else None


def resources_dir() -> Path:
    """The `resources/` folder (web page, icons, catalog data)."""
    bundle = _bundle_root()
    candidates = [bundle / "resources"] if bundle else []
    candidates += [_PACKAGE / "_resources", _PACKAGE.parent / "resources"]
    found = _first_existing(candidates)
    if found is None:
        raise FileNotFoundError("PhiDesk's resources folder is missing; reinstall PhiDesk")
    return found


def migrations_dir() -> Path:
    """The Alembic `migrations/` folder."""
    bundle = _bundle_root()
    candidates = [bundle / "migrations"] if bundle else []
    candidates += [_PACKAGE / "_migrations", _PACKAGE.parent / "migrations"]
    found = _first_existing(candidates)
    if found is None:
        raise FileNotFoundError("PhiDesk's database migrations are missing; reinstall PhiDesk")
    return found


def katex_dir() -> Path | None:
    """KaTeX's `dist/` folder (katex.min.js, CSS, fonts), or None when it was not installed.

    Installed wheels and bundles carry it as `web/katex`; a source checkout has it under
    `web/node_modules/katex/dist` once `npm ci` has run in resources/web.
    """
    web = resources_dir() / "web"
    for candidate in (web / "katex", web / "node_modules" / "katex" / "dist"):
        if (candidate / "katex.min.js").is_file():
            return candidate
    return None
