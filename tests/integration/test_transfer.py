"""Export and import against real SQLite files: byte-identical round trips with hostile content,
times and settings kept, the store's import_chat, folders, .zip archives and refusals."""

from __future__ import annotations

import asyncio
import struct
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.backend.client import OllamaClient
from app.backend.events import ChatStats
from app.chat.session import ChatSession
from app.chat.transfer import (
    NotAnExport,
    TransferError,
    export_chat_markdown,
    export_chats,
    import_files,
    import_markdown,
)
from app.store import ChatSettings, Database, Message, Provenance
from tests.ollama_double.server import OllamaDouble
from tests.unit.test_transfer import OPTIONS, SETTINGS, STATS, hostile_text, title_text

EXPORTED_AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "phidesk.sqlite3")
    try:
        yield database
    finally:
        database.close()


def open_db(tmp_path: Path, name: str) -> Database:
    return Database.open(tmp_path / f"{name}.sqlite3")


def export(db: Database, chat_id: int, *, thinking: bool = True, provenance: bool = True) -> str:
    return export_chat_markdown(
        db,
        chat_id,
        include_thinking=thinking,
        include_provenance=provenance,
        exported_at=EXPORTED_AT,
    )


def comparable(message: Message) -> tuple[object, ...]:
    """A message's facts but its reasoning, without the ids a database assigns."""
    provenance = message.provenance
    return (
        message.role,
        message.content,
        message.status,
        message.error,
        message.created_at,
        message.updated_at,
        message.stats,
        None if provenance is None else (provenance.model, provenance.quantization),
    )


# ---------------------------------------------------------------- chats made with the store's API

MESSAGE = st.tuples(
    st.sampled_from(["user", "assistant", "system"]),
    hostile_text(),
    st.one_of(st.just(""), hostile_text(max_parts=4)),
    st.sampled_from(["complete", "interrupted", "error", "stopped"]),
    st.one_of(st.none(), hostile_text(max_parts=2)),
    st.one_of(st.none(), STATS),
    st.one_of(st.none(), st.sampled_from(["Q4_K_M", "Q8_0"])),
)


def make_chat(
    db: Database,
    title: str,
    system_prompt: str,
    chat_settings: ChatSettings,
    messages: list[tuple[str, str, str, str, str | None, ChatStats | None, str | None]],
    options: dict[str, object],
) -> int:
    """A chat written the way the app writes one: create, add, finish with stats/provenance."""
    chat = db.create_chat(
        title=title, model="phi4-mini", system_prompt=system_prompt, settings=chat_settings
    )
    ids: list[int] = []
    for role, content, thinking, status, error, stats, quantization in messages:
        added = db.add_message(chat.id, role, "", status="streaming")  # type: ignore[arg-type]
        provenance = None
        if quantization is not None:
            provenance = Provenance(
                model="phi4-mini",
                quantization=quantization,
                requested_num_ctx=chat_settings.num_ctx,
                options=options,
                excluded_message_ids=tuple(ids[:1]),
                warning=error,
            )
        db.finish_message(
            added.id,
            status=status,  # type: ignore[arg-type]
            content=content,
            thinking=thinking,
            error=error,
            stats=stats,
            provenance=provenance,
        )
        ids.append(added.id)
    return chat.id


