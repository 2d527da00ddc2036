"""The Ollama double over a real socket: every body it sends validates against Ollama's OpenAPI
description, and it behaves as docs/ollama-behaviour.md says the real server does.

Expected figures come from docs/ollama-behaviour.md (§1, §3, §7), not from the double; section
numbers (§) in this file are that document's.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import ollama
import pytest

from tests.ollama_double.checks import Exchange, call
from tests.ollama_double.openapi import openapi_validator
from tests.ollama_double.server import OllamaDouble

Body = dict[str, Any]


def chat(double: OllamaDouble, model: str, text: str, **extra: Any) -> Exchange:
    body: Body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return call(double.url, "POST", "/api/chat", body)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---- the validator itself has teeth ------------------------------------------------------------


def test_openapi_validator_rejects_bodies_of_the_wrong_shape() -> None:
    validator = openapi_validator()
    assert validator.errors("ChatResponse", {"done": True, "message": {"role": "assistant"}}) == []
    assert validator.errors("ChatResponse", {"done": "yes"})
    assert validator.errors("ChatResponse", {"message": {"role": "user", "content": "x"}})
    assert validator.errors("StatusEvent", {"status": "pulling", "total": "12"})
    assert validator.errors("PsResponse", {"models": [{"size_vram": 1.5}]})
    assert validator.errors("ChatResponse", {"created_at": "yesterday"})


# ---- every endpoint, every error body, validated -----------------------------------------------

ENDPOINT_CASES: list[tuple[str, str, str, Body | None, int]] = [
    ("version", "GET", "/api/version", None, 200),
    ("tags", "GET", "/api/tags", None, 200),
    ("ps", "GET", "/api/ps", None, 200),
    ("show", "POST", "/api/show", {"model": "phi4"}, 200),
    ("show verbose", "POST", "/api/show", {"model": "phi4-mini", "verbose": True}, 200),
    ("show unknown", "POST", "/api/show", {"model": "nope"}, 404),
    ("show without model", "POST", "/api/show", {}, 400),
    (
        "chat stream",
        "POST",
        "/api/chat",
        {"model": "phi4", "messages": [{"role": "user", "content": "hi"}]},
        200,
    ),
    (
        "chat non-stream",
        "POST",
        "/api/chat",
        {"model": "phi4", "messages": [{"role": "user", "content": "hi"}], "stream": False},
        200,
    ),
    (
        "chat thinking",
        "POST",
        "/api/chat",
        {"model": "phi4-mini-reasoning", "messages": [{"role": "user", "content": "math"}]},
        200,
    ),
    ("chat load", "POST", "/api/chat", {"model": "phi4", "messages": []}, 200),
    ("chat unload", "POST", "/api/chat", {"model": "phi4", "messages": [], "keep_alive": 0}, 200),
    ("chat unknown model", "POST", "/api/chat", {"model": "nope", "messages": []}, 404),
    ("chat no model", "POST", "/api/chat", {"model": "", "messages": []}, 400),
    (
        "chat think unsupported",
        "POST",
        "/api/chat",
        {"model": "phi4", "messages": [{"role": "user", "content": "x"}], "think": True},
        400,
    ),
    (
        "chat bad keep_alive",
        "POST",
        "/api/chat",
        {"model": "phi4", "messages": [], "keep_alive": "-1"},
        400,
    ),
    ("generate stream", "POST", "/api/generate", {"model": "phi4", "prompt": "write code"}, 200),
    (
        "generate non-stream",
        "POST",
        "/api/generate",
        {"model": "phi4", "prompt": "hi", "stream": False},
        200,
    ),
    ("generate load", "POST", "/api/generate", {"model": "phi4"}, 200),
    (
        "generate raw+system",
        "POST",
        "/api/generate",
        {"model": "phi4", "prompt": "x", "raw": True, "system": "s"},
        400,
    ),
    ("pull stream", "POST", "/api/pull", {"model": "phi4:14b-q8_0"}, 200),
    (
        "pull non-stream",
        "POST",
        "/api/pull",
        {"model": "phi4-mini:3.8b-fp16", "stream": False},
        200,
    ),
    ("pull missing tag", "POST", "/api/pull", {"model": "phi4:no-such-tag"}, 200),
    (
        "pull missing tag non-stream",
        "POST",
        "/api/pull",
        {"model": "phi4:no-such-tag", "stream": False},
        500,
    ),
    ("pull invalid name", "POST", "/api/pull", {"model": "bad name!"}, 400),
    ("delete unknown", "DELETE", "/api/delete", {"model": "nope"}, 404),
    ("copy unknown", "POST", "/api/copy", {"source": "nope", "destination": "x"}, 404),
    ("chat no body", "POST", "/api/chat", None, 400),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [case[1:] for case in ENDPOINT_CASES],
    ids=[case[0] for case in ENDPOINT_CASES],
)
def test_every_endpoint_response_validates_against_openapi(
    ollama_double: OllamaDouble, method: str, path: str, body: Body | None, status: int
) -> None:
    ollama_double.pull_step_delay = 0
    exchange = call(ollama_double.url, method, path, body)  # validates every body / line
    assert exchange.status == status
    assert exchange.objects, "every case here sends a JSON body"
    if status >= 400:
        assert set(exchange.json) == {"error"}


def test_fault_responses_validate_against_openapi(ollama_double: OllamaDouble) -> None:
    url = ollama_double.url
    chat_body: Body = {"model": "phi4", "messages": [{"role": "user", "content": "hello"}]}
    for status in (500, 503, 401):
        ollama_double.set_fault("status", status=status, times=1)
        exchange = call(url, "POST", "/api/chat", chat_body)
        assert exchange.status == status
        assert "error" in exchange.json
    ollama_double.set_fault("error_line", after=2, times=1)
    assert call(url, "POST", "/api/chat", chat_body).final == {
        "error": "an error was encountered while running the model"
    }
    ollama_double.set_fault("malformed", after=1, times=1)
    exchange = call(url, "POST", "/api/chat", chat_body)
    assert len(exchange.malformed) == 1 and exchange.final["done"] is True
    ollama_double.set_fault("oom", times=1)
    exchange = call(url, "POST", "/api/chat", {**chat_body, "model": "phi4-mini"})
    assert exchange.status == 500 and "memory" in exchange.json["error"]
    ollama_double.set_fault("think_tags", times=1)
    assert call(url, "POST", "/api/chat", chat_body).contents().startswith("<think>")
    ollama_double.set_fault("error_line", after=3, path="/api/pull", times=1)
    exchange = call(url, "POST", "/api/pull", {"model": "phi4:14b-q8_0"})
    assert exchange.status == 200 and "error" in exchange.final


# ---- simple endpoints --------------------------------------------------------------------------


def test_root_answers_get_and_head_with_plain_text(ollama_double: OllamaDouble) -> None:
    got = httpx.get(ollama_double.url + "/")
    assert got.status_code == 200
    assert got.text == "Ollama is running"
    assert got.headers["content-type"].startswith("text/plain")
    head = httpx.head(ollama_double.url + "/")
    assert head.status_code == 200 and head.content == b""


def test_version_reports_a_dotted_version(ollama_double: OllamaDouble) -> None:
    version = call(ollama_double.url, "GET", "/api/version").json["version"]
    assert [int(part) for part in version.split(".")][:2] >= [0, 10]


def test_unknown_path_is_gins_404(ollama_double: OllamaDouble) -> None:
    response = httpx.get(ollama_double.url + "/api/nothing")
    assert response.status_code == 404
    assert response.text == "404 page not found"


def test_tags_lists_the_four_default_models_with_phi3_details(ollama_double: OllamaDouble) -> None:
    models = call(ollama_double.url, "GET", "/api/tags").json["models"]
    names = {m["name"] for m in models}
    assert names == {
        "phi4:latest",
        "phi4-mini:latest",
        "phi4-reasoning:latest",
        "phi4-mini-reasoning:latest",
    }
    by_name = {m["name"]: m for m in models}
    assert by_name["phi4:latest"]["details"]["parameter_size"] == "14.7B"
    assert by_name["phi4-mini:latest"]["details"]["parameter_size"] == "3.8B"
    for model in models:
        assert model["model"] == model["name"]
        assert model["details"]["family"] == "phi3"
        assert model["details"]["format"] == "gguf"
        assert model["details"]["quantization_level"] == "Q4_K_M"
        assert len(model["digest"]) == 64
        int(model["digest"], 16)
    # Approximate download sizes from §7: phi4 9.1 GB, phi4-mini 2.5 GB.
    assert 8.5e9 < by_name["phi4:latest"]["size"] < 9.5e9
    assert 2.2e9 < by_name["phi4-mini:latest"]["size"] < 2.8e9
    modified = [parse_time(m["modified_at"]) for m in models]
    assert modified == sorted(modified, reverse=True), "newest first"


@pytest.mark.parametrize(
    ("model", "ctx", "blocks", "heads", "kv_heads", "embedding", "capabilities", "size"),
    [
        ("phi4", 16384, 40, 40, 10, 5120, ["completion"], "14.7B"),
        ("phi4-mini", 131072, 32, 24, 8, 3072, ["completion", "tools"], "3.8B"),
        ("phi4-reasoning", 32768, 40, 40, 10, 5120, ["completion"], "14.7B"),
        ("phi4-mini-reasoning", 131072, 32, 24, 8, 3072, ["completion", "thinking"], "3.8B"),
    ],
)
def test_show_reports_phi3_model_info(
    ollama_double: OllamaDouble,
    model: str,
    ctx: int,
    blocks: int,
    heads: int,
    kv_heads: int,
    embedding: int,
    capabilities: list[str],
    size: str,
) -> None:
    shown = call(ollama_double.url, "POST", "/api/show", {"model": model}).json
    info = shown["model_info"]
    assert info["general.architecture"] == "phi3"
    assert info["phi3.context_length"] == ctx
    assert info["phi3.block_count"] == blocks
    assert info["phi3.attention.head_count"] == heads
    assert info["phi3.attention.head_count_kv"] == kv_heads
    assert info["phi3.embedding_length"] == embedding
    assert isinstance(info["general.parameter_count"], int)
    assert abs(info["general.parameter_count"] / 1e9 - float(size[:-1])) < 0.1
    assert "phi3.attention.key_length" not in info  # phi3 GGUFs have none (§1.7)
    assert info["tokenizer.ggml.tokens"] == []  # long arrays only with verbose
    assert shown["capabilities"] == capabilities
    assert shown["details"]["family"] == "phi3"
    assert shown["details"]["parameter_size"] == size
    assert shown["details"]["quantization_level"] == "Q4_K_M"
    assert "stop" in shown["parameters"]
    assert shown["template"]
    assert "MIT" in shown["license"]
    parse_time(shown["modified_at"])


def test_show_verbose_fills_long_arrays(ollama_double: OllamaDouble) -> None:
    shown = call(ollama_double.url, "POST", "/api/show", {"model": "phi4", "verbose": True}).json
    assert len(shown["model_info"]["tokenizer.ggml.tokens"]) > 5


def test_show_accepts_full_and_case_varied_names(ollama_double: OllamaDouble) -> None:
    for name in ("registry.ollama.ai/library/phi4:latest", "PHI4", "phi4:latest"):
        exchange = call(ollama_double.url, "POST", "/api/show", {"model": name})
        assert exchange.status == 200, name


def test_unknown_model_is_404_with_ollamas_message(ollama_double: OllamaDouble) -> None:
    for path, body in [
        ("/api/chat", {"model": "llama9", "messages": [{"role": "user", "content": "x"}]}),
        ("/api/generate", {"model": "llama9", "prompt": "x"}),
        ("/api/show", {"model": "llama9"}),
    ]:
        exchange = call(ollama_double.url, "POST", path, body)
        assert (exchange.status, exchange.json) == (404, {"error": "model 'llama9' not found"})


def test_delete_removes_the_model_and_a_second_delete_is_404(ollama_double: OllamaDouble) -> None:
    url = ollama_double.url
    deleted = call(url, "DELETE", "/api/delete", {"model": "phi4-mini"})
    assert (deleted.status, deleted.text) == (200, "")
    names = {m["name"] for m in call(url, "GET", "/api/tags").json["models"]}
    assert "phi4-mini:latest" not in names and "phi4:latest" in names
    again = call(url, "DELETE", "/api/delete", {"model": "phi4-mini"})
    assert (again.status, again.json) == (404, {"error": "model 'phi4-mini' not found"})


def test_copy_adds_a_name_and_unknown_source_uses_double_quotes(
    ollama_double: OllamaDouble,
) -> None:
    url = ollama_double.url
    copied = call(url, "POST", "/api/copy", {"source": "phi4", "destination": "phi4-backup"})
    assert (copied.status, copied.text) == (200, "")
    models = {m["name"]: m for m in call(url, "GET", "/api/tags").json["models"]}
    assert models["phi4-backup:latest"]["digest"] == models["phi4:latest"]["digest"]
    chatted = chat(ollama_double, "phi4-backup", "hello")
    assert chatted.final["done"] is True
    missing = call(url, "POST", "/api/copy", {"source": "nope", "destination": "x"})
    assert (missing.status, missing.json) == (404, {"error": 'model "nope" not found'})


# ---- chat streaming ----------------------------------------------------------------------------

STATS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


def test_chat_streams_ndjson_with_stats_only_on_the_final_chunk(
    ollama_double: OllamaDouble,
) -> None:
    exchange = chat(ollama_double, "phi4", "Tell me something")
    assert exchange.status == 200
    assert exchange.streamed
    assert exchange.headers["content-type"] == "application/x-ndjson"
    assert exchange.headers["transfer-encoding"] == "chunked"
    *chunks, final = exchange.objects
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk["done"] is False
        assert chunk["model"] == "phi4"
        assert chunk["message"]["role"] == "assistant"
        assert not set(STATS) & set(chunk)
        assert "done_reason" not in chunk
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    assert final["message"] == {"role": "assistant", "content": ""}
    for key in STATS:
        assert isinstance(final[key], int) and final[key] > 0, key
    assert final["eval_count"] == len(chunks)  # one chunk is one token
    assert final["eval_count"] / (final["eval_duration"] / 1e9) < 1000, "a plausible tokens/s"
    assert final["total_duration"] >= final["load_duration"] + final["eval_duration"]
    assert "Tell me something" in exchange.contents()


def test_chat_without_stream_returns_one_object_with_the_whole_reply(
    ollama_double: OllamaDouble,
) -> None:
    streamed = chat(ollama_double, "phi4", "table please")
    single = chat(ollama_double, "phi4", "table please", stream=False)
    assert not single.streamed
    assert single.headers["content-type"].startswith("application/json")
    body = single.json
    assert body["done"] is True and body["done_reason"] == "stop"
    assert body["message"]["content"] == streamed.contents()
    assert body["eval_count"] == streamed.final["eval_count"]


def test_zero_counts_are_omitted_not_sent_as_zero(ollama_double: OllamaDouble) -> None:
    final = chat(ollama_double, "phi4", "hi", options={"num_predict": 0}).final
    assert final["done"] is True
    assert final["done_reason"] == "length"
    assert "eval_count" not in final and "eval_duration" not in final
    assert final["prompt_eval_count"] > 0


def test_num_predict_cuts_the_reply_with_done_reason_length(ollama_double: OllamaDouble) -> None:
    exchange = chat(ollama_double, "phi4", "write a long answer", options={"num_predict": 5})
    assert exchange.final["done_reason"] == "length"
    assert exchange.final["eval_count"] == 5
    assert len(exchange.objects) == 6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("some math please", ["$$", r"\frac", "$e^{i\\pi} + 1 = 0$", r"\["]),
        ("write code", ["```python", "def "]),
        ("a table", ["| --- |"]),
        ("hello there", ["hello there"]),
    ],
)
def test_canned_replies_follow_keywords(
    ollama_double: OllamaDouble, text: str, expected: list[str]
) -> None:
    content = chat(ollama_double, "phi4", text).contents()
    for piece in expected:
        assert piece in content
    assert content == chat(ollama_double, "phi4", text).contents(), "deterministic"


def test_script_reply_streams_exactly_that_text_in_that_chunk_size(
    ollama_double: OllamaDouble,
) -> None:
    ollama_double.script_reply("Hello **world** $x^2$", chunk_size=4)
    exchange = chat(ollama_double, "phi4", "anything")
    pieces = [o["message"]["content"] for o in exchange.objects[:-1]]
    assert pieces == ["Hell", "o **", "worl", "d** ", "$x^2", "$"]
    assert exchange.final["eval_count"] == 6
    # The script is used once; the next reply is canned again.
    assert "anything" in chat(ollama_double, "phi4", "anything").contents()


def test_scripted_thinking_goes_to_the_thinking_field_on_a_thinking_model(
    ollama_double: OllamaDouble,
) -> None:
    ollama_double.script_reply("The answer is 4.", thinking="2+2 is 4", chunk_size=3)
    exchange = chat(ollama_double, "phi4-mini-reasoning", "2+2?")
    assert exchange.thinking() == "2+2 is 4"
    assert exchange.contents() == "The answer is 4."
    first_content = next(i for i, o in enumerate(exchange.objects) if o["message"]["content"])
    assert all("thinking" in o["message"] for o in exchange.objects[:first_content])
    assert all("thinking" not in o["message"] for o in exchange.objects[first_content:])


def test_scripted_thinking_is_inline_think_tags_on_other_models(
    ollama_double: OllamaDouble,
) -> None:
    ollama_double.script_reply("Four.", thinking="2+2", chunk_size=3)
    exchange = chat(ollama_double, "phi4", "2+2?")
    assert exchange.contents() == "<think>2+2</think>\n\nFour."
    assert exchange.thinking() == ""


def test_thinking_model_thinks_by_default_and_not_with_think_false(
    ollama_double: OllamaDouble,
) -> None:
    thinking = chat(ollama_double, "phi4-mini-reasoning", "why?")
    assert thinking.thinking() and thinking.contents()
    assert "<think>" not in thinking.contents()
    plain = chat(ollama_double, "phi4-mini-reasoning", "why?", think=False)
    assert plain.thinking() == "" and plain.contents() == thinking.contents()
    assert plain.final["eval_count"] < thinking.final["eval_count"]


def test_phi4_reasoning_answers_with_inline_think_tags(ollama_double: OllamaDouble) -> None:
    exchange = chat(ollama_double, "phi4-reasoning", "why is the sky blue?")
    content = exchange.contents()
    assert content.startswith("<think>") and "</think>" in content
    assert exchange.thinking() == ""


def test_think_true_on_a_model_without_thinking_is_400(ollama_double: OllamaDouble) -> None:
    for model in ("phi4", "phi4-reasoning"):
        exchange = chat(ollama_double, model, "x", think=True)
        assert exchange.status == 400
        assert exchange.json == {"error": f'"{model}" does not support thinking'}
    assert chat(ollama_double, "phi4-mini-reasoning", "x", think="high").status == 200
    assert chat(ollama_double, "phi4-mini-reasoning", "x", think="hot").status == 400


def test_tools_on_a_model_without_tools_is_400(ollama_double: OllamaDouble) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    refused = chat(ollama_double, "phi4", "x", tools=[tool])
    assert refused.status == 400
    assert refused.json == {
        "error": "registry.ollama.ai/library/phi4:latest does not support tools"
    }
    assert chat(ollama_double, "phi4-mini", "x", tools=[tool]).status == 200


def test_generate_streams_response_chunks(ollama_double: OllamaDouble) -> None:
    exchange = call(ollama_double.url, "POST", "/api/generate", {"model": "phi4", "prompt": "code"})
    *chunks, final = exchange.objects
    assert all(set(c) >= {"model", "created_at", "response", "done"} for c in chunks)
    assert "```python" in exchange.contents()
    assert final["done"] is True and final["done_reason"] == "stop" and final["response"] == ""
    thinking = call(
        ollama_double.url, "POST", "/api/generate", {"model": "phi4-mini-reasoning", "prompt": "q"}
    )
    assert thinking.thinking() and "thinking" not in thinking.final


def test_generate_raw_with_system_is_400(ollama_double: OllamaDouble) -> None:
    body = {"model": "phi4", "prompt": "x", "raw": True, "system": "be brief"}
    assert call(ollama_double.url, "POST", "/api/generate", body).status == 400


# ---- load, unload, ps, keep_alive --------------------------------------------------------------


def ps(double: OllamaDouble) -> dict[str, Body]:
    return {m["name"]: m for m in call(double.url, "GET", "/api/ps").json["models"]}


def test_empty_messages_load_and_keep_alive_zero_unloads(ollama_double: OllamaDouble) -> None:
    assert ps(ollama_double) == {}
    body: Body = {"model": "phi4", "messages": [], "options": {"num_ctx": 8192}}
    loaded = call(ollama_double.url, "POST", "/api/chat", body)
    assert loaded.json["done"] is True
    assert loaded.json["done_reason"] == "load"
    assert loaded.json["message"] == {"role": "assistant", "content": ""}
    entry = ps(ollama_double)["phi4:latest"]
    assert entry["context_length"] == 8192
    assert entry["model"] == "phi4:latest"
    assert entry["details"]["family"] == "phi3"
    assert len(entry["digest"]) == 64
    assert 0 < entry["size_vram"] <= entry["size"]
    # KV cache alone is 8192 × 200 KiB for phi4 (§8.1): size is beyond the weights.
    assert entry["size"] > 9_000_000_000 + 8192 * 204_800
    unloaded = call(ollama_double.url, "POST", "/api/chat", {**body, "keep_alive": 0})
    assert unloaded.json["done_reason"] == "unload"
    assert ps(ollama_double) == {}


def test_generate_with_empty_prompt_loads_and_unloads(ollama_double: OllamaDouble) -> None:
    url = ollama_double.url
    assert call(url, "POST", "/api/generate", {"model": "phi4-mini"}).json["done_reason"] == "load"
    assert "phi4-mini:latest" in ps(ollama_double)
    body = {"model": "phi4-mini", "keep_alive": 0}
    assert call(url, "POST", "/api/generate", body).json["done_reason"] == "unload"
    assert ps(ollama_double) == {}


def test_chat_loads_with_requested_num_ctx_and_changing_it_reloads(
    ollama_double: OllamaDouble,
) -> None:
    first = chat(ollama_double, "phi4-mini", "hi", options={"num_ctx": 2048})
    assert ps(ollama_double)["phi4-mini:latest"]["context_length"] == 2048
    warm = chat(ollama_double, "phi4-mini", "hi", options={"num_ctx": 2048})
    assert warm.final["load_duration"] < first.final["load_duration"]
    reloaded = chat(ollama_double, "phi4-mini", "hi", options={"num_ctx": 4096})
    assert reloaded.final["load_duration"] > warm.final["load_duration"]
    assert ps(ollama_double)["phi4-mini:latest"]["context_length"] == 4096


def test_num_ctx_beyond_the_trained_context_is_clamped(ollama_double: OllamaDouble) -> None:
    chat(ollama_double, "phi4", "hi", options={"num_ctx": 65536})
    assert ps(ollama_double)["phi4:latest"]["context_length"] == 16384


def test_num_gpu_zero_puts_everything_on_the_cpu(ollama_double: OllamaDouble) -> None:
    chat(ollama_double, "phi4-mini", "hi", options={"num_ctx": 2048, "num_gpu": 0})
    entry = ps(ollama_double)["phi4-mini:latest"]
    assert entry["size_vram"] == 0 and entry["size"] > 0


def test_a_small_gpu_gets_a_partial_offload() -> None:
    with OllamaDouble(vram_bytes=4 * 1024**3) as double:
        chat(double, "phi4", "hi", options={"num_ctx": 4096})
        entry = ps(double)["phi4:latest"]
        assert 0 < entry["size_vram"] < entry["size"]


@pytest.mark.parametrize(
    ("keep_alive", "low", "high"),
    [
        ("10m", timedelta(minutes=9), timedelta(minutes=11)),
        (90, timedelta(seconds=80), timedelta(seconds=100)),
        ("1h30m", timedelta(minutes=89), timedelta(minutes=91)),
        (None, timedelta(minutes=4), timedelta(minutes=6)),  # default 5m
        (-1, timedelta(days=365 * 200), timedelta(days=365 * 300)),
        ("-1m", timedelta(days=365 * 200), timedelta(days=365 * 300)),
    ],
)
def test_keep_alive_sets_expires_at(
    ollama_double: OllamaDouble, keep_alive: Any, low: timedelta, high: timedelta
) -> None:
    extra = {} if keep_alive is None else {"keep_alive": keep_alive}
    chat(ollama_double, "phi4", "hi", **extra)
    expires = parse_time(ps(ollama_double)["phi4:latest"]["expires_at"])
    left = expires - datetime.now(UTC)
    assert low < left < high


@pytest.mark.parametrize("keep_alive", ["-1", "300", "soon", True])
def test_keep_alive_without_unit_or_of_a_wrong_type_is_400(
    ollama_double: OllamaDouble, keep_alive: Any
) -> None:
    exchange = chat(ollama_double, "phi4", "hi", keep_alive=keep_alive)
    assert exchange.status == 400
    if keep_alive in ("-1", "300"):
        assert exchange.json == {"error": f'time: missing unit in duration "{keep_alive}"'}


def test_ps_lists_longest_remaining_first(ollama_double: OllamaDouble) -> None:
    chat(ollama_double, "phi4-mini", "hi", keep_alive="1m")
    chat(ollama_double, "phi4", "hi", keep_alive="1h")
    chat(ollama_double, "phi4-reasoning", "hi", keep_alive="10m")
    models = call(ollama_double.url, "GET", "/api/ps").json["models"]
    assert [m["name"] for m in models] == [
        "phi4:latest",
        "phi4-reasoning:latest",
        "phi4-mini:latest",
    ]


def test_keep_alive_zero_on_a_real_chat_unloads_after_the_reply(
    ollama_double: OllamaDouble,
) -> None:
    assert chat(ollama_double, "phi4", "hi", keep_alive=0).final["done"] is True
    assert ps(ollama_double) == {}


def test_wrong_option_types_are_400(ollama_double: OllamaDouble) -> None:
    assert chat(ollama_double, "phi4", "hi", options={"num_ctx": "big"}).status == 400
    assert chat(ollama_double, "phi4", "hi", options={"temperature": "warm"}).status == 400
    # Unknown keys are ignored, as on the real server.
    assert chat(ollama_double, "phi4", "hi", options={"no_such_option": 1}).status == 200


# ---- truncation --------------------------------------------------------------------------------


def im_tokens(messages: list[tuple[str, str]]) -> int:
    """Tokens of a phi4 prompt as the double documents it: ceil(len/4) of the ChatML rendering."""
    text = "".join(f"<|im_start|>{r}<|im_sep|>{c}<|im_end|>" for r, c in messages)
    text += "<|im_start|>assistant<|im_sep|>"
    return -(-len(text) // 4)


def test_prompt_eval_count_counts_the_whole_prompt_when_it_fits(
    ollama_double: OllamaDouble,
) -> None:
    messages = [
        ("system", "Be brief."),
        ("user", "a" * 40),
        ("assistant", "b" * 40),
        ("user", "hi"),
    ]
    body = {
        "model": "phi4",
        "messages": [{"role": r, "content": c} for r, c in messages],
        "options": {"num_ctx": 4096},
    }
    final = call(ollama_double.url, "POST", "/api/chat", body).final
    assert final["prompt_eval_count"] == im_tokens(messages)


def test_oldest_non_system_messages_are_dropped_to_fit_num_ctx(
    ollama_double: OllamaDouble,
) -> None:
    system = ("system", "You are terse.")
    history = [
        ("user", "first question " + "x" * 200),
        ("assistant", "first answer " + "y" * 200),
        ("user", "second question " + "z" * 40),
        ("assistant", "second answer"),
        ("user", "third question"),
    ]
    messages = [system, *history]
    # A window that holds the system message and the last three messages, not the last four.
    fits = im_tokens([system, *history[2:]])
    assert im_tokens([system, *history[1:]]) > fits + 10
    body = {
        "model": "phi4",
        "messages": [{"role": r, "content": c} for r, c in messages],
        "options": {"num_ctx": fits},
    }
    final = call(ollama_double.url, "POST", "/api/chat", body).final
    assert final["prompt_eval_count"] == fits
    kept = [(m["role"], m["content"]) for m in ollama_double.last_prompt_messages]
    assert kept == [system, *history[2:]]


def test_the_last_message_is_kept_even_when_it_alone_is_too_long(
    ollama_double: OllamaDouble,
) -> None:
    body: Body = {
        "model": "phi4",
        "messages": [
            {"role": "user", "content": "old"},
            {"role": "assistant", "content": "older answer"},
            {"role": "user", "content": "w" * 2000},
        ],
        "options": {"num_ctx": 256},
    }
    final = call(ollama_double.url, "POST", "/api/chat", body).final
    kept = ollama_double.last_prompt_messages
    assert [m["content"] for m in kept] == ["w" * 2000]
    # The runner then keeps num_keep (4) tokens and cuts to about half the window (§3.1).
    assert final["prompt_eval_count"] == 256 - (256 - 4) // 2
    refused = call(ollama_double.url, "POST", "/api/chat", {**body, "shift": False})
    assert refused.status == 400
    assert "longer than the context length" in refused.json["error"]


def test_truncate_false_keeps_every_message(ollama_double: OllamaDouble) -> None:
    messages = [("user", "q" * 400), ("assistant", "a" * 400), ("user", "last")]
    body = {
        "model": "phi4",
        "messages": [{"role": r, "content": c} for r, c in messages],
        "options": {"num_ctx": 2048},
        "truncate": False,
    }
    call(ollama_double.url, "POST", "/api/chat", body)
    assert len(ollama_double.last_prompt_messages) == 3


def test_phi4_reasoning_gets_its_baked_system_prompt_unless_one_is_sent(
    ollama_double: OllamaDouble,
) -> None:
    chat(ollama_double, "phi4-reasoning", "hi")
    assert ollama_double.last_prompt_messages[0]["role"] == "system"
    assert "<think>" in ollama_double.last_prompt_messages[0]["content"]
    body = {
        "model": "phi4-reasoning",
        "messages": [{"role": "system", "content": "Mine."}, {"role": "user", "content": "hi"}],
    }
    call(ollama_double.url, "POST", "/api/chat", body)
    assert [m["content"] for m in ollama_double.last_prompt_messages] == ["Mine.", "hi"]


# ---- what the client sent ----------------------------------------------------------------------


def test_requests_are_recorded_with_body_and_headers(ollama_double: OllamaDouble) -> None:
    options = {"num_ctx": 2048, "min_p": 0.05, "temperature": 0.7}
    with ollama.Client(host=ollama_double.url) as client:
        client.chat(
            model="phi4",
            messages=[{"role": "user", "content": "hi"}],
            options=options,
            keep_alive="30m",
        )
    recorded = ollama_double.requests_to("/api/chat")[-1]
    assert recorded.method == "POST"
    assert recorded.body["options"] == options
    assert recorded.body["keep_alive"] == "30m"
    assert recorded.headers["content-type"] == "application/json"
    assert "ollama-python" in recorded.headers["user-agent"]


def test_official_client_sees_mid_stream_errors_as_status_minus_one(
    ollama_double: OllamaDouble,
) -> None:
    with ollama.Client(host=ollama_double.url) as client:
        with pytest.raises(ollama.ResponseError) as streamed:
            for _ in client.pull("phi4:no-such-tag", stream=True):
                pass
        with pytest.raises(ollama.ResponseError) as blocking:
            client.pull("phi4:no-such-tag")
    assert streamed.value.status_code == -1
    assert streamed.value.error == "pull model manifest: file does not exist"
    assert blocking.value.status_code == 500


def test_host_header_that_is_not_local_gets_an_empty_403(ollama_double: OllamaDouble) -> None:
    refused = httpx.get(ollama_double.url + "/api/tags", headers={"Host": "evil.example.com"})
    assert (refused.status_code, refused.content) == (403, b"")
    for host in ("localhost:11434", "192.168.1.20", "box.local", "127.0.0.1"):
        allowed = httpx.get(ollama_double.url + "/api/tags", headers={"Host": host})
        assert allowed.status_code == 200, host


def test_control_endpoint_arms_and_clears_faults_over_http(ollama_double: OllamaDouble) -> None:
    url = ollama_double.url
    armed = httpx.post(url + "/_double/faults", json={"kind": "status", "status": 503})
    assert armed.status_code == 200
    busy = call(url, "GET", "/api/tags")
    assert busy.status == 503
    assert busy.json == {
        "error": "server busy, please try again.  maximum pending requests exceeded"
    }
    assert httpx.delete(url + "/_double/faults").status_code == 200
    assert call(url, "GET", "/api/tags").status == 200
    assert httpx.post(url + "/_double/faults", json={"kind": "nonsense"}).status_code == 400
    scripted = httpx.post(url + "/_double/script", json={"content": "Scripted!", "chunk_size": 2})
    assert scripted.status_code == 200
    assert chat(ollama_double, "phi4", "x").contents() == "Scripted!"
    recorded = httpx.get(url + "/_double/requests").json()["requests"]
    assert [r["path"] for r in recorded][-1] == "/api/chat"
    assert all(not r["path"].startswith("/_double") for r in recorded)


def test_stop_closes_the_port() -> None:
    double = OllamaDouble().start()
    url = double.url
    assert httpx.get(url).status_code == 200
    double.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_nothing_went_wrong_inside_the_double(ollama_double: OllamaDouble) -> None:
    chat(ollama_double, "phi4", "math")
    call(ollama_double.url, "POST", "/api/pull", {"model": "phi4:14b-q8_0"})
    assert ollama_double.errors == []
    assert json.loads(json.dumps([r.__dict__ for r in ollama_double.requests]))


def test_lines_are_encoded_like_gos_encoding_json(ollama_double: OllamaDouble) -> None:
    content = "a<b>&c\u0085d\u2028e é"
    ollama_double.script_reply(content, chunk_size=100)
    body = {"model": "phi4", "messages": [{"role": "user", "content": "x"}]}
    response = httpx.post(ollama_double.url + "/api/chat", json=body)
    first = response.content.split(b"\n")[0]
    assert b"\\u003cb\\u003e\\u0026c" in first  # Go escapes <, > and & by default
    assert b"\\u2028" in first  # and U+2028/U+2029
    assert "\u0085".encode() in first and "é".encode() in first  # the rest is raw UTF-8
    assert response.content.endswith(b"}\n")
    assert json.loads(first)["message"]["content"] == content


@pytest.mark.real_ollama
def test_a_real_ollama_agrees_with_the_doubles_schemas_and_messages() -> None:
    """With PHIDESK_TEST_OLLAMA_URL set, the same checks hold for a real server."""
    url = os.environ.get("PHIDESK_TEST_OLLAMA_URL")
    if not url:
        pytest.skip("PHIDESK_TEST_OLLAMA_URL is not set; no real Ollama to compare with")
    for path in ("/api/version", "/api/tags", "/api/ps"):
        assert call(url, "GET", path).status == 200
    name = "phidesk-no-such-model"
    missing = call(url, "POST", "/api/show", {"model": name})
    assert (missing.status, missing.json) == (404, {"error": f"model '{name}' not found"})
    pulled = call(url, "POST", "/api/pull", {"model": "phi4:no-such-tag-phidesk"})
    assert pulled.status == 200
    assert pulled.objects[0] == {"status": "pulling manifest"}
    assert pulled.final == {"error": "pull model manifest: file does not exist"}


def test_a_model_leaves_ps_when_its_keep_alive_runs_out(ollama_double: OllamaDouble) -> None:
    chat(ollama_double, "phi4-mini", "hi", keep_alive=0.3)  # a number is seconds
    assert "phi4-mini:latest" in ps(ollama_double)
    time.sleep(0.4)
    assert ps(ollama_double) == {}


def test_a_cached_prefix_still_counts_in_prompt_eval_count_but_evaluates_faster(
    ollama_double: OllamaDouble,
) -> None:
    first_turn = [("user", "tell me about " + "prefix " * 50)]
    second_turn = [*first_turn, ("assistant", "an answer"), ("user", "and more")]

    def send(messages: list[tuple[str, str]]) -> Body:
        body = {
            "model": "phi4",
            "messages": [{"role": r, "content": c} for r, c in messages],
            "options": {"num_ctx": 4096},
        }
        return call(ollama_double.url, "POST", "/api/chat", body).final

    send(first_turn)
    warm = send(second_turn)
    assert warm["prompt_eval_count"] == im_tokens(second_turn)  # whole prompt (§3.2)
    chat(ollama_double, "phi4", "x", keep_alive=0)  # unload: the cache is gone
    cold = send(second_turn)
    assert cold["prompt_eval_count"] == warm["prompt_eval_count"]
    assert warm["prompt_eval_duration"] < cold["prompt_eval_duration"]
