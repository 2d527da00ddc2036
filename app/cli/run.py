"""One run of the `phidesk` command: parse, set up the data dir and the log, run the command,
and turn what went wrong into a one-line error and an exit status.

Details (tracebacks) go to the log file only. A command that needs the window returns a
`GuiRequest`; this module knows no Qt and passes the request to the `open_window` it is given.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from app import __version__
from app.cli.command import CommandRun, GuiRequest, WindowOpener
from app.cli.parser import EXIT_INTERRUPTED, EXIT_USAGE, build_parser, fail
from app.config import AppContext, Paths, resolve_host
from app.diagnostics import check_python, enable_crash_log, setup_logging
from app.errors import PhiDeskError, UsageError

log = logging.getLogger(__name__)


def _open_the_window(ctx: AppContext, args: argparse.Namespace) -> GuiRequest:
    """What `phidesk` with no command does."""
    return GuiRequest(self_test=bool(args.self_test), host_given=args.host is not None)


def main(argv: Sequence[str] | None, *, open_window: WindowOpener) -> int:
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
    run: CommandRun = getattr(args, "run", _open_the_window)
    try:
        outcome = run(ctx, args)
        return open_window(ctx, outcome) if isinstance(outcome, GuiRequest) else outcome
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
