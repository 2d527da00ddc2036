"""The latest Ollama release: fetched from a GitHub-releases-shaped JSON, and the archive to
install picked for this operating system and processor.

The address is GitHub's API unless `PHIDESK_OLLAMA_RELEASES_URL` names another one with the same
shape (`tag_name`, `assets[].name`, `assets[].browser_download_url`, optional `assets[].size` and
`assets[].digest` as `sha256:<hex>`), so a mirror or a test server can stand in for it.

Which archive: on Linux `ollama-linux-{amd64,arm64}` as `.tar.zst` (newer releases) or `.tgz`,
plus the `-rocm` archive unpacked over it when an AMD GPU was detected; on macOS the app archive
`Ollama-darwin.zip`; on Windows the portable `ollama-windows-{amd64,arm64}.zip`, which needs no
administrator.
"""

from __future__ import annotations

import json
import logging
import os
import platform as platform_module
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.backend.client import parse_version
from app.backend.ollama_setup.errors import (
    ChecksumMissing,
    ReleaseUnreadable,
    UnknownArchitecture,
)
from app.backend.ollama_setup.net import host_of, http_client, status_error, transport_error

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

RELEASES_URL = "https://api.github.com/repos/ollama/ollama/releases/latest"
RELEASES_URL_ENV = "PHIDESK_OLLAMA_RELEASES_URL"
CHECKSUMS_ASSET = "sha256sum.txt"
MAX_RELEASE_JSON = 8 * 1024 * 1024
MAX_CHECKSUMS_FILE = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_SYSTEM_NAMES = {"linux": "Linux", "darwin": "macOS", "windows": "Windows"}


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    url: str
    size: int | None = None
    digest: str | None = None
    """The SHA-256 (lower-case hex) the release API gives for this asset, if any."""


@dataclass(frozen=True, slots=True)
class Release:
    tag: str
    assets: tuple[Asset, ...]

    @property
    def version(self) -> str:
        """The tag without its leading `v`: `v0.6.2` → `0.6.2`."""
        return self.tag[1:] if self.tag[:1] in ("v", "V") else self.tag

    def asset(self, name: str) -> Asset | None:
        return next((a for a in self.assets if a.name == name), None)


