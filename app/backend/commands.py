"""`phidesk` subcommands of this package."""

from __future__ import annotations

from app.commands import Command

COMMANDS: list[Command] = []
