"""`phidesk engines`, `phidesk models --engine` and `phidesk ask --engine` as real subprocesses
against the OpenAI-compatible double, with a real Secret Service holding the key."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.openai_double.server import OpenAIDouble, prompt_tokens

pytestmark = pytest.mark.keyring_real


def phidesk(
    data: Path, *args: str, stdin: str | None = None, host: str | None = None
) -> subprocess.CompletedProcess[str]:
    head = [sys.executable, "-m", "app", "--data-dir", str(data)]
    if host is not None:
        head += ["--host", host]
    return subprocess.run(
        [*head, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phidesk: error: "), result.stderr
    return lines[0]


def test_add_list_test_models_ask_chats_rm(
    secret_service: str, openai_double: OpenAIDouble, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    key = f"sk-cli-{uuid.uuid4().hex}"
    openai_double.require_key(key)
    added = phidesk(
        data, "engines", "add", "lab", "--url", openai_double.url, "--api-key-stdin", stdin=key
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"added engine lab (openai, {openai_double.url})"

    listed = phidesk(data, "engines", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["kind"], r["has_key"]) for r in rows] == [
        ("ollama", "ollama", False),
        ("lab", "openai", True),
    ]
    tested = phidesk(data, "engines", "test", "lab")
    assert tested.stdout.strip() == "Connected: 5 models, 3 of the Phi-4 family"

    models = json.loads(phidesk(data, "models", "--engine", "lab", "--json").stdout)
    assert [(m["id"], m["context_length"]) for m in models] == [
        ("microsoft/phi-4", 16384),
        ("microsoft/Phi-4-mini-instruct", 131072),
        ("microsoft/Phi-4-reasoning-plus", 32768),
    ]
    assert (
        len(json.loads(phidesk(data, "models", "--engine", "lab", "--all", "--json").stdout)) == 5
    )

    answer = "By Pythagoras, $a^2 + b^2 = c^2$."
    openai_double.script_reply(answer, reasoning="Right triangle.")
    asked = phidesk(data, "ask", "--engine", "lab", "-m", "microsoft/phi-4", "Pythagoras?")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout == answer + "\n"
    chats = json.loads(phidesk(data, "chats", "--json").stdout)
    assert [(c["engine"], c["model"]) for c in chats] == [("lab", "microsoft/phi-4")]
    sent = openai_double.requests_to("/v1/chat/completions")[0].body["messages"]
    completion = (len(answer) + 3) // 4 + (len("Right triangle.") + 3) // 4
    assert chats[0]["context"] == {"used": prompt_tokens(sent) + completion, "limit": 16384}

    for path in data.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path

    removed = phidesk(data, "engines", "rm", "lab")
    assert removed.returncode == 0 and removed.stdout.strip() == "removed engine lab"
    again = phidesk(data, "ask", "--chat", str(chats[0]["id"]), "still there?")
    assert again.returncode == 1
    assert "choose another engine" in one_error_line(again)


def test_usage_errors_and_refusals(
    secret_service: str, openai_double: OpenAIDouble, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    both = phidesk(data, "ask", "--engine", "lab", "-m", "x", "hi", host="http://127.0.0.1:9")
    assert both.returncode == 2 and "--engine or --host" in one_error_line(both)
    insecure = phidesk(
        data,
        "engines",
        "add",
        "far",
        "--url",
        "http://gpu-box.example:8000",
        "--api-key-stdin",
        stdin="sk-1",
    )
    assert insecure.returncode == 1 and "plain http://" in one_error_line(insecure)
    assert phidesk(data, "engines", "add", "lab", "--url", openai_double.url).returncode == 0
    odd = phidesk(
        data, "ask", "--engine", "lab", "-m", "mistralai/Mistral-7B-Instruct-v0.3", "hello"
    )
    assert odd.returncode == 2 and "--num-ctx" in one_error_line(odd)
    assert json.loads(phidesk(data, "chats", "--json").stdout) == []
    fixed = phidesk(
        data,
        "ask",
        "--engine",
        "lab",
        "--num-ctx",
        "4096",
        "-m",
        "mistralai/Mistral-7B-Instruct-v0.3",
        "hello",
    )
    assert fixed.returncode == 0, fixed.stderr
    openai_double.set_fault("rate_limited", retry_after=9)
    limited = phidesk(data, "ask", "--engine", "lab", "-m", "microsoft/phi-4", "again")
    assert limited.returncode == 1 and "try again in 9 seconds" in one_error_line(limited)
    unknown = phidesk(data, "ask", "--engine", "nope", "-m", "m", "hello")
    assert unknown.returncode == 2 and "no engine 'nope'" in one_error_line(unknown)
