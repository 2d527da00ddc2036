"""`phidesk ollama install|update|status|uninstall` as a user runs them: subprocesses against
the stand-in releases server (tests/release_server.py), with no Ollama on PATH unless a test
puts the fake one there."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ollama_double.server import OllamaDouble
from tests.release_server import ReleaseServer, make_tgz, ollama_tree

ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), "amd64"
)
ARCHIVE = f"ollama-linux-{ARCH}.tgz"
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the stand-in releases serve Linux archives"
)


@pytest.fixture
def releases() -> Iterator[ReleaseServer]:
    with ReleaseServer() as server:
        yield server


def environment(releases: ReleaseServer, tmp_path: Path, path: str | None = None) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    empty = tmp_path / "no-ollama"
    empty.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        PHIDESK_OLLAMA_RELEASES_URL=releases.releases_url,
        HOME=str(home),
        PATH=os.pathsep.join([path or str(empty), "/usr/bin", "/bin"]),
    )
    return env


def command(data: Path, host: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "app", "--data-dir", str(data), "--host", host, "ollama", *args]


def phidesk(
    env: dict[str, str], data: Path, *args: str, host: str = "http://127.0.0.1:9"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(data, host, *args),
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


def test_install_status_and_uninstall(releases: ReleaseServer, tmp_path: Path) -> None:
    archive = make_tgz(ollama_tree(filler=400_000))
    releases.publish("v0.6.2", {ARCHIVE: archive})
    env = environment(releases, tmp_path)
    data = tmp_path / "data"

    before = phidesk(env, data, "status", "--json")
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout) | {"host": None} == {
        "managed": False,
        "version": None,
        "path": None,
        "running": False,
        "latest": None,
        "source": "auto",
        "managed_version": None,
        "host": None,
    }

    done = phidesk(env, data, "install")
    assert done.returncode == 0, done.stderr
    binary = data / "ollama" / "versions" / "v0.6.2" / "bin" / "ollama"
    assert done.stdout == f"installed Ollama 0.6.2 at {binary}\n"
    progress = done.stderr.splitlines()
    assert 1 <= len(progress) <= 3, progress  # a line, not a flood, when not a terminal
    assert "100%" in progress[-1] and "KB" in progress[-1]

    status = phidesk(env, data, "status", "--json")
    assert status.returncode == 0, status.stderr
    found = json.loads(status.stdout)
    assert found["managed"] is True and found["version"] == "0.6.2"
    assert found["path"] == str(binary) and found["running"] is False
    assert found["latest"] == "0.6.2"
    lines = phidesk(env, data, "status").stdout.splitlines()
    assert lines[:2] == ["Ollama: 0.6.2, PhiDesk's own copy", f"path: {binary}"]

    again = phidesk(env, data, "install")
    assert again.returncode == 0 and "is already installed" in again.stdout
    up_to_date = phidesk(env, data, "update")
    assert up_to_date.returncode == 0 and up_to_date.stdout == "Ollama 0.6.2 is up to date\n"

    models = data / "ollama" / "models"
    (models / "blobs").mkdir(parents=True)
    (models / "blobs" / "sha256-x").write_bytes(b"weights")
    removed = phidesk(env, data, "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert "kept the models" in removed.stdout
    assert not (data / "ollama" / "versions").exists()
    assert (models / "blobs" / "sha256-x").exists()
    assert json.loads(phidesk(env, data, "status", "--json").stdout)["path"] is None
    gone = phidesk(env, data, "uninstall", "--models")
    assert gone.returncode == 0 and not models.exists()
    nothing = phidesk(env, data, "uninstall")
    assert nothing.returncode == 0 and "nothing was removed" in nothing.stdout


def test_update_to_a_new_release(releases: ReleaseServer, tmp_path: Path) -> None:
    env = environment(releases, tmp_path)
    data = tmp_path / "data"
    missing = phidesk(env, data, "update")
    assert missing.returncode == 1
    assert missing.stderr == (
        "phidesk: error: PhiDesk has no copy of Ollama of its own to update; set one up with "
        "phidesk ollama install\n"
    )
    releases.publish("v0.5.7", {ARCHIVE: make_tgz(ollama_tree())})
    assert phidesk(env, data, "install").returncode == 0
    releases.publish("v0.6.2", {ARCHIVE: make_tgz(ollama_tree())})
    updated = phidesk(env, data, "update")
    assert updated.returncode == 0, updated.stderr
    assert updated.stdout == "updated Ollama from 0.5.7 to 0.6.2\n"
    assert sorted(p.name for p in (data / "ollama" / "versions").iterdir()) == ["v0.6.2"]


def test_an_installed_ollama_and_a_running_server_show_in_status(
    releases: ReleaseServer, tmp_path: Path, fake_ollama_bin: Path, ollama_double: OllamaDouble
) -> None:
    env = environment(releases, tmp_path, path=str(fake_ollama_bin))
    data = tmp_path / "data"
    found = json.loads(phidesk(env, data, "status", "--json", host=ollama_double.url).stdout)
    assert found["managed"] is False and found["path"] == str(fake_ollama_bin / "ollama")
    assert found["version"] == "0.33.0" and found["running"] is True

    releases.publish("v0.6.2", {ARCHIVE: make_tgz(ollama_tree())})
    done = phidesk(env, data, "install")
    assert done.returncode == 0, done.stderr
    assert "phidesk: note: PhiDesk uses the Ollama installed at" in done.stderr
    still = json.loads(phidesk(env, data, "status", "--json").stdout)
    assert still["managed"] is False and still["managed_version"] == "0.6.2"


def test_ctrl_c_keeps_the_part_and_install_resumes(releases: ReleaseServer, tmp_path: Path) -> None:
    archive = make_tgz(ollama_tree(filler=0) | {"lib/ollama/blob": os.urandom(4_000_000)})
    releases.publish("v0.6.2", {ARCHIVE: archive})
    releases.delay = 0.02
    env = environment(releases, tmp_path)
    data = tmp_path / "data"
    part = data / "ollama" / "downloads" / (ARCHIVE + ".part")
    child = subprocess.Popen(
        command(data, "http://127.0.0.1:9", "install"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (part.exists() and part.stat().st_size > 300_000) and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "phidesk: note: stopped; what was downloaded is kept" in err
    kept = part.stat().st_size
    assert 300_000 <= kept < len(archive)

    releases.delay = 0.0
    done = phidesk(env, data, "install")
    assert done.returncode == 0, done.stderr
    assert releases.downloads_of(ARCHIVE)[-1] == f"bytes={kept}-"
    assert not part.exists()


def test_failures_are_one_sentence_and_usage_errors_exit_2(
    releases: ReleaseServer, tmp_path: Path
) -> None:
    env = environment(releases, tmp_path)
    data = tmp_path / "data"
    for args in (("frobnicate",), (), ("uninstall", "--everything")):
        wrong = phidesk(env, data, *args)
        assert wrong.returncode == 2, (args, wrong.stderr)
        assert wrong.stderr.startswith("phidesk: error: ") and wrong.stderr.count("\n") == 1

    releases.wrong_checksum_for = {ARCHIVE}
    releases.publish("v0.6.2", {ARCHIVE: make_tgz(ollama_tree())})
    mismatch = phidesk(env, data, "install")
    assert mismatch.returncode == 1
    assert mismatch.stderr.splitlines()[-1] == (
        f"phidesk: error: the downloaded {ARCHIVE} does not match the checksum its release "
        "publishes (it was damaged or altered on the way), so PhiDesk deleted it and installed "
        "nothing"
    )

    releases.fail_next(
        "/releases/latest",
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 600)},
    )
    limited = phidesk(env, data, "status", "--check")
    assert limited.returncode == 1 and limited.stderr.count("\n") == 1
    assert limited.stderr.startswith("phidesk: error: GitHub's limit on requests from this ")

    offline = dict(env, PHIDESK_OLLAMA_RELEASES_URL="http://127.0.0.1:9/releases/latest")
    no_network = phidesk(offline, data, "install")
    assert no_network.returncode == 1 and no_network.stderr.count("\n") == 1
    assert no_network.stderr.startswith("phidesk: error: cannot reach 127.0.0.1 to get the ")
