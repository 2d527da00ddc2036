"""The pieces a document's text is made of, before it is cut into parts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph (or heading, or page) of a document, where it stands in it."""

    text: str
    page: int | None = None
    """1-based page number (PDF only)."""
    headings: tuple[str, ...] = ()
    """The headings it stands under, outermost first (Markdown and HTML)."""