def test_export_import_export_is_byte_identical_for_hostile_chats(tmp_path: Path) -> None:
    # One pair of databases for every example: each example is a new chat in `source`, and its
    # id is free in `target`, which only ever receives `source`'s chats.
    with open_db(tmp_path, "source") as source, open_db(tmp_path, "target") as target:

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            title=title_text(),
            system_prompt=st.one_of(st.just(""), hostile_text(max_parts=4)),
            chat_settings=SETTINGS,
            messages=st.lists(MESSAGE, max_size=5),
            options=OPTIONS,
            flags=st.tuples(st.booleans(), st.booleans()),
        )
        def round_trip(
            title: str,
            system_prompt: str,
            chat_settings: ChatSettings,
            messages: list[tuple[str, str, str, str, str | None, ChatStats | None, str | None]],
            options: dict[str, object],
            flags: tuple[bool, bool],
        ) -> None:
            thinking, provenance = flags
            chat_id = make_chat(source, title, system_prompt, chat_settings, messages, options)
            first = export(source, chat_id, thinking=thinking, provenance=provenance)
            originals = source.messages(chat_id)
            original_chat = source.get_chat(chat_id)

            imported = import_markdown(target, first)
            second = export(target, imported.id, thinking=thinking, provenance=provenance)
            back = target.messages(imported.id)

            assert second == first
            assert imported.id == chat_id
            assert (imported.title, imported.system_prompt, imported.settings) == (
                original_chat.title,
                original_chat.system_prompt,
                original_chat.settings,
            )
            assert (imported.created_at, imported.updated_at) == (
                original_chat.created_at,
                original_chat.updated_at,
            )
            assert imported.message_count == len(originals)
            assert [m.content for m in back] == [m.content for m in originals]
            assert [(m.role, m.created_at, m.updated_at, m.status, m.error) for m in back] == [
                (m.role, m.created_at, m.updated_at, m.status, m.error) for m in originals
            ]
            if thinking:
                assert [m.thinking for m in back] == [m.thinking for m in originals]
            if provenance:
                assert [comparable(m) for m in back] == [comparable(m) for m in originals]

        round_trip()


def test_a_very_long_message_round_trips(tmp_path: Path) -> None:
    line = "Total: $12.50 and $$x^2$$ `code` 👩🏽‍💻 مرحبا \r\n" * 20_000
    body = "```text\n" + line + "````\n" + "## User · fake heading\n" * 500
    with open_db(tmp_path, "a") as source, open_db(tmp_path, "b") as target:
        chat = source.create_chat(title="Long", model="phi4")
        source.add_message(chat.id, "user", body)
        first = export(source, chat.id)
        imported = import_markdown(target, first)
        assert target.messages(imported.id)[0].content == body
        assert export(target, imported.id) == first


# ---------------------------------------------------------------- the store's import_chat


def test_import_chat_keeps_times_statuses_stats_and_maps_excluded_ids(db: Database) -> None:
    chat = db.create_chat(title="Source", model="phi4", settings=ChatSettings(num_ctx=2048))
    first = db.add_message(chat.id, "user", "old question")
    second = db.add_message(chat.id, "assistant", "", status="streaming")
    db.finish_message(
        second.id,
        status="interrupted",
        content="partial",
        stats=ChatStats(prompt_eval_count=100, eval_count=20),
        provenance=Provenance(model="phi4", excluded_message_ids=(first.id,)),
    )
    original = db.get_chat(chat.id)
    messages = db.messages(chat.id)

    copy = db.import_chat(original, messages)  # the id is taken: a new one

    assert copy.id != chat.id
    assert (copy.created_at, copy.updated_at, copy.message_count) == (
        original.created_at,
        original.updated_at,
        2,
    )
    copied = db.messages(copy.id)
    assert [comparable(m) for m in copied] == [comparable(m) for m in messages]
    assert {m.id for m in copied}.isdisjoint({m.id for m in messages})
    assert copied[1].provenance is not None
    assert copied[1].provenance.excluded_message_ids == (copied[0].id,)
    # The copy is a chat like any other: listed, searchable, deletable.
    assert copy.id in [c.id for c in db.list_chats()]
    assert {h.chat_id for h in db.search("old question")} == {chat.id, copy.id}
    db.delete_chat_permanently(copy.id)
    assert len(db.messages(chat.id)) == 2


def test_an_imported_chat_gets_the_next_id_whatever_id_it_was_exported_with(
    tmp_path: Path,
) -> None:
    with open_db(tmp_path, "a") as source, open_db(tmp_path, "b") as target:
        for n in range(3):
            source.create_chat(title=f"chat {n}")
        text = export(source, 3)
        assert import_markdown(target, text).id == 1
        last = text.replace("\nid: 3\n", f"\nid: {2**63 - 1}\n")
        assert import_markdown(target, last).id == 2
        assert target.create_chat(title="next").id == 3


