"""The `phidesk` command with hostile or unusual local input, run as a user runs it (subprocesses):
titles with terminal escapes, data dirs that cannot hold a log, permissions of what PhiDesk
writes, bad arguments and a reader that goes away."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from app.store import Database

# The terminal escapes a hostile title carries: set the window title (OSC … BEL), clear the
# screen (CSI 2J), an 8-bit CSI, and a right-to-left override that reorders what follows.
HOSTILE_TITLE = "\x1b]0;pwned\x07\x1b[2J \x9b31m evil \u202egnp.exe"
CONTROL_BYTES = (b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode())
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens on the discard port


def phidesk(
    *args: str,
    data: Path | None = None,
    env: Mapping[str, str] | None = None,
    umask: int = 0o022,
) -> subprocess.CompletedProcess[bytes]:
    """Run `phidesk` with the usual umask of a desktop session (group and others may read)."""
    prefix = ["--data-dir", str(data)] if data is not None else []
    return subprocess.run(
        [sys.executable, "-m", "app", *prefix, "--host", UNREACHABLE, *args],
        capture_output=True,
        env={**os.environ, **(env or {})},
        umask=umask,
        timeout=60,
        check=False,
    )


def assert_no_control_bytes(output: bytes) -> None:
    for byte in CONTROL_BYTES:
        assert byte not in output, output


def hostile_chat(data: Path) -> int:
    with Database.open(data / "phidesk.sqlite3") as db:
        chat = db.create_chat(title=HOSTILE_TITLE, model="phi4\x1b[31m:latest")
        db.add_message(chat.id, "user", "needle question")
        db.add_message(chat.id, "assistant", "needle answer \x1b]0;owned\x07")
        return chat.id


# --- item 10: what came from a file or a model is printed without terminal controls --------


def test_chats_and_search_print_hostile_titles_without_terminal_controls(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    hostile_chat(data)
    for args in (("chats",), ("chats", "--search", "needle"), ("chats", "--json")):
        result = phidesk(*args, data=data)
        assert result.returncode == 0, result.stderr
        assert b"pwned" in result.stdout, args  # the title is shown, only its controls are not
        assert_no_control_bytes(result.stdout)
        assert_no_control_bytes(result.stderr)


def test_import_prints_the_imported_hostile_title_without_terminal_controls(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    chat_id = hostile_chat(source)
    exported = tmp_path / "chat.md"
    written = phidesk("export", str(chat_id), "-o", str(exported), data=source)
    assert written.returncode == 0, written.stderr
    result = phidesk("import", str(exported), data=tmp_path / "target")
    assert result.returncode == 0, result.stderr
    assert b"pwned" in result.stdout
    assert_no_control_bytes(result.stdout)
    assert_no_control_bytes(result.stderr)


# --- item 11: the data dir is private --------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_new_data_dir_and_everything_in_it_are_private(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    exported = tmp_path / "chat.md"
    written = phidesk("export", str(hostile_chat(source)), "-o", str(exported), data=source)
    assert written.returncode == 0, written.stderr
    data = tmp_path / "data"
    imported = phidesk("import", str(exported), data=data)  # creates the data dir and database
    assert imported.returncode == 0, imported.stderr
    assert mode(data) == 0o700
    assert mode(data / "logs") == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert data / "phidesk.sqlite3" in files and data / "logs" / "phidesk.log" in files
    for path in files:
        assert mode(path) == 0o600, path


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_existing_files_are_made_private_at_start_and_folder_exports_are_private(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    hostile_chat(data)
    (data / "logs").mkdir()
    own_files = [
        data / "phidesk.sqlite3",
        data / "phidesk.sqlite3-wal",
        data / "phidesk.sqlite3-shm",
        data / "phidesk.backup-0001-20240101T000000000000Z.sqlite3",
        data / "settings.json",
        data / "hosts.json",
        data / "logs" / "phidesk.log",
        data / "logs" / "phidesk.log.1",
        data / "logs" / "crash.log",
    ]
    for path in own_files:
        if not path.exists():
            path.write_bytes(b"{}" if path.suffix == ".json" else b"")
        path.chmod(0o644)
    for directory in (data, data / "logs"):
        directory.chmod(0o755)

    result = phidesk("chats", data=data)
    assert result.returncode == 0, result.stderr
    for path in own_files:
        if path.exists():  # SQLite removes -wal and -shm when the last connection closes
            assert mode(path) == 0o600, path
    # A folder the user chose keeps the mode it had; the one PhiDesk named is private.
    assert mode(data) == 0o755 and mode(data / "logs") == 0o700

    folder = tmp_path / "exports"
    exported = phidesk("export", "--all", "-o", str(folder), data=data)
    assert exported.returncode == 0, exported.stderr
    written = list(folder.iterdir())
    assert written
    assert mode(folder) == 0o700
    for path in written:
        assert mode(path) == 0o600, path


# --- item 13: a log that cannot be written costs one warning, not the command ---------------


@pytest.mark.parametrize("breakage", ["logs is a file", "crash.log is a folder", "log is a folder"])
def test_a_log_that_cannot_be_written_is_one_warning_and_chats_still_works(
    tmp_path: Path, breakage: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    hostile_chat(data)
    if breakage == "logs is a file":
        (data / "logs").write_text("not a folder")
    elif breakage == "crash.log is a folder":
        (data / "logs" / "crash.log").mkdir(parents=True)
    else:
        (data / "logs" / "phidesk.log").mkdir(parents=True)
    for args in (("chats",), ("chats", "--json"), ("--verbose", "chats", "--search", "needle")):
        result = phidesk(*args, data=data)
        assert result.returncode == 0, result.stderr
        assert b"pwned" in result.stdout
        lines = result.stderr.decode().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("phidesk: warning: ") and "log" in lines[0], lines
        assert "Traceback" not in lines[0]


def test_a_log_that_fails_is_one_warning_also_for_a_failing_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "logs").write_text("not a folder")
    result = phidesk("export", "12345", data=data)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("phidesk: warning: ")
    assert lines[1].startswith("phidesk: error: ")


# --- item 16: a host that is not a URL is a usage error ------------------------------------


@pytest.mark.parametrize("host", ["http://[::1", "http://[nonsense]:11434", "http://a b:1"])
def test_an_unparseable_host_is_a_usage_error(tmp_path: Path, host: str) -> None:
    data = tmp_path / "data"
    from_variable = subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), "chats"],
        capture_output=True,
        env={**os.environ, "OLLAMA_HOST": host},
        timeout=60,
        check=False,
    )
    for result in (phidesk("--host", host, "chats", data=data), from_variable):
        assert result.returncode == 2, result.stderr
        lines = result.stderr.decode().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("phidesk: error: ") and "Ollama host" in lines[0]
    assert b"OLLAMA_HOST" in from_variable.stderr
    # --host wins over the variable, which then does not matter.
    overridden = phidesk("chats", data=data, env={"OLLAMA_HOST": host})
    assert overridden.returncode == 0, overridden.stderr


# --- item 17: ids too large for the database are usage errors --------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("ask", "--chat", "9223372036854775808", "hello"),
        ("ask", "--chat", "99999999999999999999999999999", "hello"),
        ("export", "9223372036854775808"),
        ("export", "1", "18446744073709551616"),
    ],
)
def test_a_chat_id_too_large_is_a_usage_error_naming_it(tmp_path: Path, args: tuple[str]) -> None:
    result = phidesk(*args, data=tmp_path / "data")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    too_large = next(a for a in args if a.isdigit() and int(a) >= 2**63)
    assert lines[0].startswith("phidesk: error: ") and too_large in lines[0], lines
    assert "unexpected" not in lines[0]


def test_the_largest_chat_id_is_accepted_and_not_found(tmp_path: Path) -> None:
    result = phidesk("export", str(2**63 - 1), data=tmp_path / "data")
    assert result.returncode == 1
    assert b"unexpected" not in result.stderr


# --- item 19: an empty data dir, and a reader that goes away --------------------------------


def test_an_empty_data_dir_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", "", "chats"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and "--data-dir" in lines[0], lines
    assert list(tmp_path.iterdir()) == []  # nothing was written to the current directory


def test_a_reader_that_stops_early_ends_the_listing_quietly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with Database.open(data / "phidesk.sqlite3") as db:
        for number in range(1500):
            db.create_chat(title=f"chat number {number} " + "x" * 200, model="phi4")
    for args in (("chats",), ("chats", "--json")):
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "--data-dir", str(data), "--host", UNREACHABLE, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()  # `head -1`: read one line, then go away
        process.stdout.close()
        error = process.stderr.read()
        status = process.wait(60)
        process.stderr.close()
        assert error == b"", error
        assert status == 141, status  # what a shell reports for a writer ended by SIGPIPE


CRASH_LOG_AT_EXIT = """
import atexit, sys
from pathlib import Path
held = []
atexit.register(lambda: print("closed" if held[0].closed else "open"))  # runs after PhiDesk's
import app.diagnostics as diagnostics
assert diagnostics.enable_crash_log(Path(sys.argv[1])) is None
held.append(diagnostics._crash_file)
"""


def test_the_crash_log_is_closed_at_exit(tmp_path: Path) -> None:
    # The crash log is held open for the whole process (faulthandler writes into it); left open
    # at exit it was reported as an unclosed file whenever the collector found it.
    crash_log = tmp_path / "crash.log"
    result = subprocess.run(
        [sys.executable, "-c", CRASH_LOG_AT_EXIT, str(crash_log)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert crash_log.exists()
    assert result.stdout.decode().split() == ["closed"]


def test_an_unparseable_ollama_host_variable_is_ignored_when_host_says_otherwise(
    tmp_path: Path,
) -> None:
    # The ollama library reads OLLAMA_HOST when it is first imported, which now happens at the
    # first call to the server; a value it cannot parse must not turn into an unexpected error.
    result = phidesk("models", data=tmp_path / "data", env={"OLLAMA_HOST": "http://[::1"})
    assert result.returncode == 1, result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("phidesk: error: ") and "unexpected" not in lines[0]
    assert UNREACHABLE in lines[0]
