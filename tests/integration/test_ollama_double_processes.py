"""The double as a separate process: `python -m tests.ollama_double` and the fake `ollama`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ollama_double.checks import call

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited early with {process.returncode}"
        try:
            if httpx.get(url, timeout=0.5).text == "Ollama is running":
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    pytest.fail(f"nothing healthy at {url} after {timeout} s")


def env_with(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    env.update(values)
    return env


@pytest.fixture
def standalone() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.ollama_double", "--port", "0", "--fault", "slow:delay=0.001"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        url = process.stdout.readline().strip()
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_standalone_prints_its_url_serves_and_stops_on_ctrl_c(
    standalone: tuple[subprocess.Popen[str], str],
) -> None:
    process, url = standalone
    assert url.startswith("http://127.0.0.1:")
    wait_healthy(url, process)
    assert "phi4:latest" in {m["name"] for m in call(url, "GET", "/api/tags").json["models"]}
    body = {"model": "phi4", "messages": [{"role": "user", "content": "math"}]}
    assert "$$" in call(url, "POST", "/api/chat", body).contents()
    armed = httpx.post(url + "/_double/faults", json={"kind": "status", "status": 503})
    assert armed.status_code == 200
    assert call(url, "GET", "/api/version").status == 503
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in stderr


def test_fake_ollama_prints_a_version(fake_ollama_bin: Path) -> None:
    done = subprocess.run(
        [str(fake_ollama_bin / "ollama"), "--version"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    assert done.stdout.startswith("ollama version is 0.")
    assert [p.name for p in fake_ollama_bin.iterdir()] == ["ollama"]


def test_fake_ollama_serve_listens_on_ollama_host_and_records_its_environment(
    fake_ollama_bin: Path, tmp_path: Path
) -> None:
    port = free_port()
    record = tmp_path / "env.json"
    env = env_with(
        OLLAMA_HOST=f"127.0.0.1:{port}",
        OLLAMA_KV_CACHE_TYPE="q8_0",
        OLLAMA_FLASH_ATTENTION="1",
        OLLAMA_CONTEXT_LENGTH="8192",
        OLLAMA_KEEP_ALIVE="30m",
        CUDA_VISIBLE_DEVICES="0",
        PHIDESK_FAKE_OLLAMA_RECORD=str(record),
    )
    process = subprocess.Popen(
        [str(fake_ollama_bin / "ollama"), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        recorded = json.loads(record.read_text())
        assert recorded["env"] == {
            "OLLAMA_HOST": f"127.0.0.1:{port}",
            "OLLAMA_KV_CACHE_TYPE": "q8_0",
            "OLLAMA_FLASH_ATTENTION": "1",
            "OLLAMA_CONTEXT_LENGTH": "8192",
            "OLLAMA_KEEP_ALIVE": "30m",
            "CUDA_VISIBLE_DEVICES": "0",
        }
        assert recorded["pid"] == process.pid  # the shell script execs, so it is one process
        # OLLAMA_CONTEXT_LENGTH is the default num_ctx; OLLAMA_KEEP_ALIVE the default expiry.
        call(url, "POST", "/api/chat", {"model": "phi4-mini", "messages": []})
        loaded = call(url, "GET", "/api/ps").json["models"][0]
        assert loaded["context_length"] == 8192
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0
        assert f"Listening on 127.0.0.1:{port}" in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_fake_ollama_serve_fails_like_ollama_when_the_port_is_taken(
    fake_ollama_bin: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(fake_ollama_bin / "ollama"), "serve"],
            env=env_with(OLLAMA_HOST=f"http://127.0.0.1:{port}"),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"Error: listen tcp 127.0.0.1:{port}: bind: address already in use" in done.stderr


def test_fake_ollama_can_be_told_to_fail_at_start(fake_ollama_bin: Path) -> None:
    done = subprocess.run(
        [str(fake_ollama_bin / "ollama"), "serve"],
        env=env_with(PHIDESK_FAKE_OLLAMA_FAIL="no GPU today"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (1, "Error: no GPU today\n")


def test_checked_in_fake_ollama_script_runs_with_the_test_interpreter(tmp_path: Path) -> None:
    script = REPO / "tests/ollama_double/fake_ollama"
    assert os.access(script, os.X_OK)
    assert "python3" not in script.read_text().splitlines()[0]
    done = subprocess.run(
        [str(script), "--version"],
        env={**os.environ, "PHIDESK_TEST_PYTHON": sys.executable},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ollama version is")
