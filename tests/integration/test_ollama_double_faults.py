"""Fault knobs of the Ollama double, observed over a real socket with httpx and ollama-python."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import httpx
import ollama
import pytest

from tests.ollama_double.checks import call
from tests.ollama_double.openapi import openapi_validator
from tests.ollama_double.server import OllamaDouble

CHAT: dict[str, Any] = {"model": "phi4", "messages": [{"role": "user", "content": "hello"}]}
BUSY = "server busy, please try again.  maximum pending requests exceeded"


def read_lines(url: str, path: str, body: dict[str, Any]) -> tuple[list[str], Exception | None]:
    """Raw NDJSON lines received before the stream ended or broke (and what broke it)."""
    lines: list[str] = []
    try:
        with (
            httpx.Client(base_url=url, timeout=10, verify=False) as client,
            client.stream("POST", path, json=body) as response,
        ):
            for line in response.iter_lines():
                if line:
                    lines.append(line)
    except httpx.HTTPError as exc:
        return lines, exc
    return lines, None


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


def test_disconnect_after_n_chunks_cuts_the_chunked_body(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("disconnect", after=3)
    lines, error = read_lines(ollama_double.url, "/api/chat", CHAT)
    assert isinstance(error, httpx.RemoteProtocolError)
    assert len(lines) == 3
    validator = openapi_validator()
    for line in lines:
        validator.validate("ChatStreamEvent", json.loads(line))
        assert json.loads(line)["done"] is False


def test_disconnect_at_zero_sends_no_response_at_all(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("disconnect", after=0)
    lines, error = read_lines(ollama_double.url, "/api/chat", CHAT)
    assert lines == []
    assert isinstance(error, httpx.RemoteProtocolError)


def test_times_disarms_a_fault_after_that_many_requests(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("disconnect", after=1, times=1)
    _, error = read_lines(ollama_double.url, "/api/chat", CHAT)
    assert error is not None
    lines, error = read_lines(ollama_double.url, "/api/chat", CHAT)
    assert error is None and json.loads(lines[-1])["done"] is True
    assert ollama_double.faults == []


def test_stall_pauses_the_stream_then_it_finishes(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("stall", after=2, seconds=0.3)
    arrivals: list[float] = []
    with (
        httpx.Client(base_url=ollama_double.url, timeout=10) as client,
        client.stream("POST", "/api/chat", json=CHAT) as response,
    ):
        for line in response.iter_lines():
            if line:
                arrivals.append(time.monotonic())
                last = json.loads(line)
    assert last["done"] is True
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert gaps[1] >= 0.25, "the third chunk waited for the stall"


def test_slow_delays_every_chunk(ollama_double: OllamaDouble) -> None:
    ollama_double.script_reply("abcdef", chunk_size=2)  # 3 chunks + the final one
    ollama_double.set_fault("slow", delay=0.05)
    started = time.monotonic()
    exchange = call(ollama_double.url, "POST", "/api/chat", CHAT)
    assert time.monotonic() - started >= 4 * 0.05
    assert exchange.contents() == "abcdef"


def test_slow_tokens_knob_of_the_constructor() -> None:
    with OllamaDouble(token_delay=0.05) as double:
        double.script_reply("abcd", chunk_size=1)
        started = time.monotonic()
        assert call(double.url, "POST", "/api/chat", CHAT).contents() == "abcd"
        assert time.monotonic() - started >= 4 * 0.05


def test_malformed_line_then_the_stream_carries_on(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("malformed", after=2)
    lines, error = read_lines(ollama_double.url, "/api/chat", CHAT)
    assert error is None
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[2])
    for index, line in enumerate(lines):
        if index != 2:
            json.loads(line)
    assert json.loads(lines[-1])["done"] is True


def test_error_line_mid_stream_keeps_status_200_and_ends_the_stream(
    ollama_double: OllamaDouble,
) -> None:
    ollama_double.set_fault("error_line", after=2, message="boom")
    exchange = call(ollama_double.url, "POST", "/api/chat", CHAT)
    assert exchange.status == 200
    assert len(exchange.objects) == 3
    assert exchange.objects[2] == {"error": "boom"}
    assert all(o["done"] is False for o in exchange.objects[:2])


def test_error_before_anything_was_written_is_a_plain_500(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("error_line", after=0)
    exchange = call(ollama_double.url, "POST", "/api/chat", CHAT)
    assert exchange.status == 500
    assert exchange.json == {"error": "an error was encountered while running the model"}


def test_error_line_in_a_non_streamed_chat_is_a_500(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("error_line", after=3)
    exchange = call(ollama_double.url, "POST", "/api/chat", {**CHAT, "stream": False})
    assert exchange.status == 500 and "error" in exchange.json


@pytest.mark.parametrize("path", ["/", "/api/tags", "/api/version", "/api/ps"])
def test_status_503_answers_every_endpoint_with_ollamas_busy_body(
    ollama_double: OllamaDouble, path: str
) -> None:
    ollama_double.set_fault("status", status=503)
    exchange = call(ollama_double.url, "GET", path)
    assert exchange.status == 503
    assert exchange.json == {"error": BUSY}


def test_status_500_401_and_403_bodies(ollama_double: OllamaDouble) -> None:
    url = ollama_double.url
    ollama_double.set_fault("status", status=500, times=1)
    assert call(url, "POST", "/api/chat", CHAT).json == {
        "error": "llama runner process has terminated: exit status 2"
    }
    ollama_double.set_fault("status", status=401, times=1)
    unauthorized = call(url, "POST", "/api/chat", CHAT)
    assert unauthorized.status == 401
    assert unauthorized.json["error"] == "unauthorized"
    assert unauthorized.json["signin_url"].startswith("https://")
    ollama_double.set_fault("status", status=403, times=1)
    forbidden = call(url, "POST", "/api/chat", CHAT)
    assert (forbidden.status, forbidden.text, forbidden.objects) == (403, "", [])
    assert call(url, "POST", "/api/chat", CHAT).status == 200


def test_status_fault_can_carry_a_custom_message_and_a_path(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("status", status=500, message="disk full", path="/api/pull")
    assert call(ollama_double.url, "GET", "/api/tags").status == 200
    pulled = call(ollama_double.url, "POST", "/api/pull", {"model": "phi4"})
    assert (pulled.status, pulled.json) == (500, {"error": "disk full"})


def test_faults_restricted_to_a_path_leave_other_paths_alone(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("disconnect", after=1, path="/api/generate")
    assert call(ollama_double.url, "POST", "/api/chat", CHAT).final["done"] is True
    _, error = read_lines(ollama_double.url, "/api/generate", {"model": "phi4", "prompt": "hi"})
    assert isinstance(error, httpx.RemoteProtocolError)


def test_oom_fails_a_load_but_not_a_model_already_loaded(ollama_double: OllamaDouble) -> None:
    url = ollama_double.url
    warm = {**CHAT, "options": {"num_ctx": 2048}}
    assert call(url, "POST", "/api/chat", warm).status == 200
    ollama_double.set_fault("oom")
    assert call(url, "POST", "/api/chat", warm).status == 200  # loaded already, same settings
    bigger = call(url, "POST", "/api/chat", {**CHAT, "options": {"num_ctx": 16384}})
    assert bigger.status == 500
    assert bigger.json["error"].startswith("model requires more system memory")
    other = call(url, "POST", "/api/generate", {"model": "phi4-mini", "prompt": "hi"})
    assert other.status == 500


@pytest.mark.parametrize("model", ["phi4", "phi4-mini", "phi4-mini-reasoning"])
def test_think_tags_arrive_split_across_chunks(ollama_double: OllamaDouble, model: str) -> None:
    ollama_double.set_fault("think_tags")
    exchange = call(ollama_double.url, "POST", "/api/chat", {**CHAT, "model": model})
    pieces = [o["message"]["content"] for o in exchange.objects]
    content = "".join(pieces)
    assert content.startswith("<think>")
    assert content.count("</think>") == 1
    assert content.split("</think>", 1)[1], "an answer follows the reasoning"
    assert not any("<think>" in p or "</think>" in p for p in pieces)


def test_client_going_away_mid_stream_is_noticed(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("slow", delay=0.02)
    with (
        httpx.Client(base_url=ollama_double.url, timeout=10) as client,
        client.stream("POST", "/api/chat", json=CHAT) as response,
    ):
        for index, _ in enumerate(response.iter_lines()):
            if index == 2:
                break
    assert wait_until(lambda: ollama_double.disconnects == ["/api/chat"])


def test_cancelling_an_async_ollama_stream_closes_the_connection(
    ollama_double: OllamaDouble,
) -> None:
    ollama_double.set_fault("stall", after=2, seconds=30)

    async def consume(seen: list[str], two: asyncio.Event) -> None:
        client = ollama.AsyncClient(host=ollama_double.url)
        try:
            stream = await client.chat(model="phi4", messages=CHAT["messages"], stream=True)
            async for chunk in stream:
                seen.append(chunk.message.content or "")
                if len(seen) == 2:
                    two.set()
        finally:
            await client.close()

    async def main() -> list[str]:
        seen: list[str] = []
        two = asyncio.Event()
        task = asyncio.create_task(consume(seen, two))
        await asyncio.wait_for(two.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    assert len(asyncio.run(main())) == 2
    assert wait_until(lambda: ollama_double.disconnects == ["/api/chat"])


def test_stop_ends_a_stall_in_progress() -> None:
    double = OllamaDouble().start()
    double.set_fault("stall", after=1, seconds=60)
    outcome: list[Any] = []

    def reader() -> None:
        outcome.append(read_lines(double.url, "/api/chat", CHAT))

    import threading

    thread = threading.Thread(target=reader)
    thread.start()
    assert wait_until(lambda: len(double.requests) == 1)
    time.sleep(0.1)
    double.stop()
    thread.join(10)
    assert not thread.is_alive()
    lines, error = outcome[0]
    assert len(lines) == 1 and error is not None


def test_set_fault_rejects_an_unknown_kind(ollama_double: OllamaDouble) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        ollama_double.set_fault("explode")


def test_clear_faults_disarms_everything(ollama_double: OllamaDouble) -> None:
    ollama_double.set_fault("status", status=503)
    ollama_double.set_fault("slow", delay=1)
    ollama_double.clear_faults()
    assert call(ollama_double.url, "POST", "/api/chat", CHAT).final["done"] is True
