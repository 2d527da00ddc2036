"""A stored reasoning time reaches the transcript's header after a restart (no timing kept in
memory by this run): "Thought for 6.4 s", not "Reasoning"."""

from __future__ import annotations

from datetime import UTC, datetime

from app.gui.turn_view import THOUGHT_SECONDS, transcript_item
from app.store import Message, Provenance


def _answer(seconds: float | None) -> Message:
    made = datetime(2026, 1, 2, tzinfo=UTC)
    return Message(
        id=77,
        chat_id=1,
        role="assistant",
        content="It is 4.",
        thinking="Two plus two.",
        status="complete",
        error=None,
        created_at=made,
        updated_at=made,
        stats=None,
        provenance=Provenance(model="phi4-mini-reasoning", thinking_seconds=seconds),
    )


def test_the_stored_reasoning_time_is_shown_after_a_restart() -> None:
    THOUGHT_SECONDS.pop(77, None)
    assert transcript_item(_answer(6.4)).meta["thinking_seconds"] == "6.400"
    assert "thinking_seconds" not in transcript_item(_answer(None)).meta
