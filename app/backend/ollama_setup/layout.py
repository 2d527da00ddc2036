"""Where PhiDesk keeps its own copy of Ollama, and the pointer that says which copy is current.

Everything lives in `<data folder>/ollama/`, never in a system folder:

    current.json        the pointer: {"tag", "folder", "binary"}, replaced atomically
    versions/<tag>/     one unpacked release; `.unpacking-<tag>-<pid>` while it is unpacked
    downloads/          archives (`<name>.part` while downloading), removed once installed
    models/             OLLAMA_MODELS of the managed server (kept by uninstall unless asked)
    state.json          the update check's memory (when it last asked, what was latest)
    install.lock        held while one process installs, updates or uninstalls

A folder under `versions/` that the pointer does not name is left over from an update or an
interrupted install, and is removed by the next one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from app.backend.ollama_setup.errors import InstallBusy
from app.config import Paths

log = logging.getLogger(__name__)

UNPACKING_PREFIX = ".unpacking-"
BINARY_PLACES = (
    "bin/ollama",
    "ollama",
    "Ollama.app/Contents/Resources/ollama",
    "ollama.exe",
    "bin/ollama.exe",
)
"""Where each release archive keeps the program: Linux, the bare macOS/Linux binary, the macOS
app, Windows."""


@dataclass(frozen=True, slots=True)
class InstalledCopy:
    """One unpacked release that the pointer names."""

    tag: str
    folder: Path
    binary: Path

    @property
    def version(self) -> str:
        return self.tag[1:] if self.tag[:1] in ("v", "V") else self.tag


def find_binary(folder: Path) -> Path | None:
    for place in BINARY_PLACES:
        candidate = folder / place
        if candidate.is_file():
            return candidate
    return None


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


class ManagedOllama:
    """PhiDesk's own copy of Ollama in `root` (normally `<data folder>/ollama`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_paths(cls, paths: Paths) -> ManagedOllama:
        return cls(paths.data / "ollama")

    @property
    def versions(self) -> Path:
        return self.root / "versions"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def pointer(self) -> Path:
        return self.root / "current.json"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def current(self) -> InstalledCopy | None:
        """The copy the pointer names, if it is there and has its program."""
        raw = read_json(self.pointer)
        if raw is None:
            return None
        tag, folder, binary = raw.get("tag"), raw.get("folder"), raw.get("binary")
        if not all(isinstance(v, str) and v for v in (tag, folder, binary)):
            return None
        assert isinstance(tag, str) and isinstance(folder, str) and isinstance(binary, str)
        if "/" in folder or "\\" in folder or folder in (".", ".."):
            return None
        place = self.versions / folder
        program = place / binary
        if ".." in Path(binary).parts or not program.is_file():
            return None
        return InstalledCopy(tag=tag, folder=place, binary=program)

    def switch_to(self, copy: InstalledCopy) -> None:
        """Point at `copy` (atomically: a crash leaves the old pointer or the new one)."""
        write_json_atomically(
            self.pointer,
            {
                "tag": copy.tag,
                "folder": copy.folder.name,
                "binary": copy.binary.relative_to(copy.folder).as_posix(),
            },
        )
        log.info("the managed Ollama is now %s (%s)", copy.tag, copy.binary)

    def leftovers(self, keep: Path | None) -> list[Path]:
        """Folders under `versions/` other than `keep`: older copies and interrupted unpacks."""
        try:
            found = [p for p in self.versions.iterdir() if p.is_dir() or p.is_symlink()]
        except OSError:
            return []
        return sorted(p for p in found if keep is None or p.name != keep.name)

    def prune(self, keep: Path | None) -> None:
        """Remove leftovers (best effort: a folder still in use stays for next time)."""
        for folder in self.leftovers(keep):
            log.info("removing %s", folder)
            remove_tree(folder)

    def uninstall(self, *, models: bool) -> list[Path]:
        """Remove the copy, its downloads and its state; the models too when asked. Returns
        what was removed."""
        removed: list[Path] = []
        targets = [self.pointer, self.versions, self.downloads, self.state_file]
        targets.append(self.root / "ollama-serve.log")  # the trial run's log, when no log folder
        if models:
            targets.append(self.models)
        for target in targets:
            if target.exists() or target.is_symlink():
                remove_tree(target)
                removed.append(target)
        with contextlib.suppress(OSError):
            if self.root.is_dir() and not any(
                p for p in self.root.iterdir() if p.name != "install.lock"
            ):
                (self.root / "install.lock").unlink(missing_ok=True)
                self.root.rmdir()
        return removed

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the install lock; `InstallBusy` at once if another process holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "install.lock", "a+b") as handle:
            if not _try_lock(handle):
                raise InstallBusy(
                    "another PhiDesk is installing, updating or removing Ollama right now; "
                    "wait for it to finish and try again"
                )
            try:
                yield
            finally:
                _unlock(handle)


def remove_tree(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(handle: BinaryIO) -> bool:
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: BinaryIO) -> None:
        with contextlib.suppress(OSError):
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: BinaryIO) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(handle: BinaryIO) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
