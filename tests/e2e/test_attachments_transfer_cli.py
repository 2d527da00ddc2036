"""`phidesk ask --attach FILE`, then `phidesk export --all -o x.zip` and `phidesk import x.zip`
into another data directory, as real subprocesses against the Ollama double: the same files
come back (original bytes, text and parts), and the export of the copy is the same .zip."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from app.store import Database
from tests.documents_pdf import make_pdf
from tests.e2e.test_ask_and_chats import phidesk
from tests.ollama_double.server import OllamaDouble


def files_of(data: Path) -> list[tuple[object, ...]]:
    with Database.open(data / "phidesk.sqlite3") as db:
        out: list[tuple[object, ...]] = []
        for chat in db.list_chats():
            ids = [m.id for m in db.messages(chat.id)]
            pool = {p.attachment.sha256: p for p in db.attachment_pool(ids)}
            for found in db.attachments(ids).values():
                for a in found:
                    kept = pool[a.sha256]
                    out.append(
                        (a.name, a.sha256, a.kind, a.size, a.pages, db.attachment_data(a.id),
                         kept.text, kept.chunks)
                    )  # fmt: skip
        return out


def entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {
            i.filename: re.sub(rb"(?m)^exported_at: .*$", b"exported_at: -", archive.read(i))
            for i in archive.infolist()
        }


def test_attached_files_go_through_a_zip_export_and_import(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data, other = tmp_path / "d", tmp_path / "o"
    notes = tmp_path / "notes.md"
    notes.write_text("# Ferry\n\nThe ferry leaves at 06:40.\n\n```\n````\n```\n", encoding="utf-8")
    timetable = tmp_path / "timetable.pdf"
    timetable.write_bytes(make_pdf([["Platform 9 for the harbour train."], ["Gate B."]]))
    ollama_double.script_reply("At 06:40.")
    asked = phidesk(
        data, ollama_double, "ask", "-m", "phi4-mini",
        "--attach", str(notes), "--attach", str(timetable), "When does the ferry leave?",
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    exported = phidesk(data, ollama_double, "export", "--all", "-o", str(tmp_path / "x.zip"))
    assert exported.returncode == 0, exported.stderr
    imported = phidesk(other, ollama_double, "import", str(tmp_path / "x.zip"))
    assert imported.returncode == 0, imported.stderr
    assert imported.stderr == "Imported 1 chat.\n"
    wanted = files_of(data)
    assert [f[0] for f in wanted] == ["notes.md", "timetable.pdf"]
    assert files_of(other) == wanted
    again = phidesk(other, ollama_double, "export", "--all", "-o", str(tmp_path / "y.zip"))
    assert again.returncode == 0, again.stderr
    assert entries(tmp_path / "y.zip") == entries(tmp_path / "x.zip")
    assert sorted(entries(tmp_path / "x.zip")) == sorted(
        ["When does the ferry leave_.md"] + [f"attachments/{f[1]}/{f[0]}" for f in wanted]
    )
