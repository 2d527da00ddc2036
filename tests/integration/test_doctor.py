"""`phidesk doctor`: one line per check (ok, warning, problem, unknown, with what to do), `--json`,
exit 1 on any problem, against the Ollama double, a dead port, an old Ollama and damaged or
misplaced database files; and it writes nothing (issue 14, item 20)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.backend.client import OllamaClient
from app.cli.doctor import COMMANDS
from app.config import AppContext, Paths
from app.store import Database
from app.store.migrate import backup, head_revision
from app.workspace.desktop_probe import NO_TRAY, probe_shortcut, probe_tray
from app.workspace.doctor import Check, Status, has_problem, run_checks
from tests.ollama_double.server import VERSION, OllamaDouble

DESKTOP_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")


def doctor(
    data: Path, host: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), "--host", host, "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def lines(done: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """{check name: (status, the rest of its line)} from the plain output."""
    found: dict[str, tuple[str, str]] = {}
    for line in done.stdout.splitlines():
        status, _, rest = line.partition(" ")
        name, _, text = rest.strip().partition(": ")
        found[name] = (status, text)
    return found


def checks_of(data: Path, host: str, *, env: dict[str, str] | None = None) -> list[Check]:
    done = doctor(data, host, "--json", env=env)
    return [
        Check(c["name"], Status(c["status"]), c["detail"], c["advice"])
        for c in json.loads(done.stdout)["checks"]
    ]


def fresh_paths(root: Path) -> Paths:
    paths = Paths.resolve(root).ensure()
    Database.open(paths.database).close()
    return paths


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def snapshot(root: Path, *, skip: str | None = None) -> dict[str, tuple[bool, int, int]]:
    """Every path under `root` with (is a folder, size, mtime in ns), but those in folders
    called `skip`."""
    found: dict[str, tuple[bool, int, int]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if skip is not None and skip in relative.split("/"):
            continue
        info = path.stat()
        found[relative] = (path.is_dir(), info.st_size, info.st_mtime_ns)
    return found


def test_a_healthy_setup_reports_each_check_on_one_line_and_exits_0(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    fresh_paths(tmp_path)
    done = doctor(tmp_path, ollama_double.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    found = lines(done)
    assert found["Ollama"] == ("ok", f"version {VERSION} at {ollama_double.url}")
    assert found["Model phi4-mini:latest"] == ("ok", "offers completion, tools")
    assert found["Model phi4-mini-reasoning:latest"] == ("ok", "offers completion, thinking")
    assert found["Database"][0] == "ok" and "integrity check" in found["Database"][1]
    assert found["Schema"] == ("ok", f"revision {head_revision()}, the newest")
    assert found["Data folder"][0] == "ok"
    assert found["KaTeX"][0] == "ok"
    for name in ("GPU", "Backups", "Keyring", "Tray", "Global shortcut"):
        assert name in found
    assert all(status in ("ok", "warning", "unknown") for status, _ in found.values())


def test_an_unreachable_server_is_a_problem_and_exits_1(tmp_path: Path) -> None:
    fresh_paths(tmp_path)
    host = f"http://127.0.0.1:{dead_port()}"
    done = doctor(tmp_path, host)
    assert done.returncode == 1
    found = lines(done)
    status, text = found["Ollama"]
    assert status == "problem"
    assert text.startswith(f"Ollama is not answering at {host}; no Ollama was found")
    assert found["Models"][0] == "unknown"
    assert found["Database"][0] == "ok"  # the other checks still ran
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("phidesk: error: the doctor found 1 problem;")


def test_an_ollama_too_old_for_phi4_mini_is_a_problem_for_that_model(tmp_path: Path) -> None:
    fresh_paths(tmp_path)
    with OllamaDouble(version="0.5.0") as old:
        done = doctor(tmp_path, old.url)
    assert done.returncode == 1
    found = lines(done)
    assert found["Model phi4-mini:latest"] == (
        "problem",
        "Phi-4-mini 3.8B needs Ollama 0.5.13 or newer, but the server runs 0.5.0; "
        "update Ollama (ollama.com/download, or your package manager)",
    )
    assert found["Model phi4:latest"][0] == "ok"
    status, text = found["Ollama"]
    assert status == "warning"
    assert "older than 0.10.0" in text and "update Ollama to 0.10.0 or newer" in text


def test_a_file_that_is_not_a_database_is_a_problem_and_is_left_as_it_is(tmp_path: Path) -> None:
    paths = Paths.resolve(tmp_path).ensure()
    junk = b"this is not a database " * 200
    paths.database.write_bytes(junk)
    done = doctor(tmp_path, f"http://127.0.0.1:{dead_port()}")
    assert done.returncode == 1
    status, text = lines(done)["Database"]
    assert status == "problem"
    assert text == (
        f"{paths.database} is damaged (file is not a database); quit PhiDesk and move the file "
        "aside to start with an empty database (it has no backup)"
    )
    assert lines(done)["Schema"][0] == "unknown"
    assert paths.database.read_bytes() == junk
    assert sorted(p.name for p in tmp_path.glob("phidesk.sqlite3*")) == ["phidesk.sqlite3"]


def test_a_damaged_database_with_a_backup_names_the_backup(tmp_path: Path) -> None:
    paths = Paths.resolve(tmp_path).ensure()
    with Database.open(paths.database) as db:
        for n in range(40):
            chat = db.create_chat(title=f"chat {n}", model="phi4-mini:latest")
            db.add_message(chat.id, "user", f"question {n} " + "words " * 300)
    kept = backup(paths.database, head_revision())
    data = bytearray(paths.database.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, 4 * page):
        data[start : start + 16] = b"\xff" * 16
    paths.database.write_bytes(bytes(data))
    done = doctor(tmp_path, f"http://127.0.0.1:{dead_port()}")
    assert done.returncode == 1
    found = lines(done)
    status, text = found["Database"]
    assert status == "problem"
    assert text.endswith(
        f"quit PhiDesk, move the file aside and copy the newest backup, {kept.name}, in its place"
    )
    assert found["Backups"] == ("ok", f"1 beside the database; the newest is {kept.name}")


def test_a_folder_where_the_database_should_be_is_a_problem(tmp_path: Path) -> None:
    paths = Paths.resolve(tmp_path).ensure()
    paths.database.mkdir()
    done = doctor(tmp_path, f"http://127.0.0.1:{dead_port()}")
    assert done.returncode == 1
    assert lines(done)["Database"] == (
        "problem",
        f"{paths.database} is not a file; move it aside",
    )


def test_a_file_where_the_data_folder_should_be_is_a_problem(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    # A command cannot even start there (app/cli/run.py creates the folders first), so the
    # checks run as the window runs them: in process.
    file = tmp_path / "data"
    file.write_text("a file, not a folder")
    paths = Paths(data=file, config=file, logs=file / "logs", cache=file / "cache")

    async def diagnose() -> list[Check]:
        async with OllamaClient(ollama_double.url) as client:
            return await run_checks(paths, client)

    checks = {check.name: check for check in asyncio.run(diagnose())}
    folder = checks["Data folder"]
    assert folder.status is Status.PROBLEM
    assert folder.detail == f"{file} is a file, not a folder"
    assert "choose another --data-dir" in folder.advice
    assert checks["Database"].status is Status.UNKNOWN
    assert checks["Ollama"].status is Status.OK
    assert has_problem(list(checks.values()))
    assert file.read_text() == "a file, not a folder"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere"
)
def test_a_read_only_data_folder_is_a_problem(tmp_path: Path, ollama_double: OllamaDouble) -> None:
    paths = fresh_paths(tmp_path / "data")
    paths.data.chmod(0o500)
    try:

        async def diagnose() -> list[Check]:
            async with OllamaClient(ollama_double.url) as client:
                return await run_checks(paths, client)

        checks = {check.name: check for check in asyncio.run(diagnose())}
    finally:
        paths.data.chmod(0o700)
    assert checks["Data folder"].status is Status.PROBLEM
    assert checks["Data folder"].detail == f"{paths.data} is not writable"


def test_json_lists_every_check_with_its_status_and_advice(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    fresh_paths(tmp_path)
    done = doctor(tmp_path, ollama_double.url, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"checks", "summary"}
    assert set(document["summary"]) == {"ok", "warning", "problem", "unknown"}
    for check in document["checks"]:
        assert set(check) == {"name", "status", "detail", "advice"}
        assert all(isinstance(value, str) for value in check.values())
        assert check["status"] in document["summary"]
        assert check["detail"]
    for status, count in document["summary"].items():
        assert count == sum(check["status"] == status for check in document["checks"])
    assert document["summary"]["problem"] == 0
    names = [check["name"] for check in document["checks"]]
    assert names[0] == "Ollama"
    assert names[-1] == "KaTeX"
    assert len(names) == len(set(names))


def test_a_problem_in_json_still_exits_1(tmp_path: Path) -> None:
    fresh_paths(tmp_path)
    done = doctor(tmp_path, f"http://127.0.0.1:{dead_port()}", "--json")
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["summary"]["problem"] == 1
    assert document["checks"][0]["status"] == "problem"


def make_data(root: Path) -> Paths:
    """A data folder as PhiDesk leaves it: database, a backup, settings, folders."""
    paths = fresh_paths(root)
    with Database.open(paths.database) as db:
        chat = db.create_chat(title="kept", model="phi4-mini:latest")
        db.add_message(chat.id, "user", "hello")
    backup(paths.database, head_revision())
    paths.settings_file.write_text("{}")
    return paths


def test_the_doctor_writes_nothing(tmp_path: Path, ollama_double: OllamaDouble) -> None:
    healthy = make_data(tmp_path / "healthy")
    damaged = tmp_path / "damaged"
    shutil.copytree(healthy.data, damaged)
    (damaged / "phidesk.sqlite3").write_bytes(b"junk" * 1000)
    # Not even the log, the folders or their modes: the doctor is a command that never writes.
    before = snapshot(tmp_path)
    database = healthy.database.read_bytes()
    assert doctor(healthy.data, ollama_double.url).returncode == 0
    assert doctor(damaged, ollama_double.url).returncode == 1
    assert snapshot(tmp_path) == before
    assert healthy.database.read_bytes() == database
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(("-wal", "-shm", "-journal"))]


def test_the_checks_write_nothing_not_even_a_log(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    paths = make_data(tmp_path)
    before = snapshot(tmp_path)

    async def diagnose() -> list[Check]:
        async with OllamaClient(ollama_double.url) as client:
            return await run_checks(paths, client)

    checks = asyncio.run(diagnose())
    assert not has_problem(checks)
    assert snapshot(tmp_path) == before


def test_a_database_another_process_has_open_is_checked_in_place(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    paths = fresh_paths(tmp_path)
    with Database.open(paths.database) as db:
        db.create_chat(title="open elsewhere", model="phi4-mini:latest")
        assert Path(f"{paths.database}-wal").exists()
        done = doctor(tmp_path, ollama_double.url)
        assert db.list_chats()[0].title == "open elsewhere"
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines(done)["Database"][0] == "ok"
    assert lines(done)["Schema"][0] == "ok"


def test_without_a_display_the_tray_and_shortcut_are_unknown(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    fresh_paths(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in DESKTOP_VARIABLES}
    checks = {c.name: c for c in checks_of(tmp_path, ollama_double.url, env=env)}
    for name in ("Tray", "Global shortcut"):
        assert checks[name].status is Status.UNKNOWN
        assert checks[name].detail == (
            "this session has no display (DISPLAY and WAYLAND_DISPLAY are unset)"
        )
        assert "Help > Diagnose" in checks[name].advice


def test_the_command_itself_prints_lines_or_json_and_fails_on_a_problem(
    tmp_path: Path, ollama_double: OllamaDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    # The subprocess tests above go through the whole `phidesk`; this runs the command's own
    # function in this process, which coverage can follow.
    paths = fresh_paths(tmp_path)
    run = next(command.run for command in COMMANDS if command.name == "doctor")
    assert run(AppContext(paths, ollama_double.url), argparse.Namespace(json=False)) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"ok       Ollama: version {VERSION} at {ollama_double.url}"
    assert err == ""
    dead = AppContext(paths, f"http://127.0.0.1:{dead_port()}")
    assert run(dead, argparse.Namespace(json=True)) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["summary"]["problem"] == 1
    assert (
        err
        == "phidesk: error: the doctor found 1 problem; each line marked problem says what to do\n"
    )


# --- the desktop, on a real X server and a real session bus ---------------------------------------

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Xvfb and dbus-daemon are Linux tools"
)


@pytest.fixture
def xvfb() -> Iterator[str]:
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.fail("Xvfb is not installed; run scripts/test, which installs the test packages")
    read, write = os.pipe()
    server = subprocess.Popen(
        [
            binary,
            "-displayfd",
            str(write),
            "-screen",
            "0",
            "320x240x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private, empty D-Bus session bus (no tray watcher, no portal)."""
    binary = shutil.which("dbus-daemon")
    if binary is None:
        pytest.fail("dbus-daemon is not installed; run scripts/test")
    bus = subprocess.Popen(
        [binary, "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE, text=True
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    try:
        yield address
    finally:
        bus.terminate()
        bus.wait(10)
        bus.stdout.close()


@contextmanager
def bus_name(name: str, answer_version: int | None = None) -> Iterator[None]:
    """Own `name` on the session bus while the block runs; with `answer_version`, answer
    Properties.Get(version) as the GlobalShortcuts portal does."""
    from jeepney import MessageType, message_bus, new_method_return  # type: ignore[import-untyped]
    from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

    connection = open_dbus_connection("SESSION")
    reply = connection.send_and_get_reply(message_bus.RequestName(name), timeout=5)
    assert reply.body == (1,)  # primary owner
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                message = connection.receive(timeout=0.05)
            except TimeoutError:
                continue
            if message.header.message_type == MessageType.method_call:
                connection.send(new_method_return(message, "v", (("u", answer_version),)))

    server = threading.Thread(target=serve, daemon=True)
    if answer_version is not None:
        server.start()
    try:
        yield
    finally:
        stop.set()
        if server.is_alive():
            server.join(5)
        connection.close()


@linux_only
def test_a_bare_x_server_has_no_tray_but_takes_a_key_grab(xvfb: str, session_bus: str) -> None:
    env = {"DISPLAY": xvfb}
    assert probe_tray(env, "linux") == NO_TRAY
    assert probe_shortcut(env, "linux") == ("ok", "X11: PhiDesk grabs the key when it starts", "")


@linux_only
def test_a_status_notifier_watcher_on_the_bus_is_a_tray(xvfb: str, session_bus: str) -> None:
    with bus_name("org.kde.StatusNotifierWatcher"):
        status, detail, _ = probe_tray({"DISPLAY": xvfb}, "linux")
    assert (status, detail) == ("ok", "the X11 desktop shows tray icons (StatusNotifier)")


@linux_only
def test_a_display_that_cannot_be_opened_is_unknown(session_bus: str) -> None:
    status, detail, advice = probe_tray({"DISPLAY": ":4242"}, "linux")
    assert (status, detail) == ("unknown", "the display :4242 cannot be opened")
    assert "Help > Diagnose" in advice


@linux_only
def test_wayland_shortcuts_need_the_desktop_portal(session_bus: str) -> None:
    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}
    status, detail, advice = probe_shortcut(env, "linux")
    assert (status, detail) == ("warning", "this Wayland desktop offers no global-shortcut portal")
    assert "phidesk quick" in advice
    with bus_name("org.freedesktop.portal.Desktop", answer_version=1):
        assert probe_shortcut(env, "linux") == (
            "ok",
            "Wayland: the desktop's GlobalShortcuts portal (version 1) binds it",
            "",
        )
    assert probe_tray(env, "linux") == NO_TRAY


def test_windows_and_macos_always_have_a_tray_and_shortcuts() -> None:
    for platform in ("win32", "darwin"):
        assert probe_tray({}, platform)[0] == "ok"
        assert probe_shortcut({}, platform)[0] == "ok"


def test_the_windows_own_answer_about_the_tray_wins(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    paths = fresh_paths(tmp_path)

    async def diagnose(tray: bool) -> Check:
        async with OllamaClient(ollama_double.url) as client:
            checks = await run_checks(paths, client, tray=tray, environ={}, platform="linux")
        return next(check for check in checks if check.name == "Tray")

    assert asyncio.run(diagnose(True)) == Check("Tray", Status.OK, "the desktop shows tray icons")
    assert asyncio.run(diagnose(False)).status is Status.WARNING
