"""`phidesk models`, `pull` and `rm` as a user runs them: subprocesses against the double."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time

from app.backend.client import OllamaClient
from tests.ollama_double.server import OllamaDouble


def phidesk(url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--host", url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_models_table_and_json(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("hi")

    # Load phi4 so one row shows as loaded with a GPU share.
    async def load() -> None:
        async with OllamaClient(ollama_double.url) as client:
            async for _ in client.chat("phi4", [{"role": "user", "content": "x"}], num_ctx=4096):
                pass

    asyncio.run(load())

    result = phidesk(ollama_double.url, "models", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) >= {"phi4:latest", "phi4-mini:latest", "phi4-reasoning:latest"}
    phi4 = rows["phi4:latest"]
    assert phi4["loaded"] is True and isinstance(phi4["gpu_percent"], int)
    assert (phi4["quantization"], phi4["family"], phi4["size"]) == ("Q4_K_M", "phi3", 9053116391)
    assert rows["phi4-mini:latest"]["loaded"] is False

    table = phidesk(ollama_double.url, "models")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "QUANT", "FAMILY", "LOADED", "GPU"]
    phi4_line = next(line for line in lines if line.startswith("phi4:latest "))
    assert "9.1 GB" in phi4_line and "Q4_K_M" in phi4_line and "yes" in phi4_line


def test_pull_then_rm(ollama_double: OllamaDouble) -> None:
    pulled = phidesk(ollama_double.url, "pull", "phi4-mini:3.8b-fp16")
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip() == "pulled phi4-mini:3.8b-fp16"
    assert "GB" in pulled.stderr and "%" in pulled.stderr
    assert "Traceback" not in pulled.stderr
    assert "phi4-mini:3.8b-fp16" in phidesk(ollama_double.url, "models").stdout

    removed = phidesk(ollama_double.url, "rm", "phi4-mini:3.8b-fp16")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == "deleted phi4-mini:3.8b-fp16"
    assert "phi4-mini:3.8b-fp16" not in phidesk(ollama_double.url, "models").stdout


def test_failures_are_one_line_with_status_1(ollama_double: OllamaDouble) -> None:
    cases = {
        ("pull", "phi4:99b"): "no model called phi4:99b",
        ("rm", "phi4:99b"): "not installed",
        ("pull", "bad name"): "not a valid model name",
    }
    for args, words in cases.items():
        result = phidesk(ollama_double.url, *args)
        assert result.returncode == 1, (args, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 or (args[0] == "pull" and len(lines) == 2), lines
        assert lines[-1].startswith("phidesk: error: ") and words in lines[-1], lines
        assert "Traceback" not in result.stderr


def test_unreachable_server_is_one_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = phidesk(url, "models")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"phidesk: error: Ollama is not answering at {url}; start it (ollama serve), "
        "or check the address and choose another host"
    ]


def test_ctrl_c_during_pull_exits_130_and_drops_the_download(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("slow", delay=0.1, path="/api/pull")
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--host", ollama_double.url, "pull", "phi4:14b-q8_0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ollama_double.requests_to("/api/pull"):
            assert time.monotonic() < deadline, "the pull never reached the server"
            time.sleep(0.05)
        time.sleep(0.5)  # a few progress lines in
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    assert stdout == ""
    deadline = time.monotonic() + 5
    while "/api/pull" not in ollama_double.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "/api/pull" in ollama_double.disconnects
    assert "phi4:14b-q8_0" not in phidesk(ollama_double.url, "models").stdout
