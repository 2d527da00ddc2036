"""Install or update PhiDesk's own Ollama: download, check, unpack, try, then switch.

`install_latest()` resolves the latest release, picks the archives for this machine, downloads
and checks each one, unpacks them into `versions/.unpacking-<tag>-<pid>`, renames that folder to
`versions/<tag>` once it is complete, starts the new program on a free port of this computer and
asks it `/api/version`. Only when it answers does the pointer move to it; until then the
previous copy stays current and untouched. A failure at any step removes what that attempt
unpacked, so nothing is ever half-installed; a download in progress stays as `.part` for a
resume.

It blocks (network, disk, a short-lived server) and runs its own event loop for the check, so a
GUI calls it from a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from app.backend.client import parse_version
from app.backend.hardware import GpuVendor, probe_gpus
from app.backend.ollama_setup.download import ProgressCallback, download
from app.backend.ollama_setup.errors import DidNotAnswer, SetupError, UnsafeArchive
from app.backend.ollama_setup.layout import (
    UNPACKING_PREFIX,
    InstalledCopy,
    ManagedOllama,
    find_binary,
    remove_tree,
)
from app.backend.ollama_setup.net import http_client
from app.backend.ollama_setup.releases import (
    Release,
    expected_sha256,
    fetch_latest,
    pick_assets,
)
from app.backend.ollama_setup.unpack import unpack
from app.backend.server import ManagedServer, ServerSettings
from app.errors import PhiDeskError

log = logging.getLogger(__name__)

VERIFY_WAIT = 60.0


@dataclass(frozen=True, slots=True)
class InstallResult:
    copy: InstalledCopy
    previous: InstalledCopy | None
    changed: bool
    """False when the latest release was already the current copy."""


def amd_gpu_present() -> bool:
    """True when an AMD GPU was detected (then the ROCm libraries are installed too)."""
    try:
        probe = probe_gpus()
    except Exception:  # a probe never stops a setup
        log.exception("GPU probe failed")
        return False
    return any(gpu.vendor is GpuVendor.AMD for gpu in probe.gpus)


def install_latest(
    managed: ManagedOllama,
    *,
    release: Release | None = None,
    releases_url: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    amd_gpu: bool | None = None,
    system: str | None = None,
    machine: str | None = None,
    server_running: bool = False,
    log_dir: Path | None = None,
    verify_wait: float = VERIFY_WAIT,
) -> InstallResult:
    """Install the latest release, or update to it; see the module's description.

    `server_running`: the managed copy's server runs now, so its folder is kept after the switch
    (the next install removes it). Raises a `SetupError` with one sentence.
    """
    with managed.locked(), http_client() as http:
        previous = managed.current()
        found = release or fetch_latest(releases_url, client=http)
        if previous is not None and _same_or_newer(previous.tag, found.tag):
            return InstallResult(copy=previous, previous=previous, changed=False)
        assets = pick_assets(
            found,
            system=system,
            machine=machine,
            amd_gpu=amd_gpu_present() if amd_gpu is None else amd_gpu,
        )
        # Leftovers of an interrupted attempt (its unpacking folder) go first: the lock says
        # no other process is unpacking now.
        _sweep(managed, previous)
        archives: list[Path] = []
        for asset in assets:
            sha = expected_sha256(found, asset, client=http)
            archives.append(
                download(
                    asset,
                    managed.downloads / asset.name,
                    sha,
                    progress=progress,
                    cancel=cancel,
                    client=http,
                )
            )
        copy = _unpack_all(managed, found, archives)
        try:
            _check_answers(copy, managed, log_dir or managed.root, verify_wait, previous)
        except BaseException:
            remove_tree(copy.folder)
            raise
        managed.switch_to(copy)
        for archive in archives:
            archive.unlink(missing_ok=True)
        if not server_running:
            managed.prune(keep=copy.folder)
        return InstallResult(copy=copy, previous=previous, changed=True)


def _same_or_newer(current: str, latest: str) -> bool:
    have, want = parse_version(current), parse_version(latest)
    return bool(have) and have >= want


def _sweep(managed: ManagedOllama, previous: InstalledCopy | None) -> None:
    keep = previous.folder if previous is not None else None
    for folder in managed.leftovers(keep):
        if folder.name.startswith(UNPACKING_PREFIX) or previous is None:
            log.info("removing %s, left over from an interrupted install", folder)
            remove_tree(folder)


def _unpack_all(managed: ManagedOllama, release: Release, archives: list[Path]) -> InstalledCopy:
    folder_name = _folder_name(release.tag)
    final = managed.versions / folder_name
    work = managed.versions / f"{UNPACKING_PREFIX}{folder_name}-{os.getpid()}"
    if work.exists():
        remove_tree(work)
    try:
        for archive in archives:
            log.info("unpacking %s into %s", archive, work)
            unpack(archive, work)
        binary = find_binary(work)
        if binary is None:
            raise UnsafeArchive(
                f"the Ollama archive {archives[0].name} holds no ollama program, so PhiDesk "
                "installed nothing"
            )
        if final.exists():
            remove_tree(final)
        os.replace(work, final)
    except BaseException:
        remove_tree(work)
        raise
    return InstalledCopy(tag=release.tag, folder=final, binary=final / binary.relative_to(work))


def _folder_name(tag: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-+" else "_" for c in tag).lstrip(".")
    return cleaned or "release"


def _free_loopback_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def _check_answers(
    copy: InstalledCopy,
    managed: ManagedOllama,
    log_dir: Path,
    wait: float,
    previous: InstalledCopy | None,
) -> None:
    """Start the new copy on a free port, ask `/api/version`, stop it; `DidNotAnswer` if not."""
    import httpx

    url = _free_loopback_url()
    server = ManagedServer(
        ServerSettings(host=url, models_dir=managed.models), log_dir=log_dir, binary=copy.binary
    )
    kept = (
        f"so PhiDesk keeps Ollama {previous.version}"
        if previous is not None
        else "so nothing was installed"
    )

    async def ask() -> str:
        try:
            await server.start(wait=wait)
            async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:
                response = await http.get("/api/version")
                response.raise_for_status()
                version = response.json().get("version")
        finally:
            await server.astop()
        if not isinstance(version, str) or not version:
            raise DidNotAnswer(
                f"the new Ollama {copy.version} did not say its version when asked, {kept}"
            )
        return version

    try:
        version = asyncio.run(ask())
    except SetupError:
        raise
    except (PhiDeskError, httpx.HTTPError, ValueError, OSError) as exc:
        log.info("the new copy %s did not answer: %s", copy.binary, exc)
        raise DidNotAnswer(
            f"the new Ollama {copy.version} did not start on this computer, {kept}; "
            f"see {server.log_path}"
        ) from exc
    log.info("the new copy %s answers as Ollama %s", copy.binary, version)
