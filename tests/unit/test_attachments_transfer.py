"""Attached files in the export, as text: each file's extracted text in a fenced block under its
message with its name and SHA-256, read back with its parts, written again to the same bytes;
a chat that carries files says format 2, one without keeps today's bytes; an edited text, a
part outside the text or a malformed SHA-256 is refused in one sentence."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from app.chat.documents.blocks import Block
from app.chat.documents.chunks import split_chunks
from app.chat.transfer import DamagedExport, chat_to_markdown, parse_markdown
from app.chat.transfer.attached import AttachedFile
from app.store import Chat, Message
from app.store.attachments import NewChunk
from app.store.records import Provenance, SentDocuments, SentPart
from tests.unit.test_transfer import EXPORTED_AT, OPTION_SETS, chats, hostile_text
from tests.unit.test_transfer_tree import trees

DOCS = Path(__file__).resolve().parents[2] / "docs" / "export-format.md"

BACKTICKY = st.sampled_from(["```", "````", "`", "``````````", "~~~", "-->", "<!-- phidesk {}"])


@st.composite
def file_texts(draw: st.DrawFn) -> str:
    """Extracted text as PhiDesk keeps it: blocks joined by an empty line, with hostile lines
    and runs of backticks."""
    pieces = draw(st.lists(st.one_of(hostile_text(max_parts=4), BACKTICKY), max_size=6))
    return "\n\n".join(p.strip("\n") for p in pieces if p.strip())


@st.composite
def attached_files(draw: st.DrawFn, file_id: int) -> AttachedFile:
    """A file as the store gives it to an export: its text and its parts as `split_chunks` cuts
    them (long paragraphs too, so some parts are not one stretch of the text), with pages or
    headings."""
    text = draw(file_texts())
    kind = draw(st.sampled_from(["text", "markdown", "code", "pdf", "html"]))
    blocks = [b for b in text.split("\n\n") if b]
    if kind == "pdf":
        made = [Block(b, page=i + 1) for i, b in enumerate(blocks)]
    else:
        made = [
            Block(b, headings=tuple(draw(st.lists(st.text(max_size=5), max_size=2))))
            for b in blocks
        ]
    target = draw(st.sampled_from([4, 20, 1500]))
    chunks = tuple(
        NewChunk(c.seq, c.text, c.first_page, c.last_page, c.headings)
        for c in split_chunks(made, target=target)
    )
    data = draw(st.binary(max_size=40)) + text.encode("utf-8", "surrogatepass")
    return AttachedFile(
        name=draw(st.one_of(hostile_text(max_parts=2), st.text(max_size=20))),
        sha256=hashlib.sha256(data).hexdigest(),
        kind=kind,
        size=len(data),
        pages=len(blocks) if kind == "pdf" else None,
        text=text,
        chunks=chunks,
        id=file_id,
    )


@st.composite
def with_files(
    draw: st.DrawFn, chat_and_messages: tuple[Chat, list[Message]]
) -> tuple[Chat, list[Message], dict[int, list[AttachedFile]]]:
    """Files on random messages; the answers that follow them record parts sent."""
    chat, messages = chat_and_messages
    files: dict[int, list[AttachedFile]] = {}
    next_id = 1000
    shaped = []
    for message in messages:
        count = draw(st.integers(0, 2))
        if count:
            files[message.id] = []
            for _ in range(count):
                files[message.id].append(draw(attached_files(next_id)))
                next_id += 7
        earlier = [f for fs in files.values() for f in fs]
        if earlier and message.role == "assistant" and draw(st.booleans()):
            picked = draw(st.lists(st.sampled_from(earlier), max_size=3))
            parts = tuple(
                SentPart(f.id, f.name, f.sha256, None, len(f.chunks), (1, 2), ("H",), 12)
                for f in picked
            )
            # An attachment not in the file is written as null and read back as 0.
            parts += (SentPart(0, "gone.txt", "0" * 64, 3, 9, (), (), 5),)
            provenance = message.provenance or Provenance(model="phi4-mini")
            message = replace(
                message, provenance=replace(provenance, documents=SentDocuments("bm25", 40, parts))
            )
        shaped.append(message)
    return chat, shaped, files


def export(
    chat: Chat,
    messages: list[Message],
    files: dict[int, list[AttachedFile]],
    options: tuple[bool, bool],
    *,
    all_branches: bool = False,
) -> str:
    return chat_to_markdown(
        chat,
        messages,
        include_thinking=options[0],
        include_provenance=options[1],
        exported_at=EXPORTED_AT,
        all_branches=all_branches,
        attachments=files,
    )


def again(text: str, options: tuple[bool, bool], *, all_branches: bool = False) -> str:
    """Parse `text` and export what was read."""
    parsed = parse_markdown(text)
    by_id = {m.id: list(parsed.attachments.get(m.id, ())) for m in parsed.messages}
    return chat_to_markdown(
        parsed.chat,
        list(parsed.messages_to_import()),
        include_thinking=options[0],
        include_provenance=options[1],
        exported_at=EXPORTED_AT,
        all_branches=all_branches,
        attachments=by_id,
    )


def facts(file: AttachedFile) -> tuple[object, ...]:
    return (file.name, file.sha256, file.kind, file.size, file.pages, file.text, list(file.chunks))


def fenced_texts(text: str) -> list[str]:
    """What markdown-it renders as code blocks, in order, in the view without raw HTML (the one
    PhiDesk keeps whole where viewers disagree, see docs/export-format.md)."""
    parser = MarkdownIt("commonmark", {"html": False})
    return [t.content for t in parser.parse(text) if t.type == "fence"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chats(max_messages=4).flatmap(with_files), OPTION_SETS)
def test_files_come_back_with_their_parts_and_export_to_the_same_bytes(
    case: tuple[Chat, list[Message], dict[int, list[AttachedFile]]], options: tuple[bool, bool]
) -> None:
    chat, messages, files = case
    text = export(chat, messages, files, options)
    listed = [f for m in messages for f in files.get(m.id, ())]
    assert text.startswith(f"---\nphidesk_export: {2 if listed else 1}\n")
    parsed = parse_markdown(text)
    read = [f for m in parsed.messages for f in parsed.attachments.get(m.id, ())]
    assert [facts(f) for f in read] == [facts(f) for f in listed]
    assert [f.id for f in read] == list(range(1, len(listed) + 1))
    assert [m.content for m in parsed.messages] == [m.content for m in messages]
    if options[1]:
        numbers = {f.id: n for n, f in enumerate(listed, start=1)}
        for sent, back in zip(messages, parsed.messages, strict=True):
            documents = sent.provenance.documents if sent.provenance else None
            got = back.provenance.documents if back.provenance else None
            if documents is None:
                assert got is None
                continue
            assert got is not None
            assert [p.attachment_id for p in got.parts] == [
                numbers.get(p.attachment_id, 0) for p in documents.parts
            ]
            assert [replace(p, attachment_id=0) for p in got.parts] == [
                replace(p, attachment_id=0) for p in documents.parts
            ]
    assert again(text, options) == text
    # Each file's text is a code block that holds it exactly, in any CommonMark viewer.
    if listed:
        shown = fenced_texts(text)
        for file in listed:
            # As a viewer reads it: any line break is one, a NUL is a replacement character.
            seen = file.text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
            assert (seen if not seen or seen.endswith("\n") else seen + "\n") in shown


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(max_messages=5).flatmap(with_files), OPTION_SETS)
def test_files_on_a_tree_of_versions_come_back_and_export_to_the_same_bytes(
    case: tuple[Chat, list[Message], dict[int, list[AttachedFile]]], options: tuple[bool, bool]
) -> None:
    chat, messages, files = case
    text = export(chat, messages, files, options, all_branches=True)
    parsed = parse_markdown(text)
    listed = [f for m in messages for f in files.get(m.id, ())]
    read = [f for m in parsed.messages for f in parsed.attachments.get(m.id, ())]
    assert [facts(f) for f in read] == [facts(f) for f in listed]
    assert again(text, options, all_branches=True) == text


def test_a_chat_without_files_exports_exactly_as_before() -> None:
    chat, messages = _one_question()
    plain = chat_to_markdown(chat, messages, exported_at=EXPORTED_AT)
    assert chat_to_markdown(chat, messages, exported_at=EXPORTED_AT, attachments={}) == plain
    assert plain.startswith("---\nphidesk_export: 1\n")
    assert "attachments" not in plain


def _one_question() -> tuple[Chat, list[Message]]:
    text = DOCS.read_text(encoding="utf-8")
    parsed = parse_markdown(_example(text, "## What a file looks like"))
    return parsed.chat, list(parsed.messages)


def _example(text: str, heading: str) -> str:
    section = text[text.index(heading) :]
    found = re.search(r"^(`{3,})markdown\n(.*?)^\1\n", section, re.S | re.M)
    assert found is not None
    return found.group(2)


def test_the_documented_example_reads_back_and_exports_to_the_same_bytes() -> None:
    example = _example(DOCS.read_text(encoding="utf-8"), "## Attached files")
    parsed = parse_markdown(example)
    files = [f for m in parsed.messages for f in parsed.attachments.get(m.id, ())]
    assert [f.name for f in files] == ["timetable.pdf"]
    assert [c.first_page for c in files[0].chunks] == [1, 2]
    assert again(example, (True, True)) == example


def _with_one_file() -> str:
    chat, messages = _one_question()
    file = AttachedFile(
        "notes.txt",
        hashlib.sha256(b"The ferry leaves at 06:40.").hexdigest(),
        "text",
        26,
        None,
        "The ferry leaves at 06:40.",
        (NewChunk(0, "The ferry leaves at 06:40."),),
        5,
    )
    return chat_to_markdown(
        chat, messages, exported_at=EXPORTED_AT, attachments={messages[0].id: [file]}
    )


def test_the_file_is_shown_with_its_name_and_sha256_under_its_message() -> None:
    text = _with_one_file()
    assert text.startswith("---\nphidesk_export: 2\n")
    sha = hashlib.sha256(b"The ferry leaves at 06:40.").hexdigest()
    assert f"**Attached:** notes.txt · text · 26 bytes · SHA-256 `{sha}`\n" in text
    assert "\n```\nThe ferry leaves at 06:40.\n```\n" in text


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("06:40.\n```", "06:41.\n```"), "does not match its SHA-256"),
        (('"parts": [[0, 26,', '"parts": [[0, 99,'), "is not where its text is"),
        (('"sha256": "', '"sha256": "zz'), "is not 64 hexadecimal digits"),
        (('"size": 26', '"size": -1'), "negative size"),
        (("**Attached:**", "**Attachd:**"), "expected the line naming file 1 of message 1"),
        (("\n```\nThe ferry", "\n``\nThe ferry"), "expected the fence"),
        (('"attachments": 1', '"attachments": -1'), "negative number of files"),
    ],
)
def test_a_damaged_file_section_is_refused_in_one_sentence(
    change: tuple[str, str], says: str
) -> None:
    text = _with_one_file()
    assert change[0] in text
    with pytest.raises(DamagedExport) as caught:
        parse_markdown(text.replace(change[0], change[1], 1), source="chat.md")
    message = str(caught.value)
    assert message.startswith("chat.md is damaged: ") and says in message
    assert "\n" not in message
