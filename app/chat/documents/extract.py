"""The text of an attached file, or one sentence saying why there is none.

Kinds: plain text, Markdown and source code (UTF-8, or UTF-16/UTF-32 with a byte order mark),
PDF (`pypdf`, page by page, page numbers kept) and HTML (the visible text only). A file over the
size limit is refused before it is read, and never more than the limit (plus one byte) is read,
so memory stays bounded whatever the file; a binary file, invalid text, an encrypted PDF, a PDF
without a text layer, a folder and a file that vanished are refused with one sentence each.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from app.chat.documents.blocks import Block
from app.chat.documents.html_text import html_blocks
from app.errors import PhiDeskError

log = logging.getLogger(__name__)

DEFAULT_LIMIT_MB = 50
"""The largest file PhiDesk attaches unless the preferences say otherwise."""

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
TEXT_SUFFIXES = frozenset({".txt", ".text", ".log", ".csv", ".tsv", ".rst", ""})

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_HTML_SNIFF = re.compile(rb"^\s*(<!doctype html|<html)", re.IGNORECASE)


class DocumentRefused(PhiDeskError):
    """The file cannot be attached; the message says why, in one sentence."""


@dataclass(frozen=True, slots=True)
class Extracted:
    """An attached file as read: its bytes, their SHA-256 and the text found in them."""

    name: str
    kind: str
    """"text", "markdown", "code", "pdf" or "html"."""
    data: bytes
    sha256: str
    blocks: tuple[Block, ...]
    pages: int | None = None
    """The number of pages (PDF only)."""

    @property
    def text(self) -> str:
        """The whole extracted text, paragraphs (and pages) separated by a blank line."""
        return "\n\n".join(block.text for block in self.blocks)

    @property
    def size(self) -> int:
        return len(self.data)


def shown_name(name: str) -> str:
    """A file name fit for a sentence: controls and line breaks become U+FFFD."""
    cleaned = "".join(c if c.isprintable() else "\ufffd" for c in name)
    return cleaned[:120] + "…" if len(cleaned) > 121 else cleaned


def extract(path: Path, *, limit_mb: int = DEFAULT_LIMIT_MB) -> Extracted:
    """Read `path` and extract its text. Raises `DocumentRefused` (one sentence)."""
    name = shown_name(path.name)
    limit = limit_mb * 1024 * 1024
    try:
        if path.is_dir():
            raise DocumentRefused(f"{name} is a folder, not a file; attach the files in it")
        size = path.stat().st_size
        if size > limit:
            raise _too_big(name, size, limit_mb)
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except FileNotFoundError:
        raise DocumentRefused(
            f"{name} is no longer there (it was moved or deleted); attach it again"
        ) from None
    except PermissionError:
        raise DocumentRefused(
            f"{name} cannot be read (permission denied); check who may read it"
        ) from None
    except OSError as exc:
        log.info("reading %s failed: %s", path, exc)
        raise DocumentRefused(f"{name} cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:  # it grew since stat()
        raise _too_big(name, len(data), limit_mb)
    return extract_bytes(path.name, data)


def _too_big(name: str, size: int, limit_mb: int) -> DocumentRefused:
    return DocumentRefused(
        f"{name} is {size / (1024 * 1024):.0f} MB, over the {limit_mb} MB limit for attachments; "
        "raise the limit in Preferences or attach a smaller file"
    )


def extract_bytes(file_name: str, data: bytes) -> Extracted:
    """Extract the text of a file's contents (`file_name` chooses the kind with the bytes)."""
    name = shown_name(file_name)
    suffix = Path(file_name).suffix.lower()
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(b"%PDF-") or suffix == ".pdf":
        blocks, pages = _pdf_blocks(name, data)
        return Extracted(file_name, "pdf", data, digest, tuple(blocks), pages)
    text = _decoded(name, data)
    if suffix in HTML_SUFFIXES or _HTML_SNIFF.match(data[:512]):
        kind, blocks = "html", html_blocks(text)
    elif suffix in MARKDOWN_SUFFIXES:
        kind, blocks = "markdown", markdown_blocks(text)
    else:
        kind = "text" if suffix in TEXT_SUFFIXES else "code"
        blocks = paragraph_blocks(text)
    if not blocks:
        raise DocumentRefused(f"{name} holds no text; there is nothing to send")
    return Extracted(file_name, kind, data, digest, tuple(blocks))


def _decoded(name: str, data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _lines(data.decode(encoding))
            except UnicodeDecodeError:
                raise DocumentRefused(
                    f"{name} is not valid {encoding.split('-sig')[0].upper()} text although it "
                    "starts like it; save it again as UTF-8"
                ) from None
    if b"\x00" in data[:65536]:
        raise DocumentRefused(
            f"{name} is a binary file, not text; attach text, Markdown, source code, PDF or HTML"
        )
    try:
        return _lines(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DocumentRefused(
            f"{name} is not UTF-8 or UTF-16 text (an invalid byte at offset {exc.start}); "
            "save it again as UTF-8"
        ) from None


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def paragraph_blocks(text: str) -> list[Block]:
    """Plain text or source code: one block per paragraph (split at blank lines)."""
    return [Block(p.strip("\n")) for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def markdown_blocks(text: str) -> list[Block]:
    """Markdown: paragraphs under their heading path; a fenced code block stays whole."""
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    current: list[str] = []
    fence: str | None = None

    def flush() -> None:
        body = "\n".join(current).strip("\n")
        current.clear()
        if body.strip():
            blocks.append(Block(body, headings=tuple(t for _, t in path)))

    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence is not None:
            current.append(line)
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            current.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level, title = len(heading.group(1)), heading.group(2).strip()
            path = [(n, t) for n, t in path if n < level] + [(level, title)]
            current.append(line)
            continue
        if not line.strip():
            flush()
            continue
        current.append(line)
    flush()
    return blocks


def _pdf_blocks(name: str, data: bytes) -> tuple[list[Block], int]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opens_without_password(reader):
            raise DocumentRefused(
                f"{name} is encrypted, so its text cannot be read; attach a copy without a password"
            )
        blocks: list[Block] = []
        for number, page in enumerate(reader.pages, start=1):
            text = _lines(page.extract_text() or "").strip()
            if text:
                blocks.append(Block(text, page=number))
        pages = len(reader.pages)
    except DocumentRefused:
        raise
    except FileNotDecryptedError:
        raise DocumentRefused(
            f"{name} is encrypted, so its text cannot be read; attach a copy without a password"
        ) from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        log.info("reading the PDF %s failed: %r", name, exc)
        raise DocumentRefused(
            f"{name} is not a PDF PhiDesk can read (the file is damaged or incomplete)"
        ) from None
    if not blocks:
        raise DocumentRefused(
            f"{name} has no text layer (its pages are images); attach a PDF with text, "
            "for example one run through OCR"
        )
    return blocks, pages


def _opens_without_password(reader: object) -> bool:
    """Many PDFs are encrypted with an empty user password: they open like any other."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    assert isinstance(reader, PdfReader)
    try:
        return bool(reader.decrypt(""))
    except (PdfReadError, NotImplementedError, ValueError) as exc:
        log.info("decrypting with an empty password failed: %r", exc)
        return False
