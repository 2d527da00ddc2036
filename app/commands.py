"""What a `phidesk` subcommand is. Features define theirs next to their code (e.g.
`app/backend/commands.py`); `app.cli` collects them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from app.config import AppContext


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, how it adds its arguments and how it runs.

    `run` returns the exit status. It raises `PhiDeskError` (exit 1) or `UsageError` (exit 2)
    for failures a user should read about; `app.cli` prints them as one line.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[AppContext, argparse.Namespace], int]
