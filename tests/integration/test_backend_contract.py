"""Client behaviour that must hold on any Ollama: run against the double always, and against a
real server too (marker `real_ollama`) when PHIDESK_TEST_OLLAMA_URL is set.

The real server needs one small model installed: PHIDESK_TEST_OLLAMA_MODEL (default phi4-mini).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app.backend import errors
from app.backend.client import OllamaClient, version_warning
from app.backend.events import ContentDelta, Done, PullProgress, ThinkingDelta
from app.backend.models import ModelInfo
from tests.ollama_double.server import OllamaDouble

REAL_URL = os.environ.get("PHIDESK_TEST_OLLAMA_URL", "")
REAL_MODEL = os.environ.get("PHIDESK_TEST_OLLAMA_MODEL", "phi4-mini")


@dataclass(frozen=True)
class Target:
    url: str
    model: str


@pytest.fixture(
    params=["double", pytest.param("real", marks=pytest.mark.real_ollama)],
)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "real":
        if not REAL_URL:
            pytest.skip("set PHIDESK_TEST_OLLAMA_URL to run against a real Ollama")
        yield Target(REAL_URL, REAL_MODEL)
        return
    double: OllamaDouble = request.getfixturevalue("ollama_double")
    yield Target(double.url, "phi4-mini")


def test_version_is_supported(target: Target) -> None:
    async def work() -> str:
        async with OllamaClient(target.url) as client:
            assert await client.ping()
            return await client.version()

    version = asyncio.run(work())
    assert version_warning(version) is None, version


def test_chat_reports_counts_and_context(target: Target) -> None:
    async def work() -> tuple[str, Done, int | None]:
        async with OllamaClient(target.url) as client:
            text, done = "", None
            async for event in client.chat(
                target.model,
                [{"role": "user", "content": "Say hello in one word."}],
                options={"temperature": 0, "num_predict": 16, "seed": 1},
                num_ctx=2048,
                keep_alive="1m",
            ):
                if isinstance(event, ContentDelta | ThinkingDelta):
                    text += event.text
                elif isinstance(event, Done):
                    done = event
            assert done is not None
            loaded = {m.name: m for m in await client.loaded()}
            name = next(n for n in loaded if n.split(":")[0] == target.model.split(":")[0])
            context = loaded[name].context_length
            await client.unload(target.model)
            return text, done, context

    text, done, context = asyncio.run(work())
    assert text.strip()
    assert done.stats.prompt_eval_count and done.stats.eval_count
    assert done.stats.done_reason in ("stop", "length")
    assert context == 2048


def test_show_reads_architecture_keys(target: Target) -> None:
    async def work() -> ModelInfo:
        async with OllamaClient(target.url) as client:
            return await client.show(target.model)

    info = asyncio.run(work())
    assert info.architecture
    assert info.context_length and info.block_count and info.head_count


def test_missing_model_and_missing_tag(target: Target) -> None:
    async def work() -> tuple[BaseException, BaseException, list[PullProgress]]:
        async with OllamaClient(target.url) as client:
            try:
                async for _ in client.chat("phidesk-no-such-model", [], num_ctx=2048):
                    pass
            except errors.OllamaError as exc:
                missing = exc
            seen: list[PullProgress] = []
            try:
                async for event in client.pull("phi4:phidesk-no-such-tag"):
                    assert isinstance(event, PullProgress)
                    seen.append(event)
            except errors.OllamaError as exc:
                no_tag = exc
            return missing, no_tag, seen

    missing, no_tag, _ = asyncio.run(work())
    assert isinstance(missing, errors.ModelNotFound)
    assert isinstance(no_tag, errors.TagNotFound)
