"""Build PhiDesk's .deb from the PyInstaller one-folder bundle, with dpkg-deb.

    .venv/bin/python packaging/deb.py BUNDLE ICONS OUT_DIR

Layout of the package:
  /opt/phidesk/                  the bundle (phidesk + _internal/)
  /usr/bin/phidesk               relative symlink to ../../opt/phidesk/phidesk
  /usr/share/applications/       <app id>.desktop
  /usr/share/metainfo/           <app id>.metainfo.xml (AppStream)
  /usr/share/icons/hicolor/      the icon set rendered by packaging/icons.py
  /etc/apparmor.d/phidesk        lets Chromium's sandbox make user namespaces on Ubuntu >= 23.10
  /usr/share/doc/phidesk/copyright

Depends: is worked out the way dpkg-shlibdeps would: the shared libraries the bundle's binaries
load from the system (ldd), mapped to the Debian packages that own them (dpkg -S).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_contents as bc

PACKAGE = "phidesk"
MAINTAINER = "PhiDesk developers <phidesk@users.noreply.github.com>"
HOMEPAGE = "https://github.com/phidesk/phidesk"
LINUX_FILES = bc.ROOT / "resources" / "linux"
APPARMOR_PROFILE = bc.ROOT / "installer" / "linux" / "apparmor-phidesk"
_LDD_LINE = re.compile(r"^\s*(\S+) => (/\S+) \(0x[0-9a-f]+\)$")
_ELF_MAGIC = b"\x7fELF"


def architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _elf_files(bundle: Path) -> list[Path]:
    found: list[Path] = []
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == _ELF_MAGIC:
                    found.append(path)
    return found


def system_libraries(bundle: Path) -> set[str]:
    """Absolute paths of the shared libraries the bundle loads from outside itself."""
    internal = bundle / "_internal"
    lib_dirs = sorted({str(p.parent) for p in internal.rglob("*.so*")} | {str(internal)})
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(lib_dirs)}
    outside: set[str] = set()
    bundle_real = str(bundle.resolve())
    for elf in _elf_files(bundle):
        result = subprocess.run(
            ["ldd", str(elf)], capture_output=True, text=True, env=env, check=False
        )
        for line in result.stdout.splitlines():
            match = _LDD_LINE.match(line)
            if match and not os.path.realpath(match.group(2)).startswith(bundle_real):
                outside.add(match.group(2))
    return outside


def owning_packages(paths: set[str]) -> list[str]:
    """The Debian packages (without :arch) that own the given files, sorted."""
    if not paths:
        return []
    packages: set[str] = set()
    for path in sorted(paths):
        # dpkg knows the path it installed; /lib is a symlink to /usr/lib on merged-/usr systems.
        candidates = [path, os.path.realpath(path)]
        candidates += [c.replace("/usr/lib/", "/lib/", 1) for c in list(candidates)]
        for candidate in dict.fromkeys(candidates):
            result = subprocess.run(
                ["dpkg", "-S", candidate], capture_output=True, text=True, check=False
            )
            if result.returncode == 0:
                for line in result.stdout.splitlines():
                    owner = line.split(":", 1)[0].split(",")[0].strip()
                    packages.add(owner)
                break
    return [_with_glibc_floor(name) for name in sorted(packages)]


def _with_glibc_floor(package: str) -> str:
    """libc6 gets a version floor: the glibc the bundle was built against (symbol versions)."""
    if package != "libc6":
        return package
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "libc6"], capture_output=True, text=True, check=True
    ).stdout
    upstream = version.split("-")[0]
    return f"libc6 (>= {upstream})"


def control(version: str, arch: str, depends: list[str], installed_kib: int) -> str:
    return "\n".join(
        [
            f"Package: {PACKAGE}",
            f"Version: {version}",
            f"Architecture: {arch}",
            f"Maintainer: {MAINTAINER}",
            f"Installed-Size: {installed_kib}",
            f"Depends: {', '.join(depends)}",
            "Recommends: gnome-keyring | kwalletmanager",
            "Suggests: ollama",
            "Section: utils",
            "Priority: optional",
            f"Homepage: {HOMEPAGE}",
            "Description: desktop assistant for the Microsoft Phi-4 models on Ollama",
            " PhiDesk pulls the Phi-4 model and quantization that fit your GPU, chats with it",
            " in streamed Markdown with highlighted code and LaTeX math, keeps every",
            " conversation in a local SQLite database and exports chats as Markdown.",
            "",
        ]
    )


POSTINST = """#!/bin/sh
set -e
# Load the AppArmor profile that lets QtWebEngine's sandbox create user namespaces (Ubuntu
# 23.10 and later restrict them). Older AppArmor without abi 4.0 rejects it: nothing to do there.
if [ "$1" = "configure" ] && [ -x /usr/sbin/apparmor_parser ] \\
        && [ -d /sys/kernel/security/apparmor ]; then
    apparmor_parser -r -T -W /etc/apparmor.d/phidesk 2>/dev/null || true
