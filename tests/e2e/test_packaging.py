"""Cheap packaging checks for the default suite: desktop metadata, icons, installer scripts.

The full bundle build, the .deb and the installed binary's self-test are slow; they run with
`packaging/build --check` (tests/e2e/test_packaging_bundle.py, only when asked).
"""

from __future__ import annotations

import importlib
import plistlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from app import __version__

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
LINUX = REPO / "resources" / "linux"


def packaging_module(name: str) -> ModuleType:
    """Import a module from packaging/ (not a package: its name clashes with PyPI's)."""
    if str(PACKAGING) not in sys.path:
        sys.path.insert(0, str(PACKAGING))
    return importlib.import_module(name)


bc = packaging_module("bundle_contents")


def pillow() -> ModuleType:
    """Pillow packs the icons (a packaging tool: the `dev` extra carries it)."""
    return pytest.importorskip("PIL.Image")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: see packaging/README.md)")
    return path


def test_desktop_file_validates() -> None:
    desktop = LINUX / f"{bc.APP_ID}.desktop"
    result = subprocess.run(
        [tool("desktop-file-validate"), str(desktop)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""  # not even a hint


def test_metainfo_validates() -> None:
    metainfo = LINUX / f"{bc.APP_ID}.metainfo.xml"
    result = subprocess.run(
        [tool("appstreamcli"), "validate", "--no-net", str(metainfo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ids_and_versions_agree_across_platforms() -> None:
    desktop = (LINUX / f"{bc.APP_ID}.desktop").read_text(encoding="utf-8").splitlines()
    assert f"Icon={bc.APP_ID}" in desktop
    assert f"Exec={bc.EXECUTABLE}" in desktop
    component = ET.parse(LINUX / f"{bc.APP_ID}.metainfo.xml").getroot()
    assert component.findtext("id") == bc.APP_ID
    assert component.findtext("launchable") == f"{bc.APP_ID}.desktop"
    newest = component.find("releases/release")
    assert newest is not None and newest.get("version") == __version__, (
        "add a <release> for this version to the AppStream metainfo"
    )
    with (REPO / "installer" / "macos" / "Info.plist").open("rb") as handle:
        info = plistlib.load(handle)
    assert info["CFBundleIdentifier"] == bc.APP_ID
    assert bc.version() == __version__


def test_macos_entitlements_let_webengine_jit() -> None:
    with (REPO / "installer" / "macos" / "entitlements.plist").open("rb") as handle:
        entitlements = plistlib.load(handle)
    assert entitlements["com.apple.security.cs.allow-jit"] is True
    assert entitlements["com.apple.security.cs.allow-unsigned-executable-memory"] is True
    assert "com.apple.security.app-sandbox" not in entitlements


def test_icon_set_renders_every_size_from_the_svg(tmp_path: Path) -> None:
    tool("rsvg-convert")
    Image = pillow()
    icons = packaging_module("icons")
    icons.render(tmp_path)
    for size in icons.PNG_SIZES:
        for png in (
            tmp_path / f"phidesk-{size}.png",
            tmp_path / "hicolor" / f"{size}x{size}" / "apps" / f"{bc.APP_ID}.png",
        ):
            with Image.open(png) as image:
                assert image.size == (size, size) and image.mode == "RGBA"
    with Image.open(tmp_path / "phidesk-256.png") as image:
        assert image.getpixel((0, 0))[3] == 0  # transparent corner, outside the rounded tile
        assert image.getpixel((128, 128))[3] == 255  # opaque middle
        red, green, blue, _alpha = image.getpixel((40, 128))  # the tile: blue-violet gradient
        assert blue > 150 and blue > red and blue > green
    with Image.open(tmp_path / "phidesk.ico") as ico:
        assert {(s, s) for s in (16, 32, 48, 256)} <= set(ico.info["sizes"])
    with Image.open(tmp_path / "phidesk.icns") as icns:
        assert (512, 512, 2) in icns.info["sizes"]  # the 1024 px Retina size
        assert (16, 16, 2) in icns.info["sizes"]
    assert (tmp_path / "hicolor" / "scalable" / "apps" / f"{bc.APP_ID}.svg").is_file()


def _stub_payload(root: Path) -> Path:
    payload = root / "payload"
    (payload / "_internal").mkdir(parents=True)
    (payload / "phidesk.exe").write_bytes(b"MZ stub, not a program")
    (payload / "_internal" / "base_library.zip").write_bytes(b"stub")
    return payload


def test_nsis_installer_compiles_against_a_stub_payload(tmp_path: Path) -> None:
    """A compile check only: the real payload needs a Windows PyInstaller build (CI does it)."""
    makensis = tool("makensis")
    icon = tmp_path / "phidesk.ico"
    pillow().new("RGBA", (256, 256), (47, 111, 224, 255)).save(icon, sizes=[(16, 16), (256, 256)])
    out = tmp_path / f"PhiDesk-{__version__}-Setup.exe"
    result = subprocess.run(
        [
            makensis,
            "-V2",
            "-WX",  # warnings are errors
            f"-DVERSION={__version__}",
            f"-DPAYLOAD={_stub_payload(tmp_path)}",
            f"-DICON={icon}",
            f"-DOUTFILE={out}",
            str(REPO / "installer" / "windows" / "phidesk.nsi"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_bytes()[:2] == b"MZ"


def test_nsis_installer_refuses_to_build_without_a_version(tmp_path: Path) -> None:
    makensis = tool("makensis")
    result = subprocess.run(
        [
            makensis,
            "-V1",
            f"-DPAYLOAD={_stub_payload(tmp_path)}",
            f"-DOUTFILE={tmp_path / 'x.exe'}",
            str(REPO / "installer" / "windows" / "phidesk.nsi"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "pass /DVERSION" in result.stdout + result.stderr
    assert not (tmp_path / "x.exe").exists()


def test_spec_parses_and_bundles_katex_and_migrations() -> None:
    spec = (PACKAGING / "phidesk.spec").read_text(encoding="utf-8")
    compile(spec, "phidesk.spec", "exec")
    if not (bc.katex_dist() / "katex.min.js").is_file():
        pytest.fail("KaTeX is not installed in resources/web; run scripts/setup")
    pairs = bc.data_files()
    dests = {(Path(src).name, dest) for src, dest in pairs}
    assert ("katex.min.js", "resources/web/katex") in dests
    assert ("katex.min.css", "resources/web/katex") in dests
    assert any(dest == "resources/web/katex/fonts" for _name, dest in dests)
    assert ("phidesk.svg", "resources/icons") in dests
    migrations = REPO / "migrations"
    shipped = {Path(src) for src, dest in pairs if dest.startswith("migrations")}
    assert shipped == {
        p for p in migrations.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    assert not [src for src, _dest in pairs if "node_modules" in src and "katex" not in src]
    assert not [dest for _src, dest in pairs if dest.startswith(("resources/linux", "tests"))]


@pytest.mark.parametrize(
    "dest",
    [
        # Linux
        "PySide6/Qt/lib/libQt6WebEngineCore.so.6",
        "PySide6/Qt/lib/libQt6Quick.so.6",  # WebEngineCore links it
        "PySide6/Qt/libexec/QtWebEngineProcess",
        "PySide6/Qt/resources/qtwebengine_resources.pak",
        "PySide6/Qt/resources/icudtl.dat",
        "PySide6/Qt/translations/qtwebengine_locales/en-US.pak",
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/platforms/libqwayland.so",
        "PySide6/Qt/plugins/platforms/libqoffscreen.so",
        "PySide6/Qt/plugins/imageformats/libqsvg.so",
        "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
        "libpython3.13.so.1.0",
        # Windows
        "PySide6\\plugins\\platforms\\qwindows.dll",
        "PySide6\\plugins\\styles\\qmodernwindowsstyle.dll",
        "PySide6\\Qt6WebEngineCore.dll",
        "PySide6\\QtWebEngineProcess.exe",
        # macOS
        "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
        "PySide6/Qt/lib/QtWebEngineCore.framework/Versions/A/QtWebEngineCore",
        "PySide6/Qt/lib/QtWebEngineCore.framework/Versions/A/Resources/qtwebengine_locales/en-US.pak",
        # not Qt at all
        "resources/web/katex/katex.min.js",
        "migrations/env.py",
    ],
)
def test_trim_keeps_what_the_app_needs(dest: str) -> None:
    assert not bc.is_trimmed(dest)


@pytest.mark.parametrize(
    "dest",
    [
        "PySide6/Qt/translations/qtbase_de.qm",
        "PySide6/Qt/translations/qtwebengine_locales/de.pak",
        "PySide6/Qt/resources/qtwebengine_devtools_resources.pak",
        "PySide6/Qt/qml/QtQuick/Controls/libqtquickcontrols2plugin.so",
        "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
        "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so",
        "PySide6/Qt/plugins/platforms/libqvnc.so",
        "PySide6/Qt/plugins/sqldrivers/libqsqlite.so",
        "PySide6/Qt/plugins/imageformats/libqtiff.so",
        "PySide6/Qt/lib/libQt6Pdf.so.6",
        "libQt6Pdf.so.6",
        "PySide6\\translations\\qt_fr.qm",
        "PySide6\\plugins\\multimedia\\ffmpegmediaplugin.dll",
        "PySide6\\Qt6Pdf.dll",
        "PySide6/Qt/lib/QtPdf.framework/Versions/A/QtPdf",
        "PySide6/Qt/lib/QtWebEngineCore.framework/Versions/A/Resources/qtwebengine_locales/fr.pak",
    ],
)
def test_trim_drops_what_the_app_never_uses(dest: str) -> None:
    assert bc.is_trimmed(dest)


def test_orphaned_libraries_only_those_nothing_kept_needs() -> None:
    links = {
        "/src/gtk-plugin.so": ["libgtk.so", "libglib.so"],
        "/src/libgtk.so": ["libcairo.so", "libglib.so"],
        "/src/libcairo.so": [],
        "/src/libglib.so": [],
        "/src/QtCore.so": ["/usr/lib/libglib.so"],
        "/src/libnss-module.so": [],  # loaded with dlopen: nobody links it
    }
    kept = {
        "libgtk.so": "/src/libgtk.so",
        "libcairo.so": "/src/libcairo.so",
        "libglib.so": "/src/libglib.so",
        "PySide6/Qt/lib/QtCore.so": "/src/QtCore.so",
        "libnss-module.so": "/src/libnss-module.so",
    }
    trimmed = {"PySide6/Qt/plugins/platformthemes/gtk-plugin.so": "/src/gtk-plugin.so"}
    orphans = bc.orphaned_libraries(kept, trimmed, lambda source: links[source])
    assert orphans == {"libgtk.so", "libcairo.so"}


def test_ci_workflow_builds_on_all_three_runners() -> None:
    workflow = yaml.safe_load(
        (REPO / ".github" / "workflows" / "packaging.yml").read_text(encoding="utf-8")
    )
    jobs = workflow["jobs"]

    def commands(job: str) -> str:
        return "\n".join(step.get("run", "") for step in jobs[job]["steps"])

    assert [jobs[name]["runs-on"].split("-")[0] for name in ("linux", "windows", "macos")] == [
        "ubuntu",
        "windows",
        "macos",
    ]
    assert "packaging/build --check" in commands("linux")
    for name in ("windows", "macos"):
        assert "packaging/phidesk.spec" in commands(name)
        assert "--self-test" in commands(name)
        assert jobs[name]["needs"] == "icons"  # the icon set comes from the Linux icons job
    assert "packaging/icons.py" in commands("icons")
    assert "makensis" in commands("windows")
    assert "dmgbuild" in commands("macos")
