"""PhiDesk's own Ollama when things go wrong: the network, GitHub's rate limit, proxies, a full
disk (a real tmpfs where one can be mounted, else a file-size limit), a process killed while
unpacking, oversized archives; and the Qt-free daily update check."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.backend.ollama_setup import (
    ArchiveTooLarge,
    CheckState,
    DownloadFailed,
    ManagedOllama,
    NoNetwork,
    ProxyFailed,
    RateLimited,
    ReleaseUnreadable,
    UnknownArchitecture,
    UseFacts,
    check_due,
    check_for_update,
    fetch_latest,
    install_latest,
    load_state,
    may_update,
    offer_for,
    parse_checksums,
    parse_release,
    pick_assets,
    required_version,
    update_blocker,
)
from app.backend.ollama_setup.download import download
from app.backend.ollama_setup.releases import Asset, Release
from app.backend.ollama_setup.unpack import unpack
from app.workspace import SettingsStore
from tests.release_server import ReleaseServer, make_tgz, make_zip, ollama_tree

REPO = Path(__file__).resolve().parents[2]
ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), "amd64"
)
ARCHIVE = f"ollama-linux-{ARCH}.tgz"
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux archives, /proc and RLIMIT_FSIZE"
)


@pytest.fixture
def releases() -> Iterator[ReleaseServer]:
    with ReleaseServer() as server:
        yield server


@pytest.fixture
def managed(tmp_path: Path) -> ManagedOllama:
    return ManagedOllama(tmp_path / "data" / "ollama")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


# --- the releases API ----------------------------------------------------------------------


def test_rate_limit_no_network_and_unreadable_answers_are_one_sentence_each(
    releases: ReleaseServer, no_proxy: None
) -> None:
    releases.publish("v0.6.2", {ARCHIVE: b"x"})
    reset = int(time.time()) + 900
    releases.fail_next(
        "/releases/latest", 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    )
    with pytest.raises(RateLimited) as limited:
        fetch_latest(releases.releases_url)
    until = time.strftime("%H:%M", time.localtime(reset))
    assert str(limited.value) == (
        f"GitHub's limit on requests from this network is used up until {until}, so PhiDesk "
        "cannot look up the latest Ollama release now; try again then"
    )
    releases.fail_next("/releases/latest", 500)
    with pytest.raises(DownloadFailed, match="answered 500"):
        fetch_latest(releases.releases_url)
    with pytest.raises(NoNetwork, match=r"^cannot reach 127\.0\.0\.1 to get the latest"):
        fetch_latest("http://127.0.0.1:9/releases/latest")
    with pytest.raises(ReleaseUnreadable, match="not JSON"):
        fetch_latest(f"{releases.url}/download/v0.6.2/{ARCHIVE}")
    for document, words in [
        ([], "not a JSON object"),
        ({"tag_name": "nightly", "assets": []}, "no version tag"),
        ({"tag_name": "v1.0.0"}, "lists no downloadable files"),
    ]:
        with pytest.raises(ReleaseUnreadable, match=words):
            parse_release(document)


def test_a_proxy_that_refuses_or_is_not_there_is_named(
    releases: ReleaseServer, monkeypatch: pytest.MonkeyPatch, no_proxy: None
) -> None:
    releases.publish("v0.6.2", {ARCHIVE: b"x"})
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    with pytest.raises(ProxyFailed, match=r"^the proxy 127\.0\.0\.1:9 did not pass on"):
        fetch_latest(releases.releases_url)
    # The stand-in server as a proxy that wants a password.
    monkeypatch.setenv("HTTP_PROXY", releases.url)
    releases.fail_next(releases.releases_url, 407)
    with pytest.raises(ProxyFailed, match="asks for a password PhiDesk does not have"):
        fetch_latest(releases.releases_url)


def test_the_archive_for_each_system_and_processor() -> None:
    names = [
        "ollama-linux-amd64.tgz",
        "ollama-linux-arm64.tgz",
        "ollama-linux-amd64-rocm.tgz",
        "Ollama-darwin.zip",
        "ollama-windows-amd64.zip",
        "ollama-windows-arm64.zip",
    ]
    release = Release("v0.6.2", tuple(Asset(n, f"https://x/{n}") for n in names))

    def picked(system: str, machine: str, amd: bool = False) -> list[str]:
        return [a.name for a in pick_assets(release, system=system, machine=machine, amd_gpu=amd)]

    assert picked("linux", "aarch64") == ["ollama-linux-arm64.tgz"]
    assert picked("linux", "x86_64", True) == [
        "ollama-linux-amd64.tgz",
        "ollama-linux-amd64-rocm.tgz",
    ]
    assert picked("linux", "aarch64", True) == ["ollama-linux-arm64.tgz"]
    assert picked("darwin", "x86_64") == picked("darwin", "arm64") == ["Ollama-darwin.zip"]
    assert picked("windows", "ARM64") == ["ollama-windows-arm64.zip"]
    with pytest.raises(UnknownArchitecture) as caught:
        pick_assets(release, system="linux", machine="riscv64")
    assert str(caught.value) == (
        "Ollama publishes no build for riscv64 processors on Linux, so PhiDesk cannot set it up "
        "here; connect to Ollama on another machine instead"
    )
    with pytest.raises(UnknownArchitecture, match="no build for freebsd"):
        pick_assets(release, system="freebsd", machine="amd64")
    bare = Release("v0.6.2", (Asset("ollama-linux-amd64.tgz", "https://x/a"),))
    with pytest.raises(UnknownArchitecture, match="has no download for AMD64 processors on Win"):
        pick_assets(bare, system="windows", machine="AMD64")


def test_checksum_lines_in_both_forms() -> None:
    a, b = "a" * 64, "B" * 64
    text = f"{a}  ./ollama-linux-amd64.tgz\n{b} *Ollama-darwin.zip\nnot a line\n{a}  ../up\n"
    assert parse_checksums(text) == {
        "ollama-linux-amd64.tgz": a,
        "Ollama-darwin.zip": b.lower(),
    }


# --- downloads ----------------------------------------------------------------------------


def test_resume_edge_cases(releases: ReleaseServer, tmp_path: Path, no_proxy: None) -> None:
    data = os.urandom(300_000)
    releases.publish("v1.0.0", {"a.tgz": data})
    release = fetch_latest(releases.releases_url)
    asset = release.asset("a.tgz")
    assert asset is not None
    sha = parse_checksums(httpx.get(f"{releases.url}/download/v1.0.0/sha256sum.txt").text)["a.tgz"]
    target = tmp_path / "a.tgz"
    part = tmp_path / "a.tgz.part"
    # A complete part is hashed without a request.
    part.write_bytes(data)
    assert download(asset, target, sha) == target and target.read_bytes() == data
    assert releases.downloads_of("a.tgz") == []
    # A complete file is used as it is; a wrong one is fetched again.
    assert download(asset, target, sha) == target
    target.write_bytes(b"garbage")
    download(asset, target, sha)
    assert target.read_bytes() == data
    # A part that does not fit the asset starts over; one whose size the server does not know
    # and that the server says is complete (416 with the same size) is kept.
    target.unlink()
    part.write_bytes(data + b"extra")
    download(asset, target, sha)
    assert releases.downloads_of("a.tgz")[-1] is None
    target.unlink()
    unsized = Asset(asset.name, asset.url)
    part.write_bytes(data)
    download(unsized, target, sha)
    assert releases.downloads_of("a.tgz")[-1] == "bytes=300000-"
    # A server whose file changed under the part (416 with another size) makes it start over.
    target.unlink()
    part.write_bytes(data + b"longer than the file")
    with pytest.raises(DownloadFailed, match="no longer has the part"):
        download(unsized, target, sha)
    assert not part.exists()


def test_a_file_that_is_not_published_is_a_sentence(
    releases: ReleaseServer, tmp_path: Path, no_proxy: None
) -> None:
    missing = Asset("gone.tgz", f"{releases.url}/download/v0/gone.tgz", size=10)
    with pytest.raises(DownloadFailed, match=r"answered 404 Not Found when asked for the Ollama"):
        download(missing, tmp_path / "gone.tgz", "0" * 64)


def test_archives_past_the_bounds_are_refused(tmp_path: Path) -> None:
    many = tmp_path / "many.zip"
    many.write_bytes(make_zip({f"f{i}": b"x" for i in range(20)}))
    with pytest.raises(ArchiveTooLarge, match="holds more than 10 files"):
        unpack(many, tmp_path / "out1", max_members=10)
    big = tmp_path / "big.tgz"
    big.write_bytes(make_tgz({"bin/ollama": bytes(3_000_000)}))
    with pytest.raises(ArchiveTooLarge, match=r"unpacks to more than 1\.0 MB"):
        unpack(big, tmp_path / "out2", max_bytes=1_000_000)


# --- a full disk, a killed process ----------------------------------------------------------

INSTALL = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from app.backend.ollama_setup import ManagedOllama, SetupError, install_latest
    root, url, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cap:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))
    try:
        install_latest(ManagedOllama(Path(root)), releases_url=url, amd_gpu=False)
        print("installed")
    except SetupError as exc:
        print(type(exc).__name__ + ": " + str(exc))
    """
)


