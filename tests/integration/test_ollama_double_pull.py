"""Pulls from the Ollama double: layers, progress, errors, and resuming an interrupted pull.

Section numbers (§) are those of docs/ollama-behaviour.md.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import pytest

from tests.ollama_double.checks import Exchange, call
from tests.ollama_double.server import OllamaDouble


@pytest.fixture
def empty_double() -> Iterator[OllamaDouble]:
    """A double with nothing installed and no delay between progress lines."""
    with OllamaDouble(installed=[], pull_step_delay=0) as double:
        yield double


def pull(double: OllamaDouble, name: str, **extra: Any) -> Exchange:
    return call(double.url, "POST", "/api/pull", {"model": name, **extra})


def layer_lines(exchange: Exchange) -> list[dict[str, Any]]:
    return [o for o in exchange.objects if "digest" in o]


def first_line_per_digest(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for line in lines:
        first.setdefault(line["digest"], line)
    return first


def collect(url: str, body: dict[str, Any], into: list[dict[str, Any]]) -> None:
    """Stream a pull, appending each parsed line to `into` (which survives an exception)."""
    with (
        httpx.Client(base_url=url, timeout=10) as client,
        client.stream("POST", "/api/pull", json=body) as response,
    ):
        for line in response.iter_lines():
            if line:
                into.append(json.loads(line))


def tags(double: OllamaDouble) -> set[str]:
    return {m["name"] for m in call(double.url, "GET", "/api/tags").json["models"]}


def test_pull_streams_manifest_layers_verify_write_success(empty_double: OllamaDouble) -> None:
    exchange = pull(empty_double, "phi4:14b-q8_0")
    assert exchange.status == 200 and exchange.streamed
    statuses = [o["status"] for o in exchange.objects]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    lines = layer_lines(exchange)
    digests = list(dict.fromkeys(line["digest"] for line in lines))
    assert len(digests) >= 3, "several layers: weights, template, licence, params"
    for line in lines:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", line["digest"])
        assert line["status"] == "pulling " + line["digest"][7:19]
        assert line["total"] > 0
        assert "completed" not in line or line["completed"] > 0  # omitted while zero
    for digest in digests:
        completed = [line.get("completed", 0) for line in lines if line["digest"] == digest]
        assert completed == sorted(completed)
        assert completed[-1] == next(line["total"] for line in lines if line["digest"] == digest)
    totals = {line["digest"]: line["total"] for line in lines}
    assert 15e9 < sum(totals.values()) < 16e9  # phi4 q8_0 ≈ 15.6 GB (§7)
    assert max(totals.values()) > 0.99 * sum(totals.values()), "one big weights layer"
    assert len([line for line in lines if line["digest"] == digests[0]]) > 3


def test_a_pulled_model_is_listed_shown_and_usable(empty_double: OllamaDouble) -> None:
    assert tags(empty_double) == set()
    assert pull(empty_double, "phi4-mini").final == {"status": "success"}
    assert tags(empty_double) == {"phi4-mini:latest"}
    shown = call(empty_double.url, "POST", "/api/show", {"model": "phi4-mini"}).json
    assert shown["capabilities"] == ["completion", "tools"]
    body = {"model": "phi4-mini", "messages": [{"role": "user", "content": "hi"}]}
    assert call(empty_double.url, "POST", "/api/chat", body).final["done"] is True


def test_hugging_face_names_pull_and_report_their_architecture(
    empty_double: OllamaDouble,
) -> None:
    name = "hf.co/unsloth/phi-4-GGUF:Q5_K_M"
    assert pull(empty_double, name).final == {"status": "success"}
    assert name in tags(empty_double)
    shown = call(empty_double.url, "POST", "/api/show", {"model": name}).json
    info = shown["model_info"]
    arch = info["general.architecture"]
    assert info[f"{arch}.context_length"] == 16384
    assert shown["details"]["quantization_level"] == "Q5_K_M"
    # The quant tag of hf.co names is case-insensitive (§5).
    assert pull(empty_double, "hf.co/unsloth/phi-4-GGUF:q5_k_m").final == {"status": "success"}


def test_a_tag_that_does_not_exist_fails_inside_the_200_stream(
    empty_double: OllamaDouble,
) -> None:
    exchange = pull(empty_double, "phi4:99b")
    assert exchange.status == 200
    assert exchange.objects == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]
    assert tags(empty_double) == set()


def test_a_tag_that_does_not_exist_is_500_without_streaming(empty_double: OllamaDouble) -> None:
    exchange = pull(empty_double, "llama-nope", stream=False)
    assert (exchange.status, exchange.json) == (
        500,
        {"error": "pull model manifest: file does not exist"},
    )


def test_pull_without_streaming_returns_success_once(empty_double: OllamaDouble) -> None:
    exchange = pull(empty_double, "phi4-reasoning", stream=False)
    assert not exchange.streamed
    assert (exchange.status, exchange.json) == (200, {"status": "success"})
    assert "phi4-reasoning:latest" in tags(empty_double)


@pytest.mark.parametrize("name", ["bad name", "phi4:", ":tag", "a/b/c/d", "phi4:" + "x" * 90])
def test_invalid_names_are_400(empty_double: OllamaDouble, name: str) -> None:
    exchange = pull(empty_double, name)
    assert exchange.status == 400 and exchange.json == {"error": "invalid model name"}


def test_pull_resumes_after_the_server_dropped_the_connection(
    empty_double: OllamaDouble,
) -> None:
    empty_double.set_fault("disconnect", after=5, path="/api/pull", times=1)
    received: list[dict[str, Any]] = []
    with pytest.raises(httpx.RemoteProtocolError):
        collect(empty_double.url, {"model": "phi4"}, received)
    seen = [line for line in received if "completed" in line]
    assert seen, "some progress arrived before the drop"
    weights = seen[-1]["digest"]
    reached = seen[-1]["completed"]
    assert reached < seen[-1]["total"]
    assert tags(empty_double) == set()

    again = pull(empty_double, "phi4")
    first = first_line_per_digest(layer_lines(again))[weights]
    assert reached <= first["completed"] < first["total"]
    assert again.final == {"status": "success"}
    assert tags(empty_double) == {"phi4:latest"}


def test_pull_resumes_after_the_client_went_away() -> None:
    with OllamaDouble(installed=[], pull_step_delay=0.02) as double:
        with (
            httpx.Client(base_url=double.url, timeout=10) as client,
            client.stream("POST", "/api/pull", json={"model": "phi4-mini"}) as response,
        ):
            for index, _ in enumerate(response.iter_lines()):
                if index == 4:
                    break
        deadline = time.monotonic() + 5
        while "/api/pull" not in double.disconnects and time.monotonic() < deadline:
            time.sleep(0.01)
        assert double.disconnects == ["/api/pull"]
        double.pull_step_delay = 0
        again = pull(double, "phi4-mini")
        firsts = list(first_line_per_digest(layer_lines(again)).values())
        assert firsts[0].get("completed", 0) > 0, "the weights layer resumed"
        assert again.final == {"status": "success"}


def test_layers_already_on_disk_are_complete_at_once(ollama_double: OllamaDouble) -> None:
    ollama_double.pull_step_delay = 0
    # phi4:14b is the same manifest as the installed phi4:latest.
    exchange = pull(ollama_double, "phi4:14b")
    for line in first_line_per_digest(layer_lines(exchange)).values():
        assert line["completed"] == line["total"]
    models = {m["name"]: m for m in call(ollama_double.url, "GET", "/api/tags").json["models"]}
    assert models["phi4:14b"]["digest"] == models["phi4:latest"]["digest"]


def test_delete_prunes_blobs_so_a_new_pull_starts_from_zero(empty_double: OllamaDouble) -> None:
    pull(empty_double, "phi4-mini")
    assert call(empty_double.url, "DELETE", "/api/delete", {"model": "phi4-mini"}).status == 200
    again = pull(empty_double, "phi4-mini")
    for line in first_line_per_digest(layer_lines(again)).values():
        assert "completed" not in line


def test_pull_error_mid_way_after_some_progress(empty_double: OllamaDouble) -> None:
    empty_double.set_fault("error_line", after=4, path="/api/pull")
    exchange = pull(empty_double, "phi4")
    assert exchange.status == 200
    assert len(exchange.objects) == 5
    assert exchange.final == {"error": "max retries exceeded: unexpected EOF"}
    assert tags(empty_double) == set()


def test_official_client_reads_pull_progress(empty_double: OllamaDouble) -> None:
    with ollama.Client(host=empty_double.url) as client:
        updates = list(client.pull("phi4-mini-reasoning", stream=True))
    assert updates[0].status == "pulling manifest"
    assert updates[-1].status == "success"
    assert any(u.completed and u.total and u.completed < u.total for u in updates)


@pytest.mark.parametrize(
    ("name", "gigabytes", "quantization"),
    [
        ("phi4:14b-fp16", 29.3, "F16"),
        ("phi4-mini:3.8b-q8_0", 4.1, "Q8_0"),
        ("phi4-reasoning:14b-q8_0", 15.6, "Q8_0"),
        ("phi4-reasoning:plus", 11.1, "Q4_K_M"),
        ("phi4-mini-reasoning:3.8b-fp16", 7.7, "F16"),
        ("hf.co/bartowski/phi-4-GGUF:Q6_K", 12.0, "Q6_K"),
        ("hf.co/unsloth/Phi-4-mini-instruct-GGUF:Q8_0", 4.1, "Q8_0"),
    ],
)
def test_library_and_hugging_face_tags_pull_with_their_sizes(
    empty_double: OllamaDouble, name: str, gigabytes: float, quantization: str
) -> None:
    assert pull(empty_double, name, stream=False).json == {"status": "success"}
    (model,) = call(empty_double.url, "GET", "/api/tags").json["models"]
    assert model["name"] == name
    assert abs(model["size"] / 1e9 - gigabytes) < 0.1
    assert model["details"]["quantization_level"] == quantization


def test_a_hugging_face_repo_without_a_tag_gets_its_q4_k_m(empty_double: OllamaDouble) -> None:
    assert pull(empty_double, "hf.co/bartowski/phi-4-GGUF", stream=False).status == 200
    (model,) = call(empty_double.url, "GET", "/api/tags").json["models"]
    assert model["name"] == "hf.co/bartowski/phi-4-GGUF:latest"
    assert model["details"]["quantization_level"] == "Q4_K_M"


@pytest.mark.parametrize("name", ["phi4-reasoning:14b-plus", "phi4:15b", "llama3.2", "hf.co/a/b"])
def test_names_the_registry_does_not_have_do_not_exist(
    empty_double: OllamaDouble, name: str
) -> None:
    exchange = pull(empty_double, name)
    assert exchange.final == {"error": "pull model manifest: file does not exist"}
