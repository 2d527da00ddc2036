"""The command line on the application layer: `phidesk ask` takes the same per-model chat
defaults as the window, and what the workspace tells the user arrives as one stderr line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.config import Paths
from app.store import ChatSettings, Database
from app.workspace import ModelDefaults, SettingsStore
from tests.ollama_double.server import OllamaDouble


def phidesk(data: Path, double: OllamaDouble, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), "--host", double.url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_ask_starts_a_chat_with_the_models_defaults_under_its_flags(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    paths = Paths.resolve(tmp_path).ensure()
    defaults = {"phi4-mini:latest": ModelDefaults(num_ctx=3072, temperature=0.25)}
    SettingsStore(paths.settings_file).set(model_defaults=defaults)  # as chat settings save them
    ollama_double.script_reply("fine")
    done = phidesk(tmp_path, ollama_double, "ask", "-m", "phi4-mini:latest", "--no-think", "hi")
    assert done.returncode == 0, done.stderr
    body = ollama_double.requests_to("/api/chat")[-1].body
    assert body["options"]["num_ctx"] == 3072
    assert body["options"]["temperature"] == 0.25
    with Database.open(paths.database) as db:
        chat = db.list_chats()[0]
    assert (chat.settings.num_ctx, chat.settings.temperature, chat.settings.think) == (
        3072,
        0.25,
        False,
    )


def test_a_workspace_notice_is_one_line_on_stderr(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    paths = Paths.resolve(tmp_path).ensure()
    with Database.open(paths.database) as db:
        chat = db.create_chat(model="phi4-mini:latest", settings=ChatSettings(num_ctx=600))
        for i in range(3):
            db.add_message(chat.id, "user", f"question {i} " + "q" * 600)
            db.add_message(chat.id, "assistant", f"answer {i} " + "a" * 600)
    ollama_double.script_reply("short")
    done = phidesk(tmp_path, ollama_double, "ask", "--chat", str(chat.id), "and now?")
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("phidesk: note: ")]
    assert len(notes) == 1
    assert notes[0].endswith(
        "older messages did not fit in the 600-token context window and were left out "
        "(raise it with --num-ctx)"
    )


def test_ask_into_a_reader_that_goes_away_stops_quietly_with_141(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    ollama_double.script_reply("word " * 400, chunk_size=5)
    ollama_double.set_fault("slow", delay=0.02, path="/api/chat")
    command = [sys.executable, "-m", "app", "--data-dir", str(tmp_path)]
    command += ["--host", ollama_double.url, "ask", "-m", "phi4-mini:latest", "talk"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.read(20)  # `phidesk ask … | head -c 20`
        process.stdout.close()
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=60) == 141
    assert stderr == ""
    log = (tmp_path / "logs" / "phidesk.log").read_text(encoding="utf-8")
    assert "Traceback" not in log
    with Database.open(tmp_path / "phidesk.sqlite3") as db:
        question, answer = db.messages(db.list_chats()[0].id)
    assert question.content == "talk"
    assert answer.status == "stopped"
    assert answer.content and ("word " * 400).startswith(answer.content)
