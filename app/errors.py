"""Errors a user can meet. Each carries one clear sentence: what happened and what to do."""

from __future__ import annotations


class PhiDeskError(Exception):
    """An error whose message is fit to show a user as it is (GUI and `phidesk: error: …`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(PhiDeskError):
    """The command line or a setting was given a value PhiDesk cannot use (exit status 2)."""
