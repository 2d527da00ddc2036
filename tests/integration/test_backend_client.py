"""`OllamaClient` against the Ollama double over a real socket: every endpoint and fault."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import pytest

from app.backend import errors
from app.backend.client import OllamaClient
from app.backend.events import (
    ChatEvent,
    ContentDelta,
    Done,
    PullDone,
    PullEvent,
    PullProgress,
    StreamStalled,
    ThinkingDelta,
)
from tests.ollama_double.server import OllamaDouble

USER = [{"role": "user", "content": "What is 2+2?"}]


def run[T](coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def with_client[T](url: str, work: Callable[[OllamaClient], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        async with OllamaClient(url, **options) as client:
            return await work(client)

    return run(main())


async def collect[T](stream: AsyncIterator[T]) -> list[T]:
    return [item async for item in stream]


def text_of(events: list[ChatEvent], kind: type[ThinkingDelta | ContentDelta]) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


def chat_events(
    url: str, model: str = "phi4", *, stall_seconds: float = 30.0, **kwargs: Any
) -> tuple[list[ChatEvent], errors.OllamaError | None]:
    """All events of one chat, and the typed error that ended it (None if it finished)."""

    async def work(client: OllamaClient) -> tuple[list[ChatEvent], errors.OllamaError | None]:
        events: list[ChatEvent] = []
        kwargs.setdefault("num_ctx", 4096)
        try:
            async for event in client.chat(model, kwargs.pop("messages", USER), **kwargs):
                events.append(event)
        except errors.OllamaError as exc:
            return events, exc
        return events, None

    return with_client(url, work, stall_seconds=stall_seconds)


# --- chat ---------------------------------------------------------------------------------------


def test_chat_streams_content_and_ends_with_stats(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("The answer is **4**.\n\n$2+2=4$", chunk_size=4)
    events, failure = chat_events(
        ollama_double.url,
        options={"temperature": 0.2, "min_p": 0.05},
        num_ctx=8192,
        keep_alive="10m",
    )
    assert failure is None
    assert text_of(events, ContentDelta) == "The answer is **4**.\n\n$2+2=4$"
    assert sum(isinstance(e, ContentDelta) for e in events) > 1
    done = events[-1]
    assert isinstance(done, Done)
    assert done.stats.prompt_eval_count and done.stats.prompt_eval_count > 0
    assert done.stats.eval_count and done.stats.eval_count > 0
    assert done.stats.done_reason == "stop"
    assert done.stats.context_used == done.stats.prompt_eval_count + done.stats.eval_count
    body = ollama_double.requests_to("/api/chat")[-1].body
    assert body["options"] == {"temperature": 0.2, "min_p": 0.05, "num_ctx": 8192}
    assert body["keep_alive"] == "10m"
    assert body["stream"] is True
    assert "think" not in body or body["think"] is None


def test_num_ctx_is_sent_even_without_options(ollama_double: OllamaDouble) -> None:
    chat_events(ollama_double.url, num_ctx=2048)
    assert ollama_double.requests_to("/api/chat")[-1].body["options"] == {"num_ctx": 2048}


def test_thinking_field_of_a_thinking_model(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("It is 4.", thinking="Two plus two.", chunk_size=2)
    events, failure = chat_events(ollama_double.url, "phi4-mini-reasoning", think=True)
    assert failure is None
    assert text_of(events, ThinkingDelta) == "Two plus two."
    assert text_of(events, ContentDelta) == "It is 4."
    assert ollama_double.requests_to("/api/chat")[-1].body["think"] is True


def test_inline_think_tags_of_phi4_reasoning_are_split(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("It is 4.", thinking="Two plus two.", chunk_size=2)
    events, failure = chat_events(ollama_double.url, "phi4-reasoning")
    assert failure is None
    assert text_of(events, ThinkingDelta).strip() == "Two plus two."
    assert text_of(events, ContentDelta) == "It is 4."


def test_think_tag_split_across_chunks(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("think_tags")
    events, failure = chat_events(ollama_double.url, "phi4")
    assert failure is None
    thinking, content = text_of(events, ThinkingDelta), text_of(events, ContentDelta)
    assert thinking and content
    for text in (thinking, content):
        assert "<think>" not in text and "</think>" not in text
        assert "<thi" not in text and "</th" not in text
    raw = ollama_double.requests_to("/api/chat")
    assert len(raw) == 1


def test_unknown_model_is_model_not_found(ollama_double: OllamaDouble) -> None:
    events, failure = chat_events(ollama_double.url, "phi4:14b-fp16")
    assert events == []
    assert isinstance(failure, errors.ModelNotFound)
    assert "phidesk pull phi4:14b-fp16" in str(failure)


def test_invalid_name_is_refused_before_sending(ollama_double: OllamaDouble) -> None:
    _events, failure = chat_events(ollama_double.url, "phi4 mini")
    assert isinstance(failure, errors.InvalidModelName)
    assert ollama_double.requests == []


def test_disconnect_mid_stream_keeps_what_arrived(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("abcdefghijklmnopqrstuvwxyz", chunk_size=2)
    ollama_double.set_fault("disconnect", after=3)
    events, failure = chat_events(ollama_double.url)
    assert isinstance(failure, errors.StreamInterrupted)
    assert text_of(events, ContentDelta) == "abcdef"
    assert not any(isinstance(e, Done) for e in events)


def test_disconnect_before_any_response(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("disconnect", after=0)
    events, failure = chat_events(ollama_double.url)
    assert events == []
    assert isinstance(failure, errors.StreamInterrupted | errors.ServerUnreachable)


def test_error_line_inside_a_200_stream(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("abcdefghij", chunk_size=2)
    ollama_double.set_fault("error_line", after=2)
    events, failure = chat_events(ollama_double.url)
    assert isinstance(failure, errors.StreamFailed)
    assert "an error was encountered while running the model" in str(failure)
    assert text_of(events, ContentDelta) == "abcd"


def test_malformed_line_ends_the_stream_with_a_typed_error(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("abcdefghij", chunk_size=2)
    ollama_double.set_fault("malformed", after=1)
    events, failure = chat_events(ollama_double.url)
    assert isinstance(failure, errors.StreamFailed)
    assert "not JSON" in str(failure)
    assert text_of(events, ContentDelta) == "ab"


def test_stall_is_reported_and_the_stream_carries_on(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("abcdefgh", chunk_size=2)
    ollama_double.set_fault("stall", after=2, seconds=0.8)
    events, failure = chat_events(ollama_double.url, stall_seconds=0.25)
    assert failure is None
    stalls = [e for e in events if isinstance(e, StreamStalled)]
    assert stalls, events
    assert [s.seconds for s in stalls] == [0.25 * (i + 1) for i in range(len(stalls))]
    assert text_of(events, ContentDelta) == "abcdefgh"
    assert isinstance(events[-1], Done)
    first_stall = events.index(stalls[0])
    assert text_of(events[:first_stall], ContentDelta) == "abcd"


def test_slow_tokens_arrive_whole_without_stall_reports(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("abcdef", chunk_size=1)
    ollama_double.set_fault("slow", delay=0.02)
    events, failure = chat_events(ollama_double.url, stall_seconds=5)
    assert failure is None
    assert text_of(events, ContentDelta) == "abcdef"
    assert not any(isinstance(e, StreamStalled) for e in events)


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (500, errors.OllamaError, "llama runner process has terminated"),
        (503, errors.ServerBusy, "busy"),
        (401, errors.Unauthorized, "401"),
        (403, errors.Unauthorized, "Host header"),
    ],
)
def test_http_status_faults(
    ollama_double: OllamaDouble, status: int, kind: type[errors.OllamaError], words: str
) -> None:
    ollama_double.set_fault("status", status=status)
    events, failure = chat_events(ollama_double.url)
    assert events == []
    assert type(failure) is kind
    assert words in str(failure)
    assert failure is not None and failure.status == status

    async def listing(client: OllamaClient) -> None:
        await client.list_models()

    with pytest.raises(kind):
        with_client(ollama_double.url, listing)


def test_out_of_memory_on_load(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("oom")
    _events, failure = chat_events(ollama_double.url)
    assert isinstance(failure, errors.OutOfMemory)
    assert "14.6 GiB" in str(failure) and "smaller quantization" in str(failure)


def test_server_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    _events, failure = chat_events(url)
    assert isinstance(failure, errors.ServerUnreachable)
    assert url in str(failure)

    async def calls(client: OllamaClient) -> list[type[BaseException]]:
        kinds: list[type[BaseException]] = []
        for call in (client.list_models, client.loaded, client.version):
            try:
                await call()
            except errors.OllamaError as exc:
                kinds.append(type(exc))
        assert await client.ping() is False
        return kinds

    assert with_client(url, calls) == [errors.ServerUnreachable] * 3


def test_cancelling_the_task_closes_the_connection(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("x" * 400, chunk_size=1)
    ollama_double.set_fault("slow", delay=0.02)

    async def work(client: OllamaClient) -> list[ChatEvent]:
        seen: list[ChatEvent] = []
        first = asyncio.Event()

        async def consume() -> None:
            async for event in client.chat("phi4", USER, num_ctx=4096):
                seen.append(event)
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    seen = with_client(ollama_double.url, work)
    assert 0 < len(seen) < 400
    deadline = asyncio.run(_wait_for(lambda: "/api/chat" in ollama_double.disconnects))
    assert deadline, ollama_double.disconnects


async def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def test_bearer_token_goes_in_the_header(ollama_double: OllamaDouble) -> None:
    async def work(client: OllamaClient) -> None:
        await client.list_models()

    with_client(ollama_double.url, work, token="s3cret-token")
    assert ollama_double.requests_to("/api/tags")[-1].headers["authorization"] == (
        "Bearer s3cret-token"
    )
    assert "s3cret-token" not in repr(OllamaClient(ollama_double.url, token="s3cret-token"))


# --- models -------------------------------------------------------------------------------------


def test_version_list_show_loaded_unload_delete(ollama_double: OllamaDouble) -> None:
    async def work(client: OllamaClient) -> dict[str, Any]:
        out: dict[str, Any] = {"ping": await client.ping(), "version": await client.version()}
        out["installed"] = await client.list_models()
        out["show"] = await client.show("phi4")
        out["show_llama"] = None
        async for _ in client.chat("phi4", USER, num_ctx=8192, keep_alive="5m"):
            pass
        out["loaded"] = await client.loaded()
        await client.unload("phi4")
        out["after_unload"] = await client.loaded()
        await client.delete("phi4-mini")
        out["after_delete"] = [m.name for m in await client.list_models()]
        return out

    out = with_client(ollama_double.url, work)
    assert out["ping"] is True
    assert out["version"] == ollama_double.version
    names = {m.name for m in out["installed"]}
    assert {"phi4:latest", "phi4-mini:latest", "phi4-reasoning:latest"} <= names
    phi4 = next(m for m in out["installed"] if m.name == "phi4:latest")
    assert (phi4.family, phi4.quantization, phi4.size) == ("phi3", "Q4_K_M", 9_053_116_391)
    info = out["show"]
    assert info.architecture == "phi3"
    assert info.context_length == 16384
    assert info.block_count and info.head_count and info.head_count_kv and info.embedding_length
    assert info.parameter_count and info.parameter_count > 10**10
    assert info.quantization == "Q4_K_M"
    assert "completion" in info.capabilities and not info.supports_thinking
    assert info.template
    loaded = {m.name: m for m in out["loaded"]}
    assert "phi4:latest" in loaded
    assert loaded["phi4:latest"].context_length == 8192
    assert 0 <= loaded["phi4:latest"].gpu_percent <= 100
    assert loaded["phi4:latest"].size >= loaded["phi4:latest"].size_vram > 0
    assert loaded["phi4:latest"].expires_at is not None
    assert "phi4:latest" not in {m.name for m in out["after_unload"]}
    unload = ollama_double.requests_to("/api/chat")[-1].body
    assert unload["messages"] == [] and unload["keep_alive"] == 0
    assert "phi4-mini:latest" not in out["after_delete"]
    assert ollama_double.requests_to("/api/delete")[-1].method == "DELETE"


def test_show_of_a_reasoning_model_has_its_system_prompt(ollama_double: OllamaDouble) -> None:
    async def work(client: OllamaClient) -> Any:
        return await client.show("phi4-reasoning"), await client.show("phi4-mini-reasoning")

    reasoning, mini = with_client(ollama_double.url, work)
    assert reasoning.system and "<think>" in reasoning.system
    assert mini.supports_thinking


def test_show_and_delete_of_a_missing_model(ollama_double: OllamaDouble) -> None:
    async def work(client: OllamaClient) -> list[type[BaseException]]:
        kinds: list[type[BaseException]] = []
        for call in (client.show, client.delete):
            try:
                await call("phi4:14b-fp16")
            except errors.OllamaError as exc:
                kinds.append(type(exc))
        return kinds

    assert with_client(ollama_double.url, work) == [errors.ModelNotFound] * 2


# --- pull ---------------------------------------------------------------------------------------


def pull_events(url: str, name: str) -> tuple[list[PullEvent], errors.OllamaError | None]:
    async def work(client: OllamaClient) -> tuple[list[PullEvent], errors.OllamaError | None]:
        events: list[PullEvent] = []
        try:
            async for event in client.pull(name):
                events.append(event)
        except errors.OllamaError as exc:
            return events, exc
        return events, None

    return with_client(url, work)


def test_pull_sums_layers_and_succeeds(ollama_double: OllamaDouble) -> None:
    events, failure = pull_events(ollama_double.url, "phi4:14b-q8_0")
    assert failure is None
    assert events[-1] == PullDone("phi4:14b-q8_0")
    progress = [e for e in events if isinstance(e, PullProgress)]
    assert progress[0].status == "pulling manifest"
    totals = {p.total for p in progress if p.total}
    assert max(totals) > 15_000_000_000  # the weights layer plus the small ones
    completed = [p.completed for p in progress]
    assert completed == sorted(completed)
    last_layer_line = [p for p in progress if p.status.startswith("pulling ") and p.total][-1]
    assert last_layer_line.completed == last_layer_line.total
    assert any(p.bytes_per_second for p in progress)

    async def names(client: OllamaClient) -> set[str]:
        return {m.name for m in await client.list_models()}

    assert "phi4:14b-q8_0" in with_client(ollama_double.url, names)


def test_pull_of_a_tag_that_does_not_exist(ollama_double: OllamaDouble) -> None:
    events, failure = pull_events(ollama_double.url, "phi4:99b")
    assert isinstance(failure, errors.TagNotFound)
    assert "phi4:99b" in str(failure)
    assert [e.status for e in events if isinstance(e, PullProgress)] == ["pulling manifest"]


def test_pull_that_fails_mid_way_then_resumes(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("error_line", after=5, path="/api/pull", times=1)
    events, failure = pull_events(ollama_double.url, "phi4-mini:3.8b-fp16")
    assert isinstance(failure, errors.StreamFailed)
    assert "unexpected EOF" in str(failure) and "resume" in str(failure)
    reached = max(e.completed for e in events if isinstance(e, PullProgress))
    assert reached > 0
    again, failure = pull_events(ollama_double.url, "phi4-mini:3.8b-fp16")
    assert failure is None
    first_layer = next(e for e in again if isinstance(e, PullProgress) and e.total)
    assert first_layer.completed > 0  # resumed, not from zero
    assert again[-1] == PullDone("phi4-mini:3.8b-fp16")


def test_pull_dropped_connection(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("disconnect", after=4, path="/api/pull")
    _events, failure = pull_events(ollama_double.url, "phi4-mini:3.8b-fp16")
    assert isinstance(failure, errors.StreamInterrupted)
    assert "resume" in str(failure)


def test_cancelling_a_pull_closes_the_connection(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("slow", delay=0.05, path="/api/pull")

    async def work(client: OllamaClient) -> int:
        count = 0
        enough = asyncio.Event()

        async def consume() -> None:
            nonlocal count
            async for _ in client.pull("phi4:14b-q8_0"):
                count += 1
                if count >= 3:
                    enough.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(enough.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return count

    assert with_client(ollama_double.url, work) >= 3
    assert run(_wait_for(lambda: "/api/pull" in ollama_double.disconnects))

    async def names(client: OllamaClient) -> set[str]:
        return {m.name for m in await client.list_models()}

    assert "phi4:14b-q8_0" not in with_client(ollama_double.url, names)
