"""Time-to-first-token overhead of PhiDesk's `OllamaClient.chat` over a bare
`ollama.AsyncClient.chat(stream=True)`, both against the Ollama double on 127.0.0.1.

Budget (docs/design.md): at most 10 ms of overhead. Runs alternate between the two clients on one
event loop, each with a warm connection, and every stream is read to the end. Prints the median
time to first token of each, the median of the paired differences, and their ratio.

    .venv/bin/python bench/ttft_overhead.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ollama

from app.backend.client import OllamaClient
from app.backend.events import ContentDelta
from tests.ollama_double.server import OllamaDouble

BUDGET_MS = 10.0
MODEL = "phi4-mini"
MESSAGES = [{"role": "user", "content": "Write one short sentence about the sea."}]


async def bare_ttft(client: ollama.AsyncClient) -> float:
    start = time.perf_counter()
    first: float | None = None
    stream = await client.chat(
        model=MODEL, messages=MESSAGES, stream=True, options={"num_ctx": 4096}, keep_alive="5m"
    )
    async for part in stream:
        if first is None and part.message.content:
            first = time.perf_counter() - start
    assert first is not None
    return first


async def phidesk_ttft(client: OllamaClient) -> float:
    start = time.perf_counter()
    first: float | None = None
    async for event in client.chat(MODEL, MESSAGES, num_ctx=4096, keep_alive="5m"):
        if first is None and isinstance(event, ContentDelta):
            first = time.perf_counter() - start
    assert first is not None
    return first


async def measure(url: str, runs: int) -> tuple[list[float], list[float]]:
    bare = ollama.AsyncClient(url)
    ours = OllamaClient(url)
    try:
        for _ in range(10):  # warm up both connections and the model "load"
            await bare_ttft(bare)
            await phidesk_ttft(ours)
        bare_times: list[float] = []
        our_times: list[float] = []
        for i in range(runs):
            if i % 2:
                bare_times.append(await bare_ttft(bare))
                our_times.append(await phidesk_ttft(ours))
            else:
                our_times.append(await phidesk_ttft(ours))
                bare_times.append(await bare_ttft(bare))
        return bare_times, our_times
    finally:
        await bare.close()
        await ours.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with OllamaDouble() as double:
        bare, ours = asyncio.run(measure(double.url, args.runs))
    bare_ms = statistics.median(bare) * 1000
    ours_ms = statistics.median(ours) * 1000
    overhead_ms = statistics.median(o - b for o, b in zip(ours, bare, strict=True)) * 1000
    print(f"runs: {args.runs} each, against the Ollama double on 127.0.0.1")
    print(f"bare ollama.AsyncClient  median TTFT: {bare_ms:.2f} ms")
    print(f"PhiDesk OllamaClient     median TTFT: {ours_ms:.2f} ms")
    print(f"median overhead: {overhead_ms:+.2f} ms (budget <= {BUDGET_MS:.0f} ms)")
    print(f"ratio PhiDesk / bare: {ours_ms / bare_ms:.2f}")
    ok = overhead_ms <= BUDGET_MS
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
