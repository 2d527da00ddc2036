"""`phidesk ask --attach FILE` as a real subprocess against the Ollama double."""

from __future__ import annotations

from pathlib import Path

from app.store import Database
from tests.documents_pdf import make_pdf
from tests.e2e.test_ask_and_chats import phidesk
from tests.ollama_double.server import OllamaDouble


def test_attach_is_repeatable_and_never_swallows_the_prompt(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    notes = tmp_path / "notes.txt"
    notes.write_text("The ferry leaves at 06:40.\n", encoding="utf-8")
    timetable = tmp_path / "timetable.pdf"
    timetable.write_bytes(make_pdf([["Platform 9 for the harbour train."]]))
    ollama_double.script_reply("At 06:40.")
    result = phidesk(
        data,
        ollama_double,
        "ask",
        "-m",
        "phi4-mini",
        "--attach",
        str(notes),
        "--attach",
        str(timetable),
        "When does the ferry leave?",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "At 06:40.\n"
    sent = ollama_double.requests_to("/api/chat")[-1].body
    assert sent is not None
    question = sent["messages"][-1]["content"]
    assert question.startswith(
        "[Attached file notes.txt — whole]\n```\nThe ferry leaves at 06:40.\n"
    )
    assert "[Attached file timetable.pdf — whole]" in question
    assert "Platform 9 for the harbour train." in question
    assert question.endswith("\n\nWhen does the ferry leave?")
    with Database.open(data / "phidesk.sqlite3") as db:
        first, answer = db.messages(1)
        assert first.content == "When does the ferry leave?"
        assert [a.name for a in db.attachments([first.id])[first.id]] == [
            "notes.txt",
            "timetable.pdf",
        ]
        assert answer.provenance is not None and answer.provenance.documents is not None
        assert [p.name for p in answer.provenance.documents.parts] == ["notes.txt", "timetable.pdf"]


def test_a_file_that_cannot_be_attached_is_one_sentence_and_nothing_is_kept(
    ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(make_pdf([["x"]], image_only=True))
    for path, says in (
        (scan, "scan.pdf has no text layer"),
        (tmp_path / "missing.md", "missing.md is no longer there"),
    ):
        result = phidesk(data, ollama_double, "ask", "-m", "phi4-mini", "--attach", str(path), "hi")
        assert result.returncode == 1
        assert result.stderr.startswith(f"phidesk: error: {says}")
        assert result.stderr.count("\n") == 1
    assert ollama_double.requests_to("/api/chat") == []
    with Database.open(data / "phidesk.sqlite3") as db:
        assert db.list_chats() == []


def test_attach_usage_errors(ollama_double: OllamaDouble, tmp_path: Path) -> None:
    data = tmp_path / "d"
    note = tmp_path / "n.txt"
    note.write_text("n", encoding="utf-8")
    result = phidesk(data, ollama_double, "ask", "--attach", str(note))
    assert result.returncode == 2 and "what to ask is missing" in result.stderr
    result = phidesk(
        data, ollama_double, "ask", "--chat", "1", "--regenerate", "--attach", str(note)
    )
    assert result.returncode == 2 and "--regenerate takes no --attach" in result.stderr
