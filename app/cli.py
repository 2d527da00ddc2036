"""The `phidesk` command: the GUI by default, subcommands for scripting.

Errors reach the user as one line, `phidesk: error: …`, with exit status 1 for runtime failures
and 2 for usage mistakes. Details (tracebacks) go to the log file only.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from app import __version__
from app.commands import Command
from app.config import AppContext, Paths, resolve_host
from app.diagnostics import check_python, enable_crash_log, setup_logging
from app.errors import PhiDeskError, UsageError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def fail(message: str, status: int = EXIT_FAILURE) -> int:
    print(f"phidesk: error: {message}", file=sys.stderr)
    return status


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit with status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"phidesk: error: {message} (see phidesk --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _commands() -> list[Command]:
    """Subcommands known to this build, each defined beside the feature it drives."""
    from app.backend.commands import COMMANDS as backend_commands
    from app.chat.commands import COMMANDS as chat_commands
    from app.chat.transfer_commands import COMMANDS as transfer_commands
    from app.quick import COMMANDS as quick_commands

    return [*backend_commands, *chat_commands, *transfer_commands, *quick_commands]


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
    commands = _commands()
    if commands:
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
        for command in commands:
            child = sub.add_parser(command.name, help=command.help, description=command.help)
            command.add_arguments(child)
            child.set_defaults(run=command.run)
    return parser


def _run_gui(ctx: AppContext, args: argparse.Namespace) -> int:
    try:
        from app.gui import run_gui
    except ImportError as exc:
        log.exception("Qt failed to load")
        raise PhiDeskError(
            f"the PhiDesk window cannot start because Qt failed to load ({exc}); "
            "reinstall PhiDesk, or use the phidesk commands (see phidesk --help)"
        ) from exc
    return run_gui(
        ctx, self_test=bool(args.self_test), argv=[sys.argv[0]], host_given=args.host is not None
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        check_python()
    except PhiDeskError as exc:
        return fail(str(exc))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        paths = Paths.resolve(args.data_dir).ensure()
        ctx = AppContext(paths=paths, host=resolve_host(args.host))
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    except PhiDeskError as exc:
        return fail(str(exc))
    setup_logging(paths.log_file, verbose=args.verbose)
    enable_crash_log(paths.crash_log)
    log.info("PhiDesk %s starting: data=%s host=%s", __version__, paths.data, ctx.host)
    run: Callable[[AppContext, argparse.Namespace], int] = getattr(args, "run", _run_gui)
    try:
        return run(ctx, args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    except PhiDeskError as exc:
        log.info("failed: %s", exc)
        return fail(str(exc))
    except Exception as exc:
        log.exception("unexpected error")
        return fail(
            f"unexpected error ({type(exc).__name__}: {exc}); details are in {paths.log_file}"
        )


def entry_point() -> None:
    raise SystemExit(main())
