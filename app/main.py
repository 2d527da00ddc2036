"""The `phidesk` entry point: the command line, and the window when a command asks for it.

The only module that knows both `app.cli` and `app.gui`; the GUI (and with it Qt) is imported
only when the window is wanted, so the subcommands start without Qt.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.config import AppContext, unusable_ollama_host_hidden
from app.errors import PhiDeskError

if TYPE_CHECKING:
    from app.cli import GuiRequest

log = logging.getLogger(__name__)


def _open_window(ctx: AppContext, request: GuiRequest) -> int:
    try:
        from app.gui import run_gui
    except ImportError as exc:
        log.exception("Qt failed to load")
        if request.quick:
            raise PhiDeskError(
                f"the quick prompt cannot open because Qt failed to load ({exc}); reinstall PhiDesk"
            ) from exc
        raise PhiDeskError(
            f"the PhiDesk window cannot start because Qt failed to load ({exc}); "
            "reinstall PhiDesk, or use the phidesk commands (see phidesk --help)"
        ) from exc
    return run_gui(
        ctx,
        self_test=request.self_test,
        argv=[sys.argv[0]],
        host_given=request.host_given,
        quick=request.quick,
    )


def main(argv: Sequence[str] | None = None) -> int:
    # Imported here, with an OLLAMA_HOST PhiDesk cannot use hidden: should anything the command
    # line imports load the ollama library (which reads the variable as it loads), app.cli
    # still reports a bad value as a usage error. The backend itself loads that library at its
    # first call, through app.backend.ollama_lib, which hides the variable the same way.
    with unusable_ollama_host_hidden():
        from app import cli
    return cli.main(argv, open_window=_open_window)


def entry_point() -> None:
    raise SystemExit(main())
