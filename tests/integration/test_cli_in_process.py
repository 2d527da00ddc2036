"""The newer `phidesk` commands run in this process (the subprocess tests in tests/e2e check the
same commands as a user runs them; these let coverage see the code): compare, engines, models
of an engine, ollama status, export of a comparison, and ask with an attached file — against
the Ollama and OpenAI-compatible doubles over real sockets and a real data folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.main import main
from tests.ollama_double.server import OllamaDouble
from tests.openai_double.server import OpenAIDouble


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_compare_and_export_the_comparison(
    tmp_path: Path, ollama_double: OllamaDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--data-dir", str(tmp_path / "d"), "--host", ollama_double.url]
    ollama_double.script_reply("Four.")
    ollama_double.script_reply("It is 4.")
    status, out, err = _run(capsys, *base, "compare", "-m", "phi4-mini", "-m", "phi4", "2+2?")
    assert status == 0, err
    assert "phi4-mini" in out and "Four." in out and "It is 4." in out
    ollama_double.script_reply("4")
    ollama_double.script_reply("four")
    status, out, err = _run(
        capsys, *base, "compare", "--json", "-m", "phi4-mini", "-m", "phi4", "Two plus two?"
    )
    assert status == 0, err
    rows = json.loads(out)
    assert [r["model"] for r in rows] == ["phi4-mini", "phi4"]
    assert {r["answer"] for r in rows} == {"4", "four"}
    assert all(r["chat_id"] for r in rows)

    target = tmp_path / "comparison.md"
    status, out, err = _run(capsys, *base, "export", "--comparison", "1", "-o", str(target))
    assert status == 0, err
    text = target.read_text(encoding="utf-8")
    assert "comparison: true" in text and "Four." in text
    status, _out, err = _run(capsys, *base, "export", "--comparison", "99")
    assert status == 1 and err.startswith("phidesk: error: ")


def test_engines_and_their_models(
    tmp_path: Path, openai_double: OpenAIDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--data-dir", str(tmp_path / "d")]
    status, out, err = _run(capsys, *base, "engines", "list", "--json")
    assert status == 0, err
    assert [e["name"] for e in json.loads(out)] == ["ollama"]
    status, out, err = _run(
        capsys, *base, "engines", "add", "lab", "--url", openai_double.url, "--kind", "openai"
    )
    assert status == 0, err
    status, out, err = _run(capsys, *base, "engines", "list")
    assert status == 0 and "lab" in out
    status, out, err = _run(capsys, *base, "engines", "test", "lab")
    assert status == 0, err
    assert "Connected" in out + err
    status, out, err = _run(capsys, *base, "models", "--engine", "lab", "--json")
    assert status == 0, err
    assert json.loads(out)
    status, out, err = _run(capsys, *base, "engines", "rm", "lab")
    assert status == 0, err
    status, out, err = _run(capsys, *base, "engines", "test", "lab")
    assert status != 0 and err.startswith("phidesk: error: ")


def test_ollama_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--data-dir", str(tmp_path / "d"), "--host", "http://127.0.0.1:9"]
    status, out, err = _run(capsys, *base, "ollama", "status", "--json")
    assert status == 0, err
    found = json.loads(out)
    assert found["managed"] is False and found["running"] is False
    status, out, err = _run(capsys, *base, "ollama", "status")
    assert status == 0, err
    assert out.strip()


def test_ask_with_an_attached_file(
    tmp_path: Path, ollama_double: OllamaDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nThe code word is pelican.\n", encoding="utf-8")
    base = ["--data-dir", str(tmp_path / "d"), "--host", ollama_double.url]
    ollama_double.script_reply("pelican")
    status, out, err = _run(
        capsys, *base, "ask", "-m", "phi4-mini", "--attach", str(notes), "The code word?"
    )
    assert status == 0, err
    assert out == "pelican\n"
    sent = ollama_double.requests_to("/api/chat")[-1].body
    assert sent is not None and "pelican" in sent["messages"][-1]["content"]
    status, _out, err = _run(
        capsys, *base, "ask", "-m", "phi4-mini", "--attach", str(tmp_path / "gone.md"), "x"
    )
    assert status != 0 and err.startswith("phidesk: error: ")
