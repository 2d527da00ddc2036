"""`phidesk compare` as a real subprocess against the Ollama double (a slow and a fast model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.store import Database
from tests.ollama_double.server import OllamaDouble

PROMPT = "What is $e^{i\\pi}$?"


def phidesk(data: Path, double: OllamaDouble, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), "--host", double.url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compare_prints_a_table_then_each_answer(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    ollama_double.set_token_delay("phi4", 0.06)
    ollama_double.script_reply("Slow: $e^{i\\pi} = -1$.")
    ollama_double.script_reply("Fast: $e^{i\\pi} = -1$.")
    done = phidesk(
        tmp_path, ollama_double, "compare", "-m", "phi4", "-m", "phi4-mini", "--warm-up", PROMPT
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "target",
        "TTFT",
        "prompt",
        "tok/s",
        "gen",
        "tok/s",
        "GPU",
        "%",
        "tokens",
    ]
    assert lines[1].startswith("phi4 ") and "fastest" not in lines[1]
    assert lines[2].startswith("phi4-mini (fastest")
    assert lines[1].split()[-2:] == ["100", "8"]  # GPU %, tokens: 23 characters in chunks of 3
    assert "## phi4\n\nSlow: $e^{i\\pi} = -1$." in done.stdout
    assert "## phi4-mini\n\nFast: $e^{i\\pi} = -1$." in done.stdout
    with Database.open(tmp_path / "phidesk.sqlite3", readonly=True) as db:
        (comparison,) = db.list_comparisons()
        assert comparison.prompt == PROMPT and [t.status for t in comparison.targets] == [
            "complete",
            "complete",
        ]
        assert db.list_chats() == []


def test_compare_json_has_the_figures_of_each_target(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    ollama_double.set_token_delay("phi4", 0.06)
    done = phidesk(
        tmp_path,
        ollama_double,
        "compare",
        "-m",
        "phi4",
        "-m",
        "phi4-mini@ollama",
        "--parallel",
        "--json",
        PROMPT,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["model"], r["engine"]) for r in rows] == [
        ("phi4", "ollama"),
        ("phi4-mini", "ollama"),
    ]
    keys = {
        "model",
        "engine",
        "ttft_ms",
        "prompt_tokens_per_s",
        "tokens_per_s",
        "eval_count",
        "prompt_eval_count",
        "gpu_percent",
        "chat_id",
        "answer",
    }
    for row in rows:
        assert keys <= row.keys()
        assert row["tokens_per_s"] > 0 and row["eval_count"] > 0 and row["gpu_percent"] == 100
        assert isinstance(row["chat_id"], int) and row["answer"]
    assert rows[1]["tokens_per_s"] > rows[0]["tokens_per_s"]


def test_one_failing_target_shows_its_sentence_and_exits_1(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    done = phidesk(tmp_path, ollama_double, "compare", "-m", "phi4-mini", "-m", "nope", PROMPT)
    assert done.returncode == 1
    assert "[failed]" in done.stdout and "## phi4-mini" in done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert (
        line.startswith("phidesk: error: nope: ")
        and "nope" in line[len("phidesk: error: nope: ") :]
    )


def test_usage_errors_exit_2(tmp_path: Path, ollama_double: OllamaDouble) -> None:
    one = phidesk(tmp_path, ollama_double, "compare", "-m", "phi4", PROMPT)
    assert one.returncode == 2
    assert one.stderr.strip() == "phidesk: error: a comparison takes 2 to 4 targets, not 1"
    bad = phidesk(tmp_path, ollama_double, "compare", "-m", "phi4@", "-m", "phi4-mini", PROMPT)
    assert bad.returncode == 2 and bad.stderr.startswith("phidesk: error: 'phi4@' is not a target")
