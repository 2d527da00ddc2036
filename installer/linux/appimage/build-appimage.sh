#!/usr/bin/env bash
# Build PhiDesk-<version>-x86_64.AppImage from the bundle packaging/build made.
#
#   installer/linux/appimage/build-appimage.sh
#
# Needs `appimagetool` on PATH (https://github.com/AppImage/appimagetool releases; it is not in
# Debian, so this does not run on the offline CI box). Users need FUSE 2 (libfuse2) to run it.
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v appimagetool >/dev/null 2>&1 || { echo "build-appimage: appimagetool is not on PATH" >&2; exit 1; }
[ -x build/dist/phidesk/phidesk ] || { echo "build-appimage: run packaging/build first" >&2; exit 1; }
app_id=io.github.phidesk.PhiDesk
version=$(.venv/bin/python -c 'import sys; sys.path.insert(0, "packaging"); import bundle_contents as b; print(b.version())')
appdir=build/AppDir
rm -rf "$appdir"
mkdir -p "$appdir/usr/lib" "$appdir/usr/share/applications" "$appdir/usr/share/metainfo"
cp -a build/dist/phidesk "$appdir/usr/lib/phidesk"
cp installer/linux/appimage/AppRun "$appdir/AppRun"
cp resources/linux/$app_id.desktop "$appdir/usr/share/applications/"
cp resources/linux/$app_id.metainfo.xml "$appdir/usr/share/metainfo/"
# appimagetool wants the appdata name for the AppStream file.
cp resources/linux/$app_id.metainfo.xml "$appdir/usr/share/metainfo/$app_id.appdata.xml"
mkdir -p "$appdir/usr/share/icons"
cp -a build/icons/hicolor "$appdir/usr/share/icons/hicolor"
cp resources/linux/$app_id.desktop "$appdir/$app_id.desktop"
cp build/icons/phidesk-256.png "$appdir/$app_id.png"
ln -sf "$app_id.png" "$appdir/.DirIcon"
ARCH=x86_64 appimagetool "$appdir" "build/dist/PhiDesk-$version-x86_64.AppImage"
