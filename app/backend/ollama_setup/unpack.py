"""Unpack an Ollama archive (`.tgz`, `.tar.zst`, `.zip`) into a folder, refusing anything that
could write outside it.

Refused: absolute paths, `..`, drive letters, links whose target leads outside the folder (or is
absolute), hard links to anything but an earlier member, device files and pipes; more than
`MAX_MEMBERS` entries or `MAX_BYTES` in all. Files are written by this module, byte by byte
counted, so a member that lies about its size cannot pass the bound either. A full disk is
`DiskFull`; the caller removes the half-written folder.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import zstandard

from app.backend.ollama_setup.download import human_size, is_disk_full
from app.backend.ollama_setup.errors import (
    ArchiveTooLarge,
    DiskFull,
    SetupError,
    UnsafeArchive,
)

MAX_MEMBERS = 20_000
MAX_BYTES = 32 * 1024**3
"""Far above any Ollama release (the Linux archive with its GPU libraries unpacks to a few GB)."""
COPY_CHUNK = 1024 * 1024


class _Bounds:
    def __init__(self, archive: str, max_members: int, max_bytes: int) -> None:
        self.archive = archive
        self.max_members = max_members
        self.max_bytes = max_bytes
        self.members = 0
        self.bytes = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise ArchiveTooLarge(
                f"the Ollama archive {self.archive} holds more than {self.max_members} files, "
                "which no Ollama release does, so PhiDesk refused it and installed nothing"
            )

    def add(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.max_bytes:
            raise ArchiveTooLarge(
                f"the Ollama archive {self.archive} unpacks to more than "
                f"{human_size(self.max_bytes)}, which no Ollama release does, so PhiDesk "
                "refused it and installed nothing"
            )


def unpack(
    archive: Path,
    target: Path,
    *,
    max_members: int = MAX_MEMBERS,
    max_bytes: int = MAX_BYTES,
) -> None:
    """Unpack `archive` into the folder `target` (created if needed; existing files are
    overwritten, which is how an add-on archive goes over the main one)."""
    target.mkdir(parents=True, exist_ok=True)
    bounds = _Bounds(archive.name, max_members, max_bytes)
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            _unzip(archive, target, bounds)
        elif name.endswith((".tar.zst", ".tzst")):
            with (
                open(archive, "rb") as raw,
                zstandard.ZstdDecompressor().stream_reader(raw) as stream,
            ):
                _untar(stream, target, bounds)
        elif name.endswith((".tgz", ".tar.gz")):
            with open(archive, "rb") as raw:
                _untar(raw, target, bounds, compression="gz")
        else:
            raise UnsafeArchive(
                f"PhiDesk does not know how to unpack {archive.name}; it unpacks .tar.zst, "
                ".tgz and .zip archives"
            )
        _links_stay_inside(target, archive.name)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFull(
                f"the disk filled up while unpacking {archive.name} into {target.parent}; "
                "free some space and install again (the download is kept)"
            ) from exc
        raise SetupError(
            f"cannot unpack {archive.name} into {target} ({exc.strerror or exc})"
        ) from exc
    except (tarfile.TarError, zipfile.BadZipFile, zstandard.ZstdError, EOFError) as exc:
        raise UnsafeArchive(
            f"the Ollama archive {archive.name} is damaged ({exc}), so PhiDesk installed nothing"
        ) from exc


def _inside(target: Path, member: str, archive: str) -> Path:
    """The path `member` names inside `target`; `UnsafeArchive` if it would leave it."""
    name = member.replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    escapes = (
        name.startswith("/")
        or (len(name) > 1 and name[1] == ":")
        or ".." in parts
        or any(":" in p for p in parts)
    )
    if escapes or not parts:
        raise _escape(archive, member)
    path = target.joinpath(*parts)
    # No member may reach its place through a link unpacked earlier that points elsewhere.
    if not _within(path.parent, target):
        raise _escape(archive, member)
    return path


def _escape(archive: str, member: str) -> UnsafeArchive:
    shown = member if len(member) < 80 else member[:77] + "…"
    return UnsafeArchive(
        f"the Ollama archive {archive} holds a path that leads outside its folder ({shown!r}), "
        "so PhiDesk refused it and installed nothing"
    )


def _check_link(target: Path, member: str, link: str, archive: str) -> None:
    """A symbolic link may only point at something inside `target`, by a relative path."""
    link = link.replace("\\", "/")
    if not link or link.startswith("/") or (len(link) > 1 and link[1] == ":"):
        raise _escape(archive, f"{member} -> {link}")
    base = posixpath.dirname(member.replace("\\", "/"))
    resolved = posixpath.normpath(posixpath.join(base, link))
    if resolved == ".." or resolved.startswith("../") or resolved.startswith("/"):
        raise _escape(archive, f"{member} -> {link}")
    # Through the links already unpacked, as the file system will follow it.
    if not _within(target.joinpath(*base.split("/"), link), target):
        raise _escape(archive, f"{member} -> {link}")


def _within(path: Path, target: Path) -> bool:
    real_target = os.path.realpath(target)
    real = os.path.realpath(path)
    return os.path.commonpath([real, real_target]) == real_target


def _links_stay_inside(target: Path, archive: str) -> None:
    """Every link, once all are in place, still leads to a place inside `target` (a link can
    change where an earlier one leads)."""
    for folder, dirs, files in os.walk(target):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink() and not _within(path, target):
                relative = path.relative_to(target).as_posix()
                raise _escape(archive, f"{relative} -> {os.readlink(path)}")


def _write(source: IO[bytes], path: Path, mode: int, bounds: _Bounds) -> None:
    if path.is_symlink() or path.is_dir():
        _remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        while True:
            block = source.read(COPY_CHUNK)
            if not block:
                break
            bounds.add(len(block))
            out.write(block)
    path.chmod(0o755 if mode & 0o111 else 0o644)


def _symlink(path: Path, link: str) -> None:
    if path.is_symlink() or path.exists():
        _remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(link.replace("\\", "/"), path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _untar(raw: IO[bytes], target: Path, bounds: _Bounds, *, compression: str = "") -> None:
    mode = f"r|{compression}" if compression else "r|"
    with tarfile.open(fileobj=raw, mode=mode) as tar:  # type: ignore[call-overload]
        for member in tar:
            bounds.member()
            path = _inside(target, member.name, bounds.archive)
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - a regular member always has data
                    raise _escape(bounds.archive, member.name)
                with source:
                    _write(source, path, member.mode, bounds)
            elif member.issym():
                _check_link(target, member.name, member.linkname, bounds.archive)
                _symlink(path, member.linkname)
            elif member.islnk():
                source_path = _inside(target, member.linkname, bounds.archive)
                if not source_path.is_file() or source_path.is_symlink():
                    raise _escape(bounds.archive, f"{member.name} -> {member.linkname}")
                with open(source_path, "rb") as source:
                    _write(source, path, member.mode, bounds)
            else:
                raise UnsafeArchive(
                    f"the Ollama archive {bounds.archive} holds a device file or pipe "
                    f"({member.name!r}), which no Ollama release does, so PhiDesk refused it "
                    "and installed nothing"
                )


def _unzip(archive: Path, target: Path, bounds: _Bounds) -> None:
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            bounds.member()
            path = _inside(target, info.filename, bounds.archive)
            unix_mode = info.external_attr >> 16
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
            elif stat.S_ISLNK(unix_mode):
                if info.file_size > 4096:
                    raise _escape(bounds.archive, info.filename)
                link = bundle.read(info).decode("utf-8", errors="replace")
                _check_link(target, info.filename, link, bounds.archive)
                _symlink(path, link)
            else:
                with _opened(bundle, info) as source:
                    _write(source, path, unix_mode or 0o644, bounds)


@contextmanager
def _opened(bundle: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    with bundle.open(info) as source:
        yield source
