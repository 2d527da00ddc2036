"""Pull progress: summed over layer digests, speed from bytes seen arriving, ETA from speed."""

from __future__ import annotations

import pytest

from app.backend.progress import PullProgressTracker

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_layers_are_summed_and_speed_and_eta_follow() -> None:
    clock = Clock()
    tracker = PullProgressTracker(clock=clock)
    first = tracker.update("pulling manifest")
    assert (first.completed, first.total, first.bytes_per_second) == (0, 0, None)
    tracker.update("pulling aaaaaaaaaaaa", digest=A, total=1000)
    tracker.update("pulling bbbbbbbbbbbb", digest=B, total=3000)
    clock.now += 1.0
    tracker.update("pulling aaaaaaaaaaaa", digest=A, total=1000, completed=400)
    clock.now += 1.0
    progress = tracker.update("pulling bbbbbbbbbbbb", digest=B, total=3000, completed=400)
    assert progress.status == "pulling bbbbbbbbbbbb"
    assert (progress.completed, progress.total) == (800, 4000)
    assert progress.fraction == pytest.approx(0.2)
    assert progress.bytes_per_second == pytest.approx(400.0)  # 800 bytes over 2 s
    assert progress.eta_seconds == pytest.approx(3200 / 400)


def test_a_layer_already_on_disk_counts_as_done_but_not_as_speed() -> None:
    clock = Clock()
    tracker = PullProgressTracker(clock=clock)
    tracker.update("pulling aaaaaaaaaaaa", digest=A, total=5000, completed=5000)
    clock.now += 1.0
    progress = tracker.update("pulling bbbbbbbbbbbb", digest=B, total=1000, completed=0)
    assert (progress.completed, progress.total) == (5000, 6000)
    assert progress.bytes_per_second == 0
    assert progress.eta_seconds is None


def test_repeated_lines_do_not_double_count() -> None:
    tracker = PullProgressTracker(clock=Clock())
    for _ in range(3):
        progress = tracker.update("pulling aaaaaaaaaaaa", digest=A, total=10, completed=7)
    assert (progress.completed, progress.total) == (7, 10)


def test_speed_uses_a_sliding_window() -> None:
    clock = Clock()
    tracker = PullProgressTracker(clock=clock, window=2.0)
    tracker.update("p", digest=A, total=100_000, completed=0)
    clock.now += 1
    tracker.update("p", digest=A, total=100_000, completed=50_000)  # a fast burst
    for step in range(1, 6):
        clock.now += 1
        progress = tracker.update("p", digest=A, total=100_000, completed=50_000 + 100 * step)
    assert progress.bytes_per_second == pytest.approx(100.0)
