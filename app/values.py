"""Value types shared by the store and the backend, so that neither has to import the other.

A leaf module: it imports only the standard library (and may import `app.errors`).
The old import paths keep working: `app.backend.events` re-exports `ChatStats`, and
`app.store.records` (hence `app.store`) re-exports `ChatStats`, `Role` and `Status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Role = Literal["system", "user", "assistant"]
"""Who wrote a message."""

Status = Literal["complete", "streaming", "interrupted", "error", "stopped"]
"""Where a message stands: `streaming` while the answer arrives, then how it ended."""

ROLES: Final[tuple[str, ...]] = get_args(Role)
STATUSES: Final[tuple[str, ...]] = get_args(Status)


@dataclass(frozen=True, slots=True)
class ChatStats:
    """Figures from Ollama's final chunk. Ollama omits zero values, so each may be None."""

    prompt_eval_count: int | None = None
    eval_count: int | None = None
    total_duration_ns: int | None = None
    load_duration_ns: int | None = None
    prompt_eval_duration_ns: int | None = None
    eval_duration_ns: int | None = None
    done_reason: str | None = None

    @property
    def context_used(self) -> int | None:
        """Tokens now in the window: the whole prompt plus the reply."""
        if self.prompt_eval_count is None and self.eval_count is None:
            return None
        return (self.prompt_eval_count or 0) + (self.eval_count or 0)

    @property
    def tokens_per_second(self) -> float | None:
        if not self.eval_count or not self.eval_duration_ns:
            return None
        return self.eval_count / (self.eval_duration_ns / 1e9)
