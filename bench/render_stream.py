"""Streaming render of a 20k-token answer in 1–4 character deltas.

Budget (docs/design.md): total renderer time ≤ 3× one full render of the final text, ≥ 50× less than
re-rendering the whole text per delta, and a final HTML identical to a full render.

The answer is built from the math corpus in tests/data (prose, display and inline math, tables,
lists, code with `$`), about 4 characters per token. Three ways of consuming the same deltas:

- view pace: `push()` per delta, `take()` once per frame of a 500 tokens/s stream shown at
  60 frames/s (the transcript view's cadence), then `finish()`;
- every delta: `feed()` (push + take) per delta, then `finish()`;
- naive: `render_markdown(text so far)` per delta. Too slow to run in full, so it is measured on
  evenly spaced prefixes and integrated (the cost of one render grows linearly with the text).

    .venv/bin/python bench/render_stream.py [--tokens 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.render import StreamRenderer, render_markdown  # noqa: E402

CHARS_PER_TOKEN = 4
TOKENS_PER_SECOND = 500
FRAMES_PER_SECOND = 60


def answer(tokens: int) -> str:
    parts = sorted((ROOT / "tests" / "data" / "math_corpus").glob("*.md"))
    texts = [p.read_text(encoding="utf-8") for p in parts]
    out: list[str] = []
    size = 0
    section = 0
    while size < tokens * CHARS_PER_TOKEN:
        text = texts[section % len(texts)]
        chunk = f"## Part {section + 1}\n\n{text}\n"
        out.append(chunk)
        size += len(chunk)
        section += 1
    return "".join(out)[: tokens * CHARS_PER_TOKEN]


def deltas(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    pos = 0
    while pos < len(text):
        step = rng.randint(1, 4)
        out.append(text[pos : pos + step])
        pos += step
    return out


def full_render_seconds(text: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        render_markdown(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def view_pace(parts: list[str], per_frame: int) -> tuple[float, str, int]:
    renderer = StreamRenderer()
    takes = 0
    start = time.perf_counter()
    for index, delta in enumerate(parts, 1):
        renderer.push(delta)
        if index % per_frame == 0:
            renderer.take()
            takes += 1
    renderer.take()
    final = renderer.finish()
    return time.perf_counter() - start, final, takes + 1


def every_delta(parts: list[str]) -> tuple[float, str]:
    renderer = StreamRenderer()
    start = time.perf_counter()
    for delta in parts:
        renderer.feed(delta)
    final = renderer.finish()
    return time.perf_counter() - start, final


def naive_estimate(text: str, parts: list[str], samples: int) -> float:
    ends: list[int] = []
    pos = 0
    for delta in parts:
        pos += len(delta)
        ends.append(pos)
    step = max(1, len(ends) // samples)
    measured = 0.0
    for i in range(0, len(ends), step):
        start = time.perf_counter()
        render_markdown(text[: ends[i]])
        measured += time.perf_counter() - start
    return measured * (len(ends) / len(range(0, len(ends), step)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--naive-samples", type=int, default=60)
    args = parser.parse_args()

    text = answer(args.tokens)
    parts = deltas(text, args.seed)
    per_frame = max(1, round(TOKENS_PER_SECOND / FRAMES_PER_SECOND))
    full = full_render_seconds(text)
    paced, paced_html, takes = view_pace(parts, per_frame)
    every, every_html = every_delta(parts)
    naive = naive_estimate(text, parts, args.naive_samples)
    expected = render_markdown(text)

    print(f"answer: {len(text):,} characters (~{args.tokens:,} tokens), {len(parts):,} deltas")
    print(f"one full render:                 {full * 1000:8.1f} ms")
    print(
        f"view pace ({takes:,} takes, 1 per {per_frame} deltas): {paced * 1000:8.1f} ms"
        f" = {paced / full:5.2f}x one full render (budget <= 3x),"
        f" {naive / paced:7.0f}x less than naive (budget >= 50x)"
    )
    print(
        f"take() after every delta:        {every * 1000:8.1f} ms"
        f" = {every / full:5.2f}x one full render, {naive / every:7.0f}x less than naive"
    )
    print(
        f"naive re-render per delta (est.): {naive:8.1f} s = {naive / full:,.0f}x one full render"
    )
    identical = paced_html == expected and every_html == expected
    print(f"final HTML identical to a full render: {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
