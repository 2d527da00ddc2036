"""The original bytes of attached files in a .zip export: `attachments/<sha256>/<name>` beside
the chats' .md files, once per file however many messages carry it. A file whose original this
PhiDesk does not keep (it came from a Markdown export alone) is an empty folder
`attachments/<sha256>/`, so that its absence is on record and not a file gone missing.

On import, every entry under `attachments/` must be one of these two (anything else, e.g. a
name that leaves its folder, refuses the archive), every file a chat in the archive names must
be there, with the size its chat gives, and its bytes must match its SHA-256 as they are read.
An original is read a piece at a time straight into the database (SQLite still builds its row
in memory, hence `MAX_ORIGINAL_BYTES`)."""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Final, NamedTuple

from app.chat.transfer.attached import AttachedFile, is_sha256
from app.chat.transfer.errors import DamagedExport, TransferError
from app.chat.transfer.markers import ORIGINALS_FOLDER
from app.chat.transfer.names import file_stem
from app.chat.transfer.sources import CHUNK, MiB, check_method

FOLDER: Final = ORIGINALS_FOLDER
MAX_ORIGINAL_BYTES: Final = 50 * MiB
"""The largest original an import takes: the default limit for attaching. SQLite builds the
row of an original in memory twice over (its bytes are not the row's last column), so this is
what keeps an import within its 300 MB."""


class Original(NamedTuple):
    """An attached file's original for a .zip export (`load` None: not kept here)."""

    sha256: str
    name: str
    load: Callable[[], bytes] | None


def write_originals(
    archive: zipfile.ZipFile, originals: Iterable[Original], stamp: tuple[int, ...]
) -> None:
    """Add each original once (by SHA-256), in the order given."""
    seen: set[str] = set()
    for original in originals:
        if original.sha256 in seen:
            continue
        seen.add(original.sha256)
        folder = FOLDER + original.sha256 + "/"
        if original.load is None:
            archive.writestr(zipfile.ZipInfo(folder, date_time=stamp[:6]), b"")  # type: ignore[arg-type]
            continue
        info = zipfile.ZipInfo(
            folder + file_stem(original.name, fallback="file"),
            date_time=stamp[:6],  # type: ignore[arg-type]
        )
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, original.load())


def _shown(name: str) -> str:
    cleaned = "".join(c if c.isprintable() else "\ufffd" for c in name)
    return cleaned if len(cleaned) <= 160 else cleaned[:160] + "…"


class ArchiveOriginals:
    """The originals an archive holds, checked by their names and sizes on record."""

    def __init__(self, path: Path, archive: zipfile.ZipFile) -> None:
        self.path = path
        self.entries: dict[str, zipfile.ZipInfo | None] = {}
        """By SHA-256: the entry holding the original, or None for an empty folder."""
        for info in archive.infolist():
            if not info.filename.startswith(FOLDER):
                continue
            source = f"{path.name}:{_shown(info.filename)}"
            sha256, _, name = info.filename[len(FOLDER) :].partition("/")
            fine = is_sha256(sha256) and "/" not in name and "\\" not in name
            if not fine or name in (".", "..") or info.filename == FOLDER + sha256:
                raise TransferError(
                    f"{source} is not supported: an attached file's original must be "
                    f"{FOLDER}<SHA-256>/<name>, and this name leaves its folder"
                )
            if sha256 in self.entries and (name or self.entries[sha256] is None):
                raise DamagedExport(f"{source} is damaged: the archive holds that file twice")
            if not name:
                self.entries.setdefault(sha256, None)
                continue
            check_method(info, source)
            if info.file_size > MAX_ORIGINAL_BYTES:
                raise TransferError(
                    f"{source} is too large to import: it would unpack to "
                    f"{info.file_size / MiB:,.0f} MiB, and PhiDesk takes originals of at most "
                    f"{MAX_ORIGINAL_BYTES // MiB} MiB"
                )
            self.entries[sha256] = info

    def check(self, source: str, files: Iterable[AttachedFile]) -> None:
        """Refuse a chat whose files are not all in the archive as its text says."""
        for file in files:
            if file.sha256 not in self.entries:
                raise DamagedExport(
                    f"{source} is damaged: it names the attached file {_shown(file.name)!r} "
                    f"(SHA-256 {file.sha256[:12]}…), which is not in {self.path.name}"
                )
            info = self.entries[file.sha256]
            if info is not None and info.file_size != file.size:
                raise DamagedExport(
                    f"{self.path.name}:{_shown(info.filename)} is damaged: it holds "
                    f"{info.file_size:,} bytes where its chat says {file.size:,}"
                )


class OriginalReader:
    """Reads originals from the archives of one import; `close` when the import is done."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._open: dict[Path, zipfile.ZipFile] = {}

    def pieces(
        self, path: Path, info: zipfile.ZipInfo, file: AttachedFile
    ) -> Callable[[], Iterator[bytes]]:
        return lambda: self._read(path, info, file)

    def _read(self, path: Path, info: zipfile.ZipInfo, file: AttachedFile) -> Iterator[bytes]:
        source = f"{path.name}:{_shown(info.filename)}"
        archive = self._open.get(path)
        if archive is None:
            archive = self._stack.enter_context(zipfile.ZipFile(path))
            self._open[path] = archive
        digest = hashlib.sha256()
        size = 0
        try:
            with archive.open(info) as stream:
                while piece := stream.read(CHUNK):
                    size += len(piece)
                    if size > file.size:
                        break
                    digest.update(piece)
                    yield piece
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise DamagedExport(f"{source} is damaged: it cannot be unpacked ({exc})") from exc
        if size != file.size or digest.hexdigest() != file.sha256:
            raise DamagedExport(
                f"{source} is damaged: its bytes do not match the SHA-256 its chat gives "
                f"({file.sha256[:12]}…)"
            )

    def close(self) -> None:
        self._stack.close()


def archive_originals(path: Path) -> ArchiveOriginals:
    with zipfile.ZipFile(path) as archive:
        return ArchiveOriginals(path, archive)


def for_import(
    reader: OriginalReader,
    found: ArchiveOriginals | None,
    files: Sequence[AttachedFile],
) -> list[Callable[[], Iterator[bytes]] | None]:
    """How to read each file's original (None: not available)."""
    if found is None:
        return [None] * len(files)
    result: list[Callable[[], Iterator[bytes]] | None] = []
    for file in files:
        info = found.entries.get(file.sha256)
        result.append(None if info is None else reader.pieces(found.path, info, file))
    return result
