"""The `phidesk` command and `python -m app` as a user runs them: real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app import __version__

CONSOLE_SCRIPT = Path(sys.executable).with_name("phidesk")


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_console_script_and_module_agree_on_version() -> None:
    script = run(str(CONSOLE_SCRIPT), "--version")
    module = run(sys.executable, "-m", "app", "--version")
    assert script.returncode == module.returncode == 0
    assert script.stdout.strip() == module.stdout.strip() == f"PhiDesk {__version__}"


def test_help_exits_zero() -> None:
    result = run(str(CONSOLE_SCRIPT), "--help")
    assert result.returncode == 0
    assert "usage: phidesk" in result.stdout
    assert result.stderr == ""


def test_bad_option_is_one_line_exit_2_no_traceback() -> None:
    result = run(str(CONSOLE_SCRIPT), "--bogus")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "phidesk: error: unrecognized arguments: --bogus (see phidesk --help)"
    ]
    assert result.stdout == ""


def test_self_test_passes_and_writes_only_into_the_data_dir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PHIDESK_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
    )
    data = tmp_path / "x"
    result = run(str(CONSOLE_SCRIPT), "--data-dir", str(data), "--self-test", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("self-test:")]
    assert lines == [
        "self-test: window shown: ok",
        "self-test: event loop: ok",
        "self-test: data dir writable: ok",
        "self-test: database: ok",
        "self-test: KaTeX in QtWebEngine: ok",
    ]
    assert "Traceback" not in result.stderr
    assert (data / "settings.json").is_file()
    assert "PhiDesk 0.1.0 starting" in (data / "logs" / "phidesk.log").read_text()
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert not [p for p in written if "PhiDesk" in p or "phidesk" in p], written
