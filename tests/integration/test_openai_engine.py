"""`OpenAIEngine` against the OpenAI-compatible double over a real socket: the same events as the
Ollama client (thinking apart, content, stall, one `Done` with stats), usage from the last chunk,
an estimate when there is none, every fault as one typed sentence after what arrived, Stop, and
the model list with the Phi-4 family and context lengths."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from app.backend.engines.errors import (
    ContextTooLong,
    NotOpenAICompatible,
    RateLimited,
    ServerFailed,
)
from app.backend.engines.openai_engine import OpenAIConfig, OpenAIEngine
from app.backend.errors import (
    ModelNotFound,
    OllamaError,
    ServerUnreachable,
    StreamInterrupted,
    Unauthorized,
)
from app.backend.events import ChatEvent, ContentDelta, Done, StreamStalled, ThinkingDelta
from tests.openai_double.server import FINGERPRINT, OpenAIDouble, ServedModel, prompt_tokens

USER = [{"role": "user", "content": "What is $\\int_0^1 x\\,dx$?"}]
PHI = "microsoft/phi-4"


def run[T](coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def with_engine[T](
    double: OpenAIDouble, work: Callable[[OpenAIEngine], Awaitable[T]], **config: Any
) -> T:
    async def main() -> T:
        async with OpenAIEngine("lab", OpenAIConfig(double.url, **config)) as engine:
            return await work(engine)

    return run(main())


async def collect(
    engine: OpenAIEngine, model: str = PHI
) -> tuple[list[ChatEvent], OllamaError | None]:
    events: list[ChatEvent] = []
    try:
        async for event in engine.chat(model, USER, options={"temperature": 0.2, "num_gpu": 9}):
            events.append(event)
    except OllamaError as exc:
        return events, exc
    return events, None


def text(events: list[ChatEvent], kind: type[ContentDelta | ThinkingDelta]) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


def test_a_streamed_turn_with_math_and_usage(openai_double: OpenAIDouble) -> None:
    answer = (
        "It is $\\frac{1}{2}$, since $$\\int_0^1 x\\,dx = \\left.\\tfrac{x^2}{2}\\right|_0^1.$$"
    )
    openai_double.script_reply(answer, reasoning="Integrate x from 0 to 1.")
    openai_double.state.cached_tokens = 3
    events, error = with_engine(openai_double, collect)
    assert error is None
    assert text(events, ContentDelta) == answer
    assert text(events, ThinkingDelta) == "Integrate x from 0 to 1."
    done = events[-1]
    assert isinstance(done, Done) and not done.usage_estimated
    assert done.stats.prompt_eval_count == prompt_tokens(USER)
    assert done.stats.eval_count == (len(answer) + 3) // 4 + 6
    assert (done.reasoning_tokens, done.cached_tokens) == (6, 3)
    assert done.system_fingerprint == FINGERPRINT and done.model == PHI
    assert done.stats.done_reason == "stop"
    body = openai_double.requests_to("/v1/chat/completions")[0].body
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2 and "num_gpu" not in body and "num_ctx" not in body


@pytest.mark.parametrize("field", ["reasoning", "inline"])
def test_reasoning_from_openrouter_and_inline_think(
    openai_double: OpenAIDouble, field: str
) -> None:
    openai_double.state.reasoning_field = field  # type: ignore[assignment]
    openai_double.script_reply("Half.", reasoning="Area of a triangle.")
    events, error = with_engine(openai_double, collect)
    assert error is None
    assert text(events, ThinkingDelta).strip() == "Area of a triangle."
    assert text(events, ContentDelta) == "Half."


def test_no_usage_means_an_estimate(openai_double: OpenAIDouble) -> None:
    openai_double.state.usage = False
    events, error = with_engine(openai_double, collect)
    assert error is None
    done = events[-1]
    assert isinstance(done, Done) and done.usage_estimated
    assert done.stats.prompt_eval_count is None and done.stats.eval_count is None


@pytest.mark.parametrize(
    ("fault", "options", "kind", "words"),
    [
        ("unauthorized", {}, Unauthorized, "refused the API key (401)"),
        ("forbidden", {}, Unauthorized, "refused access (403)"),
        ("rate_limited", {"retry_after": 12}, RateLimited, "try again in 12 seconds"),
        ("server_error", {}, ServerFailed, "failed (500)"),
        ("context_length", {"limit": 4096}, ContextTooLong, "its 4096-token context window"),
        ("not_openai", {}, NotOpenAICompatible, "not an OpenAI-compatible answer"),
        ("disconnect", {"after": 3}, StreamInterrupted, "what arrived so far was kept"),
        ("malformed", {"after": 3}, NotOpenAICompatible, "what arrived so far was kept"),
    ],
)
def test_every_fault_is_one_typed_sentence(
    openai_double: OpenAIDouble, fault: str, options: dict[str, Any], kind: type, words: str
) -> None:
    openai_double.script_reply("Twelve characters of answer here.")
    openai_double.set_fault(fault, **options)
    events, error = with_engine(openai_double, collect)
    assert isinstance(error, kind), error
    message = str(error)
    assert words in message and "\n" not in message and message.count(". ") == 0
    assert "Traceback" not in message and "{" not in message
    if fault in ("disconnect", "malformed"):
        assert (
            text(events, ContentDelta)
            == "Twelve"[:0] + "Twelve characters of answer here."[: 4 * 2]
        )
    if fault == "rate_limited":
        assert isinstance(error, RateLimited) and error.retry_after == 12
    if fault == "context_length":
        assert isinstance(error, ContextTooLong) and error.limit == 4096


def test_unknown_model_and_nothing_listening(openai_double: OpenAIDouble) -> None:
    _events, error = with_engine(openai_double, lambda e: collect(e, "nope/model"))
    assert isinstance(error, ModelNotFound) and "nope/model" in str(error)

    async def show(engine: OpenAIEngine) -> None:
        await engine.show("nope/model")

    with pytest.raises(ModelNotFound, match="does not list the model nope/model"):
        with_engine(openai_double, show)

    async def listing() -> None:
        async with OpenAIEngine("gone", OpenAIConfig("http://127.0.0.1:9/v1")) as engine:
            await engine.list_models()

    with pytest.raises(ServerUnreachable, match=r"nothing answers at http://127\.0\.0\.1:9/v1"):
        run(listing())


def test_stall_is_reported_then_given_up(openai_double: OpenAIDouble) -> None:
    openai_double.set_fault("stall", after=2)

    async def work(engine: OpenAIEngine) -> tuple[list[ChatEvent], OllamaError | None]:
        engine.stall_seconds, engine.stall_timeout = 0.1, 0.4
        return await collect(engine)

    events, error = with_engine(openai_double, work)
    assert any(isinstance(e, StreamStalled) for e in events)
    assert isinstance(error, StreamInterrupted) and "sent nothing for 0.4 s" in str(error)
    openai_double.release_stall()


def test_silence_before_the_first_token_counts(openai_double: OpenAIDouble) -> None:
    openai_double.set_fault("stall", after=0)

    async def work(engine: OpenAIEngine) -> tuple[list[ChatEvent], OllamaError | None]:
        engine.stall_seconds, engine.stall_timeout = 0.1, 0.3
        return await collect(engine)

    events, error = with_engine(openai_double, work)
    assert isinstance(error, StreamInterrupted)
    assert text(events, ContentDelta) == ""


def test_stop_closes_the_stream(openai_double: OpenAIDouble) -> None:
    openai_double.set_fault("stall", after=2)

    async def work(engine: OpenAIEngine) -> list[ChatEvent]:
        seen: list[ChatEvent] = []
        started = asyncio.Event()

        async def consume() -> None:
            async for event in engine.chat(PHI, USER):
                seen.append(event)
                started.set()

        task = asyncio.ensure_future(consume())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    seen = with_engine(openai_double, work)
    assert seen and not any(isinstance(e, Done) for e in seen)
    openai_double.release_stall()


def test_models_phi4_family_and_context_lengths(openai_double: OpenAIDouble) -> None:
    models = with_engine(openai_double, lambda e: e.list_models())
    by_id = {m.id: m for m in models}
    assert [m.id for m in models if m.phi4] == [
        "microsoft/phi-4",
        "microsoft/Phi-4-mini-instruct",
        "microsoft/Phi-4-reasoning-plus",
    ]
    assert by_id["microsoft/Phi-4-mini-instruct"].catalog_name == "phi4-mini"
    assert by_id["microsoft/Phi-4-reasoning-plus"].catalog_name == "phi4-reasoning-plus"
    assert by_id["microsoft/phi-4"].context_length == 16384
    assert by_id["mistralai/Mistral-7B-Instruct-v0.3"].known_context is None

    openai_double.serve(
        ServedModel("microsoft/phi-4-multimodal-instruct", 131072),
        ServedModel("microsoft/phi-4-mini-reasoning", None),
        shape="openrouter",
    )

    async def contexts(engine: OpenAIEngine) -> list[int | None]:
        return [
            (await engine.show("microsoft/phi-4-multimodal-instruct")).context_length,
            (await engine.show("microsoft/phi-4-mini-reasoning")).context_length,
        ]

    assert with_engine(openai_double, contexts) == [131072, 131072]  # server, then catalog


def test_llama_cpp_props_give_the_window(openai_double: OpenAIDouble) -> None:
    openai_double.serve(ServedModel("phi-4-Q4_K_M.gguf", None))
    openai_double.state.props_n_ctx = 6144

    async def show(engine: OpenAIEngine) -> int | None:
        return (await engine.show("phi-4-Q4_K_M.gguf")).context_length

    assert with_engine(openai_double, show) == 6144
    openai_double.state.props_n_ctx = None
    assert with_engine(openai_double, show) == 16384  # the catalog's phi4


def test_the_key_goes_as_bearer_or_as_its_own_header(openai_double: OpenAIDouble) -> None:
    openai_double.require_key("sk-test")
    assert with_engine(openai_double, lambda e: e.list_models(), api_key="sk-test")
    sent = openai_double.requests[-1].headers
    assert sent["authorization"] == "Bearer sk-test"
    with_engine(openai_double, lambda e: e.list_models(), api_key="sk-test", key_header="api-key")
    sent = openai_double.requests[-1].headers
    assert sent["api-key"] == "sk-test" and "authorization" not in sent
    openai_double.require_key(None)
    with_engine(openai_double, lambda e: e.list_models(), headers={"X-Team": "phi"})
    sent = openai_double.requests[-1].headers
    assert "authorization" not in sent and sent["x-team"] == "phi"


def test_api_version_goes_in_the_query(openai_double: OpenAIDouble) -> None:
    _events, error = with_engine(openai_double, collect, api_version="2024-10-21")
    assert error is None
    assert openai_double.requests_to("/v1/chat/completions")[0].query == "api-version=2024-10-21"


def test_window_is_the_chat_s_within_the_server_s(openai_double: OpenAIDouble) -> None:
    async def windows(engine: OpenAIEngine) -> list[int | None]:
        info = await engine.show(PHI)
        odd = await engine.show("mistralai/Mistral-7B-Instruct-v0.3")
        return [
            engine.window(None, info),
            engine.window(4096, info),
            engine.window(99999, info),
            engine.window(None, odd),
            engine.window(2048, odd),
        ]

    assert with_engine(openai_double, windows) == [16384, 4096, 16384, None, 2048]


def test_a_stream_without_finish_reason_is_interrupted(openai_double: OpenAIDouble) -> None:
    openai_double.script_reply("Cut short.", finish_reason="")
    events, error = with_engine(openai_double, collect)
    assert isinstance(error, StreamInterrupted) and "closed before the answer finished" in str(
        error
    )
    assert text(events, ContentDelta) == "Cut short."


def test_a_model_list_elsewhere_overrides_and_tls_settings(
    openai_double: OpenAIDouble, tmp_path: Path
) -> None:
    async def work(engine: OpenAIEngine) -> tuple[list[str], int | None, str]:
        models = await engine.check()
        return [m.id for m in models], await engine.context_length("microsoft/phi-4"), repr(engine)

    ids, context, shown = with_engine(
        openai_double,
        work,
        models_url=openai_double.root + "/v1/models",
        context_lengths={"microsoft/phi-4": 8000},
        verify_tls=False,
        api_key="sk-hidden",
    )
    assert ids[0] == "microsoft/phi-4" and context == 8000
    assert "sk-hidden" not in shown and "sk-hidden" not in repr(
        OpenAIConfig("u", api_key="sk-hidden")
    )

    async def missing(engine: OpenAIEngine) -> None:
        await engine.list_models()

    with pytest.raises(NotOpenAICompatible, match="usually ends in /v1"):
        with_engine(openai_double, missing, models_url=openai_double.root + "/catalog/models")
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate", encoding="utf-8")
    with pytest.raises(ssl.SSLError):
        with_engine(openai_double, missing, ca_bundle=str(bundle))


def test_a_model_list_that_is_not_a_list(openai_double: OpenAIDouble) -> None:
    async def listing(engine: OpenAIEngine) -> None:
        await engine.list_models()

    with pytest.raises(NotOpenAICompatible, match="not an OpenAI-compatible model list"):
        with_engine(openai_double, listing, models_url=openai_double.root + "/health")
    openai_double.set_fault("no_models")

    async def show(engine: OpenAIEngine) -> int | None:
        return (await engine.show("microsoft/phi-4")).context_length

    assert with_engine(openai_double, show) == 16384  # the list is gone: the catalog's length


def test_props_of_a_server_that_is_gone() -> None:
    async def main() -> int | None:
        async with OpenAIEngine("gone", OpenAIConfig("http://127.0.0.1:9/v1")) as engine:
            first = await engine._props_n_ctx()
            assert await engine._props_n_ctx() == first  # asked once
            return first

    assert run(main()) is None


def test_a_web_page_instead_of_a_model_list_is_one_sentence(openai_double: OpenAIDouble) -> None:
    """A captive portal answering 200 with HTML made the openai package fail inside its own
    parsing (AttributeError); the engine says what happened instead."""
    openai_double.set_fault("not_openai")

    async def models(engine: OpenAIEngine) -> BaseException | None:
        try:
            await engine.list_models()
        except Exception as exc:
            return exc
        return None

    error = with_engine(openai_double, models)
    assert isinstance(error, NotOpenAICompatible), repr(error)
    assert "not an OpenAI-compatible" in str(error) and "\n" not in str(error)
