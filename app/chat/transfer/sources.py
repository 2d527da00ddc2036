"""The bytes an import reads, within bounds: .md files, and the .md entries of .zip archives.

Nothing is read that could not be held: every file, and every archive entry, is checked by its
size on record before any is read (an entry also by its compression ratio, which only a zip
bomb reaches), an archive by the size of its table of contents before it is opened; every read
goes a chunk at a time and stops as soon as it passes the limit, whatever the sizes on record
said; and text is refused before it is decoded when it would take too much memory as a Python
string. Encrypted entries and compression methods that cannot be unpacked within bounds are
refused by name. Each refusal is a `TransferError` whose message is one sentence naming the
file.
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
import zlib
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import IO, Final

from app.chat.transfer.errors import DamagedExport, TransferError
from app.chat.transfer.markers import ORIGINALS_FOLDER

MiB: Final = 1 << 20
MAX_FILE_BYTES: Final = 32 * MiB
"""The largest .md file (or .zip entry, unpacked) an import reads."""
MAX_IMPORT_BYTES: Final = 96 * MiB
"""The most .md text one import reads, all files and entries together, and the most memory that
text may take once decoded: everything is read and checked before anything is stored, so all
of it is held at once; with this much, an import stays within 300 MB of memory."""
MAX_TEXT_MEMORY: Final = 2 * MAX_FILE_BYTES
"""The most memory one file's text may take once decoded. Python keeps a string in 1, 2 or 4
bytes a character, by its widest character, so 32 MiB of UTF-8 could take 128 MiB."""
MAX_RATIO: Final = 200
"""An entry of over `RATIO_FLOOR` bytes that unpacks to more than this many times its packed
size is refused: Markdown packs to a third or a tenth, never to a two-hundredth."""
RATIO_FLOOR: Final = 1 * MiB
MAX_ENTRIES: Final = 100_000
"""The most entries an archive may list."""
MAX_DIRECTORY_BYTES: Final = 32 * MiB
"""The largest table of contents (central directory) an archive may have."""
CHUNK: Final = 1 * MiB
_SUPPORTED_METHODS: Final = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
"""What PhiDesk (and every common zip tool) writes. Python unpacks the others (bzip2, LZMA) a
whole read at a time, however large the result, so they cannot be read within bounds."""


def _mib(size: int) -> str:
    return f"{size / MiB:,.0f} MiB" if size >= MiB else f"{size:,} bytes"


class _Budget:
    """What is left of `MAX_IMPORT_BYTES` for the rest of one import: bytes read, or memory."""

    def __init__(self, limit: str = "reads at most {} of chats") -> None:
        self.left = MAX_IMPORT_BYTES
        self.limit = limit.format(_mib(MAX_IMPORT_BYTES))

    def take(self, size: int, source: str) -> None:
        if size > self.left:
            raise TransferError(
                f"{source} is too large to import together with the files before it (one import "
                f"{self.limit}); import the files in parts"
            )
        self.left -= size


_ASTRAL: Final = re.compile(rb"[\xf0-\xf4]")
"""The first bytes of UTF-8 characters past U+FFFF, which Python keeps in 4 bytes."""
_WIDE: Final = re.compile(rb"[\xc4-\xef]")
"""The first bytes of UTF-8 characters from U+0100 to U+FFFF, which Python keeps in 2 bytes."""


def _check_text_memory(data: bytearray, source: str, budget: _Budget) -> None:
    """Refuse text that would take too much memory once decoded, before it is decoded."""
    size = len(data) * (4 if _ASTRAL.search(data) else 2 if _WIDE.search(data) else 1)
    if size > MAX_TEXT_MEMORY:
        raise TransferError(
            f"{source} is too large to import: its text would take up to {_mib(size)} of memory "
            f"once read, and PhiDesk takes at most {_mib(MAX_TEXT_MEMORY)} a file"
        )
    budget.take(size, source)


def _too_large(source: str, size: int, how: str) -> TransferError:
    return TransferError(
        f"{source} is too large to import: it {how} {_mib(size)}, and PhiDesk reads at most "
        f"{_mib(MAX_FILE_BYTES)} a file"
    )


def _read_bounded(stream: IO[bytes], source: str, limit: int) -> bytearray:
    """Read `stream` a chunk at a time; refuse it as soon as it passes `limit` bytes."""
    data = bytearray()
    while chunk := stream.read(CHUNK):
        data += chunk
        if len(data) > limit:
            raise _too_large(source, len(data), "holds more than")
    return data


def _check_directory(path: Path, handle: IO[bytes]) -> None:
    """Refuse an archive whose table of contents is too big to list, before zipfile reads it.
    An archive this cannot make sense of is left for zipfile to judge."""
    handle.seek(0, 2)
    size = handle.tell()
    tail_size = min(size, 22 + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return
    entries, directory = struct.unpack("<HL", tail[at + 10 : at + 16])
    if (entries == 0xFFFF or directory == 0xFFFFFFFF) and at >= 20:
        locator = tail[at - 20 : at]
        if locator[:4] == b"PK\x06\x07":
            (offset,) = struct.unpack("<Q", locator[8:16])
            handle.seek(offset)
            record = handle.read(56)
            if len(record) == 56 and record[:4] == b"PK\x06\x06":
                entries, directory = struct.unpack("<QQ", record[32:48])
    if entries > MAX_ENTRIES or directory > MAX_DIRECTORY_BYTES:
        raise TransferError(
            f"{path} is too large to import: it lists {entries:,} files in "
            f"{_mib(directory)} (PhiDesk reads archives of at most {MAX_ENTRIES:,} files)"
        )


def check_method(info: zipfile.ZipInfo, source: str) -> None:
    """Refuse an entry that cannot be unpacked within bounds (encrypted, or not Deflate)."""
    if info.flag_bits & 0x1:
        raise TransferError(
            f"{source} is not supported: it is encrypted (unpack the archive with its password, "
            "then import the .md files)"
        )
    if info.compress_type not in _SUPPORTED_METHODS:
        raise TransferError(
            f"{source} is not supported: it is packed with compression method "
            f"{info.compress_type}, which PhiDesk does not unpack (re-pack it with Deflate)"
        )


def _check_entry(info: zipfile.ZipInfo, source: str, budget: _Budget) -> None:
    check_method(info, source)
    if info.file_size > MAX_FILE_BYTES:
        raise _too_large(source, info.file_size, "would unpack to")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        raise TransferError(
            f"{source} is not supported: it would unpack to {_mib(info.file_size)} from "
            f"{_mib(info.compress_size)}, {ratio:,} times more, as only zip bombs do in practice "
            "(if it is yours, unpack the archive and import the .md files)"
        )
    budget.take(info.file_size, source)


def _markdown_entries(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and info.filename.lower().endswith(".md")
        and not info.filename.startswith(ORIGINALS_FOLDER)
    ]


def _archive_entries(path: Path, budget: _Budget) -> Iterator[tuple[str, bytearray]]:
    with path.open("rb") as handle:
        _check_directory(path, handle)
        handle.seek(0)
        with zipfile.ZipFile(handle) as archive:
            entries = _markdown_entries(archive)
            for info in entries:
                _check_entry(info, f"{path.name}:{info.filename}", budget)
            for info in entries:
                source = f"{path.name}:{info.filename}"
                yield source, _read_entry(archive, info, source)


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> bytearray:
    try:
        with archive.open(info) as stream:
            return _read_bounded(stream, source, min(info.file_size, MAX_FILE_BYTES))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DamagedExport(f"{source} is damaged: it cannot be unpacked ({exc})") from exc
    except NotImplementedError as exc:
        raise TransferError(f"{source} is not supported: {exc}") from exc


def _file(path: Path, budget: _Budget) -> tuple[str, bytearray]:
    source = str(path)
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise _too_large(source, size, "holds")
        budget.take(size, source)
        # The size on record says nothing about a pipe or a file still growing: the read is
        # bounded as well.
        data = _read_bounded(handle, source, MAX_FILE_BYTES)
    budget.take(max(len(data) - size, 0), source)
    return source, data


def _measure(path: Path, budget: _Budget) -> None:
    """Check `path` against the limits by the sizes on record, reading none of its text."""
    if path.suffix.lower() != ".zip":
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _too_large(str(path), size, "holds")
        budget.take(size, str(path))
        return
    with path.open("rb") as handle:
        _check_directory(path, handle)
        handle.seek(0)
        with zipfile.ZipFile(handle) as archive:
            for info in _markdown_entries(archive):
                _check_entry(info, f"{path.name}:{info.filename}", budget)


def read_sources(paths: Iterable[Path]) -> Generator[tuple[str, bytearray, Path | None]]:
    """(source name, bytes, the archive or None) for each .md file in `paths`, and each .md
    entry of each .zip in them ("archive.zip:inner/name.md"; the originals of attached files
    under `attachments/` are not among them). Every file is checked against the limits by the sizes
    on record before any is read; then each is read within the limits, whatever those sizes
    said. Raises `TransferError` naming the file."""
    paths = list(paths)
    on_record = _Budget()
    for path in paths:
        try:
            _measure(path, on_record)
        except zipfile.BadZipFile:
            raise TransferError(f"{path} is not a readable .zip archive") from None
        except OSError as exc:
            raise TransferError(f"cannot read {path} ({exc.strerror or exc})") from exc
    budget = _Budget()
    memory = _Budget("holds at most {} of text in memory")
    for path in paths:
        short_of_memory = False
        try:
            if path.suffix.lower() == ".zip":
                found: Iterator[tuple[str, bytearray]] = _archive_entries(path, budget)
            else:
                found = iter([_file(path, budget)])
            archive = path if path.suffix.lower() == ".zip" else None
            for source, data in found:
                _check_text_memory(data, source, memory)
                yield source, data, archive
        except zipfile.BadZipFile:
            raise TransferError(f"{path} is not a readable .zip archive") from None
        except OSError as exc:
            raise TransferError(f"cannot read {path} ({exc.strerror or exc})") from exc
        except MemoryError:
            short_of_memory = True
        if short_of_memory:
            # Raised once the handler is left, which frees what the failed read held.
            raise TransferError(
                f"{path} is too large to import with the memory available; nothing was imported"
            )
