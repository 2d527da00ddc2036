"""What went wrong with the database file, told apart by SQLite's error codes and said in one
true sentence: busy is busy, a full disk is full, a disk error is a disk error, and only a file
that is not a database is called damaged (with its backups named only when there are some).

A full disk shows up in several ways: SQLite's SQLITE_FULL; a disk I/O error when the write of
the database, its log or its shared-memory index (`-shm`) failed for want of space; and EFBIG
when a file-size limit (`ulimit -f`, RLIMIT_FSIZE) is reached. All are reported as full.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
from pathlib import Path

import sqlalchemy as sa

from app.store.errors import DatabaseCorrupt, StoreError

if sys.platform != "win32":
    import resource

SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})
LOW_SPACE = 1024 * 1024
"""Free bytes under which a failed write is taken for a full disk."""
SIZE_LIMIT_MARGIN = 64 * 1024
"""A file this close to the file-size limit cannot take another page (and its -shm index)."""


def sqlite_error(exc: BaseException) -> sqlite3.Error | None:
    """The driver's error inside `exc` (itself, or the one SQLAlchemy wrapped)."""
    if isinstance(exc, sqlite3.Error):
        return exc
    if isinstance(exc, sa.exc.DBAPIError) and isinstance(exc.orig, sqlite3.Error):
        return exc.orig
    return None


def _code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_busy(exc: BaseException) -> bool:
    """Another connection holds the lock this one needs (SQLITE_BUSY or SQLITE_LOCKED)."""
    error = sqlite_error(exc)
    if error is None:
        return False
    code = _code(error)
    if code is not None:
        return code in (SQLITE_BUSY, SQLITE_LOCKED)
    text = str(error)
    return "database is locked" in text or "database table is locked" in text


def _files(path: Path) -> list[Path]:
    return [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))]


def _size_limit_reached(path: Path) -> bool:
    if sys.platform == "win32":  # pragma: no cover - Windows has no RLIMIT_FSIZE
        return False
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit == resource.RLIM_INFINITY:
        return False
    sizes = [f.stat().st_size for f in _files(path) if f.exists()]
    return max(sizes, default=0) + SIZE_LIMIT_MARGIN >= limit


def disk_looks_full(path: Path) -> bool:
    """Whether a failed write at `path` is explained by a full disk or a file-size limit."""
    folder = path.parent
    try:
        stats = os.statvfs(folder) if hasattr(os, "statvfs") else None
    except OSError:
        stats = None
    if stats is not None and stats.f_bavail * stats.f_frsize < LOW_SPACE:
        return True
    return _size_limit_reached(path)


def newest_backup(path: Path) -> Path | None:
    """The newest backup `app.store.migrate.backup` left beside `path`, if any."""
    try:
        found = list(path.parent.glob(f"{path.stem}.backup-*.sqlite3"))
        return max(found, key=lambda p: (p.stat().st_mtime_ns, p.name), default=None)
    except OSError:
        return None


def damaged(path: Path, detail: str) -> DatabaseCorrupt:
    """The file is not a readable PhiDesk database: the advice names a backup only if there
    is one."""
    backup = newest_backup(path)
    restore = f", or restore its newest backup {backup.name}" if backup is not None else ""
    return DatabaseCorrupt(
        f"the file {path} is not a usable PhiDesk database ({detail}); it was left as it is: "
        f"move it aside to start with an empty database{restore}"
    )


def busy(path: Path, waited: float) -> StoreError:
    return StoreError(
        f"the database {path} is busy in another process and stayed so for {waited:g} seconds; "
        "try again when that process has finished"
    )


def full(path: Path) -> StoreError:
    return StoreError(
        f"the disk holding {path} is full (or a file there reached its size limit); free some "
        "space and try again"
    )


def describe(exc: BaseException, path: Path, *, waited: float) -> StoreError | None:
    """The sentence for `exc` met while using the database at `path`, or None when it is not a
    failure of the file, the disk or the lock (then it is a bug, and raised as it is).
    `waited` is how long a busy lock was waited for."""
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        return full(path) if exc.errno in FULL_ERRNOS else None
    error = sqlite_error(exc)
    if error is None:
        return None
    code = _code(error)
    text = str(error)
    if is_busy(error):
        return busy(path, waited)
    if code == SQLITE_FULL or "database or disk is full" in text:
        return full(path)
    if code == SQLITE_IOERR or "disk I/O error" in text:
        if disk_looks_full(path):
            return full(path)
        return StoreError(
            f"reading or writing the database {path} failed with a disk error ({text}); "
            "check the disk and try again"
        )
    if code in (SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM) or (
        "readonly" in text or "unable to open" in text
    ):
        return StoreError(
            f"PhiDesk cannot open or write its database {path} ({text}); check the permissions "
            "of that folder or choose another one with --data-dir"
        )
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB) or "malformed" in text:
        return damaged(path, text)
    return None
