"""Hatch build hook: ship resources/ in the wheel with KaTeX from npm, never from the repo.

KaTeX is pinned in resources/web/package.json + package-lock.json. The setup script installs it
with `npm ci`; if it is missing when a wheel is built, this hook runs `npm ci` itself, and fails
with a clear message when npm is not available.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ResourcesBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version != "standard":
            return  # editable installs read resources/ from the source tree
        root = Path(self.root)
        resources = root / "resources"
        web = resources / "web"
        katex = web / "node_modules" / "katex" / "dist"
        if not (katex / "katex.min.js").is_file():
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError(
                    "KaTeX is not installed in resources/web and npm was not found; "
                    "install Node.js/npm or run scripts/setup first"
                )
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=web, check=True)
        force = build_data["force_include"]
        for path in sorted(resources.rglob("*")):
            rel = path.relative_to(resources)
            if path.is_file() and "node_modules" not in rel.parts:
                force[str(path)] = f"app/_resources/{rel.as_posix()}"
        for path in sorted(katex.rglob("*")):
            if path.is_file():
                force[str(path)] = f"app/_resources/web/katex/{path.relative_to(katex).as_posix()}"
