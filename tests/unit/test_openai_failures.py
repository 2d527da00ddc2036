"""Every `openai` exception becomes one typed PhiDesk sentence (`openai_failures.translate`)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest

from app.backend.engines.errors import (
    ContextTooLong,
    EngineTimeout,
    NotOpenAICompatible,
    RateLimited,
    ServerFailed,
)
from app.backend.engines.openai_failures import translate
from app.backend.errors import (
    ModelNotFound,
    RequestRejected,
    ServerUnreachable,
    StreamFailed,
    StreamInterrupted,
    Unauthorized,
)

HOST = "http://lab:8000/v1"
REQUEST = httpx2.Request("POST", HOST + "/chat/completions")


def status_error(status: int, body: Any, headers: dict[str, str] | None = None) -> Exception:
    response = httpx2.Response(status, request=REQUEST, headers=headers, json=body)
    cls = openai.APIStatusError
    return cls(json.dumps(body), response=response, body=body)


def typed(exc: BaseException, **kwargs: Any) -> Exception | None:
    return translate(exc, engine="lab", host=HOST, **kwargs)


@pytest.mark.parametrize(
    ("status", "body", "kind", "words"),
    [
        (401, {"error": {"message": "bad key"}}, Unauthorized, "refused the API key (401)"),
        (403, {"error": "no"}, Unauthorized, "refused access (403)"),
        (
            404,
            {"message": "The model `x` does not exist."},
            ModelNotFound,
            "does not know the model x",
        ),
        (404, {"detail": "Not Found"}, NotOpenAICompatible, "usually ends in /v1"),
        (429, {"error": {"message": "slow down"}}, RateLimited, "try again later"),
        (503, {"error": {"message": "busy"}}, ServerFailed, "failed (503)"),
        (422, {"error": {"message": "bad temperature"}}, RequestRejected, "(422: bad temperature)"),
        (400, {}, RequestRejected, "no reason given"),
        (
            400,
            {"error": {"message": "the request exceeds the available context size", "n_ctx": 4096}},
            ContextTooLong,
            "its 4096-token context window",
        ),
        (
            413,
            {"error": {"message": "context length exceeded"}},
            ContextTooLong,
            "the model's context window",
        ),
    ],
)
def test_status_errors(status: int, body: Any, kind: type, words: str) -> None:
    error = typed(status_error(status, body), model="x")
    assert isinstance(error, kind) and words in str(error), error


def test_retry_after_that_is_not_a_number_and_a_missing_model() -> None:
    error = typed(status_error(429, {}, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}))
    assert isinstance(error, RateLimited) and error.retry_after is None
    listing = typed(status_error(404, {"message": "model list"}))
    assert isinstance(listing, NotOpenAICompatible)
    note = typed(status_error(401, {}), auth_note="the key was not kept")
    assert isinstance(note, Unauthorized) and str(note).endswith("the key was not kept")


def test_connection_timeouts_and_broken_answers() -> None:
    assert isinstance(typed(openai.APITimeoutError(request=REQUEST)), EngineTimeout)
    assert isinstance(
        typed(openai.APITimeoutError(request=REQUEST), streaming=True), StreamInterrupted
    )
    gone = openai.APIConnectionError(request=REQUEST)
    assert isinstance(typed(gone), ServerUnreachable)
    assert isinstance(typed(gone, streaming=True), StreamInterrupted)
    assert isinstance(typed(json.JSONDecodeError("x", "doc", 0)), NotOpenAICompatible)
    event = openai.APIError("oops", REQUEST, body={"message": "overloaded"})
    failed = typed(event)
    assert isinstance(failed, StreamFailed) and "(overloaded)" in str(failed)
    assert typed(RuntimeError("not ours")) is None
    already = ServerFailed("x")
    assert typed(already) is already
