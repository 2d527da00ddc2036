#!/usr/bin/env python3
"""Fail when the test coverage of a core package falls below its floor.

Reads the JSON report of coverage.py (`coverage json`, or pytest-cov's `--cov-report=json:PATH`)
and the floors in scripts/coverage-floors.toml: one whole percentage of covered statements per
package (`"app/backend" = 87`). A package is every module under its directory (a module
`app/cli.py` stands for the package `app/cli` until it becomes one). A package listed there that
does not exist is skipped; a core package with no floor yet is reported so one can be added.

Raise a floor when coverage has risen for good; never lower one to make a change pass.

    .venv/bin/python scripts/coverage_floors.py [build/coverage.json] [--floors PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = Path("build/coverage.json")
FLOORS = Path("scripts/coverage-floors.toml")
CORE = ("app/backend", "app/store", "app/chat", "app/render", "app/cli", "app/workspace")


@dataclass
class Measured:
    statements: int = 0
    covered: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.statements if self.statements else 100.0


def relative(name: str) -> str:
    """A file name from the report as a path relative to the repository, with `/`."""
    path = Path(name)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(ROOT)
        except ValueError:
            return path.as_posix()
    return path.as_posix()


def package_of(module: str, packages: list[str]) -> str | None:
    for package in packages:
        if module.startswith(package + "/") or module == package + ".py":
            return package
    return None


def exists(package: str) -> bool:
    return (ROOT / package).is_dir() or (ROOT / f"{package}.py").is_file()


def measure(report: dict[str, object], packages: list[str]) -> dict[str, Measured]:
    measured = {package: Measured() for package in packages}
    files = report.get("files")
    if not isinstance(files, dict):
        raise SystemExit("the coverage report has no 'files'; is it coverage.py's JSON report?")
    for name, data in files.items():
        package = package_of(relative(name), packages)
        if package is None:
            continue
        summary = data["summary"]
        measured[package].statements += int(summary["num_statements"])
        measured[package].covered += int(summary["covered_lines"])
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("report", type=Path, nargs="?", default=REPORT)
    parser.add_argument("--floors", type=Path, default=FLOORS)
    args = parser.parse_args(argv)
    report_path = args.report if args.report.is_absolute() else ROOT / args.report
    floors_path = args.floors if args.floors.is_absolute() else ROOT / args.floors

    with floors_path.open("rb") as file:
        floors: dict[str, int] = tomllib.load(file)["floors"]
    if not report_path.is_file():
        print(f"no coverage report at {args.report}; run pytest with --cov first", file=sys.stderr)
        return 2
    report = json.loads(report_path.read_text(encoding="utf-8"))
    packages = sorted({*floors, *CORE}, key=len, reverse=True)  # longest first: nested packages
    measured = measure(report, packages)

    failed = False
    for package in sorted(packages):
        if not exists(package):
            if package in floors:
                print(f"{package:<14} skipped: it does not exist (yet)")
            continue
        got = measured[package]
        if package not in floors:
            print(
                f"{package:<14} {got.percent:5.1f}%  no floor yet: add "
                f'"{package}" = {math.floor(got.percent)} to {args.floors}'
            )
            continue
        floor = floors[package]
        verdict = "ok" if got.percent >= floor else "BELOW THE FLOOR"
        failed |= got.percent < floor
        print(
            f"{package:<14} {got.percent:5.1f}%  floor {floor:3d}%  "
            f"({got.covered}/{got.statements} statements)  {verdict}"
        )
    if failed:
        print(
            "coverage fell below a floor: add tests for the code you changed "
            f"(the floors are in {args.floors})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
