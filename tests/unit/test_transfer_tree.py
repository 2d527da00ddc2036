"""Format 2 as text: a chat with every version (a tree of messages) written and read back, with
hostile content; a chat that is one path stays format 1; damaged trees refused in a sentence."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.chat.transfer import DamagedExport, chat_to_markdown, parse_markdown
from app.chat.transfer.tree import tree_problem
from app.store import Chat, ChatSettings, ContextUsage, Message
from tests.unit.test_transfer import EXPORTED_AT, OPTION_SETS, chats


@st.composite
def trees(draw: st.DrawFn, max_messages: int = 7) -> tuple[Chat, list[Message]]:
    """A chat whose messages form a random tree (several first messages too), parents before
    children, with a random active leaf."""
    chat, messages = draw(chats(max_messages=max_messages))
    shaped: list[Message] = []
    for index, message in enumerate(messages):
        earlier = [m.id for m in messages[:index]]
        parent = draw(st.one_of(st.none(), st.sampled_from(earlier))) if earlier else None
        shaped.append(replace(message, parent_id=parent))
    leaf = draw(st.sampled_from([m.id for m in shaped])) if shaped else None
    return replace(chat, active_leaf_id=leaf), shaped


def is_one_path(chat: Chat, messages: list[Message]) -> bool:
    parents = [None, *(m.id for m in messages)][: len(messages)]
    return [m.parent_id for m in messages] == parents and chat.active_leaf_id == (
        messages[-1].id if messages else None
    )


def export(chat: Chat, messages: list[Message], options: tuple[bool, bool]) -> str:
    return chat_to_markdown(
        chat,
        messages,
        include_thinking=options[0],
        include_provenance=options[1],
        exported_at=EXPORTED_AT,
        all_branches=True,
    )


def path_of(leaf: int | None, messages: list[Message]) -> list[int]:
    parents = {m.id: m.parent_id for m in messages}
    path: list[int] = []
    while leaf is not None:
        path.append(leaf)
        leaf = parents[leaf]
    return path[::-1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(), OPTION_SETS)
def test_every_version_comes_back_in_the_same_tree_and_exports_to_the_same_bytes(
    tree: tuple[Chat, list[Message]], options: tuple[bool, bool]
) -> None:
    chat, messages = tree
    text = export(chat, messages, options)
    parsed = parse_markdown(text)
    front = yaml.safe_load(text.split("\n---\n", 1)[0].removeprefix("---\n"))

    positions = {m.id: n for n, m in enumerate(messages, start=1)}
    if is_one_path(chat, messages):
        # Nothing a format 1 file cannot say: today's bytes.
        assert front["phidesk_export"] == 1 and "active_leaf" not in front
        assert text == chat_to_markdown(
            chat,
            messages,
            include_thinking=options[0],
            include_provenance=options[1],
            exported_at=EXPORTED_AT,
        )
        assert parsed.chat.active_leaf_id is None
        assert all(m.parent_id is None for m in parsed.messages)
    else:
        assert front["phidesk_export"] == 2
        assert front["active_leaf"] == positions[chat.active_leaf_id]  # type: ignore[index]
        assert parsed.chat.active_leaf_id == positions[chat.active_leaf_id]  # type: ignore[index]
        assert [m.parent_id for m in parsed.messages] == [
            None if m.parent_id is None else positions[m.parent_id] for m in messages
        ]
    assert front["messages"] == len(messages)
    assert [m.content for m in parsed.messages] == [m.content for m in messages]
    assert [(m.role, m.status, m.error) for m in parsed.messages] == [
        (m.role, m.status, m.error) for m in messages
    ]
    assert [m.stats for m in parsed.messages] == [m.stats if options[1] else None for m in messages]

    again = export(parsed.chat, list(parsed.messages_to_import()), options)
    assert again == text


@given(trees(), OPTION_SETS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_by_default_a_branched_chat_exports_its_active_path_as_a_plain_chat(
    tree: tuple[Chat, list[Message]], options: tuple[bool, bool]
) -> None:
    chat, messages = tree
    path = path_of(chat.active_leaf_id, messages)
    on_path = [m for m in messages if m.id in path]
    text = chat_to_markdown(
        chat,
        on_path,
        include_thinking=options[0],
        include_provenance=options[1],
        exported_at=EXPORTED_AT,
    )
    plain = [replace(m, parent_id=None) for m in on_path]
    assert text == chat_to_markdown(
        replace(chat, active_leaf_id=None),
        plain,
        include_thinking=options[0],
        include_provenance=options[1],
        exported_at=EXPORTED_AT,
    )
    assert text.startswith("---\nphidesk_export: 1\n")


# ---------------------------------------------------------------- damaged trees

MADE = EXPORTED_AT


def sample_tree() -> str:
    """Three messages: a question and two versions of its answer, the second shown."""

    def message(n: int, role: str, parent: int | None) -> Message:
        return Message(n, 7, role, f"text {n}\n", "", "complete", None, MADE, MADE, None, None,  # type: ignore[arg-type]
                       parent_id=parent)  # fmt: skip

    messages = [message(1, "user", None), message(2, "assistant", 1), message(3, "assistant", 1)]
    chat = Chat(7, "Tree", "normal", "phi4-mini", "", ChatSettings(), False, MADE, MADE, None,
                ContextUsage(), 3, active_leaf_id=3)  # fmt: skip
    return chat_to_markdown(chat, messages, exported_at=MADE, all_branches=True)


def test_the_sample_tree_reads_back() -> None:
    text = sample_tree()
    assert '<!-- phidesk {"n": 3, "parent": 1, "role": "assistant"' in text
    assert "\nactive_leaf: 3\n" in text
    parsed = parse_markdown(text)
    assert [m.parent_id for m in parsed.messages] == [None, 1, 1]
    assert parsed.chat.active_leaf_id == 3
    assert [m.content for m in parsed.messages_to_import()] == ["text 1\n", "text 2\n", "text 3\n"]


DAMAGED = {
    "a parent that does not exist": (
        ('"n": 3, "parent": 1,', '"n": 3, "parent": 9,'),
        "message 3 follows message 9, which is not in the file",
    ),
    "a message that follows itself": (
        ('"n": 2, "parent": 1,', '"n": 2, "parent": 2,'),
        "message 2 follows itself",
    ),
    "a cycle": (
        ('{"n": 1, "role"', '{"n": 1, "parent": 2, "role"'),
        "messages 1 and 2 follow each other in a circle",
    ),
    "a parent after its child": (
        ('"n": 2, "parent": 1,', '"n": 2, "parent": 3,'),
        "message 2 follows message 3, which comes after it",
    ),
    "an active leaf that is not a message": (
        ("\nactive_leaf: 3\n", "\nactive_leaf: 4\n"),
        "the active message, 4, is not in the file",
    ),
    "an active leaf that is not a number": (
        ("\nactive_leaf: 3\n", '\nactive_leaf: "3"\n'),
        "'active_leaf' is not a int",
    ),
    "no active leaf": (("\nactive_leaf: 3\n", "\n"), "has no 'active_leaf'"),
    "a message numbered out of order": (
        ('"n": 2, "parent": 1,', '"n": 5, "parent": 1,'),
        "message 2 is numbered 5",
    ),
    "a message without its number": (('{"n": 2, ', "{"), "has no 'n'"),
    "a parent that is not a number": (
        ('"n": 2, "parent": 1,', '"n": 2, "parent": "1",'),
        "'parent' is not a int",
    ),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_tree_is_refused_with_one_sentence(case: str) -> None:
    (old, new), why = DAMAGED[case]
    text = sample_tree()
    assert old in text
    with pytest.raises(DamagedExport) as refused:
        parse_markdown(text.replace(old, new, 1), source="tree.md")
    sentence = str(refused.value)
    assert sentence.startswith("tree.md is damaged: ")
    assert why in sentence
    assert "\n" not in sentence


def test_format_1_ignores_tree_keys_and_reads_one_path() -> None:
    text = sample_tree().replace("phidesk_export: 2\n", "phidesk_export: 1\n")
    parsed = parse_markdown(text)
    assert parsed.chat.active_leaf_id is None
    assert [m.parent_id for m in parsed.messages] == [None, None, None]


def test_the_format_2_example_in_the_documentation_is_a_valid_export() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "export-format.md").read_text(encoding="utf-8")
    example = doc.split("```markdown\n---\nphidesk_export: 2\n", 1)[1].split("\n```\n", 1)[0]
    example = "---\nphidesk_export: 2\n" + example + "\n"
    parsed = parse_markdown(example)
    assert [m.parent_id for m in parsed.messages] == [None, 1, 1]
    assert parsed.chat.active_leaf_id == 3
    again = chat_to_markdown(
        parsed.chat,
        list(parsed.messages_to_import()),
        exported_at=datetime.fromisoformat("2026-11-29T12:00:00+00:00"),
        all_branches=True,
    )
    assert again == example


def test_a_long_circle_is_named_by_its_first_messages() -> None:
    parents: list[int | None] = [None, 8, 2, 3, 4, 5, 6, 7]
    assert tree_problem(parents) == ("messages 2, 3, 4, 5 and 3 more follow each other in a circle")
    assert tree_problem([None, 1, 1]) is None
