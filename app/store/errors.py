"""Errors of the chat database, each one clear sentence for the user."""

from __future__ import annotations

from app.errors import PhiDeskError


class StoreError(PhiDeskError):
    """Something about PhiDesk's database went wrong."""


class DatabaseTooNew(StoreError):
    """The file was written by a newer PhiDesk; it was not touched."""


class DatabaseCorrupt(StoreError):
    """The file is not a readable SQLite database (or not PhiDesk's); it was not touched."""


class MigrationFailed(StoreError):
    """An upgrade of the schema failed; the backup taken just before it is named."""


class NotFound(StoreError):
    """A chat, message or preset id does not exist (any more)."""


class DuplicateName(StoreError):
    """A preset with that name exists already."""
