"""The `phidesk` command line: argument parsing, the subcommands and everything they print.

Qt-free and GUI-free: when a command needs the window it returns a `GuiRequest`, which
`main` hands to the `open_window` given by the entry point (`app.main`).
"""

from app.cli.command import Command, GuiRequest, WindowOpener
from app.cli.run import main

__all__ = ["Command", "GuiRequest", "WindowOpener", "main"]
