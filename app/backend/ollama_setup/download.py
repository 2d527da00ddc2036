"""Download one release archive with progress, Cancel and resume, then check its SHA-256.

The bytes go to `<name>.part` beside the final file. A later attempt asks for the rest with an
HTTP Range request; a server that ignores it (200) or whose file changed (416, or a size that
does not add up) makes PhiDesk start over. The whole file is hashed before it gets its final
name, so a file without `.part` has always been checked once.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.backend.events import PullProgress
from app.backend.ollama_setup.errors import (
    Cancelled,
    ChecksumMismatch,
    DiskFull,
    DownloadFailed,
    NotEnoughSpace,
)
from app.backend.ollama_setup.net import host_of, http_client, status_error, transport_error
from app.backend.ollama_setup.releases import Asset
from app.backend.progress import PullProgressTracker

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
PART_SUFFIX = ".part"
UNPACK_FACTOR = 3
"""Free space to ask for per downloaded byte besides the download itself: a compressed Ollama
archive unpacks to two to three times its size."""
SPACE_MARGIN = 64 * 1024 * 1024

ProgressCallback = Callable[[PullProgress], None]
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})


def human_size(count: float) -> str:
    for unit in ("B", "KB", "MB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


def free_bytes(folder: Path) -> int:
    """Free space for files in `folder` (or its nearest existing parent)."""
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_space(folder: Path, still_to_download: int, archive_size: int) -> None:
    """Refuse before downloading when the download and its unpacked files cannot fit."""
    needed = still_to_download + archive_size * UNPACK_FACTOR + SPACE_MARGIN
    free = free_bytes(folder)
    if free < needed:
        raise NotEnoughSpace(
            f"Ollama needs about {human_size(needed)} free in {folder} to download and unpack, "
            f"but only {human_size(free)} is free; free some space and try again"
        )


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in DISK_FULL_ERRNOS


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def download(
    asset: Asset,
    target: Path,
    sha256: str,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    client: httpx.Client | None = None,
) -> Path:
    """Fetch `asset` to `target` (resuming `target.part`), check it against `sha256`, return
    `target`. A file already at `target` with the right hash is used as it is."""
    if target.is_file():
        if sha256_of(target) == sha256:
            log.info("%s is already downloaded and checked", target)
            return target
        target.unlink()
    part = target.with_name(target.name + PART_SUFFIX)
    target.parent.mkdir(parents=True, exist_ok=True)
    own = client is None
    http = client or http_client()
    try:
        _fetch(asset, part, http, progress, cancel)
    finally:
        if own:
            http.close()
    found = sha256_of(part)
    if found != sha256:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"the downloaded {asset.name} does not match the checksum its release publishes "
            "(it was damaged or altered on the way), so PhiDesk deleted it and installed nothing"
        )
    os.replace(part, target)
    return target


def _fetch(
    asset: Asset,
    part: Path,
    http: httpx.Client,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    import httpx

    what = f"the Ollama archive {asset.name}"
    have = part.stat().st_size if part.is_file() else 0
    if asset.size is not None and have > asset.size:
        part.unlink()
        have = 0
    if asset.size is not None and have == asset.size:
        return
    if asset.size is not None:
        check_space(part.parent, asset.size - have, asset.size)
    headers = {"Range": f"bytes={have}-"} if have else {}
    tracker = PullProgressTracker()
    try:
        with http.stream("GET", asset.url, headers=headers) as response:
            if response.status_code == 416 and have:
                # The server has no bytes past what we hold: done, or the file changed.
                length = _total_from_range(response.headers.get("content-range", ""))
                if length == have:
                    return
                part.unlink()
                raise DownloadFailed(
                    f"{host_of(asset.url)} no longer has the part of {asset.name} PhiDesk "
                    "downloaded before, so it was discarded; try again to download it afresh"
                )
            if response.status_code not in (200, 206):
                raise status_error(response, what)
            resumed = response.status_code == 206
            if not resumed:
                have = 0
            total = _total(response, have, asset.size)
            if total is not None and asset.size is None:
                check_space(part.parent, total - have, total)
            log.info("downloading %s from byte %d of %s", asset.url, have, total)
            mode = "ab" if resumed else "wb"
            _copy(response, part, mode, have, total, asset.name, tracker, progress, cancel)
    except httpx.HTTPError as exc:
        raise transport_error(exc, asset.url, what) from exc
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadFailed(
            f"the download of {asset.name} from {host_of(asset.url)} ended early "
            f"({human_size(size)} of {human_size(total)}); try again and it resumes"
        )


def _copy(
    response: httpx.Response,
    part: Path,
    mode: str,
    have: int,
    total: int | None,
    name: str,
    tracker: PullProgressTracker,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    status = f"downloading {name}"
    done = have
    if progress is not None:
        progress(tracker.update(status, digest=name, total=total, completed=done))
    try:
        with open(part, mode) as handle:
            for chunk in response.iter_bytes(CHUNK):
                if cancel is not None and cancel.is_set():
                    raise Cancelled(
                        f"the download of {name} was cancelled; the {human_size(done)} "
                        "already downloaded are kept, and installing again resumes it"
                    )
                handle.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(tracker.update(status, digest=name, total=total, completed=done))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFull(
                f"the disk filled up while downloading {name} into {part.parent}; free some "
                "space and install again, and the download resumes where it stopped"
            ) from exc
        raise DownloadFailed(
            f"cannot write the download to {part} ({exc.strerror or exc}); check the folder's "
            "permissions"
        ) from exc


def _total(response: httpx.Response, have: int, expected: int | None) -> int | None:
    if response.status_code == 206:
        found = _total_from_range(response.headers.get("content-range", ""))
        if found is not None:
            return found
    length = response.headers.get("content-length", "")
    if length.isdigit():
        return have + int(length) if response.status_code == 206 else int(length)
    return expected


def _total_from_range(header: str) -> int | None:
    """`bytes 100-199/2000` or `bytes */2000` → 2000."""
    _, _, size = header.rpartition("/")
    return int(size) if size.strip().isdigit() else None
