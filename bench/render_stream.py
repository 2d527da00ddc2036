"""Streaming render of a 20k-token answer, and of six single-block shapes, in 1–4 character deltas.

Budget (docs/design.md): total renderer time ≤ 3× one full render of the final text, ≥ 50× less than
re-rendering the whole text per delta, and a final HTML identical to a full render.

The answer is built from the math corpus in tests/data (prose, display and inline math, tables,
lists, code with `$`), about 4 characters per token. Three ways of consuming the same deltas:

- view pace: `push()` per delta, `take()` once per frame of a 500 tokens/s stream shown at
  60 frames/s (the transcript view's cadence), then `finish()`;
- every delta: `feed()` (push + take) per delta, then `finish()`;
- naive: `render_markdown(text so far)` per delta. Too slow to run in full, so it is measured on
  evenly spaced prefixes and integrated (the cost of one render grows linearly with the text).

Then the shapes of issue 17, about 80,000 characters each, each one block: a bulleted list
(~1,300 items), a numbered list, a table (~2,500 rows), a block quote (~1,700 lines), one
paragraph with inline markup, a code block; and the mixed corpus again. Each is consumed at view
pace and compared with F = one full render of the final text, or 50 ms if that is faster:
total / F, the worst single `take()` / F outside revision frames (a list turning loose, a fence
closing: frames that render finished text again, counted apart), and whether the final HTML
equals a full render. Budgets: mixed <= 3x F; list, numbered list, table, quote, code <= 5x F;
paragraph <= 20x F; no single take() over 0.1x F.

Everything is timed with this process's CPU time by default (`--clock cpu`): on a shared
machine, wall time also counts other processes' work (one take() "took" 2x F while the process
waited for a core). `--clock wall` times with the wall clock.

    .venv/bin/python bench/render_stream.py [--tokens 20000] [--seed 1] [--shapes-only]
        [--clock cpu|wall]
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


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = time.perf_counter  # the shapes' clock, set from --clock


def full_render_seconds(text: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = clock()
        render_markdown(text)
        times.append(clock() - start)
    return statistics.median(times)


def view_pace(parts: list[str], per_frame: int) -> tuple[float, str, int]:
    renderer = StreamRenderer()
    takes = 0
    start = clock()
    for index, delta in enumerate(parts, 1):
        renderer.push(delta)
        if index % per_frame == 0:
            renderer.take()
            takes += 1
    renderer.take()
    final = renderer.finish()
    return clock() - start, final, takes + 1


def every_delta(parts: list[str]) -> tuple[float, str]:
    renderer = StreamRenderer()
    start = clock()
    for delta in parts:
        renderer.feed(delta)
    final = renderer.finish()
    return clock() - start, final


def naive_estimate(text: str, parts: list[str], samples: int) -> float:
    ends: list[int] = []
    pos = 0
    for delta in parts:
        pos += len(delta)
        ends.append(pos)
    step = max(1, len(ends) // samples)
    measured = 0.0
    for i in range(0, len(ends), step):
        start = clock()
        render_markdown(text[: ends[i]])
        measured += clock() - start
    return measured * (len(ends) / len(range(0, len(ends), step)))


SHAPE_CHARS = 80_000
FLOOR_SECONDS = 0.050
BUDGETS = {"one paragraph": 20.0, "mixed corpus": 3.0}


def shapes(tokens: int) -> dict[str, str]:
    def fill(line: object, size: int = SHAPE_CHARS) -> str:
        out: list[str] = []
        n, total = 0, 0
        while total < size:
            piece = str(line(n)) if callable(line) else str(line)
            out.append(piece)
            total += len(piece)
            n += 1
        return "".join(out)

    words = "the value **doubles** when `x` grows, so $x^2$ follows; see [notes](https://a.b/c)"
    return {
        "bulleted list (1,300 items)": fill(
            lambda n: f"- Item {n}: {words[: 20 + n % 40]} and *more*\n"
        ),
        "numbered list": fill(lambda n: f"{n + 1}. Step {n + 1}: compute $a_{{{n}}}$ then `y`\n"),
        "table (2,500 rows)": "| n | square | note |\n|--:|--:|:--|\n"
        + fill(lambda n: f"| {n} | {n * n} | *ok* `v` |\n"),
        "block quote (1,700 lines)": fill(
            lambda n: (
                f"> Line {n} of the quote, with **bold** text and $y$\n"
                + (">\n" if n % 5 == 4 else "")
            )
        ),
        "one paragraph": fill(lambda n: f"Sentence {n} says {words[: 30 + n % 50]}. "),
        "code block": "```python\n" + fill(lambda n: f"value_{n} = compute({n}, 'x') * 2\n"),
        "mixed corpus": answer(tokens),
    }


def take_times(parts: list[str], per_frame: int) -> tuple[float, list[float], int, str]:
    """Total seconds at view pace, each ordinary take()'s seconds, revision frames, final."""
    renderer = StreamRenderer()
    ordinary: list[float] = []
    revisions = 0
    total = 0.0
    for index, delta in enumerate(parts, 1):
        start = clock()
        renderer.push(delta)
        if index % per_frame == 0 or index == len(parts):
            before = renderer.revision_frames
            took = clock()
            renderer.take()
            now = clock()
            if renderer.revision_frames > before:
                revisions += 1
            else:
                ordinary.append(now - took)
        total += clock() - start
    start = clock()
    final = renderer.finish()
    total += clock() - start
    return total, ordinary, revisions, final


def shape_table(tokens: int, seed: int, per_frame: int) -> bool:
    print()
    print(
        f"single-block shapes, view pace (1 take() per {per_frame} deltas),"
        f" F = max(full, 50 ms), {clock.__name__} clock"
    )
    header = ("shape", "chars", "F ms", "total/F", "budget", "worst take/F", "revisions", "same")
    print(
        f"{header[0]:28} {header[1]:>7} {header[2]:>7} {header[3]:>8} {header[4]:>7}"
        f" {header[5]:>12} {header[6]:>9} {header[7]:>5}"
    )
    ok = True
    for name, text in shapes(tokens).items():
        parts = deltas(text, seed)
        full = max(full_render_seconds(text, runs=3), FLOOR_SECONDS)
        total, ordinary, revisions, final = take_times(parts, per_frame)
        same = final == render_markdown(text)
        budget = BUDGETS.get(name, 5.0)
        worst = max(ordinary, default=0.0) / full
        ok = ok and same and total / full <= budget and worst <= 0.1
        print(
            f"{name:28} {len(text):7,} {full * 1000:7.1f} {total / full:8.2f} {budget:7.0f}"
            f" {worst:12.3f} {revisions:9} {same!s:>5}"
        )
    print("budgets: total/F <= budget, worst take/F <= 0.1, same = final HTML == full render")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--naive-samples", type=int, default=60)
    parser.add_argument("--shapes-only", action="store_true")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    per_frame = max(1, round(TOKENS_PER_SECOND / FRAMES_PER_SECOND))
    if args.shapes_only:
        return 0 if shape_table(args.tokens, args.seed, per_frame) else 1

    text = answer(args.tokens)
    parts = deltas(text, args.seed)
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
    shapes_ok = shape_table(args.tokens, args.seed, per_frame)
    return 0 if identical and shapes_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
