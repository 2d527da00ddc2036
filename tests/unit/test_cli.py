from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import __version__
from app.cli.text import safe, safe_json
from app.diagnostics import check_python
from app.errors import PhiDeskError
from app.main import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"PhiDesk {__version__}"


def test_help_lists_global_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--data-dir", "--host", "--version", "--self-test"):
        assert option in out


def test_unknown_option_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("phidesk: error: unrecognized arguments: --no-such-option")


def test_bad_host_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "ftp://x", "--version"]) == 0  # --version answers before anything
    assert main(["--host", "ftp://x", "--self-test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("phidesk: error: the Ollama host 'ftp://x' must use http")
    assert err.count("\n") == 1


def test_unusable_data_dir_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["--data-dir", str(blocker / "d"), "--self-test"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("phidesk: error: cannot create the directory")
    assert err.count("\n") == 1


def test_old_python_is_refused_with_a_clear_message() -> None:
    with pytest.raises(
        PhiDeskError, match=r"needs Python 3\.12 or newer, but this is Python 3\.11"
    ):
        check_python((3, 11, 7))
    check_python((3, 12, 0))


@pytest.mark.parametrize(
    "text",
    ["\x1b]0;pwned\x07\x1b[2J", "a\x9b31mb", "abc\u202edcba\u2066x\u2069", "lone \ud800 half"],
)
def test_safe_text_keeps_no_terminal_control_and_json_keeps_the_data(text: str) -> None:
    shown = safe(f"title {text}\tand\nmore")
    assert shown.startswith("title ") and "\t" not in shown and "\n" not in shown
    assert all(ch.isprintable() or ch == " " for ch in shown), ascii(shown)
    assert safe("one\ttwo\nthree", multiline=True) == "one\ttwo\nthree"
    encoded = safe_json({"title": text})
    assert all(ch.isprintable() or ch in " \n" for ch in encoded), ascii(encoded)
    assert json.loads(encoded) == {"title": text}
