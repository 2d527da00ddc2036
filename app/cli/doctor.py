"""`phidesk doctor`: one line per check of what PhiDesk needs (Ollama and its models, the GPU,
the data folder and database, the keyring, the desktop, KaTeX), each ok, warning, problem or
unknown with what to do. Exit status 1 when there is a problem. It writes nothing
(app/workspace/doctor.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from app.backend.hosts import HostProfiles
from app.cli.command import Command
from app.config import AppContext
from app.workspace.doctor import Check, Status, has_problem, run_checks


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")


def _diagnose(ctx: AppContext) -> list[Check]:
    async def main() -> list[Check]:
        async with HostProfiles(ctx.paths, local_url=ctx.host).client_for_url(ctx.host) as client:
            return await run_checks(ctx.paths, client)

    return asyncio.run(main())


def summary(checks: list[Check]) -> dict[str, int]:
    return {status.value: sum(c.status is status for c in checks) for status in Status}


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    checks = _diagnose(ctx)
    counts = summary(checks)
    if args.json:
        document = {"checks": [check.as_json() for check in checks], "summary": counts}
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        for check in checks:
            print(check.line())
    if not has_problem(checks):
        return 0
    problems = counts[Status.PROBLEM.value]
    print(
        f"phidesk: error: the doctor found {problems} problem{'s' if problems > 1 else ''}; "
        "each line marked problem says what to do",
        file=sys.stderr,
    )
    return 1


COMMANDS: list[Command] = [
    Command(
        name="doctor",
        help="check Ollama, the models, the GPU, the data folder and database, the keyring and "
        "the desktop; one line each with what to do (exit 1 if anything is a problem)",
        add_arguments=_arguments,
        run=_run,
        writes=False,
    )
]
