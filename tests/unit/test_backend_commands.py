"""Pieces of the backend CLI and the managed server that need no network."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.backend.events import PullProgress
from app.backend.server import ServerSettings
from app.cli.models import ProgressBar, human_bytes, human_seconds
from app.errors import PhiDeskError


def test_human_sizes_and_durations() -> None:
    assert human_bytes(512) == "512 B"
    assert human_bytes(9_053_116_391) == "9.1 GB"
    assert human_bytes(2_500_000) == "2.5 MB"
    assert human_seconds(42) == "42s"
    assert human_seconds(230) == "3m50s"
    assert human_seconds(7260) == "2h01m"


def test_progress_line_has_bytes_speed_and_eta() -> None:
    bar = ProgressBar(io.StringIO())
    line = bar.render(
        PullProgress("pulling abc", 4_500_000_000, 9_000_000_000, 30_000_000.0, 150.0)
    )
    assert line.startswith(" 50% [############------------]")
    assert "4.5 GB / 9.0 GB" in line and "30.0 MB/s" in line and "ETA 2m30s" in line
    assert bar.render(PullProgress("pulling manifest", 0, 0)) == "pulling manifest"


def test_progress_to_a_pipe_is_whole_lines() -> None:
    out = io.StringIO()
    bar = ProgressBar(out)
    bar.show(PullProgress("pulling manifest", 0, 0))
    bar.show(PullProgress("pulling abc", 1, 2), force=True)
    bar.end()
    assert out.getvalue().splitlines()[0] == "pulling manifest"
    assert "\r" not in out.getvalue()


def test_server_environment_from_settings(tmp_path: Path) -> None:
    env = ServerSettings(
        host="http://127.0.0.1:11500",
        models_dir=tmp_path,
        flash_attention=False,
        visible_gpus="",
        extra_env={"OLLAMA_DEBUG": "1"},
    ).environment({"PATH": "/bin", "OLLAMA_KV_CACHE_TYPE": "q4_0"})
    assert env["OLLAMA_HOST"] == "127.0.0.1:11500"
    assert env["OLLAMA_MODELS"] == str(tmp_path)
    assert env["OLLAMA_FLASH_ATTENTION"] == "0"
    assert env["CUDA_VISIBLE_DEVICES"] == env["ROCR_VISIBLE_DEVICES"] == "-1"  # CPU only
    assert env["OLLAMA_KV_CACHE_TYPE"] == "q4_0"  # left as the user's environment had it
    assert env["OLLAMA_DEBUG"] == "1" and env["PATH"] == "/bin"
    assert "OLLAMA_KEEP_ALIVE" not in env


def test_unknown_kv_cache_type_is_refused() -> None:
    with pytest.raises(PhiDeskError, match="q8_0"):
        ServerSettings(kv_cache_type="q5_1").environment({})
