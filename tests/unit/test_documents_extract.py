"""Extracting the text of attached files, and the one sentence for each file that has none."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

from app.chat.documents import DocumentRefused, extract, extract_bytes, split_chunks
from app.chat.documents.chunks import page_ranges
from app.chat.documents.extract import shown_name
from tests.documents_pdf import encrypted_pdf, make_pdf


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_plain_text_keeps_its_paragraphs(tmp_path: Path) -> None:
    path = _write(tmp_path, "notes.txt", b"First line\nsecond line\r\n\r\nAnother paragraph.\n")
    found = extract(path)
    assert found.kind == "text"
    assert [b.text for b in found.blocks] == ["First line\nsecond line", "Another paragraph."]
    assert found.text == "First line\nsecond line\n\nAnother paragraph."
    assert len(found.sha256) == 64 and found.size == path.stat().st_size


def test_markdown_paragraphs_know_their_heading_path() -> None:
    text = (
        "# Guide\n\nIntro text.\n\n## Setup\n\nInstall it.\n\n```sh\nmake\n\nmake install\n```\n\n"
        "### Linux\n\nUse apt.\n\n## Use\n\nRun it.\n"
    )
    found = extract_bytes("guide.md", text.encode())
    assert found.kind == "markdown"
    where = {b.text.split("\n")[-1]: b.headings for b in found.blocks}
    assert where["Intro text."] == ("Guide",)
    assert where["Install it."] == ("Guide", "Setup")
    assert where["```"] == ("Guide", "Setup")  # the fenced block stays one piece
    assert where["Use apt."] == ("Guide", "Setup", "Linux")
    assert where["Run it."] == ("Guide", "Use")
    assert any("make\n\nmake install" in b.text for b in found.blocks)


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
    ],
)
def test_source_code_in_utf8_or_utf16_with_a_bom(bom: bytes, encoding: str) -> None:
    source = 'def grüße() -> str:\n    return "π ≈ 3.14159"\n'
    found = extract_bytes("code.py", bom + source.encode(encoding))
    assert found.kind == "code"
    assert found.text == source.rstrip("\n")


def test_html_gives_visible_text_under_headings_only() -> None:
    page = (
        b"<!doctype html><html><head><title>T</title><style>p{color:red}</style>"
        b"<script>alert('x')</script></head><body><h1>Manual</h1><p>Hello &amp; welcome"
        b"<br>to <b>PhiDesk</b>.</p><noscript>enable js</noscript><h2>Part &lt;2&gt;</h2>"
        b"<ul><li>one</li><li>two</li></ul><pre>  keep\n    this</pre></body></html>"
    )
    found = extract_bytes("page.html", page)
    assert found.kind == "html"
    assert "alert" not in found.text and "color" not in found.text and "enable js" not in found.text
    assert "<" not in found.text.replace("Part <2>", "")
    texts = {b.text: b.headings for b in found.blocks}
    assert texts["Hello & welcome"] == ("Manual",)
    assert texts["to PhiDesk."] == ("Manual",)
    assert texts["one"] == ("Manual", "Part <2>")
    assert texts["  keep\n    this"] == ("Manual", "Part <2>")


def test_html_is_recognised_by_its_content_too() -> None:
    found = extract_bytes("saved", b"<html><body><p>plain</p></body></html>")
    assert (found.kind, found.text) == ("html", "plain")


def test_pdf_text_keeps_page_numbers() -> None:
    found = extract_bytes("r.pdf", make_pdf([["alpha (one)"], [], ["gamma \\ three"]]))
    assert found.kind == "pdf" and found.pages == 3
    assert [(b.page, b.text) for b in found.blocks] == [(1, "alpha (one)"), (3, "gamma \\ three")]


def test_chunks_follow_pages_headings_and_size() -> None:
    found = extract_bytes("r.pdf", make_pdf([["a " * 30], ["b " * 30], ["c " * 30]]))
    chunks = split_chunks(found.blocks)
    assert [c.location() for c in chunks] == ["page 1", "page 2", "page 3"]
    long = extract_bytes("long.md", ("# H\n\n" + "word " * 1000).encode())
    parts = split_chunks(long.blocks, target=600)
    assert all(len(c.text) <= 600 for c in parts) and len(parts) >= 8
    assert {c.location() for c in parts} == {"H"}
    assert " ".join(c.text for c in parts).split() == long.text.split()
    unbroken = split_chunks(extract_bytes("x.txt", b"x" * 1300).blocks, target=500)
    assert [len(c.text) for c in unbroken] == [500, 500, 300]
    assert [c.seq for c in unbroken] == [0, 1, 2] and unbroken[0].location() == ""


def test_page_ranges() -> None:
    assert page_ranges([9, 3, 4, 5, 4]) == "3–5, 9"
    assert page_ranges([]) == ""
    assert page_ranges([1, 3]) == "1, 3"


# --- refused, one sentence each -----------------------------------------------------------


def _refusal(path: Path, **kwargs: int) -> str:
    with pytest.raises(DocumentRefused) as caught:
        extract(path, **kwargs)
    sentence = str(caught.value)
    assert sentence.count(". ") == 0 and "\n" not in sentence
    return sentence


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "photo.py", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    assert "photo.py is a binary file" in _refusal(path)


def test_invalid_encoding_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "latin.txt", "café au lait".encode("latin-1"))
    assert "latin.txt is not UTF-8 or UTF-16 text" in _refusal(path)
    broken = _write(tmp_path, "broken.txt", codecs.BOM_UTF16_LE + b"a\x00\x00\xd8")
    assert "broken.txt is not valid UTF-16 text" in _refusal(broken)


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "secret.pdf", encrypted_pdf([["classified"]]))
    assert "secret.pdf is encrypted" in _refusal(path)


def test_encrypted_pdf_without_a_user_password_opens(tmp_path: Path) -> None:
    path = _write(tmp_path, "open.pdf", encrypted_pdf([["readable"]], password=""))
    assert extract(path).text == "readable"


def test_image_only_pdf_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "scan.pdf", make_pdf([["x"], ["y"]], image_only=True))
    assert "scan.pdf has no text layer" in _refusal(path)


def test_damaged_pdf_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "cut.pdf", make_pdf([["hello"]])[:60])
    assert "cut.pdf is not a PDF PhiDesk can read" in _refusal(path)


def test_file_over_the_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    with path.open("wb") as file:  # sparse: 200 MB on disk costs nothing
        file.truncate(200 * 1024 * 1024)
    sentence = _refusal(path)
    assert "huge.log is 200 MB, over the 50 MB limit" in sentence
    small = _write(tmp_path, "two.txt", b"ab" * 700_000)
    assert "over the 1 MB limit" in _refusal(small, limit_mb=1)


def test_vanished_file_folder_and_unreadable_file(tmp_path: Path) -> None:
    assert "gone.txt is no longer there" in _refusal(tmp_path / "gone.txt")
    (tmp_path / "dir").mkdir()
    assert "dir is a folder" in _refusal(tmp_path / "dir")
    empty = _write(tmp_path, "empty.md", b"\n\n  \n")
    assert "empty.md holds no text" in _refusal(empty)
    if os.geteuid() != 0:
        locked = _write(tmp_path, "locked.txt", b"text")
        locked.chmod(0)
        assert "locked.txt cannot be read (permission denied)" in _refusal(locked)


def test_names_in_sentences_carry_no_controls() -> None:
    assert shown_name("a\x1b]0;owned\x07.txt") == "a\ufffd]0;owned\ufffd.txt"
    assert len(shown_name("n" * 500)) == 121