def releases_url(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get(RELEASES_URL_ENV, "").strip() or RELEASES_URL


def parse_release(document: object) -> Release:
    """A `Release` from the API's JSON; `ReleaseUnreadable` when it lacks what PhiDesk needs."""
    if not isinstance(document, dict):
        raise ReleaseUnreadable("the Ollama release description is not a JSON object")
    tag = document.get("tag_name")
    if not isinstance(tag, str) or not parse_version(tag):
        raise ReleaseUnreadable(
            f"the Ollama release description has no version tag PhiDesk can read ({tag!r})"
        )
    raw_assets = document.get("assets")
    if not isinstance(raw_assets, list):
        raise ReleaseUnreadable(f"the Ollama release {tag} lists no downloadable files")
    assets: list[Asset] = []
    for raw in raw_assets:
        if not isinstance(raw, dict):
            continue
        name, url = raw.get("name"), raw.get("browser_download_url")
        if not isinstance(name, str) or not isinstance(url, str):
            continue
        if not url.startswith(("https://", "http://")) or "/" in name or "\\" in name:
            continue
        size = raw.get("size")
        digest = raw.get("digest")
        sha: str | None = None
        if isinstance(digest, str) and digest.lower().startswith("sha256:"):
            candidate = digest.split(":", 1)[1].strip()
            sha = candidate.lower() if _SHA256.fullmatch(candidate) else None
        assets.append(
            Asset(
                name=name,
                url=url,
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                digest=sha,
            )
        )
    return Release(tag=tag, assets=tuple(assets))


def fetch_latest(url: str | None = None, *, client: httpx.Client | None = None) -> Release:
    """Ask the releases API for the latest release. Raises a `SetupError` with one sentence."""
    import httpx

    url = url or releases_url()
    what = "the latest Ollama release"
    own = client is None
    http = client or http_client(read_timeout=30.0)
    try:
        with http.stream("GET", url, headers={"Accept": "application/vnd.github+json"}) as response:
            if response.status_code != 200:
                raise status_error(response, what)
            body = _read_capped(response, MAX_RELEASE_JSON, what)
    except httpx.HTTPError as exc:
        raise transport_error(exc, url, what) from exc
    finally:
        if own:
            http.close()
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ReleaseUnreadable(
            f"{host_of(url)} did not answer with a release description (not JSON); check "
            f"{RELEASES_URL_ENV} if you set it"
        ) from exc
    return parse_release(document)


def _read_capped(response: httpx.Response, cap: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > cap:
            raise ReleaseUnreadable(
                f"{host_of(str(response.request.url))} sent more than {cap // 1024} KiB for "
                f"{what}, which is not what the releases API sends"
            )
        chunks.append(chunk)
    return b"".join(chunks)


# --- which archive ------------------------------------------------------------------------


def this_system() -> tuple[str, str]:
    """("linux" | "darwin" | "windows" | other, the processor as the platform names it)."""
    system = "windows" if sys.platform.startswith("win") else sys.platform
    if system.startswith("linux"):
        system = "linux"
    return system, platform_module.machine()


def pick_assets(
    release: Release,
    *,
    system: str | None = None,
    machine: str | None = None,
    amd_gpu: bool = False,
) -> tuple[Asset, ...]:
    """The archives to unpack, in order: the main one, then add-ons (the ROCm libraries)."""
    found_system, found_machine = this_system()
    system = system or found_system
    machine = machine or found_machine
    shown = _SYSTEM_NAMES.get(system, system)
    arch = _ARCHES.get(machine.lower())
    if system not in _SYSTEM_NAMES:
        raise UnknownArchitecture(
            f"Ollama publishes no build for {shown}, so PhiDesk cannot set it up here; "
            "connect to Ollama on another machine instead"
        )
    if arch is None and system != "darwin":
        raise UnknownArchitecture(
            f"Ollama publishes no build for {machine or 'this'} processors on {shown}, so "
            "PhiDesk cannot set it up here; connect to Ollama on another machine instead"
        )
    if system == "linux":
        main = _first(release, f"ollama-linux-{arch}.tar.zst", f"ollama-linux-{arch}.tgz")
        extra = None
        if amd_gpu:
            extra = _first(
                release, f"ollama-linux-{arch}-rocm.tar.zst", f"ollama-linux-{arch}-rocm.tgz"
            )
            if extra is None:
                log.info("release %s has no ROCm archive for %s", release.tag, arch)
        if main is not None:
            return (main,) if extra is None else (main, extra)
    elif system == "darwin":
        main = _first(release, "Ollama-darwin.zip", "ollama-darwin.tgz")
        if main is not None:
            return (main,)
    else:
        main = _first(release, f"ollama-windows-{arch}.zip")
        if main is not None:
            return (main,)
    raise UnknownArchitecture(
        f"the Ollama release {release.tag} has no download for {machine} processors on {shown}, "
        "so PhiDesk cannot set it up here; connect to Ollama on another machine instead"
    )


def _first(release: Release, *names: str) -> Asset | None:
    for name in names:
        found = release.asset(name)
        if found is not None:
            return found
    return None


# --- checksums ----------------------------------------------------------------------------


def parse_checksums(text: str) -> dict[str, str]:
    """`sha256sum` output (`HASH  ./NAME`, `HASH  NAME` or `HASH *NAME`) → {NAME: hash}."""
    sums: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) != 2 or not _SHA256.fullmatch(parts[0]):
            continue
        name = parts[1].strip().lstrip("*")
        name = name.removeprefix("./")
        if name and "/" not in name:
            sums[name] = parts[0].lower()
    return sums


def expected_sha256(release: Release, asset: Asset, *, client: httpx.Client | None = None) -> str:
    """The SHA-256 the release publishes for `asset`: its `digest`, else `sha256sum.txt`."""
    import httpx

    if asset.digest:
        return asset.digest
    listing = release.asset(CHECKSUMS_ASSET)
    if listing is None:
        raise ChecksumMissing(
            f"the Ollama release {release.tag} publishes no checksum for {asset.name}, so "
            "PhiDesk will not install it"
        )
    what = f"the checksums of Ollama {release.tag}"
    own = client is None
    http = client or http_client(read_timeout=30.0)
    try:
        with http.stream("GET", listing.url) as response:
            if response.status_code != 200:
                raise status_error(response, what)
            body = _read_capped(response, MAX_CHECKSUMS_FILE, what)
    except httpx.HTTPError as exc:
        raise transport_error(exc, listing.url, what) from exc
    finally:
        if own:
            http.close()
    found = parse_checksums(body.decode("utf-8", errors="replace")).get(asset.name)
    if found is None:
        raise ChecksumMissing(
            f"the checksums of Ollama {release.tag} do not list {asset.name}, so PhiDesk will "
            "not install it"
        )
    return found
