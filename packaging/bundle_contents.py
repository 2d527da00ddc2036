"""What goes into the frozen PhiDesk bundle, and what is trimmed out of it.

PyInstaller's spec (`phidesk.spec`) imports this module, and so do the build script and the
tests, so the choices are written down once. Nothing here imports PyInstaller or Qt.

Trimming works on destination paths inside the bundle, which look the same on every OS apart
from the separator (`PySide6/Qt/translations/...` on Linux and macOS, `PySide6/translations/...`
on Windows), so one rule set serves all three.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "PhiDesk"
APP_ID = "io.github.phidesk.PhiDesk"  # reverse-DNS id: desktop file, metainfo, macOS bundle id
EXECUTABLE = "phidesk"

# Qt modules PhiDesk uses, directly or because QtWebEngine needs them. Everything else in PySide6
# is excluded from module analysis so no hook can drag it in.
QT_MODULES_KEPT = (
    "QtCore",
    "QtGui",
    "QtWidgets",
    "QtNetwork",
    "QtPrintSupport",  # PyInstaller's QtWebEngineCore hook imports it; WebEngine can print
    "QtWebChannel",
    "QtWebEngineCore",
    "QtWebEngineWidgets",
    "QtDBus",  # tray icon and global shortcuts on Linux talk D-Bus
)
QT_MODULES_EXCLUDED = (
    "Qt3DAnimation",
    "Qt3DCore",
    "Qt3DExtras",
    "Qt3DInput",
    "Qt3DLogic",
    "Qt3DRender",
    "QtAxContainer",
    "QtBluetooth",
    "QtCanvasPainter",
    "QtCharts",
    "QtConcurrent",
    "QtDataVisualization",
    "QtDesigner",
    "QtGraphs",
    "QtGraphsWidgets",
    "QtHelp",
    "QtHttpServer",
    "QtLocation",
    "QtMultimedia",
    "QtMultimediaWidgets",
    "QtNetworkAuth",
    "QtNfc",
    "QtOpenGL",
    "QtOpenGLWidgets",
    "QtPdf",
    "QtPdfWidgets",
    "QtPositioning",
    "QtQml",
    "QtQuick",
    "QtQuick3D",
    "QtQuickControls2",
    "QtQuickTest",
    "QtQuickWidgets",
    "QtRemoteObjects",
    "QtScxml",
    "QtSensors",
    "QtSerialBus",
    "QtSerialPort",
    "QtSpatialAudio",
    "QtSql",
    "QtStateMachine",
    "QtSvgWidgets",
    "QtTest",
    "QtTextToSpeech",
    "QtUiTools",
    "QtWebEngineQuick",
    "QtWebSockets",
    "QtWebView",
    "QtXml",
)
EXCLUDED_MODULES = (
    *(f"PySide6.{name}" for name in QT_MODULES_EXCLUDED),
    "tkinter",
    "_tkinter",
    "PySide6.scripts",  # pyside6-deploy, designer wrappers: tools, not runtime
    # Optional imports of libraries PhiDesk uses, for features it does not: Pygments' image
    # formatter (Pillow), httpx's command line (click, rich), SQLAlchemy's mypy plugin.
    "PIL",
    "click",
    "rich",
    "mypy",
    "sqlalchemy.ext.mypy",
    # Development and build tools that only reach the analysis through optional imports.
    "setuptools",
    "pkg_resources",
    "IPython",
    "pytest",
    "_pytest",
    "hypothesis",
    "tests",  # the Ollama test double stays in the source tree
)

# Qt plugin folders the app needs; plugins in any other folder are dropped.
QT_PLUGIN_DIRS_KEPT = frozenset(
    {
        "platforms",
        "platformthemes",
        "platforminputcontexts",
        "imageformats",
        "iconengines",
        "styles",
        "tls",
        "networkinformation",
        "xcbglintegrations",
        "wayland-decoration-client",
        "wayland-graphics-integration-client",
        "wayland-shell-integration",
        "generic",
    }
)
# Platform plugins (Linux) a desktop session uses, plus offscreen for --self-test.
QT_PLATFORMS_KEPT = ("xcb", "wayland", "wayland-egl", "offscreen", "windows", "cocoa")
IMAGE_FORMATS_KEPT = ("gif", "ico", "jpeg", "svg", "png")
# Plugins collected by the Qt hooks that PhiDesk does without:
#  - the GTK 3 platform theme drags in GTK, GDK, Pango, Cairo, ATK and CUPS (~30 MB); Qt's
#    xdgdesktopportal theme still gives GNOME users portal dialogs and the colour scheme;
#  - the virtual keyboard input context drags in Qt Virtual Keyboard and its QML.
QT_PLUGINS_TRIMMED = ("qgtk3", "qtvirtualkeyboardplugin")
# Qt libraries the hooks collect that nothing kept links against (measured with readelf on
# Linux). QtQuick, QtQml, QtQmlModels, QtOpenGL and QtPositioning stay: libQt6WebEngineCore
# links them.
QT_LIBRARIES_TRIMMED = (
    "Qt6Pdf",
    "QtPdf",
    "Qt6EglFSDeviceIntegration",
    "Qt6EglFsKmsSupport",
    "Qt6VirtualKeyboard",
    "Qt6VirtualKeyboardQml",
    "QtVirtualKeyboard",
    "QtVirtualKeyboardQml",
)
CHROMIUM_LOCALE_KEPT = "en-US.pak"  # the UI is English; Chromium falls back to en-US


def version() -> str:
    """PhiDesk's version, read from app/__init__.py without importing the package."""
    text = (ROOT / "app" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if found is None:
        raise ValueError("app/__init__.py has no __version__")
    return found.group(1)


def katex_dist(root: Path = ROOT) -> Path:
    """KaTeX's dist/ folder from npm (resources/web/node_modules/katex/dist)."""
    return root / "resources" / "web" / "node_modules" / "katex" / "dist"


def data_files(root: Path = ROOT) -> list[tuple[str, str]]:
    """(source file, destination folder) pairs for PyInstaller's `datas`.

    resources/ goes in without node_modules, the npm manifests and the Linux desktop files;
    KaTeX's dist/ goes in as resources/web/katex, where app.resources.katex_dir() looks in a
    bundle; migrations/ goes in as migrations/.
    """
    katex = katex_dist(root)
    if not (katex / "katex.min.js").is_file():
        raise FileNotFoundError(f"KaTeX is missing at {katex}; run scripts/setup (npm ci) first")
    pairs: list[tuple[str, str]] = []
    resources = root / "resources"
    for path in sorted(resources.rglob("*")):
        rel = path.relative_to(resources)
        if not path.is_file() or rel.parts[0] == "linux" or "node_modules" in rel.parts:
            continue
        if rel.name in {"package.json", "package-lock.json"}:
            continue
        pairs.append((str(path), str(PurePosixPath("resources", *rel.parent.parts))))
    for path in sorted(katex.rglob("*")):
        rel = path.relative_to(katex)
        if path.is_file() and path.suffix != ".mjs" and rel.name != "README.md":
            pairs.append((str(path), str(PurePosixPath("resources/web/katex", *rel.parent.parts))))
    migrations = root / "migrations"
    for path in sorted(migrations.rglob("*")):
        rel = path.relative_to(migrations)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
            pairs.append((str(path), str(PurePosixPath("migrations", *rel.parent.parts))))
    return pairs


def is_trimmed(dest: str) -> bool:
    """True for a file PyInstaller collected that PhiDesk does not need at run time."""
    parts = PurePosixPath(dest.replace("\\", "/")).parts
    name = parts[-1]
    for part in parts:
        stem = part.split(".")[0].removeprefix("lib")
        if stem in QT_LIBRARIES_TRIMMED:
            return True
    if "PySide6" not in parts:
        return False
    if name.endswith(".qm"):  # Qt's own translations; PhiDesk's UI is English only
        return True
    if name == "qtwebengine_devtools_resources.pak":  # Chromium DevTools, never opened
        return True
    if "qtwebengine_locales" in parts and name != CHROMIUM_LOCALE_KEPT:
        return True
    if name.endswith((".pyi", ".prl")) or "metatypes" in parts or "typesystems" in parts:
        return True
    if "qml" in parts:  # QML modules: PhiDesk has no Qt Quick UI
        return True
    if "plugins" in parts:
        if name.split(".")[0].removeprefix("lib") in QT_PLUGINS_TRIMMED:
            return True
        index = parts.index("plugins")
        if index + 1 < len(parts) - 1:
            folder = parts[index + 1]
            if folder not in QT_PLUGIN_DIRS_KEPT:
                return True
            stem = name.split(".")[0].removeprefix("lib").removeprefix("q")
            if folder == "platforms" and not stem.startswith(QT_PLATFORMS_KEPT):
                return True
            if folder == "imageformats" and not stem.startswith(IMAGE_FORMATS_KEPT):
                return True
    return False


def split_trimmed(dests: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split destination paths into (kept, trimmed)."""
    kept: list[str] = []
    trimmed: list[str] = []
    for dest in dests:
        (trimmed if is_trimmed(dest) else kept).append(dest)
    return kept, trimmed


def orphaned_libraries(
    kept: Mapping[str, str],
    trimmed: Mapping[str, str],
    needed: Callable[[str], Iterable[str]],
) -> set[str]:
    """Libraries (destinations in `kept`) that only trimmed files needed.

    `kept` and `trimmed` map destination paths to source files; `needed(source)` names the
    shared libraries a binary links against (any path form: only the base name is compared).
    A library reachable from a trimmed binary is an orphan unless something else that stays
    reaches it too. Libraries nothing links against (loaded with dlopen) are never touched.
    """
    by_name = {PurePosixPath(dest.replace("\\", "/")).name: dest for dest in kept}
    sources = {**kept, **trimmed}

    def closure(roots: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            dest = stack.pop()
            if dest in seen:
                continue
            seen.add(dest)
            for lib in needed(sources[dest]):
                found = by_name.get(PurePosixPath(lib.replace("\\", "/")).name)
                if found is not None and found not in seen:
                    stack.append(found)
        return seen

    candidates = closure(trimmed) - set(trimmed)
    still_needed = closure(dest for dest in kept if dest not in candidates)
    return candidates - still_needed
