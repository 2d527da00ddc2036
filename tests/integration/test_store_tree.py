"""Conversations as trees on real SQLite files: versions, the active path and what follows it
(count, meter, search), soft deletion with undo, purging with the trash, and imports of paths
and trees."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.store import ChatSettings, Database, NotFound
from app.store.records import ContextUsage
from app.values import ChatStats


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with Database.open(tmp_path / "phidesk.sqlite3") as database:
        yield database


def _three_turns(db: Database) -> tuple[int, list[int]]:
    chat = db.create_chat(model="phi4-mini", settings=ChatSettings(num_ctx=4096))
    ids = []
    for n in (1, 2, 3):
        ids.append(db.add_message(chat.id, "user", f"question {n}").id)
        answer = db.add_message(chat.id, "assistant", f"answer {n}")
        db.finish_message(answer.id, stats=ChatStats(prompt_eval_count=10 * n, eval_count=n))
        ids.append(answer.id)
    return chat.id, ids


def _contents(db: Database, chat_id: int) -> list[str]:
    return [m.content for m in db.messages(chat_id)]


def test_messages_follow_each_other_and_the_chat_remembers_its_leaf(db: Database) -> None:
    chat_id, ids = _three_turns(db)
    messages = db.messages(chat_id)
    assert [m.parent_id for m in messages] == [None, *ids[:-1]]
    chat = db.get_chat(chat_id)
    assert (chat.active_leaf_id, chat.message_count) == (ids[-1], 6)
    assert chat.context == ContextUsage(used=33, limit=4096)
    assert db.versions(chat_id) == {}
    assert db.branch_points() == {}


def test_a_new_version_of_the_first_answer_keeps_the_old_branch_reachable(db: Database) -> None:
    chat_id, ids = _three_turns(db)
    question_1, answer_1 = ids[0], ids[1]
    again = db.add_message(chat_id, "assistant", "answer 1, again", parent_id=question_1)
    assert _contents(db, chat_id) == ["question 1", "answer 1, again"]
    chat = db.get_chat(chat_id)
    assert (chat.active_leaf_id, chat.message_count) == (again.id, 2)
    assert chat.context.used is None  # the new version has not been measured yet
    versions = db.versions(chat_id)
    assert versions[again.id].ids == (answer_1, again.id) and versions[again.id].index == 1
    assert versions[answer_1].index == 0 and versions[answer_1].count == 2
    assert db.branch_points() == {chat_id: 1}

    # Back to version 1: the later turns are all there, and the meter is theirs again.
    assert db.show_version(answer_1) == ids[-1]
    assert _contents(db, chat_id) == [f"{r} {n}" for n in (1, 2, 3) for r in ("question", "answer")]
    assert db.get_chat(chat_id).context.used == 33
    assert db.get_chat(chat_id).message_count == 6
    # And to version 2 again.
    assert db.show_version(again.id) == again.id
    assert _contents(db, chat_id) == ["question 1", "answer 1, again"]


def test_an_edited_question_is_a_sibling_with_its_own_continuation(db: Database) -> None:
    chat_id, ids = _three_turns(db)
    question_2 = db.get_message(ids[2])
    edited = db.add_message(chat_id, "user", "question 2, edited", parent_id=question_2.parent_id)
    db.add_message(chat_id, "assistant", "answer to the edit")
    assert _contents(db, chat_id)[2:] == ["question 2, edited", "answer to the edit"]
    assert db.versions(chat_id)[edited.id].ids == (question_2.id, edited.id)
    db.show_version(question_2.id)
    assert _contents(db, chat_id)[2:] == ["question 2", "answer 2", "question 3", "answer 3"]


def test_first_messages_can_have_versions_too(db: Database) -> None:
    chat = db.create_chat()
    first = db.add_message(chat.id, "user", "hello")
    other = db.add_message(chat.id, "user", "hi there", parent_id=None)
    assert db.versions(chat.id)[other.id].ids == (first.id, other.id)
    assert db.branch_points([chat.id]) == {chat.id: 1}
    assert _contents(db, chat.id) == ["hi there"]


def test_a_parent_from_another_chat_is_refused(db: Database) -> None:
    _one, ids = _three_turns(db)
    other = db.create_chat()
    with pytest.raises(NotFound):
        db.add_message(other.id, "user", "x", parent_id=ids[0])
    assert db.messages(other.id) == []


def test_delete_hides_the_subtree_and_undo_brings_back_the_same_path(db: Database) -> None:
    chat_id, ids = _three_turns(db)
    deleted = db.delete_message(ids[2])  # question 2: it, its answer and turn 3 go
    assert set(deleted.ids) == set(ids[2:])
    assert _contents(db, chat_id) == ["question 1", "answer 1"]
    chat = db.get_chat(chat_id)
    assert (chat.message_count, chat.active_leaf_id, chat.context.used) == (2, ids[1], 11)
    assert db.search("question 3") == []
    assert [m.id for m in db.all_messages(chat_id)] == ids[:2]
    with pytest.raises(NotFound):
        db.show_version(ids[3])

    db.restore_messages(deleted)
    assert len(db.messages(chat_id)) == 6
    chat = db.get_chat(chat_id)
    assert (chat.message_count, chat.active_leaf_id, chat.context.used) == (6, ids[-1], 33)
    assert [h.message_id for h in db.search("question 3")] == [ids[4]]


def test_deleting_a_version_shows_the_nearest_sibling(db: Database) -> None:
    chat_id, ids = _three_turns(db)
    v2 = db.add_message(chat_id, "assistant", "second take", parent_id=ids[0])
    v3 = db.add_message(chat_id, "assistant", "third take", parent_id=ids[0])
    db.show_version(v2.id)
    db.delete_message(v2.id)  # the older sibling comes first
    assert _contents(db, chat_id)[1] == "answer 1" and len(db.messages(chat_id)) == 6
    assert db.versions(chat_id)[v3.id].ids == (ids[1], v3.id)
    db.delete_message(ids[1])  # no older one left: the newer
    assert _contents(db, chat_id) == ["question 1", "third take"]
    db.delete_message(v3.id)  # no sibling at all: the parent's path
    assert _contents(db, chat_id) == ["question 1"]
    assert db.versions(chat_id) == {}
    db.delete_message(ids[0])
    chat = db.get_chat(chat_id)
    assert (db.messages(chat_id), chat.message_count, chat.active_leaf_id) == ([], 0, None)


def test_deleting_a_version_that_is_not_shown_leaves_the_path(db: Database) -> None:
    chat_id, ids = _three_turns(db)
    old = db.add_message(chat_id, "assistant", "other take", parent_id=ids[0])
    db.show_version(ids[1])
    db.delete_message(old.id)
    assert len(db.messages(chat_id)) == 6 and db.versions(chat_id) == {}


def test_a_search_hit_on_another_branch_can_be_shown(db: Database) -> None:
    chat_id, ids = _three_turns(db)
    db.add_message(chat_id, "assistant", "a different answer", parent_id=ids[0])
    hit = db.search("answer 3")[0]
    assert hit.message_id == ids[5]  # versions off the path are still found
    assert db.show_message(hit.message_id) == ids[5]
    assert _contents(db, chat_id)[-1] == "answer 3"
    assert db.show_message(ids[0]) == ids[5]  # already on the path: left as it is


def test_soft_deleted_messages_are_purged_with_the_trash(db: Database, tmp_path: Path) -> None:
    chat_id, ids = _three_turns(db)
    db.delete_message(ids[4])
    assert db.purge_deleted_chats(older_than=timedelta(days=30)) == 0
    with sqlite3.connect(tmp_path / "phidesk.sqlite3") as raw:
        assert raw.execute("SELECT count(*) FROM messages").fetchone() == (6,)
    raw.close()
    db.purge_deleted_chats()
    with sqlite3.connect(tmp_path / "phidesk.sqlite3") as raw:
        assert raw.execute("SELECT count(*) FROM messages").fetchone() == (4,)
    raw.close()
    assert len(db.messages(chat_id)) == 4


def test_discarding_a_refused_question_shows_its_parent_again(db: Database) -> None:
    chat_id, ids = _three_turns(db)
    question = db.add_message(chat_id, "user", "refused")
    db.discard_message(question.id)
    chat = db.get_chat(chat_id)
    assert (chat.active_leaf_id, chat.message_count) == (ids[-1], 6)
    assert db.all_messages(chat_id)[-1].id == ids[-1]


def test_a_streaming_version_does_not_move_the_meter_of_the_version_on_show(
    db: Database,
) -> None:
    chat_id, ids = _three_turns(db)
    new = db.add_message(chat_id, "assistant", status="streaming", parent_id=ids[4])
    db.show_version(ids[5])
    db.finish_message(new.id, stats=ChatStats(prompt_eval_count=99, eval_count=1))
    assert db.get_chat(chat_id).context.used == 33
    db.show_version(new.id)
    assert db.get_chat(chat_id).context.used == 100


def test_latest_messages_pages_through_the_active_path(db: Database) -> None:
    chat_id, ids = _three_turns(db)
    db.add_message(chat_id, "assistant", "elsewhere", parent_id=ids[0])
    db.show_version(ids[1])
    assert [m.id for m in db.latest_messages(chat_id, limit=2)] == ids[-2:]
    assert [m.id for m in db.latest_messages(chat_id, limit=2, before=ids[4])] == ids[2:4]


def test_import_keeps_a_tree_and_its_active_leaf(db: Database) -> None:
    chat_id, ids = _three_turns(db)
    db.add_message(chat_id, "assistant", "second take", parent_id=ids[0])
    db.show_version(ids[3])
    chat = db.get_chat(chat_id)
    result = db.import_chats([(chat, db.all_messages(chat_id))])
    copy = result.added[0]
    assert (copy.message_count, copy.context) == (6, chat.context)
    assert _contents(db, copy.id) == _contents(db, chat_id)
    assert db.branch_points([copy.id]) == {copy.id: 1}
    shape = [(m.role, m.content, m.parent_id is None) for m in db.all_messages(copy.id)]
    assert shape == [(m.role, m.content, m.parent_id is None) for m in db.all_messages(chat_id)]


def test_import_of_messages_without_parents_makes_one_path(db: Database) -> None:
    chat_id, _ids = _three_turns(db)
    chat = db.get_chat(chat_id)
    from dataclasses import replace

    flat = [replace(m, parent_id=None) for m in db.messages(chat_id)]
    copy = db.import_chats([(replace(chat, active_leaf_id=None), flat)]).added[0]
    assert copy.message_count == 6
    assert _contents(db, copy.id) == _contents(db, chat_id)


def test_what_an_import_adds_in_its_last_commit_lands_with_the_chats_or_not_at_all(
    db: Database,
) -> None:
    """`import_chats(on_commit=…)` (a comparison's rows with its chats): a failure there leaves
    none of the chats; success commits both together."""
    chat_id, _ids = _three_turns(db)
    chat = db.get_chat(chat_id)
    before = len(db.list_chats())

    def refuse(_session: object) -> None:
        raise ValueError("the comparison could not be stored")

    with pytest.raises(ValueError, match="could not be stored"):
        db.import_chats([(chat, db.all_messages(chat_id))], on_commit=refuse)
    assert len(db.list_chats()) == before

    stored: list[object] = []
    result = db.import_chats([(chat, db.all_messages(chat_id))], on_commit=stored.append)
    assert len(stored) == 1  # called once, with the session of the last commit
    assert len(result.added) == 1 and len(db.list_chats()) == before + 1
