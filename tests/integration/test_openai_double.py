"""The OpenAI-compatible double itself, over a real socket: every chunk it streams validates
against the `openai` package's own `ChatCompletionChunk`, and the SDK reads its streams,
model lists and faults as it reads a real server's."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from tests.openai_double.server import FINGERPRINT, OpenAIDouble, ServedModel, prompt_tokens

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is 2 + 2?"}]


def _stream(double: OpenAIDouble) -> list[ChatCompletionChunk]:
    client = openai.OpenAI(base_url=double.url, api_key="k", max_retries=0)
    with client:
        stream = client.chat.completions.create(
            model="microsoft/phi-4",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        return list(stream)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "inline"])
def test_every_chunk_validates_against_the_sdk_model(
    openai_double: OpenAIDouble, field: str
) -> None:
    openai_double.state.reasoning_field = field  # type: ignore[assignment]
    openai_double.script_reply("It is $2 + 2 = 4$.", reasoning="Add two and two.")
    chunks = _stream(openai_double)
    assert openai_double.sent_chunks, "the double sent nothing"
    for raw in openai_double.sent_chunks:
        ChatCompletionChunk.model_validate(raw, strict=False)
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.prompt_tokens == prompt_tokens(MESSAGES)
    assert all(c.usage is None for c in chunks[:-1])
    assert {c.system_fingerprint for c in chunks} == {FINGERPRINT}
    if field != "inline":
        reasoning = "".join(
            str((c.choices[0].delta.model_extra or {}).get(field) or "")
            for c in chunks
            if c.choices
        )
        assert reasoning == "Add two and two."


def test_usage_only_when_asked_and_allowed(openai_double: OpenAIDouble) -> None:
    client = openai.OpenAI(base_url=openai_double.url, api_key="k", max_retries=0)
    with client:
        plain = list(
            client.chat.completions.create(
                model="microsoft/phi-4",
                messages=MESSAGES,
                stream=True,
            )
        )
    assert all(c.usage is None and c.choices for c in plain)
    openai_double.state.usage = False
    assert all(c.usage is None for c in _stream(openai_double))


def test_models_in_the_vllm_and_openrouter_shapes(openai_double: OpenAIDouble) -> None:
    vllm = httpx.get(openai_double.url + "/models").json()["data"]
    assert vllm[0]["max_model_len"] == 16384 and "context_length" not in vllm[0]
    openai_double.serve(ServedModel("microsoft/phi-4", 16384), shape="openrouter")
    routed = httpx.get(openai_double.url + "/models").json()["data"]
    assert routed == [
        {
            "id": "microsoft/phi-4",
            "name": "microsoft/phi-4",
            "created": routed[0]["created"],
            "context_length": 16384,
        }
    ]
    with openai.OpenAI(base_url=openai_double.url, api_key="k") as client:
        assert [m.id for m in client.models.list()] == ["microsoft/phi-4"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("unauthorized", openai.AuthenticationError),
        ("forbidden", openai.PermissionDeniedError),
        ("rate_limited", openai.RateLimitError),
        ("server_error", openai.InternalServerError),
        ("context_length", openai.BadRequestError),
        ("disconnect", openai.APIConnectionError),
    ],
)
def test_faults_reach_the_sdk_as_its_own_errors(
    openai_double: OpenAIDouble, fault: str, error: type[Exception]
) -> None:
    openai_double.set_fault(fault, after=2)
    with pytest.raises(error):
        _stream(openai_double)


def test_rate_limit_says_when_to_retry(openai_double: OpenAIDouble) -> None:
    openai_double.set_fault("rate_limited", retry_after=12)
    with pytest.raises(openai.RateLimitError) as caught:
        _stream(openai_double)
    assert caught.value.response.headers["retry-after"] == "12"


def test_a_wrong_key_is_refused_and_a_right_one_streams(openai_double: OpenAIDouble) -> None:
    openai_double.require_key("right")
    with pytest.raises(openai.AuthenticationError):
        _stream(openai_double)
    with openai.OpenAI(base_url=openai_double.url, api_key="right") as client:
        assert client.models.list().data


def test_malformed_event_and_unknown_model(openai_double: OpenAIDouble) -> None:
    openai_double.set_fault("malformed", after=1)
    with pytest.raises(ValueError, match="Expecting"):
        _stream(openai_double)
    client = openai.OpenAI(base_url=openai_double.url, api_key="k", max_retries=0)
    with client, pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="nope",
            messages=MESSAGES,
            stream=True,
        )
