"""Which process a row in progress belongs to, and whether that process is still alive.

A `Database` opened for writing holds an `OwnerLock`: an OS-level lock (`flock` on POSIX,
`msvcrt.locking` on Windows) on a file of its own in `<database name>.owners/` beside the
database. The lock's token is written on the rows it has in progress (an answer `streaming`, the
chats an import has staged). The OS drops the lock when the process ends, however it ends (even
by SIGKILL), so another process tells a crashed writer from a running one by trying to take the
lock: if it can, the owner is gone and its rows may be recovered. There is no timeout to guess: a
model that takes minutes to load does not make a live answer look dead.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".lock"
TOKEN = re.compile(r"[0-9]{1,10}-[0-9a-f]{12}")

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def owners_dir(database: Path) -> Path:
    """The folder of the owners' lock files of `database`."""
    return database.with_name(database.name + ".owners")


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


class OwnerLock:
    """This `Database`'s claim on the rows it has in progress; held until `release`."""

    def __init__(self, token: str, path: Path, fd: int) -> None:
        self.token = token
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: Path) -> OwnerLock:
        """Create and lock a new lock file. Raises OSError when the folder is not writable."""
        folder = owners_dir(database)
        folder.mkdir(mode=0o700, exist_ok=True)
        for _ in range(10):
            token = f"{os.getpid()}-{secrets.token_hex(6)}"
            path = folder / (token + SUFFIX)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            # Another process sweeping dead owners may have locked and removed the new file
            # before this one locked it: then start again with a new file.
            if _try_lock(fd) and _same_file(fd, path):
                return cls(token, path, fd)
            os.close(fd)
        raise OSError(f"could not lock a file in {folder}")  # pragma: no cover

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if sys.platform == "win32":  # pragma: no cover - Windows cannot remove an open file
            os.close(fd)
            self.path.unlink(missing_ok=True)
        else:
            self.path.unlink(missing_ok=True)
            os.close(fd)


def is_alive(database: Path, token: str) -> bool:
    """Whether the owner `token` (read from a row) still holds its lock. A token whose file is
    gone, or that is not a token at all, has no live owner. When the lock file cannot be
    examined, the owner is taken to be alive: its rows are then left as they are."""
    if not TOKEN.fullmatch(token):
        return False
    try:
        fd = os.open(owners_dir(database) / (token + SUFFIX), os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        log.warning("cannot examine the lock of owner %s of %s", token, database, exc_info=True)
        return True
    try:
        return not _try_lock(fd)
    except OSError:  # a file system without locks: then no owner could have taken one either
        log.warning("cannot lock the file of owner %s of %s", token, database, exc_info=True)
        return True
    finally:
        os.close(fd)  # also drops the lock, if it was taken


def sweep(database: Path) -> None:
    """Remove the lock files of owners that are gone (left by processes that were killed)."""
    folder = owners_dir(database)
    try:
        names = [p for p in folder.iterdir() if p.name.endswith(SUFFIX)]
    except OSError:
        return
    for path in names:
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        dead = False
        try:
            dead = _try_lock(fd) and _same_file(fd, path)
            if dead and sys.platform != "win32":
                path.unlink(missing_ok=True)  # while locked, so no new owner can be using it
        except OSError:
            log.debug("cannot remove the stale lock file %s", path, exc_info=True)
        finally:
            os.close(fd)
        if (
            dead and sys.platform == "win32"
        ):  # pragma: no cover - Windows cannot remove an open file
            path.unlink(missing_ok=True)