def run_install(
    root: Path, releases: ReleaseServer, cap: int = 0, prefix: tuple[str, ...] = ()
) -> str:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    done = subprocess.run(
        [*prefix, sys.executable, "-c", INSTALL, str(root), releases.releases_url, str(cap)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def tmpfs_prefix(folder: Path) -> tuple[str, ...] | None:
    """A command prefix running the rest with a 1 MiB tmpfs on `folder`, or None."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    mount = f'mount -t tmpfs -o size=1m tmpfs \'{folder}\' && exec "$0" "$@"'
    command = (unshare, "--user", "--map-root-user", "--mount", "sh", "-c", mount)
    probe = subprocess.run([*command, "true"], capture_output=True, timeout=30, check=False)
    return command if probe.returncode == 0 else None


@linux_only
def test_too_little_space_is_said_before_anything_is_downloaded(
    releases: ReleaseServer, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    prefix = tmpfs_prefix(disk)
    if prefix is None:
        pytest.skip("cannot mount a tmpfs here")
    releases.publish("v0.6.2", {ARCHIVE: make_tgz(ollama_tree(filler=100_000))})
    said = run_install(disk / "ollama", releases, prefix=prefix)
    assert said.startswith("NotEnoughSpace: Ollama needs about "), said
    assert "free some space and try again" in said
    assert releases.downloads_of(ARCHIVE) == []


@linux_only
def test_a_disk_that_fills_while_downloading_keeps_the_part_for_a_resume(
    releases: ReleaseServer, tmp_path: Path
) -> None:
    archive = make_tgz(ollama_tree(filler=0) | {"lib/ollama/blob": os.urandom(2_000_000)})
    releases.publish("v0.6.2", {ARCHIVE: archive})
    root = tmp_path / "ollama"
    said = run_install(root, releases, cap=1_000_000)
    assert said == (
        f"DiskFull: the disk filled up while downloading {ARCHIVE} into {root / 'downloads'}; "
        "free some space and install again, and the download resumes where it stopped"
    )
    part = root / "downloads" / (ARCHIVE + ".part")
    assert part.stat().st_size == 1_000_000
    assert not (root / "current.json").exists()
    assert run_install(root, releases) == "installed"
    assert releases.downloads_of(ARCHIVE)[-1] == "bytes=1000000-"


@linux_only
def test_a_disk_that_fills_while_unpacking_installs_nothing(
    releases: ReleaseServer, tmp_path: Path
) -> None:
    # Small to download, 4 MB once unpacked: past a 1 MB file-size limit.
    releases.publish("v0.6.2", {ARCHIVE: make_tgz(ollama_tree() | {"lib/big": bytes(4_000_000)})})
    root = tmp_path / "ollama"
    said = run_install(root, releases, cap=1_000_000)
    assert said == (
        f"DiskFull: the disk filled up while unpacking {ARCHIVE} into {root / 'versions'}; "
        "free some space and install again (the download is kept)"
    )
    assert not (root / "current.json").exists()
    assert list((root / "versions").iterdir()) == []
    assert (root / "downloads" / ARCHIVE).is_file()
    assert run_install(root, releases) == "installed"
    assert len(releases.downloads_of(ARCHIVE)) == 1  # the kept download was used


@linux_only
def test_killed_while_unpacking_then_installing_again_succeeds(
    releases: ReleaseServer, tmp_path: Path
) -> None:
    # 400 MB of zeros: a small download that takes a moment to unpack.
    tree = ollama_tree() | {f"lib/ollama/zeros{i}": bytes(50_000_000) for i in range(8)}
    releases.publish("v0.6.2", {ARCHIVE: make_tgz(tree)})
    root = tmp_path / "ollama"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    for _attempt in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", INSTALL, str(root), releases.releases_url, "0"],
            env={**env, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        unpacking: list[Path] = []
        while not unpacking and child.poll() is None and time.monotonic() < deadline:
            if (root / "versions").is_dir():
                unpacking = list((root / "versions").glob(".unpacking-*"))
            time.sleep(0.002)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        if unpacking and not (root / "current.json").exists():
            break
        shutil.rmtree(root, ignore_errors=True)
    else:
        pytest.skip("the install finished before it could be killed while unpacking")
    assert list((root / "versions").glob(".unpacking-*")), "the kill left no half-unpacked folder"
    assert run_install(root, releases) == "installed"
    assert [p.name for p in (root / "versions").iterdir()] == ["v0.6.2"]
    assert (root / "versions" / "v0.6.2" / "lib" / "ollama" / "zeros7").stat().st_size == 50_000_000


# --- the update check -----------------------------------------------------------------------


def test_the_update_check_is_daily_never_offline_and_silent_on_failure(
    releases: ReleaseServer, managed: ManagedOllama, no_proxy: None
) -> None:
    releases.publish("v0.5.7", {ARCHIVE: make_tgz(ollama_tree())})
    install_latest(managed, releases_url=releases.releases_url, amd_gpu=False)
    releases.publish("v0.6.2", {ARCHIVE: make_tgz(ollama_tree())})
    url = releases.releases_url
    day = 24 * 3600.0
    asked = len(releases.requests)

    assert check_for_update(managed, enabled=None, online=True, releases_url=url) is None
    assert check_for_update(managed, enabled=False, online=True, releases_url=url) is None
    assert check_for_update(managed, enabled=True, online=False, releases_url=url) is None
    assert len(releases.requests) == asked  # not asked, off, offline: no request at all

    offer = check_for_update(
        managed, enabled=True, online=True, now=1000.0, releases_url=url,
        installed_models=["phi4-mini:latest"],
    )  # fmt: skip
    assert offer is not None and (offer.current, offer.latest) == ("0.5.7", "0.6.2")
    assert offer.required == "0.10.0" and offer.needed
    assert offer.sentence() == (
        "Ollama 0.6.2 is available; the installed Ollama 0.5.7 is older than 0.10.0, which your "
        "models need"
    )
    assert load_state(managed) == CheckState(last_check=1000.0, latest="v0.6.2")
    # Within the day: no request.
    asked = len(releases.requests)
    assert check_for_update(managed, enabled=True, online=True, now=1000 + day / 2) is None
    assert len(releases.requests) == asked
    # A failed check is silent and waits for the next day.
    releases.fail_next("/releases/latest", 500)
    assert (
        check_for_update(managed, enabled=True, online=True, now=1000 + day, releases_url=url)
        is None
    )
    assert load_state(managed).last_check == 1000 + day
    assert check_due(load_state(managed), enabled=True, online=True, now=1000 + day + 60) is False
    assert check_due(load_state(managed), enabled=True, online=True, now=1000 + 2 * day)


def test_what_an_offer_says_and_when_an_update_must_wait() -> None:
    assert offer_for("0.6.2", "v0.6.2") is None
    assert offer_for("0.7.0", "v0.6.2") is None
    plain = offer_for("0.12.0", "v0.13.1")
    assert plain is not None and not plain.needed
    assert plain.sentence() == "Ollama 0.13.1 is available (you have 0.12.0)"
    assert required_version(["phi4:latest", "mystery-model"]) == (0, 10, 0)

    assert may_update(UseFacts())
    assert update_blocker(UseFacts(pulling=True)) == (
        "Ollama is downloading a model; update it when the download has finished"
    )
    assert "an answer is being written" in str(update_blocker(UseFacts(streaming=True)))
    assert not may_update(UseFacts(other_process=True))


def test_the_ollama_preference_is_typed_and_kept_in_settings(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    store = SettingsStore(path)
    assert store.current.ollama.source == "auto" and store.current.ollama.update_check is None
    from dataclasses import replace

    store.update(
        lambda p: replace(p, ollama=replace(p.ollama, source="managed", update_check=True))
    )
    again = SettingsStore(path).current.ollama
    assert (again.source, again.update_check, again.keep_running) == ("managed", True, False)
    path.write_text('{"ollama_source": "bogus", "ollama_update_check": "yes"}')
    odd = SettingsStore(path).current.ollama
    assert (odd.source, odd.update_check) == ("auto", None)
