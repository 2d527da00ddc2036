"""Turn Ollama's per-layer pull lines into one progress figure: bytes, speed and ETA.

Ollama reports each layer (weights, template, licence, params…) separately, keyed by `digest`,
with `total`/`completed` omitted while zero, and layers already on disk appear at once with
`completed == total` (docs/ollama-behaviour.md §1.5). The overall bar is the sum over distinct
digests. Speed counts only bytes that arrived while we watched (a resumed or cached layer is not
"speed"), over a sliding window so one burst does not swing the ETA.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from app.backend.events import PullProgress

SPEED_WINDOW_SECONDS = 5.0


@dataclass(slots=True)
class _Layer:
    completed: int = 0
    total: int = 0


class PullProgressTracker:
    """Accumulates pull lines; `update()` returns the overall `PullProgress` after each."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        window: float = SPEED_WINDOW_SECONDS,
    ) -> None:
        self._clock = clock
        self._window = window
        self._layers: dict[str, _Layer] = {}
        self._downloaded = 0  # bytes that arrived while we watched, over all layers
        self._samples: deque[tuple[float, int]] = deque()
        self.status = ""

    @property
    def completed(self) -> int:
        return sum(layer.completed for layer in self._layers.values())

    @property
    def total(self) -> int:
        return sum(layer.total for layer in self._layers.values())

    def update(
        self,
        status: str | None,
        *,
        digest: str | None = None,
        total: int | None = None,
        completed: int | None = None,
    ) -> PullProgress:
        now = self._clock()
        if status:
            self.status = status
        if digest:
            layer = self._layers.get(digest)
            new_completed = completed or 0
            if layer is None:
                # First sight: whatever is already done was on disk before, not downloaded now.
                layer = self._layers[digest] = _Layer(completed=new_completed)
            elif new_completed > layer.completed:
                self._downloaded += new_completed - layer.completed
                layer.completed = new_completed
            if total:
                layer.total = max(layer.total, total)
        self._samples.append((now, self._downloaded))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
            self._samples.popleft()
        return self.snapshot()

    def speed(self) -> float | None:
        """Bytes per second over the recent window, or None before there are two samples."""
        if len(self._samples) < 2:
            return None
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        if t1 <= t0:
            return None
        return (b1 - b0) / (t1 - t0)

    def snapshot(self) -> PullProgress:
        completed, total = self.completed, self.total
        speed = self.speed()
        eta: float | None = None
        if speed and speed > 0 and total >= completed:
            eta = (total - completed) / speed
        return PullProgress(
            status=self.status,
            completed=completed,
            total=total,
            bytes_per_second=speed,
            eta_seconds=eta,
        )
