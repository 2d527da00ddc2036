"""`phidesk quick`: open the quick prompt in the running PhiDesk, or start PhiDesk with it.

Users bind this command in their desktop's keyboard settings where PhiDesk cannot register a
global shortcut itself (e.g. Wayland without the GlobalShortcuts portal). Qt-free: the request
goes over the single-instance channel (app/instance.py); only starting the GUI loads Qt.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from app.commands import Command
from app.config import AppContext
from app.errors import PhiDeskError
from app.instance import send_to_running

QUICK_REQUEST = {"action": "quick"}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    return None


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    if send_to_running(ctx.paths, QUICK_REQUEST):
        return 0
    try:
        import app.gui
    except ImportError as exc:
        raise PhiDeskError(
            f"the quick prompt cannot open because Qt failed to load ({exc}); reinstall PhiDesk"
        ) from exc
    # run_gui(..., quick=True) opens the quick prompt once the window exists.
    run_gui: Callable[..., int] = app.gui.run_gui
    return run_gui(ctx, self_test=False, argv=[sys.argv[0]], quick=True)


COMMANDS: list[Command] = [
    Command(
        name="quick",
        help="open the quick prompt (in the running PhiDesk, or start it); bind this to a key "
        "in your desktop's shortcut settings",
        add_arguments=_add_arguments,
        run=_run,
    )
]
