"""PhiDesk's own Ollama, installed from a stand-in releases API and download host over real
sockets (tests/release_server.py): archives holding the fake `ollama`, progress, cancel and
resume by HTTP Range, checksums, hostile archives, update with the old copy kept until the new
one answers, and the choice between an installed Ollama and PhiDesk's copy."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from app.backend.events import PullProgress
from app.backend.ollama_setup import (
    Cancelled,
    ChecksumMismatch,
    ChecksumMissing,
    DidNotAnswer,
    InstallBusy,
    ManagedOllama,
    UnsafeArchive,
    choose_ollama,
    install_latest,
    server_for,
)
from app.backend.server import ServerSettings
from tests.release_server import (
    Entry,
    ReleaseServer,
    fake_ollama_program,
    make_tar_zst,
    make_tgz,
    make_zip,
    ollama_tree,
)

ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), "amd64"
)
LINUX_TGZ = f"ollama-linux-{ARCH}.tgz"
LINUX_ZST = f"ollama-linux-{ARCH}.tar.zst"
pytestmark = pytest.mark.skipif(os.name != "posix", reason="the fake ollama is a shell script")


@pytest.fixture
def releases() -> Iterator[ReleaseServer]:
    with ReleaseServer() as server:
        yield server


@pytest.fixture
def managed(tmp_path: Path) -> ManagedOllama:
    return ManagedOllama(tmp_path / "data" / "ollama")


def install(managed: ManagedOllama, releases: ReleaseServer, **kwargs):
    kwargs.setdefault("amd_gpu", False)
    kwargs.setdefault("system", "linux")
    kwargs.setdefault("machine", platform.machine())
    return install_latest(managed, releases_url=releases.releases_url, **kwargs)


def free_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def nothing_installed(managed: ManagedOllama) -> None:
    assert managed.current() is None
    assert not managed.pointer.exists()
    assert not managed.versions.exists() or not list(managed.versions.iterdir())


def test_install_from_tgz_shows_progress_and_the_copy_runs_as_the_managed_server(
    releases: ReleaseServer, managed: ManagedOllama, tmp_path: Path, monkeypatch
) -> None:
    archive = make_tgz(ollama_tree(filler=1_500_000))
    releases.publish("v0.6.2", {LINUX_TGZ: archive, "ollama-darwin.tgz": b"not for us"})
    seen: list[PullProgress] = []

    result = install(managed, releases, progress=seen.append)

    assert result.changed and result.previous is None
    copy = managed.current()
    assert copy is not None and copy.tag == "v0.6.2" and copy.version == "0.6.2"
    assert copy.binary == managed.versions / "v0.6.2" / "bin" / "ollama"
    assert os.access(copy.binary, os.X_OK)
    assert (copy.folder / "lib/ollama/libggml-cpu.so").resolve().name == "libggml-cpu.so.1"
    assert copy.folder.resolve().is_relative_to(managed.root.resolve())
    done = [event.completed for event in seen]
    assert done == sorted(done) and done[-1] == len(archive)
    assert all(event.total == len(archive) for event in seen)
    assert seen[-1].status == f"downloading {LINUX_TGZ}"
    assert any(event.bytes_per_second for event in seen)
    assert not list(managed.downloads.iterdir())  # the archive goes once installed
    assert releases.downloads_of("ollama-darwin.tgz") == []

    # Nothing installed on PATH: the managed copy is chosen and starts with its models folder.
    record = tmp_path / "record.json"
    monkeypatch.setenv("PHIDESK_FAKE_OLLAMA_RECORD", str(record))
    empty = tmp_path / "empty"
    empty.mkdir()
    choice = choose_ollama("auto", managed, env={"PATH": str(empty)}, home=tmp_path)
    assert choice.managed and choice.binary == copy.binary and choice.version == "0.6.2"
    url = free_url()
    server = server_for(choice, ServerSettings(host=url), log_dir=tmp_path / "logs")
    try:
        assert asyncio.run(server.ensure_running(wait=60)) is True
        env = json.loads(record.read_text())["env"]
        assert env["OLLAMA_MODELS"] == str(managed.models)
    finally:
        server.stop()

    # The same release again: nothing to do.
    again = install(managed, releases)
    assert not again.changed and again.copy == copy


def test_tar_zst_is_preferred_and_the_rocm_libraries_go_over_it_for_an_amd_gpu(
    releases: ReleaseServer, managed: ManagedOllama
) -> None:
    rocm = make_tar_zst({"lib/ollama/rocm/libggml-hip.so": b"hip" * 1000})
    releases.publish(
        "v0.12.0",
        {
            LINUX_TGZ: make_tgz(ollama_tree()),
            LINUX_ZST: make_tar_zst(ollama_tree()),
            f"ollama-linux-{ARCH}-rocm.tar.zst": rocm,
        },
        digests=True,
    )
    install(managed, releases, amd_gpu=True)
    copy = managed.current()
    assert copy is not None
    assert (copy.folder / "lib/ollama/rocm/libggml-hip.so").read_bytes() == b"hip" * 1000
    assert releases.downloads_of(LINUX_TGZ) == []
    assert len(releases.downloads_of(LINUX_ZST)) == 1
    assert not any("sha256sum" in path for path, _ in releases.requests)  # digests suffice


def test_the_windows_zip_and_the_macos_app_archive(
    releases: ReleaseServer, managed: ManagedOllama, tmp_path: Path
) -> None:
    program = fake_ollama_program()
    releases.publish(
        "v0.7.0",
        {
            "ollama-windows-amd64.zip": make_zip(
                {"ollama.exe": program, "lib/ollama/ggml-base.dll": b"dll"}
            ),
            "Ollama-darwin.zip": make_zip(
                {
                    "Ollama.app/Contents/Resources/ollama": program,
                    "Ollama.app/Contents/Frameworks/Current": ("symlink", "../Resources"),
                }
            ),
        },
    )
    install(managed, releases, system="windows", machine="AMD64")
    copy = managed.current()
    assert copy is not None and copy.binary.name == "ollama.exe"

    other = ManagedOllama(tmp_path / "mac" / "ollama")
    install(other, releases, system="darwin", machine="arm64")
    mac = other.current()
    assert mac is not None and mac.binary.parts[-4:] == (
        "Ollama.app",
        "Contents",
        "Resources",
        "ollama",
    )
    assert (mac.folder / "Ollama.app/Contents/Frameworks/Current").is_symlink()


def test_cancel_keeps_the_part_and_the_next_install_resumes_with_a_range_request(
    releases: ReleaseServer, managed: ManagedOllama
) -> None:
    archive = make_tgz(ollama_tree(filler=0) | {"lib/ollama/blob": os.urandom(3_000_000)})
    releases.publish("v0.6.2", {LINUX_TGZ: archive})
    cancel = threading.Event()

    def progress(event: PullProgress) -> None:
        if event.completed >= 1_000_000:
            cancel.set()

    with pytest.raises(Cancelled, match="installing again resumes it"):
        install(managed, releases, progress=progress, cancel=cancel)
    part = managed.downloads / (LINUX_TGZ + ".part")
    kept = part.stat().st_size
    assert 1_000_000 <= kept < len(archive)
    nothing_installed(managed)

    sent_before = releases.sent_bytes
    seen: list[PullProgress] = []
    install(managed, releases, progress=seen.append)
    assert releases.downloads_of(LINUX_TGZ) == [None, f"bytes={kept}-"]
    assert seen[0].completed == kept  # progress starts where the part ended
    # The second request sent only what was missing: far less than the whole archive. The
    # count may include what the first, cancelled response was still pushing into the socket's
    # buffers after the cancel (measured 64 KiB + 173 bytes once), hence the slack.
    assert releases.sent_bytes - sent_before <= len(archive) - kept + 512 * 1024
    assert len(archive) - kept + 512 * 1024 < len(archive)  # so a full download would fail
    assert managed.current() is not None and not part.exists()


def test_a_checksum_mismatch_is_refused_and_nothing_is_left(
    releases: ReleaseServer, managed: ManagedOllama
) -> None:
    releases.wrong_checksum_for = {LINUX_TGZ}
    releases.publish("v0.6.2", {LINUX_TGZ: make_tgz(ollama_tree())})
    with pytest.raises(ChecksumMismatch) as caught:
        install(managed, releases)
    assert str(caught.value) == (
        f"the downloaded {LINUX_TGZ} does not match the checksum its release publishes (it was "
        "damaged or altered on the way), so PhiDesk deleted it and installed nothing"
    )
    nothing_installed(managed)
    assert not list(managed.downloads.iterdir())


def test_a_release_without_checksums_is_not_installed(
    releases: ReleaseServer, managed: ManagedOllama
) -> None:
    releases.publish("v0.6.2", {LINUX_TGZ: make_tgz(ollama_tree())}, checksums=False)
    with pytest.raises(ChecksumMissing, match="publishes no checksum"):
        install(managed, releases)
    nothing_installed(managed)
    assert releases.downloads_of(LINUX_TGZ) == []


HOSTILE: dict[str, tuple[Callable[[Mapping[str, Entry]], bytes], dict[str, Entry]]] = {
    "dot-dot": (make_tgz, {"bin/ollama": b"x", "../escaped": b"x"}),
    "absolute": (make_tgz, {"bin/ollama": b"x", "/tmp/escaped-phidesk-test": b"x"}),
    "link out": (make_tar_zst, {"bin/ollama": b"x", "lib/passwd": ("symlink", "/etc/passwd")}),
    "link up": (make_tar_zst, {"lib/up": ("symlink", "../.."), "lib/up/escaped": b"x"}),
    "write through a link": (
        make_tgz,
        {"lib/here": ("symlink", "."), "lib/out": ("symlink", "here/../.."), "bin/ollama": b"x"},
    ),
    "link changed later": (
        make_tgz,
        {"bin/ollama": b"x", "lib/a": ("symlink", "b/../.."), "lib/b": ("symlink", "..")},
    ),
    "hard link out": (make_tgz, {"bin/ollama": b"x", "lib/h": ("hardlink", "../../etc/hosts")}),
    "zip dot-dot": (make_zip, {"ollama.exe": b"x", "..\\escaped": b"x"}),
    "zip link out": (make_zip, {"ollama.exe": b"x", "lib/l": ("symlink", "/etc")}),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_an_archive_with_paths_escaping_its_folder_is_refused(
    releases: ReleaseServer, managed: ManagedOllama, tmp_path: Path, case: str
) -> None:
    build, files = HOSTILE[case]
    name = LINUX_ZST if build is make_tar_zst else LINUX_TGZ
    system = "linux"
    if build is make_zip:
        name, system = "ollama-windows-amd64.zip", "windows"
    releases.publish("v0.6.2", {name: build(files)})
    with pytest.raises(UnsafeArchive, match="leads outside its folder"):
        install(managed, releases, system=system, machine="x86_64")
    nothing_installed(managed)
    assert not (managed.root / "escaped").exists()
    assert not (managed.versions / "escaped").exists()
    assert not Path("/tmp/escaped-phidesk-test").exists()


def test_damaged_and_oversized_archives_and_one_without_a_program_install_nothing(
    releases: ReleaseServer, managed: ManagedOllama
) -> None:
    releases.publish("v0.6.2", {LINUX_TGZ: b"\x1f\x8b not really gzip"})
    with pytest.raises(UnsafeArchive, match="is damaged"):
        install(managed, releases)
    nothing_installed(managed)
    releases.publish("v0.6.3", {LINUX_TGZ: make_tgz({"lib/ollama/only-a-library.so": b"x"})})
    with pytest.raises(UnsafeArchive, match="holds no ollama program"):
        install(managed, releases)
    nothing_installed(managed)


def test_an_update_keeps_the_old_copy_until_the_new_one_answers(
    releases: ReleaseServer, managed: ManagedOllama, tmp_path: Path
) -> None:
    releases.publish("v0.5.7", {LINUX_TGZ: make_tgz(ollama_tree())})
    install(managed, releases)
    old = managed.current()
    assert old is not None

    # A new release whose program does not start: the old copy stays current and whole.
    broken = make_tgz(ollama_tree(fake_ollama_program(fail="illegal instruction")))
    releases.publish("v0.6.0", {LINUX_TGZ: broken})
    with pytest.raises(DidNotAnswer) as caught:
        install(managed, releases, verify_wait=30)
    assert str(caught.value).startswith(
        "the new Ollama 0.6.0 did not start on this computer, so PhiDesk keeps Ollama 0.5.7; "
    )
    assert managed.current() == old
    assert [p.name for p in managed.versions.iterdir()] == ["v0.5.7"]

    # A good one: while it is tried, the pointer still names the old copy, which is still
    # there; once it answers, the pointer moves and the old copy goes.
    snapshot = tmp_path / "snapshot.txt"
    releases.publish(
        "v0.6.1", {LINUX_TGZ: make_tgz(ollama_tree(fake_ollama_program(snapshot=str(snapshot))))}
    )
    result = install(managed, releases)
    assert result.changed and result.previous == old
    seen = snapshot.read_text()
    assert '"tag": "v0.5.7"' in seen
    assert "v0.5.7" in seen.split() and "v0.6.1" in seen.split()
    copy = managed.current()
    assert copy is not None and copy.tag == "v0.6.1"
    assert [p.name for p in managed.versions.iterdir()] == ["v0.6.1"]

    # With the old copy's server still running, its folder stays until the next install.
    releases.publish("v0.6.2", {LINUX_TGZ: make_tgz(ollama_tree())})
    install(managed, releases, server_running=True)
    assert sorted(p.name for p in managed.versions.iterdir()) == ["v0.6.1", "v0.6.2"]


def test_one_install_at_a_time(releases: ReleaseServer, managed: ManagedOllama) -> None:
    releases.publish("v0.6.2", {LINUX_TGZ: make_tgz(ollama_tree())})
    with managed.locked(), pytest.raises(InstallBusy, match="another PhiDesk is installing"):
        install(managed, releases)


def test_an_ollama_already_installed_wins_unless_the_user_chose_phidesks_copy(
    releases: ReleaseServer, managed: ManagedOllama, fake_ollama_bin: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = choose_ollama("auto", managed, env={"PATH": str(empty)}, home=tmp_path)
    assert nothing.binary is None and not nothing.managed

    releases.publish("v0.6.2", {LINUX_TGZ: make_tgz(ollama_tree())})
    install(managed, releases)
    on_path = {"PATH": str(fake_ollama_bin)}
    auto = choose_ollama("auto", managed, env=on_path, home=tmp_path)
    assert auto.binary == fake_ollama_bin / "ollama" and not auto.managed
    assert auto.models_dir is None
    chosen = choose_ollama("managed", managed, env=on_path, home=tmp_path)
    assert chosen.managed and chosen.binary == managed.versions / "v0.6.2/bin/ollama"
    never = choose_ollama("installed", managed, env={"PATH": str(empty)}, home=tmp_path)
    assert never.binary is None
    # PhiDesk's copy put on PATH by the user still counts as PhiDesk's copy.
    own_bin = {"PATH": str(managed.versions / "v0.6.2" / "bin")}
    assert choose_ollama("auto", managed, env=own_bin, home=tmp_path).managed
