"""Everything Qt. The only package that imports PySide6."""

from app.gui.application import run_gui

__all__ = ["run_gui"]
