#!/usr/bin/env python3
"""Fail when a module under app/ grows past the size limit without a reason on record.

A module longer than LIMIT lines is usually several things that want to be separate modules. The
ones that are long for a good reason are listed in scripts/module_size_allowlist.txt, one per
line: the path, then why. Entries for files that no longer exist or are now short enough are
reported so the list can be trimmed, but do not fail the check.

    .venv/bin/python scripts/check_module_size.py [--limit 500] [--allowlist PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 500
ALLOWLIST = Path("scripts/module_size_allowlist.txt")


def line_count(path: Path) -> int:
    """Lines as `wc -l` counts them (newline characters)."""
    return path.read_bytes().count(b"\n")


def read_allowlist(path: Path) -> dict[str, str]:
    """`path reason…` per line; blank lines and lines starting with # are ignored."""
    entries: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        module, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path}:{number}: {module} has no reason; say why it may be long")
        entries[module] = reason.strip()
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=LIMIT, help="largest size in lines")
    parser.add_argument("--allowlist", type=Path, default=ALLOWLIST)
    args = parser.parse_args(argv)

    allowed = read_allowlist(
        args.allowlist if args.allowlist.is_absolute() else ROOT / args.allowlist
    )
    too_long: list[tuple[str, int]] = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        lines = line_count(path)
        module = path.relative_to(ROOT).as_posix()
        if lines > args.limit and module not in allowed:
            too_long.append((module, lines))

    for module in sorted(allowed):
        path = ROOT / module
        if not path.is_file():
            print(f"note: {module} is on the allowlist but does not exist; remove the entry")
        elif line_count(path) <= args.limit:
            print(f"note: {module} is no longer over {args.limit} lines; remove it from the list")

    if too_long:
        for module, lines in too_long:
            print(f"{module}: {lines} lines, over the limit of {args.limit}", file=sys.stderr)
        print(
            f"split these modules, or add them to {args.allowlist} with the "
            "reason they must stay whole",
            file=sys.stderr,
        )
        return 1
    print(f"module sizes: every module under app/ is within {args.limit} lines or allowed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