def test_import_chat_is_one_transaction(db: Database) -> None:
    chat = db.create_chat(title="Bad")
    made = datetime(2026, 1, 1, tzinfo=UTC)
    good = Message(1, chat.id, "user", "fine", "", "complete", None, made, made, None, None)
    bad = Message(2, chat.id, "robot", "x", "", "complete", None, made, made, None, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="role"):
        db.import_chat(db.get_chat(chat.id), [good, bad])
    assert [c.id for c in db.list_chats()] == [chat.id]


# ---------------------------------------------------------------- files, folders, archives


def test_importing_the_same_export_twice_makes_a_second_chat(db: Database) -> None:
    chat = db.create_chat(title="Twice", model="phi4")
    db.add_message(chat.id, "user", "hello")
    text = export(db, chat.id)
    copy = import_markdown(db, text)
    assert copy.id != chat.id
    assert export(db, copy.id).replace(f"id: {copy.id}\n", f"id: {chat.id}\n") == text


def test_export_to_a_folder_names_files_after_titles_and_never_overwrites(
    db: Database, tmp_path: Path
) -> None:
    ids = [db.create_chat(title=t).id for t in ("Plans", "plans", "a/b: c?", "", "CON")]
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "Plans.md").write_text("mine, keep me")
    written = export_chats(db, ids, folder, exported_at=EXPORTED_AT)
    assert [p.name for p in written] == [
        "Plans (2).md",
        "plans (3).md",
        "a_b_ c_.md",
        f"chat-{ids[3]}.md",
        "_CON.md",
    ]
    assert (folder / "Plans.md").read_text() == "mine, keep me"
    for chat_id, path in zip(ids, written, strict=True):
        assert path.read_bytes() == export(db, chat_id, provenance=False).encode()


def test_export_to_a_zip_and_import_it_back(tmp_path: Path) -> None:
    with open_db(tmp_path, "a") as source, open_db(tmp_path, "b") as target:
        ids = []
        for n in range(3):
            chat = source.create_chat(title="Same title", model="phi4-mini")
            source.add_message(chat.id, "user", f"question {n}\r\n")
            ids.append(chat.id)
        archive = tmp_path / "chats.zip"
        assert export_chats(source, ids, archive, exported_at=EXPORTED_AT) == [archive]
        with zipfile.ZipFile(archive) as opened:
            assert opened.namelist() == ["Same title.md", "Same title (2).md", "Same title (3).md"]
        chats = import_files(target, [archive])
        assert [c.id for c in chats] == ids
        for chat_id in ids:
            assert export(target, chat_id, provenance=False) == export(
                source, chat_id, provenance=False
            )


def test_export_to_one_md_file_takes_exactly_one_chat(db: Database, tmp_path: Path) -> None:
    first = db.create_chat(title="One").id
    second = db.create_chat(title="Two").id
    target = tmp_path / "sub" / "one.md"
    assert export_chats(db, [first], target, exported_at=EXPORTED_AT) == [target]
    assert target.read_bytes() == export(db, first, provenance=False).encode()
    with pytest.raises(TransferError, match=r"folder or a \.zip"):
        export_chats(db, [first, second], tmp_path / "both.md")


def test_import_files_adds_each_chat_once_and_says_which_were_already_there(
    db: Database, tmp_path: Path
) -> None:
    files = []
    for title in ("One", "Two", "Three"):
        chat = db.create_chat(title=title)
        db.add_message(chat.id, "user", f"about {title}")
        files.append(tmp_path / f"{title}.md")
        files[-1].write_text(export(db, chat.id))
    first = import_files(db, files[:2])
    assert [c.title for c in first] == ["One", "Two"] and first.skipped == []
    assert first.summary() == "Imported 2 chats."
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in files:
            out.write(path, path.name)
    second = import_files(db, [archive, files[0]])
    assert [c.title for c in second] == ["Three"]
    assert [c.id for c in second.skipped] == [first[0].id, first[0].id, first[1].id]
    assert second.summary() == "Imported 1 chat (3 already there)."
    assert sorted(c.title for c in db.list_chats()) == sorted(["One", "Two", "Three"] * 2)
    assert import_files(db, [archive]).summary() == "Imported 0 chats (3 already there)."


