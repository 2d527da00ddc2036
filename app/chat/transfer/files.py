"""Export files on disk: reading .md files and .zip archives for import (all checked before any
is imported), and writing a folder, a .zip archive or one .md file for export."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from app.chat.transfer.errors import NotAnExport, TransferError
from app.chat.transfer.names import unique_names
from app.chat.transfer.reader import ParsedExport, parse_markdown
from app.chat.transfer.sources import read_sources
from app.chat.transfer.writer import chat_to_markdown
from app.store import Chat, Database


def decode(data: bytes | bytearray, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotAnExport(f"{source} is not a PhiDesk export: it is not UTF-8 text") from None


def read_exports(paths: Iterable[Path]) -> list[tuple[str, ParsedExport]]:
    """Read and check every file first (a .zip contributes each .md inside it), so that one bad
    file imports nothing. Returns (source name, parsed export) pairs. What is read is bounded
    (see `sources`); a file the memory left cannot hold is refused too."""
    found: list[tuple[str, ParsedExport]] = []
    for source, data in read_sources(paths):
        try:
            text = decode(data, source)
            del data  # the parsed export keeps slices of the text, never the bytes
            found.append((source, parse_markdown(text, source=source)))
            del text
        except MemoryError:
            found.clear()
            raise _out_of_memory(source) from None
    return found


def _out_of_memory(what: str) -> TransferError:
    return TransferError(
        f"{what} is too large to import with the memory available; nothing was imported"
    )


def import_files(db: Database, paths: Iterable[Path | str]) -> list[Chat]:
    """Import PhiDesk exports (.md files, or .zip archives of them). Nothing is imported if any
    file is not a readable PhiDesk export."""
    parsed = read_exports(Path(p) for p in paths)
    return [db.import_chat(p.chat, p.messages_to_import()) for _, p in parsed]


def _write_atomically(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write into a temporary file beside `path`, then rename it into place."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def render_for_export(
    db: Database,
    chat_id: int,
    *,
    include_thinking: bool = True,
    include_provenance: bool = False,
    exported_at: datetime,
) -> tuple[Chat, bytes]:
    """One chat and its export text, ready for `write_export`. Raises `NotFound`."""
    chat = db.get_chat(chat_id)
    text = chat_to_markdown(
        chat,
        db.messages(chat.id),
        include_thinking=include_thinking,
        include_provenance=include_provenance,
        exported_at=exported_at,
    )
    return chat, text.encode("utf-8")


def export_chats(
    db: Database,
    chat_ids: Sequence[int],
    destination: Path | str,
    *,
    include_thinking: bool = True,
    include_provenance: bool = False,
    exported_at: datetime | None = None,
) -> list[Path]:
    """Export chats to files and return what was written (see `write_export` for where).
    Raises `NotFound` for a missing chat and `TransferError` when the files cannot be
    written."""
    moment = exported_at or datetime.now(UTC)
    check_export_target(Path(destination), len(chat_ids))
    rendered = [
        render_for_export(
            db,
            chat_id,
            include_thinking=include_thinking,
            include_provenance=include_provenance,
            exported_at=moment,
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
    rendered: Sequence[tuple[Chat, bytes]], destination: Path | str, *, exported_at: datetime
) -> list[Path]:
    """Write rendered chats. `destination` ending in `.zip`: one archive holding a .md per chat
    (replaced if it exists). Ending in `.md`: exactly one chat, written to that file. Anything
    else: a folder (created if needed) that gets one .md per chat, named after its title;
    existing files are never overwritten (the new ones get " (2)" and so on)."""
    destination = Path(destination)
    check_export_target(destination, len(rendered))
    suffix = destination.suffix.lower()
    chats = [chat for chat, _ in rendered]
    texts = [text for _, text in rendered]
    try:
        if suffix == ".md":
            destination.parent.mkdir(parents=True, exist_ok=True)
            data = texts[0]

            def write_file(out: io.BufferedWriter) -> None:
                out.write(data)

            _write_atomically(destination, write_file)
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

            _write_atomically(destination, write_zip)
            return [destination]
        destination.mkdir(parents=True, exist_ok=True)
        existing = [p.name for p in destination.iterdir()]
        written: list[Path] = []
        for text, name in zip(texts, unique_names(chats, taken=existing), strict=True):
            target = destination / name
            with target.open("xb") as out:
                out.write(text)
            written.append(target)
        return written
    except OSError as exc:
        raise TransferError(
            f"cannot write the export to {destination} ({exc.strerror or exc}); choose another "
            "place"
        ) from exc
