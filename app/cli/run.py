"""One run of the `phidesk` command: parse, set up the data dir and the log, run the command,
and turn what went wrong into a one-line error and an exit status.

Details (tracebacks) go to the log file only. A command that needs the window returns a
`GuiRequest`; this module knows no Qt and passes the request to the `open_window` it is given.
While it runs, files are created private (umask 077 on POSIX): the database, its journals and
backups, logs and exports are the owner's alone.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from app import __version__
from app.cli.command import CommandRun, GuiRequest, WindowOpener
from app.cli.parser import EXIT_INTERRUPTED, EXIT_READER_GONE, EXIT_USAGE, build_parser, fail
from app.config import AppContext, Paths, dropped_credentials, resolve_host
from app.diagnostics import check_python, start_logging
from app.errors import PhiDeskError, UsageError

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077


def _open_the_window(ctx: AppContext, args: argparse.Namespace) -> GuiRequest:
    """What `phidesk` with no command does."""
    return GuiRequest(self_test=bool(args.self_test), host_given=args.host is not None)


def main(argv: Sequence[str] | None, *, open_window: WindowOpener) -> int:
    previous = os.umask(PRIVATE_UMASK) if os.name == "posix" else None
    try:
        status = _main(argv, open_window)
        if sys.stdout is not None:
            sys.stdout.flush()
        return status
    except BrokenPipeError:
        return _reader_gone()
    finally:
        if previous is not None:
            os.umask(previous)


def _reader_gone() -> int:
    """stdout's reader has gone: end quietly. What is still buffered goes nowhere, so that the
    interpreter's last flush does not complain about the closed pipe either."""
    log.info("the reader of stdout went away")
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # stdout is not a file (tests capture it): nothing will flush it to a pipe
    return EXIT_READER_GONE


def _warn(sentence: str) -> None:
    print(f"phidesk: warning: {sentence}", file=sys.stderr)


def _main(argv: Sequence[str] | None, open_window: WindowOpener) -> int:
    try:
        check_python()
    except PhiDeskError as exc:
        return fail(str(exc))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    writes = bool(getattr(args, "writes", True))
    try:
        paths = Paths.resolve(args.data_dir)
        if writes:
            paths = paths.ensure()
        ctx = AppContext(paths=paths, host=resolve_host(args.host))
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    except PhiDeskError as exc:
        return fail(str(exc))
    logged = writes and start_logging(
        paths.log_file, paths.crash_log, verbose=args.verbose, warn=_warn
    )
    credentials = dropped_credentials(args.host)
    if credentials is not None:
        _warn(credentials)
    log.info("PhiDesk %s starting: data=%s host=%s", __version__, paths.data, ctx.host)
    run: CommandRun = getattr(args, "run", _open_the_window)
    try:
        outcome = run(ctx, args)
        return open_window(ctx, outcome) if isinstance(outcome, GuiRequest) else outcome
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _reader_gone()
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    except PhiDeskError as exc:
        log.info("failed: %s", exc)
        return fail(str(exc))
    except Exception as exc:
        log.exception("unexpected error")
        where = f"details are in {paths.log_file}" if logged else "no log file could be written"
        return fail(f"unexpected error ({type(exc).__name__}: {exc}); {where}")