def test_importing_files_is_all_or_nothing(db: Database, tmp_path: Path) -> None:
    chat = db.create_chat(title="Good")
    good = tmp_path / "good.md"
    good.write_bytes(export(db, chat.id).encode())
    notes = tmp_path / "notes.md"
    notes.write_text("# My notes\n\nNot from PhiDesk.\n")
    with pytest.raises(NotAnExport, match=r"notes\.md is not a PhiDesk export"):
        import_files(db, [good, notes])
    assert len(db.list_chats()) == 1
    binary = tmp_path / "binary.md"
    binary.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(NotAnExport, match="not UTF-8"):
        import_files(db, [binary])
    with pytest.raises(TransferError, match="cannot read"):
        import_files(db, [tmp_path / "missing.md"])


# ---------------------------------------------------------------- no secrets


def test_a_chat_with_a_remote_token_exports_without_it(
    ollama_double: OllamaDouble, db: Database
) -> None:
    secret = "phidesk-test-secret-4f1c9a"
    chat = db.create_chat(model="phi4-mini", settings=ChatSettings(num_ctx=4096))
    ollama_double.script_reply("Sure: $E = mc^2$.", thinking="Let me think.")

    async def turn() -> None:
        async with OllamaClient(ollama_double.url, token=secret) as client:
            async for _ in ChatSession(db, client, chat.id).send("Explain"):
                pass

    asyncio.run(turn())
    answer = db.messages(chat.id)[-1]
    assert answer.content == "Sure: $E = mc^2$." and answer.provenance is not None
    text = export(db, chat.id, thinking=True, provenance=True)
    assert "Sure: $E = mc^2$." in text and "Let me think." in text
    assert secret not in text
    assert "Bearer" not in text and "authorization" not in text.lower()


# ---------------------------------------------------------------- reading within bounds


def test_an_archive_entry_packed_with_bzip2_is_not_supported(db: Database, tmp_path: Path) -> None:
    chat = db.create_chat(title="Packed")
    archive = tmp_path / "packed.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_BZIP2) as out:
        out.writestr("chat.md", export(db, chat.id))
    with pytest.raises(TransferError, match=r"^packed\.zip:chat\.md is not supported: .*method"):
        import_files(db, [archive])
    assert len(db.list_chats()) == 1


def test_an_entry_that_unpacks_to_hundreds_of_times_its_size_is_not_supported(
    db: Database, tmp_path: Path
) -> None:
    archive = tmp_path / "dense.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("chat.md", (b"x" * 1023 + b"\n") * (8 << 10))  # 8 MiB
    with pytest.raises(TransferError, match=r"^dense\.zip:chat\.md is not supported: .* times"):
        import_files(db, [archive])


def test_an_archive_whose_listing_is_huge_is_refused_before_it_is_read(
    db: Database, tmp_path: Path
) -> None:
    archive = tmp_path / "listing.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("chat.md", "x")
    data = bytearray(archive.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 12 : end + 16] = struct.pack("<L", 0x7FFF_FFFF)  # the listing's size
    archive.write_bytes(data)
    with pytest.raises(TransferError, match=r"^\S*listing\.zip is too large to import"):
        import_files(db, [archive])


def test_entries_that_together_pass_the_import_limit_are_refused_before_any_is_read(
    db: Database, tmp_path: Path
) -> None:
    archive = tmp_path / "many.zip"
    body = (b"x" * 1023 + b"\n") * (30 << 10)  # 30 MiB, under the limit for one file
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        for n in range(5):
            out.writestr(f"chat {n}.md", body)
    with pytest.raises(TransferError, match=r"^many\.zip:chat 3\.md is too large to import"):
        import_files(db, [archive])
