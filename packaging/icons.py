"""Render PhiDesk's icon set from its one source, resources/icons/phidesk.svg.

    .venv/bin/python packaging/icons.py build/icons

writes, into the given folder:
  hicolor/<N>x<N>/apps/<app id>.png and hicolor/scalable/apps/<app id>.svg  (Linux, Flatpak)
  phidesk.ico   16-256 px, for the Windows executable and installer
  phidesk.icns  16-1024 px, for the macOS .app and .dmg
  phidesk-<N>.png for N in PNG_SIZES

The SVG is rasterised by `rsvg-convert` (Debian: librsvg2-bin; macOS: brew install librsvg);
Pillow packs the .ico and .icns.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_contents as bc

SOURCE = bc.ROOT / "resources" / "icons" / "phidesk.svg"
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)
ICNS_MASTER = 1024


def rasterise(svg: Path, size: int, out: Path) -> None:
    """Render the SVG to a size×size RGBA PNG."""
    rsvg = shutil.which("rsvg-convert")
    if rsvg is None:
        # ImageMagick is no substitute: its built-in SVG renderer drops the gradients.
        raise SystemExit(
            "icons: rsvg-convert is not installed; install librsvg2-bin (Debian/Ubuntu) "
            "or librsvg (Homebrew)"
        )
    command = [rsvg, "-w", str(size), "-h", str(size), "-o", str(out), str(svg)]
    subprocess.run(command, check=True)
    with Image.open(out) as image:
        if image.size != (size, size) or image.mode != "RGBA":
            raise SystemExit(f"icons: {out} came out {image.size} {image.mode}, not RGBA {size}px")


def render(out_dir: Path, svg: Path = SOURCE) -> list[Path]:
    """Write the whole icon set into out_dir; return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        master = Path(tmp) / "master.png"
        rasterise(svg, ICNS_MASTER, master)
        for size in PNG_SIZES:
            png = out_dir / f"phidesk-{size}.png"
            rasterise(svg, size, png)  # each size from the vector, not scaled down from a bitmap
            themed = out_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{bc.APP_ID}.png"
            themed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, themed)
            written += [png, themed]
        scalable = out_dir / "hicolor" / "scalable" / "apps" / f"{bc.APP_ID}.svg"
        scalable.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(svg, scalable)
        written.append(scalable)
        with Image.open(master) as image:
            ico = out_dir / "phidesk.ico"
            image.save(ico, sizes=[(s, s) for s in ICO_SIZES])
            icns = out_dir / "phidesk.icns"
            image.save(icns)
            written += [ico, icns]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    for path in render(args.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
