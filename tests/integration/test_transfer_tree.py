"""Chats with versions (trees of messages), exported and imported against real SQLite files:
with every version the same tree, active path, contents, statuses, stats and provenance come
back and export to the same bytes; by default the active path alone, as a plain chat's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.backend.client import OllamaClient
from app.backend.events import ChatStats
from app.chat.transfer import export_chat_markdown, export_chats, import_files, import_markdown
from app.config import Paths
from app.store import ChatSettings, Database, Provenance
from app.workspace import Workspace
from tests.ollama_double.server import OllamaDouble
from tests.unit.test_transfer import SETTINGS, STATS, hostile_text, title_text

EXPORTED_AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

STEP = st.tuples(
    st.integers(0, 10**6),  # which earlier message to follow (or none: a new first message)
    st.booleans(),  # follow one at all (False: continue the active path)
    st.sampled_from(["user", "assistant", "system"]),
    hostile_text(),
    st.one_of(st.just(""), hostile_text(max_parts=3)),
    st.sampled_from(["complete", "interrupted", "error", "stopped"]),
    st.one_of(st.none(), STATS),
    st.one_of(st.none(), st.sampled_from(["Q4_K_M", "Q8_0"])),
)
AFTER = st.lists(
    st.tuples(st.sampled_from(["show", "delete", "restore"]), st.integers(0, 10**6)), max_size=4
)


def make_tree(
    db: Database,
    title: str,
    chat_settings: ChatSettings,
    steps: list[tuple[int, bool, str, str, str, str, ChatStats | None, str | None]],
    after: list[tuple[str, int]],
) -> int:
    """A chat grown the way the app grows one: answers and questions added under any earlier
    message (regenerate, edit) or at the end, then versions switched, deleted and restored."""
    chat = db.create_chat(title=title, model="phi4-mini", settings=chat_settings)
    ids: list[int] = []
    for pick, branch, role, content, thinking, status, stats, quantization in steps:
        kwargs = {}
        if branch:
            kwargs["parent_id"] = ids[pick % len(ids)] if ids and pick % 3 else None
        added = db.add_message(chat.id, role, "", status="streaming", **kwargs)  # type: ignore[arg-type]
        provenance = None
        if quantization is not None:
            provenance = Provenance(
                model="phi4-mini",
                quantization=quantization,
                excluded_message_ids=tuple(ids[:1]),
                tokens_per_second=12.5,
            )
        db.finish_message(
            added.id,
            status=status,  # type: ignore[arg-type]
            content=content,
            thinking=thinking,
            error="failed" if status == "error" else None,
            stats=stats,
            provenance=provenance,
        )
        ids.append(added.id)
    undo = []
    for what, pick in after:
        visible = [m.id for m in db.all_messages(chat.id)]
        if what == "show" and visible:
            db.show_version(visible[pick % len(visible)])
        elif what == "delete" and visible:
            undo.append(db.delete_message(visible[pick % len(visible)]))
        elif what == "restore" and undo:
            db.restore_messages(undo.pop())
    return chat.id


def shape(db: Database, chat_id: int) -> tuple[object, ...]:
    """The tree as positions: each message's facts and its parent's position, the active leaf's
    position and the active path's positions."""
    everything = db.all_messages(chat_id)
    positions = {m.id: n for n, m in enumerate(everything, start=1)}
    leaf = db.get_chat(chat_id).active_leaf_id
    return (
        [
            (
                None if m.parent_id is None else positions[m.parent_id],
                m.role,
                m.content,
                m.thinking,
                m.status,
                m.error,
                m.created_at,
                m.updated_at,
                m.stats,
                facts(m.provenance, positions),
            )
            for m in everything
        ],
        None if leaf is None else positions[leaf],
        [positions[m.id] for m in db.messages(chat_id)],
        db.get_chat(chat_id).message_count,
    )


def facts(provenance: Provenance | None, positions: dict[int, int]) -> object:
    if provenance is None:
        return None
    excluded = tuple(positions[i] for i in provenance.excluded_message_ids if i in positions)
    return (provenance.model, provenance.quantization, provenance.tokens_per_second, excluded)


def export(db: Database, chat_id: int, *, all_branches: bool, provenance: bool = True) -> str:
    return export_chat_markdown(
        db,
        chat_id,
        include_provenance=provenance,
        exported_at=EXPORTED_AT,
        all_branches=all_branches,
    )


