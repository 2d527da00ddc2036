"""PhiDesk's own Ollama at its edges, in process: the pointer file, uninstall, whether the copy
runs now, `ollama --version`, odd release descriptions, archives with directories, hard links
and devices, and connections that stall or break off."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.backend.ollama_setup import (
    ChecksumMissing,
    DownloadFailed,
    ManagedOllama,
    NoNetwork,
    RateLimited,
    UnsafeArchive,
    amd_gpu_present,
    copy_in_use,
    install_latest,
    parse_release,
    program_version,
)
from app.backend.ollama_setup.download import download, free_bytes
from app.backend.ollama_setup.releases import (
    RELEASES_URL,
    Asset,
    expected_sha256,
    fetch_latest,
    releases_url,
)
from app.backend.ollama_setup.unpack import unpack
from app.config import Paths
from tests.integration.test_ollama_setup import ARCH
from tests.release_server import ReleaseServer, make_tgz, make_zip, ollama_tree

ARCHIVE = f"ollama-linux-{ARCH}.tgz"
pytestmark = pytest.mark.skipif(os.name != "posix", reason="the fake ollama is a shell script")


@pytest.fixture
def releases() -> Iterator[ReleaseServer]:
    with ReleaseServer() as server:
        yield server


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


def test_the_pointer_uninstall_and_whether_the_copy_runs(
    releases: ReleaseServer, tmp_path: Path, fake_ollama_bin: Path
) -> None:
    managed = ManagedOllama.for_paths(Paths.resolve(tmp_path / "data"))
    assert managed.root == tmp_path / "data" / "ollama"
    releases.publish("0.6.2", {ARCHIVE: make_tgz(ollama_tree())})
    install_latest(managed, releases_url=releases.releases_url, amd_gpu=False, machine="x86_64")
    copy = managed.current()
    assert copy is not None and copy.version == "0.6.2" and copy.folder.name == "0.6.2"

    # A program run from the copy counts as the copy in use (the fake ollama execs Python,
    # which lives elsewhere, so a copy of `sleep` stands in for it).
    assert copy_in_use(managed) is False
    sleeper = copy.folder / "bin" / "sleeper"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", sleeper)
    child = subprocess.Popen([str(sleeper), "60"])
    try:
        deadline = time.monotonic() + 30
        while not copy_in_use(managed) and time.monotonic() < deadline:
            time.sleep(0.01)  # until the child has exec'd the program
        assert copy_in_use(managed) is True
    finally:
        child.kill()
        child.wait()
    assert copy_in_use(managed) is False
    assert program_version(copy.binary) == "0.33.0"
    assert program_version(tmp_path / "missing") is None
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexit 0\n")
    silent.chmod(0o755)
    assert program_version(silent) is None

    pointer = managed.pointer.read_text()
    for damaged in ("[]", "{", json.dumps({"tag": "x", "folder": "..", "binary": "bin/ollama"})):
        managed.pointer.write_text(damaged)
        assert managed.current() is None
    managed.pointer.write_text(json.dumps({"tag": "x", "folder": "0.6.2", "binary": "nope"}))
    assert managed.current() is None
    managed.pointer.write_text(pointer)

    (managed.models / "manifests").mkdir(parents=True)
    with managed.locked():
        removed = managed.uninstall(models=True)
    assert managed.pointer in removed and managed.models in removed
    assert not managed.root.exists()
    assert managed.uninstall(models=False) == []


def test_a_leftover_copy_without_a_pointer_is_replaced(
    releases: ReleaseServer, tmp_path: Path
) -> None:
    managed = ManagedOllama(tmp_path / "ollama")
    stale = managed.versions / "v0.6.2"
    (stale / "bin").mkdir(parents=True)
    (stale / "bin" / "ollama").write_text("stale")
    releases.publish("v0.6.2", {ARCHIVE: make_tgz(ollama_tree())})
    install_latest(managed, releases_url=releases.releases_url, amd_gpu=False, machine="x86_64")
    copy = managed.current()
    assert copy is not None and copy.binary.read_text() != "stale"


def test_release_descriptions_and_checksum_lists_that_fall_short(
    releases: ReleaseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHIDESK_OLLAMA_RELEASES_URL", raising=False)
    assert releases_url() == RELEASES_URL
    assert releases_url({"PHIDESK_OLLAMA_RELEASES_URL": " http://mirror/x "}) == "http://mirror/x"
    release = parse_release(
        {
            "tag_name": "v1.2.3",
            "assets": [
                "not an object",
                {"name": "no-url"},
                {"name": "ftp", "browser_download_url": "ftp://x/y"},
                {"name": "a/b", "browser_download_url": "https://x/a"},
                {"name": "ok", "browser_download_url": "https://x/ok", "digest": "sha256:zz"},
                {"name": "sized", "browser_download_url": "https://x/s", "size": True},
            ],
        }
    )
    assert [a.name for a in release.assets] == ["ok", "sized"]
    assert release.assets[0].digest is None and release.assets[1].size is None
    assert release.version == "1.2.3"

    releases.publish("v1.0.0", {"a.tgz": b"a", "b.tgz": b"b"})
    listed = fetch_latest(releases.releases_url)
    releases.files["sha256sum.txt"] = b"0" * 64 + b"  ./b.tgz\n"
    asset = listed.asset("a.tgz")
    assert asset is not None
    with pytest.raises(ChecksumMissing, match=r"do not list a\.tgz"):
        expected_sha256(listed, asset)
    releases.fail_next("/download/v1.0.0/sha256sum.txt", 403, {"x-ratelimit-remaining": "0"})
    with pytest.raises(RateLimited, match="used up, so PhiDesk cannot look up the checksums"):
        expected_sha256(listed, asset)
    releases.files["sha256sum.txt"] = b"x" * (2 * 1024 * 1024)
    with pytest.raises(Exception, match="sent more than 1024 KiB"):
        expected_sha256(listed, asset)


def test_archives_with_directories_hard_links_devices_and_unknown_kinds(tmp_path: Path) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        folder = tarfile.TarInfo("lib/ollama")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        data = b"library"
        info = tarfile.TarInfo("lib/ollama/a.so")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("lib/ollama/b.so")
        link.type = tarfile.LNKTYPE
        link.linkname = "lib/ollama/a.so"
        tar.addfile(link)
    good = tmp_path / "good.tgz"
    good.write_bytes(out.getvalue())
    target = tmp_path / "out"
    (target / "lib/ollama/b.so").mkdir(parents=True)  # replaced by the file
    unpack(good, target)
    assert (target / "lib/ollama/b.so").read_bytes() == b"library"
    unpack(good, target)  # again over itself

    fifo = io.BytesIO()
    with tarfile.open(fileobj=fifo, mode="w:gz") as tar:
        pipe = tarfile.TarInfo("lib/pipe")
        pipe.type = tarfile.FIFOTYPE
        tar.addfile(pipe)
    bad = tmp_path / "pipe.tgz"
    bad.write_bytes(fifo.getvalue())
    with pytest.raises(UnsafeArchive, match="device file or pipe"):
        unpack(bad, tmp_path / "out2")

    unknown = tmp_path / "ollama.rar"
    unknown.write_bytes(b"x")
    with pytest.raises(UnsafeArchive, match=r"does not know how to unpack ollama\.rar"):
        unpack(unknown, tmp_path / "out3")

    zipped = tmp_path / "dirs.zip"
    zipped.write_bytes(
        make_zip({"bin/": b"", "bin/ollama": b"x", "lib/l": ("symlink", "../bin/ollama")})
    )
    unpack(zipped, tmp_path / "out4")
    unpack(zipped, tmp_path / "out4")  # the link is replaced
    assert (tmp_path / "out4/lib/l").resolve() == (tmp_path / "out4/bin/ollama").resolve()
    long_link = tmp_path / "long.zip"
    long_link.write_bytes(make_zip({"lib/l": ("symlink", "a/" * 3000)}))
    with pytest.raises(UnsafeArchive, match="leads outside"):
        unpack(long_link, tmp_path / "out5")
    assert free_bytes(tmp_path / "not" / "yet") > 0


def test_a_stalled_or_broken_connection_is_one_sentence(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    mode = {"kind": "stall"}

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            if mode["kind"] == "broken":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nshort")
                conn.close()
            else:
                threading.Timer(5, conn.close).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        from app.backend.ollama_setup.net import http_client

        with (
            http_client(read_timeout=0.3) as http,
            pytest.raises(NoNetwork, match="did not answer in time"),
        ):
            fetch_latest(f"http://127.0.0.1:{port}/latest", client=http)
        mode["kind"] = "broken"
        asset = Asset("a.tgz", f"http://127.0.0.1:{port}/a.tgz")
        with pytest.raises(DownloadFailed, match="broke off while getting the Ollama archive"):
            download(asset, tmp_path / "a.tgz", "0" * 64)
    finally:
        listener.close()


def test_no_amd_gpu_here_means_no_rocm() -> None:
    assert amd_gpu_present() in (True, False)