fi
exit 0
"""

POSTRM = """#!/bin/sh
set -e
if [ "$1" = "remove" ] || [ "$1" = "purge" ]; then
    if [ -x /usr/sbin/apparmor_parser ] && [ -d /sys/kernel/security/apparmor ]; then
        apparmor_parser -R /etc/apparmor.d/phidesk 2>/dev/null || true
    fi
fi
exit 0
"""

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: PhiDesk
Source: {homepage}
Comment: /opt/phidesk bundles Python, Qt for Python (PySide6, LGPL-3.0), Qt and QtWebEngine
 (LGPL-3.0, with Chromium's BSD-style licences), KaTeX (MIT) and the Python packages listed
 in PhiDesk's pyproject.toml, each under its own licence.

Files: *
Copyright: PhiDesk developers
License: MIT
"""


def stage(bundle: Path, icons: Path, root: Path) -> None:
    """Lay the package's files out under root (DEBIAN/ excepted)."""
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(bundle, root / "opt" / PACKAGE, symlinks=True)
    usr_bin = root / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    (usr_bin / bc.EXECUTABLE).symlink_to(Path("..", "..", "opt", PACKAGE, bc.EXECUTABLE))
    share = root / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    shutil.copy(LINUX_FILES / f"{bc.APP_ID}.desktop", share / "applications")
    (share / "metainfo").mkdir()
    shutil.copy(LINUX_FILES / f"{bc.APP_ID}.metainfo.xml", share / "metainfo")
    shutil.copytree(icons / "hicolor", share / "icons" / "hicolor")
    doc = share / "doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT.format(homepage=HOMEPAGE), encoding="utf-8")
    apparmor = root / "etc" / "apparmor.d"
    apparmor.mkdir(parents=True)
    shutil.copy(APPARMOR_PROFILE, apparmor / PACKAGE)
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if os.access(path, os.X_OK) else 0o644)


def build(bundle: Path, icons: Path, out_dir: Path) -> Path:
    """Stage and build the .deb; return its path."""
    version = bc.version()
    arch = architecture()
    root = out_dir / "deb-root"
    stage(bundle, icons, root)
    depends = owning_packages(system_libraries(root / "opt" / PACKAGE))
    size_kib = sum(p.lstat().st_size for p in root.rglob("*")) // 1024
    debian = root / "DEBIAN"
    debian.mkdir()
    (debian / "control").write_text(control(version, arch, depends, size_kib), encoding="utf-8")
    (debian / "conffiles").write_text(f"/etc/apparmor.d/{PACKAGE}\n", encoding="utf-8")
    for name, text in (("postinst", POSTINST), ("postrm", POSTRM)):
        script = debian / name
        script.write_text(text, encoding="utf-8")
        script.chmod(0o755)
    deb = out_dir / f"{PACKAGE}_{version}_{arch}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(root)
    return deb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build PhiDesk's .deb from the bundle")
    parser.add_argument("bundle", type=Path, help="the PyInstaller one-folder bundle")
    parser.add_argument("icons", type=Path, help="the folder packaging/icons.py wrote")
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    print(build(args.bundle, args.icons, args.out_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
