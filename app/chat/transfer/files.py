"""Export files on disk: reading .md files and .zip archives for import (all checked before any
is imported), and writing a folder, a .zip archive or one .md file for export."""

from __future__ import annotations

import errno
import io
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Final, NamedTuple

from app.chat.transfer.errors import NotAnExport, TransferError
from app.chat.transfer.names import unique_names
from app.chat.transfer.originals import (
    ArchiveOriginals,
    Original,
    OriginalReader,
    archive_originals,
    for_import,
    write_originals,
)
from app.chat.transfer.reader import ParsedExport, parse_markdown, to_import
from app.chat.transfer.sources import read_sources
from app.chat.transfer.writer import chat_to_markdown, stored_attachments
from app.store import Chat, Database, Message
from app.store.attachments import ImportedAttachment


def decode(data: bytes | bytearray, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotAnExport(f"{source} is not a PhiDesk export: it is not UTF-8 text") from None


class _Read(NamedTuple):
    source: str
    export: ParsedExport
    originals: ArchiveOriginals | None
    """The originals of its attached files, when it came from a .zip."""


def read_exports(paths: Iterable[Path]) -> list[tuple[str, ParsedExport]]:
    """Read and check every file first (a .zip contributes each .md inside it), so that one bad
    file imports nothing. Returns (source name, parsed export) pairs. What is read is bounded
    (see `sources`); a file the memory left cannot hold is refused too."""
    return [(read.source, read.export) for read in _read_exports(paths)]


def _read_exports(paths: Iterable[Path]) -> list[_Read]:
    found: list[_Read] = []
    sources = read_sources(paths)
    archives: dict[Path, ArchiveOriginals] = {}
    short_of = ""
    try:
        for source, data, archive in sources:
            try:
                export = _parse(source, data)
                originals = None
                if archive is not None:
                    if archive not in archives:
                        archives[archive] = _archive_originals(archive)
                    originals = archives[archive]
                    originals.check(source, (f for fs in export.attachments.values() for f in fs))
                found.append(_Read(source, export, originals))
            except MemoryError:
                short_of = source
                break
    except BaseException:
        # The traceback keeps this frame alive while the error goes up (and, in the command
        # line, while the workspace closes): let it not keep every chat read so far.
        found.clear()
        raise
    if short_of:
        # Raised once the handler is left: until then the MemoryError's traceback keeps the
        # frames, and the text in them, alive.
        found.clear()
        sources.close()
        raise TransferError(
            f"{short_of} is too large to import with the memory available; nothing was imported"
        )
    return found


def _archive_originals(path: Path) -> ArchiveOriginals:
    try:
        return archive_originals(path)
    except zipfile.BadZipFile:
        raise TransferError(f"{path} is not a readable .zip archive") from None
    except OSError as exc:
        raise TransferError(f"cannot read {path} ({exc.strerror or exc})") from exc


def _parse(source: str, data: bytearray) -> ParsedExport:
    try:
        text = decode(data, source)
    finally:
        data.clear()  # the parsed export keeps slices of the text, never the bytes
    return parse_markdown(text, source=source)


class Imported(list[Chat]):
    """What an import did: the chats it added (the list itself), and in `skipped`, for each chat
    in the files that was imported before (same exported id and creation time), the chat that
    already holds it here; both in the order of the exported ids."""

    def __init__(self, added: Iterable[Chat] = (), skipped: Iterable[Chat] = ()) -> None:
        super().__init__(added)
        self.skipped: list[Chat] = list(skipped)

    def summary(self) -> str:
        """One sentence for the user: "Imported 3 chats (2 already there)." """
        added = f"Imported {len(self):,} chat{'' if len(self) == 1 else 's'}"
        return f"{added} ({len(self.skipped):,} already there)." if self.skipped else f"{added}."


def import_files(db: Database, paths: Iterable[Path | str]) -> Imported:
    """Import PhiDesk exports (.md files, or .zip archives of them) as one import: every file is
    read and checked first (within bounds), then all their chats are stored, all or nothing,
    each only once (a chat imported before is skipped). Nothing is imported if any file is not
    a readable PhiDesk export, or if the import fails or is killed half way."""
    parsed = _read_exports(Path(p) for p in paths)
    # In the order of their exported ids, which is the order they were made in: restored into
    # a new data dir, chats 1 to N get the ids 1 to N again, and their exports the same bytes.
    parsed.sort(key=lambda item: (item.export.chat.id <= 0, item.export.chat.id))
    parsed.reverse()  # popped from the end
    reader = OriginalReader()

    def items() -> Iterator[
        tuple[Chat, Sequence[Message], dict[int, Sequence[ImportedAttachment]]]
    ]:
        # Handed over one by one, so the store's batches are the only ones held twice.
        while parsed:
            _, export, originals = parsed.pop()
            files: dict[int, Sequence[ImportedAttachment]] = {
                position: [
                    to_import(file, original)
                    for file, original in zip(
                        attached, for_import(reader, originals, attached), strict=True
                    )
                ]
                for position, attached in export.attachments.items()
            }
            yield export.chat, export.messages_to_import(), files

    try:
        result = db.import_chats(items())
    except MemoryError:
        parsed.clear()
    else:
        return Imported(result.added, result.skipped)
    finally:
        reader.close()
    raise TransferError(  # once the handler is left, as in `read_exports`
        "these files are too large to import with the memory available; nothing was imported"
    )


def _write_atomically(
    path: Path, write: Callable[[io.BufferedWriter], None], *, replace: bool = True
) -> None:
    """Write into a temporary file beside `path`, then move it into place, so that `path` is
    either whole or untouched (a full disk, an error, a kill half way leave no partial file).
    With `replace` false an existing `path` is never overwritten (FileExistsError)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())  # some file systems only report a full disk here
        if replace:
            os.replace(temporary, path)
        else:
            _move_into_place(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _move_into_place(temporary: str, path: Path) -> None:
    """Give the finished file `temporary` the name `path`, which must not exist yet."""
    try:
        os.link(temporary, path)  # fails if `path` exists, unlike a rename on POSIX
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links (FAT, some network shares).
        if path.exists():
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
        os.rename(temporary, path)
    else:
        os.unlink(temporary)


_DISK_FULL: Final = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


def _failure(destination: Path, exc: OSError, done: str) -> TransferError:
    full = exc.errno in _DISK_FULL
    why = "the disk is full" if full else (exc.strerror or str(exc))
    advice = "free some space or choose another place" if full else "choose another place"
    return TransferError(f"cannot write the export to {destination} ({why}): {done}; {advice}")


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:3])
    return shown if len(names) <= 3 else f"{shown} and {len(names) - 3:,} more"


def render_for_export(
    db: Database,
    chat_id: int,
    *,
    include_thinking: bool = True,
    include_provenance: bool = False,
    exported_at: datetime,
    all_branches: bool = False,
) -> Rendered:
    """One chat and its export text, ready for `write_export`: its active path, or with
    `all_branches` every version, and the originals of its attached files. Raises
    `NotFound`."""
    chat = db.get_chat(chat_id)
    messages = db.all_messages(chat.id) if all_branches else db.messages(chat.id)
    attachments, kept = stored_attachments(db, messages)
    text = chat_to_markdown(
        chat,
        messages,
        include_thinking=include_thinking,
        include_provenance=include_provenance,
        exported_at=exported_at,
        all_branches=all_branches,
        attachments=attachments,
    )
    originals = tuple(
        Original(f.sha256, f.name, partial(_original, db, f.id) if f.sha256 in kept else None)
        for m in messages
        for f in attachments.get(m.id, ())
    )
    return Rendered(chat, text.encode("utf-8"), originals)


def _original(db: Database, attachment_id: int) -> bytes:
    return db.attachment_data(attachment_id)[1]


class Rendered(NamedTuple):
    """A chat ready to be written: its export text, and the originals of its attached files
    (which only a .zip holds)."""

    chat: Chat
    text: bytes
    originals: tuple[Original, ...] = ()


def export_chats(
    db: Database,
    chat_ids: Sequence[int],
    destination: Path | str,
    *,
    include_thinking: bool = True,
    include_provenance: bool = False,
    exported_at: datetime | None = None,
    all_branches: bool = False,
) -> list[Path]:
    """Export chats to files and return what was written (see `write_export` for where): each
    chat's active path, or with `all_branches` every version. Raises `NotFound` for a missing
    chat and `TransferError` when the files cannot be written."""
    moment = exported_at or datetime.now(UTC)
    check_export_target(Path(destination), len(chat_ids))
    rendered = [
        render_for_export(
            db,
            chat_id,
            include_thinking=include_thinking,
            include_provenance=include_provenance,
            exported_at=moment,
            all_branches=all_branches,
        )
        for chat_id in chat_ids
    ]
    return write_export(rendered, destination, exported_at=moment)


def check_export_target(destination: Path, count: int) -> None:
    """Refuse, before any work, a single .md file for several chats."""
    if destination.suffix.lower() == ".md" and count != 1:
        raise TransferError(
            f"{destination} is one Markdown file but {count} chats were chosen; export "
            "them to a folder or a .zip file instead"
        )


def write_export(
    rendered: Sequence[Rendered], destination: Path | str, *, exported_at: datetime
) -> list[Path]:
    """Write rendered chats. `destination` ending in `.zip`: one archive holding a .md per chat
    (replaced if it exists). Ending in `.md`: exactly one chat, written to that file. Anything
    else: a folder (created if needed) that gets one .md per chat, named after its title;
    existing files are never overwritten (the new ones get " (2)" and so on).

    Every file is written whole or not at all. On failure the `TransferError` says what was
    written: nothing, or for a folder the first chats, whose files are complete."""
    destination = Path(destination)
    check_export_target(destination, len(rendered))
    suffix = destination.suffix.lower()
    chats = [r.chat for r in rendered]
    texts = [r.text for r in rendered]
    try:
        if suffix == ".md":
            destination.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(destination, partial(_put, texts[0]))
            return [destination]
        if suffix == ".zip":
            destination.parent.mkdir(parents=True, exist_ok=True)
            stamp = exported_at.astimezone(UTC).timetuple()[:6]

            def write_zip(out: io.BufferedWriter) -> None:
                with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
                    for text, name in zip(texts, unique_names(chats), strict=True):
                        info = zipfile.ZipInfo(name, date_time=stamp)
                        info.compress_type = zipfile.ZIP_DEFLATED
                        archive.writestr(info, text)
                    write_originals(archive, (o for r in rendered for o in r.originals), stamp)

            _write_atomically(destination, write_zip)
            return [destination]
        destination.mkdir(parents=True, exist_ok=True)
        names = unique_names(chats, taken=[p.name for p in destination.iterdir()])
    except OSError as exc:
        raise _failure(destination, exc, "nothing was written") from exc
    return _write_folder(destination, names, texts)


def _write_folder(destination: Path, names: Sequence[str], texts: Sequence[bytes]) -> list[Path]:
    """Write each text to its name in the folder, in order, stopping at the first failure."""
    for done, (text, name) in enumerate(zip(texts, names, strict=True)):
        try:
            _write_atomically(destination / name, partial(_put, text), replace=False)
        except OSError as exc:
            written = (
                f"{done:,} of {len(names):,} chats were written ({_listed(names[:done])}) and "
                f"{len(names) - done:,} were not ({_listed(names[done:])})"
            )
            raise _failure(destination, exc, written if done else "nothing was written") from exc
    return [destination / name for name in names]


def _put(data: bytes, out: io.BufferedWriter) -> None:
    out.write(data)
