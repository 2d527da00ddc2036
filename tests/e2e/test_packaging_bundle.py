"""The built .deb, installed into a scratch root, and the installed binary's self-test.

Slow (a PyInstaller build of QtWebEngine), so it runs only when asked:

    packaging/build --check                         builds, then runs this file on that .deb
    PHIDESK_TEST_PACKAGING=1 pytest tests/e2e/test_packaging_bundle.py    builds first itself

PHIDESK_PACKAGING_DEB=path skips the build and checks that package instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import __version__

REPO = Path(__file__).resolve().parents[2]
APP_ID = "io.github.phidesk.PhiDesk"
SIZE_GUARD_MIB = 430  # measured 386 MiB; a lost trim rule (e.g. 44 MiB of locales) shows up

pytestmark = pytest.mark.skipif(
    os.environ.get("PHIDESK_TEST_PACKAGING") != "1",
    reason="builds the bundle; run packaging/build --check (or set PHIDESK_TEST_PACKAGING=1)",
)


@pytest.fixture(scope="module")
def deb() -> Path:
    given = os.environ.get("PHIDESK_PACKAGING_DEB")
    if given:
        return Path(given)
    subprocess.run([str(REPO / "packaging" / "build")], cwd=REPO, check=True, timeout=3600)
    built = sorted((REPO / "build" / "dist").glob(f"phidesk_{__version__}_*.deb"))
    assert len(built) == 1, built
    return built[0]


@pytest.fixture(scope="module")
def installed(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package unpacked into a scratch root, as dpkg would lay it out."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_package_metadata(deb: Path) -> None:
    assert field(deb, "Package") == "phidesk"
    assert field(deb, "Version") == __version__
    depends = field(deb, "Depends")
    assert "libc6 (>= " in depends
    assert "libgl1" in depends  # the system's OpenGL is never bundled


def test_installed_tree_has_the_desktop_integration(installed: Path) -> None:
    launcher = installed / "usr" / "bin" / "phidesk"
    assert launcher.is_symlink()
    assert launcher.resolve() == (installed / "opt" / "phidesk" / "phidesk").resolve()
    assert os.access(launcher.resolve(), os.X_OK)
    share = installed / "usr" / "share"
    assert (share / "applications" / f"{APP_ID}.desktop").is_file()
    assert (share / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    for size in ("48x48", "256x256"):
        assert (share / "icons" / "hicolor" / size / "apps" / f"{APP_ID}.png").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert (installed / "etc" / "apparmor.d" / "phidesk").is_file()


def test_bundle_carries_katex_migrations_and_not_the_test_double(installed: Path) -> None:
    internal = installed / "opt" / "phidesk" / "_internal"
    assert (internal / "resources" / "web" / "katex" / "katex.min.js").is_file()
    assert (internal / "migrations").is_dir()
    assert not (internal / "resources" / "web" / "node_modules").exists()
    assert not [p for p in installed.rglob("*ollama_double*")]
    reader = pytest.importorskip("PyInstaller.archive.readers")
    archive = reader.CArchiveReader(str(installed / "opt" / "phidesk" / "phidesk"))
    modules = set(archive.open_embedded_archive("PYZ.pyz").toc)
    assert {"app.cli", "app.gui.application", "app.resources"} <= modules
    assert not [m for m in modules if m == "tests" or m.startswith(("tests.", "pytest"))]


def test_bundle_size_and_trimming(installed: Path) -> None:
    bundle = installed / "opt" / "phidesk"
    size = sum(p.lstat().st_size for p in bundle.rglob("*"))
    print(f"\nunpacked bundle: {size / 2**20:.0f} MiB")
    assert size < SIZE_GUARD_MIB * 2**20
    qt = bundle / "_internal" / "PySide6" / "Qt"
    assert not list(qt.rglob("*.qm"))
    assert not list(qt.rglob("qtwebengine_devtools_resources.pak"))
    assert [p.name for p in (qt / "translations" / "qtwebengine_locales").iterdir()] == [
        "en-US.pak"
    ]
    assert not (qt / "qml").exists()
    assert not list(bundle.rglob("libgtk-3.so*"))


@pytest.fixture
def ollama_url() -> Iterator[str | None]:
    """The Ollama test double's URL when tests/ollama_double provides it, else None."""
    try:
        from tests.ollama_double import OllamaDouble
    except ImportError:
        yield None
        return
    double = OllamaDouble()
    double.start()
    try:
        yield str(double.url)
    finally:
        double.stop()


def test_installed_binary_passes_its_self_test_under_xvfb(
    installed: Path, tmp_path: Path, ollama_url: str | None
) -> None:
    xvfb_run = shutil.which("xvfb-run")
    assert xvfb_run is not None, "xvfb-run is missing; packaging/build --check installs it"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("XDG_", "PHIDESK_", "QT_", "QTWEBENGINE_", "PYTHON", "OLLAMA_"))
    }
    env.update(HOME=str(home), PATH="/usr/bin:/bin", LD_LIBRARY_PATH="")
    data = tmp_path / "data"
    command = [xvfb_run, "-a", str(installed / "usr" / "bin" / "phidesk"), "--data-dir", str(data)]
    if ollama_url is not None:
        command += ["--host", ollama_url]
    result = subprocess.run(
        [*command, "--self-test"], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    report = result.stdout + result.stderr
    print(" ".join(command), report, sep="\n")
    assert result.returncode == 0, report
    lines = [line for line in result.stdout.splitlines() if line.startswith("self-test:")]
    assert "self-test: KaTeX in QtWebEngine: ok" in lines
    assert lines and all(line.endswith(": ok") for line in lines), lines
    assert "Traceback" not in report
    assert f"PhiDesk {__version__} starting" in (data / "logs" / "phidesk.log").read_text()
    version = subprocess.run(
        [str(installed / "usr" / "bin" / "phidesk"), "--version"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert version.stdout.strip() == f"PhiDesk {__version__}"
