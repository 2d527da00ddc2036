from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config import (
    DEFAULT_HOST,
    Paths,
    Settings,
    dropped_credentials,
    normalize_host,
    resolve_host,
)
from app.errors import UsageError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:11434"),
        ("localhost:8080", "http://localhost:8080"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:9999", "http://127.0.0.1:9999"),
        ("http://example.org", "http://example.org:11434"),
        ("https://ollama.example.org", "https://ollama.example.org:443"),
        ("https://ollama.example.org/base/", "https://ollama.example.org:443/base"),
        ("http://[::1]:11434", "http://[::1]:11434"),
        ("  http://10.0.0.5:11434  ", "http://10.0.0.5:11434"),
    ],
)
def test_normalize_host_accepts_what_ollama_accepts(given: str, expected: str) -> None:
    assert normalize_host(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "ftp://host",
        "http://host:notaport",
        "http://host:99999",
        "http://[::1",
        "http://[nonsense]:11434",
        "http://a b:1",
        "http://u:secret@[::1",
    ],
)
def test_normalize_host_rejects_unusable_values_with_a_sentence(bad: str) -> None:
    with pytest.raises(UsageError, match="Ollama host") as raised:
        normalize_host(bad)
    assert "secret" not in str(raised.value)


def test_credentials_in_the_host_url_are_left_out_and_said_to_be(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert normalize_host("http://u:pw@example.org:8080") == "http://example.org:8080"
    note = dropped_credentials("http://u:pw@example.org:8080")
    assert note is not None and "--host" in note and "pw" not in note.replace("password", "")
    assert dropped_credentials("http://example.org") is None
    monkeypatch.setenv("OLLAMA_HOST", "https://me@example.org")
    note = dropped_credentials(None)
    assert note is not None and "OLLAMA_HOST" in note
    assert dropped_credentials("http://127.0.0.1") is None  # --host wins over the variable


def test_an_empty_data_dir_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--data-dir is empty"):
        Paths.resolve("  ")


def test_host_precedence_is_flag_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_host(None) == DEFAULT_HOST
    monkeypatch.setenv("OLLAMA_HOST", "10.1.2.3:4000")
    assert resolve_host(None) == "http://10.1.2.3:4000"
    assert resolve_host("http://127.0.0.1:5555") == "http://127.0.0.1:5555"


def test_data_dir_holds_everything_phidesk_writes(tmp_path: Path) -> None:
    paths = Paths.resolve(tmp_path / "d").ensure()
    for location in (paths.database, paths.settings_file, paths.log_file, paths.crash_log):
        assert (tmp_path / "d") in location.parents
    assert paths.logs.is_dir() and paths.cache.is_dir()


def test_data_dir_from_environment(data_dir: Path) -> None:
    assert Paths.resolve().data == data_dir


def test_data_dir_that_cannot_be_created_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="--data-dir"):
        Paths.resolve(blocker / "sub").ensure()


def test_settings_round_trip_keeps_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"default_model": "phi4-mini", "from_a_newer_version": [1, 2]}))
    settings = Settings.load(path)
    assert settings.default_model == "phi4-mini"
    settings.theme = "dark"
    settings.save(path)
    saved = json.loads(path.read_text())
    assert saved == {"default_model": "phi4-mini", "theme": "dark", "from_a_newer_version": [1, 2]}
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_damaged_settings_start_fresh_and_are_kept_for_inspection(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert Settings.load(path) == Settings()
    assert (tmp_path / "settings.json.damaged").read_text() == "{not json"
