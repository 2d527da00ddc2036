"""The `phidesk` argument parser, exit statuses, and the one-line error format.

Errors reach the user as one line, `phidesk: error: …`, with exit status 1 for runtime failures
and 2 for usage mistakes.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from app import __version__
from app.cli.chats import COMMANDS as CHAT_COMMANDS
from app.cli.command import Command
from app.cli.compare import COMMANDS as COMPARE_COMMANDS
from app.cli.doctor import COMMANDS as DOCTOR_COMMANDS
from app.cli.engines import COMMANDS as ENGINE_COMMANDS
from app.cli.models import COMMANDS as MODEL_COMMANDS
from app.cli.ollama import COMMANDS as OLLAMA_COMMANDS
from app.cli.quick import COMMANDS as QUICK_COMMANDS
from app.cli.text import safe
from app.cli.transfer import COMMANDS as TRANSFER_COMMANDS

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# The reader of stdout went away (`phidesk chats | head`): the status a shell reports for a
# program ended by SIGPIPE, as `cat` or `git log` would be, so `set -o pipefail` scripts see the
# same thing as with any other command, and a cut-short listing is not reported as complete.
EXIT_READER_GONE = 128 + 13


def fail(message: str, status: int = EXIT_FAILURE) -> int:
    print(f"phidesk: error: {safe(message)}", file=sys.stderr)
    return status


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit with status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"phidesk: error: {safe(message)} (see phidesk --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


# Every subcommand, in the order `phidesk --help` lists them.
COMMANDS: list[Command] = [
    *MODEL_COMMANDS,
    *CHAT_COMMANDS,
    *COMPARE_COMMANDS,
    *TRANSFER_COMMANDS,
    *QUICK_COMMANDS,
    *DOCTOR_COMMANDS,
    *OLLAMA_COMMANDS,
    *ENGINE_COMMANDS,
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="phidesk",
        description=(
            "PhiDesk, a desktop assistant for the Microsoft Phi-4 model family on Ollama. "
            "With no command it opens the window."
        ),
    )
    parser.add_argument("--version", action="version", version=f"PhiDesk {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep the database, settings and logs in DIR (default: PHIDESK_DATA_DIR, "
        "else the platform's usual places)",
    )
    parser.add_argument(
        "--host",
        metavar="URL",
        help="the Ollama server to use (default: OLLAMA_HOST, else http://127.0.0.1:11434)",
    )
    parser.add_argument("--verbose", action="store_true", help="write debug detail to the log")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="start the window offscreen, check that it works, and exit 0 (ok) or 1 (failed)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(child)
        child.set_defaults(run=command.run, writes=command.writes)
    return parser
