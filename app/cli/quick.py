"""`phidesk quick`: open the quick prompt in the running PhiDesk, or start PhiDesk with it.

Users bind this command in their desktop's keyboard settings where PhiDesk cannot register a
global shortcut itself (e.g. Wayland without the GlobalShortcuts portal). Qt-free: the request
goes over the single-instance channel (app/instance.py); when no PhiDesk runs, the command asks
the entry point for the window with the quick prompt open.
"""

from __future__ import annotations

import argparse

from app.cli.command import Command, GuiRequest
from app.config import AppContext
from app.instance import send_to_running

QUICK_REQUEST = {"action": "quick"}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    return None


def _run(ctx: AppContext, args: argparse.Namespace) -> int | GuiRequest:
    if send_to_running(ctx.paths, QUICK_REQUEST):
        return 0
    return GuiRequest(quick=True)


COMMANDS: list[Command] = [
    Command(
        name="quick",
        help="open the quick prompt (in the running PhiDesk, or start it); bind this to a key "
        "in your desktop's shortcut settings",
        add_arguments=_add_arguments,
        run=_run,
    )
]
