"""Managed `ollama serve` with a fake `ollama` that starts the double: found, started with
PhiDesk's settings, healthy, logged, and stopped only if PhiDesk started it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

import pytest

from app.backend.client import OllamaClient
from app.backend.server import (
    ManagedServer,
    OllamaNotInstalled,
    ServerSettings,
    ServerStartFailed,
    candidate_paths,
    find_ollama,
)
from tests.ollama_double.server import OllamaDouble


def ping(url: str) -> bool:
    async def probe() -> bool:
        async with OllamaClient(url) as client:
            return await client.ping()

    return asyncio.run(probe())


def free_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_binary_found_on_path_then_in_usual_places(fake_ollama_bin: Path, tmp_path: Path) -> None:
    assert find_ollama({"PATH": str(fake_ollama_bin)}) == fake_ollama_bin / "ollama"
    home = tmp_path / "home"
    local_bin = home / ".local/bin"
    local_bin.mkdir(parents=True)
    (local_bin / "ollama").write_bytes((fake_ollama_bin / "ollama").read_bytes())
    (local_bin / "ollama").chmod(0o755)
    empty = tmp_path / "empty"
    empty.mkdir()
    found = find_ollama({"PATH": str(empty)}, platform="linux", home=home)
    assert found in (local_bin / "ollama", *candidate_paths("linux", {}, home))
    win = candidate_paths("win32", {"LOCALAPPDATA": r"C:\Users\u\AppData\Local"}, home)
    assert win[0].name == "ollama.exe" and "Programs" in win[0].parts
    mac = candidate_paths("darwin", {}, home)
    assert Path("/Applications/Ollama.app/Contents/Resources/ollama") in mac


def test_starts_with_settings_waits_logs_and_stops(
    fake_ollama_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "record.json"
    monkeypatch.setenv("PHIDESK_FAKE_OLLAMA_RECORD", str(record))
    url = free_url()
    settings = ServerSettings(
        host=url,
        models_dir=tmp_path / "models",
        flash_attention=True,
        kv_cache_type="q8_0",
        keep_alive="30m",
        max_loaded_models=1,
        visible_gpus="0",
    )
    server = ManagedServer(settings, log_dir=tmp_path / "logs", binary=fake_ollama_bin / "ollama")

    async def scenario() -> tuple[bool, str]:
        started = await server.ensure_running(wait=60)
        async with OllamaClient(url) as client:
            return started, await client.version()

    started, version = asyncio.run(scenario())
    try:
        assert started and server.started_by_us
        assert version
        env = json.loads(record.read_text())["env"]
        port = url.rsplit(":", 1)[1]
        assert env["OLLAMA_HOST"] == f"127.0.0.1:{port}"
        assert env["OLLAMA_MODELS"] == str(tmp_path / "models")
        assert env["OLLAMA_FLASH_ATTENTION"] == "1"
        assert env["OLLAMA_KV_CACHE_TYPE"] == "q8_0"
        assert env["OLLAMA_KEEP_ALIVE"] == "30m"
        assert env["OLLAMA_MAX_LOADED_MODELS"] == "1"
        assert env["CUDA_VISIBLE_DEVICES"] == "0"
        assert server.log_path.is_file() and "PhiDesk starts" in server.log_path.read_text()
        pid = server.pid
        assert pid is not None
    finally:
        server.stop()
    assert not server.started_by_us
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the process is gone (and reaped)
    assert ping(url) is False


def test_a_server_it_did_not_start_is_used_and_never_stopped(
    ollama_double: OllamaDouble, fake_ollama_bin: Path, tmp_path: Path
) -> None:
    server = ManagedServer(
        ServerSettings(host=ollama_double.url),
        log_dir=tmp_path,
        binary=fake_ollama_bin / "ollama",
    )
    assert asyncio.run(server.ensure_running()) is False
    assert not server.started_by_us
    server.stop()
    assert ping(ollama_double.url) is True
    assert not (tmp_path / "ollama-serve.log").exists()


def test_a_server_that_fails_to_start_says_why(
    fake_ollama_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHIDESK_FAKE_OLLAMA_FAIL", "listen tcp: address already in use")
    server = ManagedServer(
        ServerSettings(host=free_url()), log_dir=tmp_path, binary=fake_ollama_bin / "ollama"
    )
    with pytest.raises(ServerStartFailed, match="address already in use"):
        asyncio.run(server.ensure_running(wait=60))
    assert not server.started_by_us


def test_no_binary_is_a_clear_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("app.backend.server.candidate_paths", lambda *a, **k: [])
    server = ManagedServer(ServerSettings(host=free_url()), log_dir=tmp_path)
    with pytest.raises(OllamaNotInstalled, match=r"ollama\.com/download"):
        asyncio.run(server.ensure_running())
