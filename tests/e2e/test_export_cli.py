"""`phidesk export` and `phidesk import` as real subprocesses on a real data directory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from app.chat.transfer import export_chat_markdown
from app.store import ChatSettings, Database, Provenance


def phidesk(data: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), *args],
        capture_output=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def without_export_time(text: str) -> str:
    return re.sub(r"(?m)^exported_at: .*$", "exported_at: -", text)


def seed(data: Path) -> list[int]:
    with Database.open(data / "phidesk.sqlite3") as db:
        first = db.create_chat(
            title="Prices: $5 & $10",
            model="phi4-mini",
            system_prompt="Answer briefly.",
            settings=ChatSettings(num_ctx=8192, temperature=0.3),
        )
        db.add_message(first.id, "user", "What is 2 × $3?\r\nAnswer in a table.  ")
        answer = db.add_message(first.id, "assistant", "", status="streaming")
        db.finish_message(
            answer.id,
            content="```\n| a | b |\n```\n\n## User · 2026-01-01 00:00:00 UTC\n$$\n6\n",
            thinking="Multiply.",
            provenance=Provenance(model="phi4-mini", quantization="Q4_K_M"),
        )
        second = db.create_chat(title="Prices: $5 & $10", model="phi4")
        db.add_message(second.id, "user", "שלום 🙂")
        return [first.id, second.id]


def test_one_chat_goes_to_stdout_byte_for_byte(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, _ = seed(data)
    result = phidesk(data, "export", str(first))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode("utf-8")
    assert "What is 2 × $3?\r\nAnswer in a table.  \n" in out  # CRLF and trailing spaces kept
    assert 'quantization: "Q4_K_M"\n' in out
    assert "<details>" in out
    with Database.open(data / "phidesk.sqlite3") as db:
        assert without_export_time(out) == without_export_time(export_chat_markdown(db, first))
    hidden = phidesk(data, "export", str(first), "--no-reasoning", "--provenance")
    assert hidden.returncode == 0
    assert b"<details>" not in hidden.stdout and b"Multiply." not in hidden.stdout
    assert b"> *phi4-mini \xc2\xb7 Q4_K_M*" in hidden.stdout


def test_export_all_to_a_zip_and_import_it_into_another_data_dir(tmp_path: Path) -> None:
    data, other = tmp_path / "data", tmp_path / "other"
    ids = seed(data)
    archive = tmp_path / "all.zip"
    exported = phidesk(data, "export", "--all", "-o", str(archive))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.decode().strip() == str(archive)
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist()) == ["Prices_ $5 & $10 (2).md", "Prices_ $5 & $10.md"]

    imported = phidesk(other, "import", str(archive))
    assert imported.returncode == 0, imported.stderr
    listed = phidesk(other, "chats", "--json")
    chats = json.loads(listed.stdout)
    assert sorted((c["id"], c["message_count"]) for c in chats) == [(ids[0], 2), (ids[1], 1)]
    for chat_id in ids:
        again = phidesk(other, "export", str(chat_id))
        original = phidesk(data, "export", str(chat_id))
        assert without_export_time(again.stdout.decode()) == without_export_time(
            original.stdout.decode()
        )


def test_export_to_a_folder_prints_the_files_it_wrote(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = seed(data)
    folder = tmp_path / "exports"
    result = phidesk(data, "export", *map(str, ids), "-o", str(folder))
    assert result.returncode == 0, result.stderr
    written = [Path(line) for line in result.stdout.decode().splitlines()]
    assert sorted(p.name for p in written) == sorted(p.name for p in folder.iterdir())
    assert len(written) == 2
    reimport = phidesk(data, "import", *map(str, written))
    assert reimport.returncode == 0, reimport.stderr
    assert len(reimport.stdout.decode().splitlines()) == 2


def test_a_markdown_file_not_from_phidesk_is_refused_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed(data)
    notes = tmp_path / "notes.md"
    notes.write_text("---\ntitle: Notes\n---\n\n# Notes\n")
    result = phidesk(data, "import", str(notes))
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"phidesk: error: {notes} is not a PhiDesk export")
    listed = json.loads(phidesk(data, "chats", "--json").stdout)
    assert len(listed) == 2


def test_usage_mistakes_and_missing_chats_get_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed(data)
    cases = [
        (("export",), 2, "say which chats to export"),
        (("export", "1", "--all"), 2, "not both"),
        (("export", "1", "2"), 2, "pass -o FOLDER or -o FILE.zip"),
        (("export", "0"), 2, "not a chat id"),
        (("export", "99"), 1, "chat 99 does not exist"),
        (("export", "1", "2", "-o", str(tmp_path / "x.md")), 1, "folder or a .zip"),
    ]
    for args, status, words in cases:
        result = phidesk(data, *args)
        stderr = result.stderr.decode()
        assert result.returncode == status, (args, stderr)
        assert words in stderr, (args, stderr)
        assert stderr.startswith("phidesk: error: ") and stderr.count("\n") == 1, stderr