def test_every_version_round_trips_to_the_same_tree_and_bytes(tmp_path: Path) -> None:
    # As in test_transfer.py: each example adds one chat to `source` and imports it into
    # `target`, so the imported chat gets the id it was exported with.
    with (
        Database.open(tmp_path / "source.sqlite3") as source,
        Database.open(tmp_path / "target.sqlite3") as target,
    ):

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            title=title_text(),
            chat_settings=SETTINGS,
            steps=st.lists(STEP, max_size=7),
            after=AFTER,
            provenance=st.booleans(),
        )
        def round_trip(
            title: str,
            chat_settings: ChatSettings,
            steps: list[tuple[int, bool, str, str, str, str, ChatStats | None, str | None]],
            after: list[tuple[str, int]],
            provenance: bool,
        ) -> None:
            chat_id = make_tree(source, title, chat_settings, steps, after)
            first = export(source, chat_id, all_branches=True, provenance=provenance)
            branched = len(source.all_messages(chat_id)) != len(source.messages(chat_id))
            assert first.startswith(f"---\nphidesk_export: {2 if branched else 1}\n")
            if not branched:
                assert first == export(source, chat_id, all_branches=False, provenance=provenance)

            imported = import_markdown(target, first)
            assert imported.id == chat_id
            back, original = shape(target, imported.id), shape(source, chat_id)
            if provenance:
                assert back == original
            else:
                # Without stats and provenance: everything else, and the same tree.
                assert back[1:] == original[1:]
                assert [row[:8] for row in back[0]] == [row[:8] for row in original[0]]  # type: ignore[attr-defined]
            assert export(target, imported.id, all_branches=True, provenance=provenance) == first
            assert target.branch_points([imported.id]) == source.branch_points([chat_id])

        round_trip()


def test_by_default_a_branched_chat_exports_its_active_path_as_a_plain_chat(
    tmp_path: Path,
) -> None:
    with (
        Database.open(tmp_path / "source.sqlite3") as source,
        Database.open(tmp_path / "target.sqlite3") as target,
    ):

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(steps=st.lists(STEP, min_size=1, max_size=7), after=AFTER)
        def active_path(
            steps: list[tuple[int, bool, str, str, str, str, ChatStats | None, str | None]],
            after: list[tuple[str, int]],
        ) -> None:
            chat_id = make_tree(source, "Tree", ChatSettings(), steps, after)
            text = export(source, chat_id, all_branches=False)
            assert text.startswith("---\nphidesk_export: 1\n")
            imported = import_markdown(target, text)
            # The copy is a plain chat: one path, no versions; and exports to the same bytes.
            assert target.versions(imported.id) == {}
            assert [m.content for m in target.messages(imported.id)] == [
                m.content for m in source.messages(chat_id)
            ]
            assert export(target, imported.id, all_branches=False) == text
            assert export(target, imported.id, all_branches=True) == text

        active_path()


def grow(db: Database) -> int:
    """Question, answer, a regenerated answer with its own follow-up, the first answer shown."""
    chat = db.create_chat(title="Sums", model="phi4-mini")
    question = db.add_message(chat.id, "user", "What is 1 + 1?")
    first = db.add_message(chat.id, "assistant", "2")
    db.add_message(chat.id, "assistant", "Two.", parent_id=question.id)
    db.add_message(chat.id, "user", "And 2 + 2?")
    db.show_version(first.id)
    return chat.id


def test_export_chats_to_a_zip_with_every_version_and_import_it_back(tmp_path: Path) -> None:
    with Database.open(tmp_path / "a.sqlite3") as source:
        tree = grow(source)
        plain = source.create_chat(title="Plain").id
        source.add_message(plain, "user", "hello")
        archive = tmp_path / "all.zip"
        export_chats(source, [tree, plain], archive, all_branches=True, exported_at=EXPORTED_AT)
        expected = shape(source, tree)
    with Database.open(tmp_path / "b.sqlite3") as target:
        imported = import_files(target, [archive])
        assert [c.title for c in imported] == ["Sums", "Plain"]
        assert shape(target, imported[0].id) == expected
        assert [m.content for m in target.messages(imported[0].id)] == ["What is 1 + 1?", "2"]
        assert target.versions(imported[1].id) == {}


def test_soft_deleted_messages_are_never_exported(tmp_path: Path) -> None:
    with Database.open(tmp_path / "a.sqlite3") as db:
        chat_id = grow(db)
        hidden = db.all_messages(chat_id)[2]
        assert hidden.content == "Two."
        db.delete_message(hidden.id)
        for all_branches in (False, True):
            text = export(db, chat_id, all_branches=all_branches)
            assert "Two." not in text and "And 2 + 2?" not in text
            # Only the path is left: nothing a plain export cannot say.
            assert text.startswith("---\nphidesk_export: 1\n")


def test_the_workspace_exports_every_version_when_asked(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    async def scenario() -> tuple[str, str, list[Path]]:
        workspace = Workspace.open(
            Paths.resolve(tmp_path / "data").ensure(), OllamaClient(ollama_double.url)
        )
        try:
            chat_id = grow(workspace.db)
            shown = await workspace.chat_markdown(chat_id)
            every = await workspace.chat_markdown(chat_id, all_branches=True)
            written = await workspace.export(
                [chat_id], tmp_path / "out" / "sums.md", all_branches=True
            )
            return shown, every, written
        finally:
            await workspace.aclose()

    shown, every, written = asyncio.run(scenario())
    assert shown.startswith("---\nphidesk_export: 1\n") and "Two." not in shown
    assert every.startswith("---\nphidesk_export: 2\n") and "Two." in every
    assert written == [tmp_path / "out" / "sums.md"]
    assert written[0].read_text(encoding="utf-8").startswith("---\nphidesk_export: 2\n")
