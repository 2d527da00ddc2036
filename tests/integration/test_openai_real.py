"""The OpenAI-compatible engine against a real server, when one is given:
`PHIDESK_TEST_OPENAI_URL` (its base URL, e.g. http://gpu-box:8000/v1), optionally
`PHIDESK_TEST_OPENAI_KEY` and `PHIDESK_TEST_OPENAI_MODEL` (default: the first Phi-4 model it
lists, else its first model). Skipped when no URL is set: the only skip of these tests."""

from __future__ import annotations

import asyncio
import os

import pytest

from app.backend.engines.openai_engine import OpenAIConfig, OpenAIEngine
from app.backend.events import ChatEvent, ContentDelta, Done

URL = os.environ.get("PHIDESK_TEST_OPENAI_URL", "")
pytestmark = [
    pytest.mark.real_openai,
    pytest.mark.skipif(not URL, reason="PHIDESK_TEST_OPENAI_URL is not set"),
]


def engine() -> OpenAIEngine:
    return OpenAIEngine(
        "real", OpenAIConfig(URL, api_key=os.environ.get("PHIDESK_TEST_OPENAI_KEY") or None)
    )


def test_a_real_server_lists_models_and_streams_an_answer() -> None:
    async def main() -> tuple[list[ChatEvent], int]:
        async with engine() as real:
            models = await real.list_models()
            assert models, "the server lists no model"
            wanted = os.environ.get("PHIDESK_TEST_OPENAI_MODEL")
            model = wanted or next((m.id for m in models if m.phi4), models[0].id)
            events = [
                event
                async for event in real.chat(
                    model,
                    [{"role": "user", "content": "What is 2 + 2? Answer with one number."}],
                    options={"temperature": 0, "max_tokens": 64},
                )
            ]
            return events, len(models)

    events, count = asyncio.run(main())
    assert count > 0
    done = events[-1]
    assert isinstance(done, Done)
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)).strip()
    if not done.usage_estimated:
        assert done.stats.prompt_eval_count and done.stats.eval_count
