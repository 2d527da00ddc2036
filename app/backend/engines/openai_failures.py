"""The `openai` package's exceptions as PhiDesk's typed errors, one sentence each."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.backend.engines.errors import (
    ContextTooLong,
    EngineTimeout,
    NotOpenAICompatible,
    RateLimited,
    ServerFailed,
)
from app.backend.errors import (
    ModelNotFound,
    OllamaError,
    RequestRejected,
    ServerUnreachable,
    StreamFailed,
    StreamInterrupted,
    Unauthorized,
)

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

_LIMIT = re.compile(r"maximum context length is (\d+)", re.IGNORECASE)
_CONTEXT_WORDS = ("context length", "context_length", "context size", "context window")
KEPT = "what arrived so far was kept"


def _server_message(body: object) -> str:
    """The server's own words from an error body (`{"error": {"message"}}`, `{"message"}`)."""
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            body = inner
        elif isinstance(inner, str):
            return inner
        message = body.get("message")
        if isinstance(message, str):
            return message
    return ""


def _context_limit(body: object, message: str) -> int | None:
    found = _LIMIT.search(message)
    if found:
        return int(found.group(1))
    inner = body.get("error") if isinstance(body, Mapping) else None
    for where in (inner, body):
        if isinstance(where, Mapping) and isinstance(where.get("n_ctx"), int):
            return int(where["n_ctx"])
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split()).rstrip(".")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def translate(
    exc: BaseException,
    *,
    engine: str,
    host: str,
    model: str | None = None,
    streaming: bool = False,
    auth_note: str | None = None,
) -> OllamaError | None:
    """The typed error for `exc`, or None for exceptions that are not the server's doing."""
    if isinstance(exc, OllamaError):
        return exc
    import openai  # only the OpenAI-compatible engine needs it

    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, engine=engine, host=host, model=model, auth_note=auth_note)
    if isinstance(exc, openai.APITimeoutError):
        if streaming:
            return StreamInterrupted(f"the connection to {host} timed out mid-answer; {KEPT}")
        return EngineTimeout(f"the server at {host} did not answer in time; try again later")
    if isinstance(exc, openai.APIConnectionError):
        if streaming:
            return StreamInterrupted(
                f"the connection to {host} closed before the answer finished; {KEPT}"
            )
        return ServerUnreachable(
            f"nothing answers at {host}; check the URL of engine {engine} and that its server runs"
        )
    if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError | UnicodeError):
        log.info("not an OpenAI-compatible answer from %s: %r", host, exc)
        tail = f"; {KEPT}" if streaming else "; check the URL of engine " + engine
        return NotOpenAICompatible(
            f"the server at {host} sent something that is not an OpenAI-compatible answer{tail}"
        )
    if isinstance(exc, openai.APIError):  # an error event inside the stream
        said = _clip(_server_message(exc.body) or exc.message)
        return StreamFailed(f"the server at {host} reported an error mid-answer ({said}); {KEPT}")
    return None


def _status_error(
    exc: openai.APIStatusError,
    *,
    engine: str,
    host: str,
    model: str | None,
    auth_note: str | None,
) -> OllamaError:
    status = exc.status_code
    body: Any = exc.body
    said = _clip(_server_message(body))
    log.info("%s answered %s: %s", host, status, said)
    if status in (401, 403):
        why = auth_note or (
            f"check the API key of engine {engine} (phidesk engines add {engine} … --api-key-stdin)"
        )
        word = "refused the API key" if status == 401 else "refused access"
        return Unauthorized(f"the server at {host} {word} ({status}); {why}", status=status)
    if status == 404:
        if model is None or "model" not in said.casefold():
            return NotOpenAICompatible(
                f"the server at {host} has no OpenAI-compatible API there (404); check the URL "
                f"of engine {engine}, which usually ends in /v1",
                status=404,
            )
        return ModelNotFound(
            f"the server at {host} does not know the model {model}; choose one it lists "
            f"(phidesk models --engine {engine})",
            status=404,
        )
    if status == 429:
        wait = _retry_after(exc.response.headers)
        when = f"try again in {wait:g} seconds" if wait is not None else "try again later"
        return RateLimited(
            f"the server at {host} is limiting requests (429); {when}", retry_after=wait
        )
    if status in (400, 413, 422) and any(w in said.casefold() for w in _CONTEXT_WORDS):
        limit = _context_limit(body, said)
        size = f"its {limit}-token context window" if limit else "the model's context window"
        return ContextTooLong(
            f"the conversation does not fit {size} on {host}; shorten the message or start a "
            "new chat",
            limit=limit,
        )
    if status >= 500:
        return ServerFailed(
            f"the server at {host} failed ({status}); try again later", status=status
        )
    return RequestRejected(
        f"the server at {host} refused the request ({status}: {said or 'no reason given'})",
        status=status,
    )
