"""Real PDF files for the document tests and the attach bench, written byte by byte: each page
a text layer in Helvetica (what `pypdf` extracts), or an image only, or encrypted."""

from __future__ import annotations

from collections.abc import Sequence


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _stream(lines: Sequence[str]) -> bytes:
    body = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
    for line in lines:
        body.append(f"({_escape(line)}) Tj T*")
    body.append("ET")
    return "\n".join(body).encode("latin-1")


def _image_stream() -> bytes:
    return b"q 100 0 0 100 72 600 cm /Im1 Do Q"


def make_pdf(pages: Sequence[Sequence[str]], *, image_only: bool = False) -> bytes:
    """A PDF with one page per item of `pages`, each showing its lines of text (Latin-1); with
    `image_only` every page shows a small grey image and has no text at all."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    image = add(
        b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray"
        b" /BitsPerComponent 8 /Length 4 >>\nstream\n\x80\x80\x80\x80\nendstream"
    )
    kids: list[int] = []
    for lines in pages:
        content = _image_stream() if image_only else _stream(lines)
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        resources = b"<< /Font << /F1 %d 0 R >> /XObject << /Im1 %d 0 R >> >>" % (font, image)
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources %s"
                b" /Contents %d 0 R >>" % (tree, resources, stream)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    return bytes(out)


def encrypted_pdf(pages: Sequence[Sequence[str]], password: str = "secret") -> bytes:
    """The same PDF encrypted with a user password (by pypdf's writer)."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(pages))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def report_pages(count: int = 300, *, answer_page: int = 212) -> list[list[str]]:
    """A long report: every page about the Halvorsen reactor's coolant and its temperature, so
    the question's words are everywhere (every seventh page repeats them, without a value); only
    `answer_page` gives the temperature it reached."""
    pages: list[list[str]] = []
    for number in range(1, count + 1):
        lines = [f"Section {number}: operations log of the Halvorsen reactor"]
        if number == answer_page:
            lines += [
                "Measured result: the coolant temperature of the Halvorsen reactor",
                "reached 451 kelvin during the spring inspection.",
            ]
        elif number % 7 == 0:
            lines += [
                "The coolant temperature of the Halvorsen reactor was discussed at length,",
                "but this meeting recorded no measured value for the coolant temperature.",
            ]
        else:
            lines += [
                f"Routine maintenance of pump {number % 13} and valve {number % 17} was logged.",
                "Staff reviewed the inspection schedule and the reactor's coolant supply.",
            ]
        lines += [f"Filler paragraph {i} about procedures and paperwork." for i in range(20)]
        pages.append(lines)
    return pages
