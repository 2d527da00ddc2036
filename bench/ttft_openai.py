"""Time-to-first-token overhead of PhiDesk on an OpenAI-compatible engine over a bare
`openai.AsyncOpenAI` streaming the same request, both against the OpenAI-compatible double on
127.0.0.1.

Budget (docs/design.md): at most 10 ms of overhead, judged as `bench/ttft_overhead.py` judges the
Ollama client: the engine alone (`OpenAIEngine.chat`) over the bare client. A whole turn of a chat
(`ChatSession.send`: the question committed to SQLite and the answer row created before the
request goes out, as "nothing typed is lost" requires, then the stream) is timed and printed
beside it, since that is what a user waits for; its extra is the two commits. The first
turn of each (a cold connection, the model list asked once) is reported apart; then the runs
alternate between bare and PhiDesk, every stream read to the end, and the medians of the warm
turns and of their paired differences are printed.

    .venv/bin/python bench/ttft_openai.py [--runs 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai

from app.backend.client import OllamaClient
from app.backend.engines.openai_engine import OpenAIConfig, OpenAIEngine
from app.backend.events import ContentDelta
from app.chat.session import ChatSession
from app.store import ChatSettings, Database
from tests.openai_double.server import OpenAIDouble

BUDGET_MS = 10.0
MODEL = "microsoft/phi-4"
MESSAGES = [{"role": "user", "content": "Write one short sentence about the sea."}]

Timed = Callable[[], Awaitable[float]]


def bare_runner(client: openai.AsyncOpenAI) -> Timed:
    async def once() -> float:
        start = time.perf_counter()
        first: float | None = None
        create: object = client.chat.completions.create
        stream = await create(  # type: ignore[operator]
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - start
        assert first is not None
        return first

    return once


def engine_runner(engine: OpenAIEngine) -> Timed:
    async def once() -> float:
        start = time.perf_counter()
        first: float | None = None
        async for event in engine.chat(MODEL, MESSAGES):
            if first is None and isinstance(event, ContentDelta):
                first = time.perf_counter() - start
        assert first is not None
        return first

    return once


def session_runner(db: Database, make: Callable[[int], ChatSession]) -> Timed:
    """A turn of a new chat each time (made before the clock starts), so that every request
    carries the same one message as the bare client's."""

    async def once() -> float:
        chat = db.create_chat(model=MODEL, engine="bench", settings=ChatSettings(num_ctx=16384))
        session = make(chat.id)
        start = time.perf_counter()
        first: float | None = None
        async for event in session.send(MESSAGES[0]["content"]):
            if first is None and isinstance(event, ContentDelta):
                first = time.perf_counter() - start
        assert first is not None
        return first

    return once


async def paired(
    bare: Timed, ours: Timed, runs: int
) -> tuple[float, float, list[float], list[float]]:
    """(bare's first turn, ours' first turn, bare's warm turns, ours' warm turns)."""
    first_bare, first_ours = await bare(), await ours()
    bare_times: list[float] = []
    our_times: list[float] = []
    for i in range(runs):
        if i % 2:
            bare_times.append(await bare())
            our_times.append(await ours())
        else:
            our_times.append(await ours())
            bare_times.append(await bare())
    return first_bare, first_ours, bare_times, our_times


def report(name: str, result: tuple[float, float, list[float], list[float]]) -> float:
    first_bare, first_ours, bare, ours = result
    bare_ms = statistics.median(bare) * 1000
    ours_ms = statistics.median(ours) * 1000
    overhead = statistics.median(o - b for o, b in zip(ours, bare, strict=True)) * 1000
    print(f"{name}:")
    print(f"  first turn: bare {first_bare * 1000:.2f} ms, PhiDesk {first_ours * 1000:.2f} ms")
    print(f"  warm median TTFT: bare {bare_ms:.2f} ms, PhiDesk {ours_ms:.2f} ms")
    print(f"  median overhead {overhead:+.2f} ms, ratio {ours_ms / bare_ms:.2f}")
    return overhead


async def measure(url: str, runs: int, folder: Path) -> tuple[float, float]:
    bare = openai.AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
    engine = OpenAIEngine("bench", OpenAIConfig(url))
    session_engine = OpenAIEngine("bench", OpenAIConfig(url))
    db = Database.open(folder / "bench.sqlite3")
    try:
        async with OllamaClient("http://127.0.0.1:9") as ollama:

            def make(chat_id: int) -> ChatSession:
                return ChatSession(db, ollama, chat_id, engines=lambda _name: session_engine)

            alone = report("engine", await paired(bare_runner(bare), engine_runner(engine), runs))
            turn = report(
                "whole turn (SQLite included)",
                await paired(bare_runner(bare), session_runner(db, make), runs),
            )
            return alone, turn
    finally:
        await bare.close()
        await engine.aclose()
        await session_engine.aclose()
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    runs = max(args.runs, 30)
    with OpenAIDouble() as double, tempfile.TemporaryDirectory() as folder:
        double.state.reasoning_field = "reasoning_content"
        print(f"warm runs: {runs} each, against the OpenAI-compatible double on 127.0.0.1")
        alone, _turn = asyncio.run(measure(double.url, runs, Path(folder)))
    ok = alone <= BUDGET_MS
    verdict = "within budget" if ok else "OVER BUDGET"
    print(f"budget: engine overhead <= {BUDGET_MS:.0f} ms: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
