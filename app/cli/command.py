"""What a `phidesk` subcommand is, and how it asks for the window.

Each module of this package defines its subcommands as `Command` values; `app.cli.parser`
collects them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from app.config import AppContext


@dataclass(frozen=True)
class GuiRequest:
    """A command's answer when the PhiDesk window has to run: `app.cli` knows no Qt, so it
    hands this to the entry point (`app.main`), which starts the GUI and returns its status."""

    self_test: bool = False
    quick: bool = False
    host_given: bool = False


type CommandRun = Callable[[AppContext, argparse.Namespace], int | GuiRequest]
type WindowOpener = Callable[[AppContext, GuiRequest], int]


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, how it adds its arguments and how it runs.

    `run` returns the exit status, or a `GuiRequest` when the command needs the window. It
    raises `PhiDeskError` (exit 1) or `UsageError` (exit 2) for failures a user should read
    about; `app.cli` prints them as one line.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: CommandRun
    writes: bool = True
    """False for a command that must leave the data folder untouched (the doctor): no folders
    are created, no modes changed and no log file is written before it runs."""
