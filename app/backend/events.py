"""What the backend tells its callers: typed events of a chat stream and of a pull.

A chat stream yields `ThinkingDelta` / `ContentDelta` as they arrive, possibly `StreamStalled`
reports from the watchdog, and ends with exactly one `Done`; or it raises an `OllamaError`
(see `app.backend.errors`) after yielding whatever arrived before the failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.values import ChatStats as ChatStats  # re-exported: it was defined here


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """A piece of the model's reasoning (the `thinking` field, or text inside <think>…</think>)."""

    text: str


@dataclass(frozen=True, slots=True)
class ContentDelta:
    """A piece of the answer itself."""

    text: str


@dataclass(frozen=True, slots=True)
class Done:
    """The stream finished normally."""

    model: str
    stats: ChatStats
    usage_estimated: bool = False
    """The server sent no token counts (an OpenAI-compatible stream that ended without its usage
    chunk): `stats` has no counts, and the context meter shows its estimate, marked "≈"."""
    cached_tokens: int | None = None
    """Prompt tokens the server took from its cache, when it says."""
    reasoning_tokens: int | None = None
    """Tokens of the answer spent on reasoning (included in `stats.eval_count`), when it says."""
    system_fingerprint: str | None = None
    """The backend configuration that served the answer, when the server names it."""


@dataclass(frozen=True, slots=True)
class StreamStalled:
    """The watchdog saw no chunk for `seconds`; the stream is still open and may resume."""

    seconds: float


ChatEvent = ThinkingDelta | ContentDelta | StreamStalled | Done


@dataclass(frozen=True, slots=True)
class PullProgress:
    """Progress of a pull, summed over all layers seen so far."""

    status: str
    completed: int
    total: int
    bytes_per_second: float | None = None
    eta_seconds: float | None = None

    @property
    def fraction(self) -> float | None:
        return self.completed / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class PullDone:
    """The model is pulled and ready."""

    model: str


PullEvent = PullProgress | PullDone
