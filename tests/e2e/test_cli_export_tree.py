"""`phidesk export --all-branches` as a real subprocess: every version of a chat, imported by
`phidesk import` into another data directory as the same tree, and exported again to the same
bytes; without the flag, the active path as a plain chat."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from app.chat.transfer import export_chat_markdown
from app.store import Database


def phidesk(data: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def without_export_time(text: str) -> str:
    return re.sub(r"(?m)^exported_at: .*$", "exported_at: -", text)


def seed(data: Path) -> int:
    """A question with two versions of its answer; the second has a follow-up; the first is
    shown."""
    with Database.open(data / "phidesk.sqlite3") as db:
        chat = db.create_chat(title="Sums", model="phi4-mini")
        question = db.add_message(chat.id, "user", "What is 1 + 1?\n```\nunclosed")
        first = db.add_message(chat.id, "assistant", "2")
        db.add_message(
            chat.id, "assistant", "---\nphidesk_export: 1\n---\nTwo.", parent_id=question.id
        )
        db.add_message(chat.id, "user", "And 2 + 2?")
        db.show_version(first.id)
        return chat.id


def tree(data: Path, chat_id: int) -> tuple[object, ...]:
    with Database.open(data / "phidesk.sqlite3") as db:
        everything = db.all_messages(chat_id)
        positions = {m.id: n for n, m in enumerate(everything, start=1)}
        leaf = db.get_chat(chat_id).active_leaf_id
        return (
            [(None if m.parent_id is None else positions[m.parent_id], m.role, m.content)
             for m in everything],
            None if leaf is None else positions[leaf],
        )  # fmt: skip


def test_export_all_branches_imports_as_the_same_tree_and_exports_the_same_bytes(
    tmp_path: Path,
) -> None:
    data, other = tmp_path / "data", tmp_path / "other"
    chat_id = seed(data)

    out = phidesk(data, "export", str(chat_id), "--all-branches")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode("utf-8")
    assert text.startswith("---\nphidesk_export: 2\n")
    assert "\nactive_leaf: 2\n" in text
    with Database.open(data / "phidesk.sqlite3") as db:
        expected = export_chat_markdown(db, chat_id, all_branches=True)
    assert without_export_time(text) == without_export_time(expected)

    file = tmp_path / "sums.md"
    written = phidesk(data, "export", str(chat_id), "--all-branches", "-o", str(file))
    assert written.returncode == 0, written.stderr
    imported = phidesk(other, "import", str(file))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.decode().startswith("1\t2 msgs\tSums")
    assert tree(other, 1) == tree(data, chat_id)

    again = phidesk(other, "export", "1", "--all-branches")
    assert again.returncode == 0, again.stderr
    assert without_export_time(again.stdout.decode("utf-8")) == without_export_time(text)


def test_export_without_the_flag_writes_the_active_path_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    chat_id = seed(data)
    out = phidesk(data, "export", str(chat_id))
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode("utf-8")
    assert text.startswith("---\nphidesk_export: 1\n")
    assert "What is 1 + 1?" in text and "\n2\n" in text
    assert "Two." not in text and "And 2 + 2?" not in text


def test_all_branches_is_in_the_help(tmp_path: Path) -> None:
    out = phidesk(tmp_path / "data", "export", "--help")
    assert out.returncode == 0
    assert b"--all-branches" in out.stdout
