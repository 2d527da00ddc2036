"""The errors of export and import: `PhiDeskError`s whose message is one sentence naming the
file."""

from __future__ import annotations

from app.errors import PhiDeskError


class TransferError(PhiDeskError):
    """An export or import failed; the message says which file and why."""


class NotAnExport(TransferError):
    """The Markdown file was not written by PhiDesk's export."""


class DamagedExport(TransferError):
    """The file starts like a PhiDesk export but its structure does not hold together."""
