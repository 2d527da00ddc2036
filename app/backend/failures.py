"""Map what the ollama client and httpx raise to the typed errors of `app.backend.errors`.

Each resulting error carries one sentence a user can act on. Raw server text is folded onto one
line and shortened before it goes into a sentence; the full detail goes to the log.
"""

from __future__ import annotations

import json
import logging
import re

import httpx
import ollama

from app.backend.errors import (
    InvalidModelName,
    ModelNotFound,
    OllamaError,
    OutOfMemory,
    RequestRejected,
    ServerBusy,
    ServerUnreachable,
    StreamFailed,
    StreamInterrupted,
    TagNotFound,
    Unauthorized,
)

log = logging.getLogger(__name__)

MAX_DETAIL = 200
_OOM_PATTERNS = re.compile(
    r"out of memory|requires more system memory|insufficient memory|not enough memory|"
    r"unable to allocate|failed to allocate|cudaMalloc|memory layout cannot be allocated|"
    r"\bOOM\b",
    re.IGNORECASE,
)
_MISSING_TAG = re.compile(r"file does not exist|manifest unknown|pull model manifest: 404", re.I)
_BAD_NAME = re.compile(r"invalid model name|invalid model path|invalid name", re.I)


def one_line(text: str, limit: int = MAX_DETAIL) -> str:
    """Server text folded onto one line, without a trailing full stop, at most `limit` chars."""
    folded = " ".join(str(text).split()).rstrip(".")
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def unreachable(host: str) -> ServerUnreachable:
    return ServerUnreachable(
        f"Ollama is not answering at {host}; start it (ollama serve), "
        "or check the address and choose another host"
    )


def model_not_found(host: str, model: str | None) -> ModelNotFound:
    name = model or "the model"
    return ModelNotFound(
        f"{name} is not installed on the Ollama server at {host}; "
        f"pull it first (phidesk pull {model or 'NAME'})",
        status=404,
    )


def tag_not_found(model: str | None) -> TagNotFound:
    return TagNotFound(
        f"the registry has no model called {model or 'that name'}; "
        "check the name and tag (for example phi4-mini:3.8b) at ollama.com/library"
    )


def out_of_memory(host: str, model: str | None, detail: str, status: int | None) -> OutOfMemory:
    return OutOfMemory(
        f"the Ollama server at {host} does not have enough memory to load "
        f"{model or 'the model'} ({one_line(detail)}); choose a smaller quantization or a "
        "shorter context, or unload other models",
        status=status,
    )


def translate(
    exc: BaseException,
    *,
    host: str,
    model: str | None = None,
    pulling: bool = False,
    streaming: bool = False,
) -> OllamaError | None:
    """The typed error for `exc`, or None if `exc` is not a failure of talking to Ollama.

    `streaming` means at least one chunk of a stream already arrived, so what came was kept.
    `pulling` means the request was a pull, where a missing name is a missing *tag*.
    """
    if isinstance(exc, OllamaError):
        return exc
    if isinstance(exc, ollama.ResponseError):
        return _from_response_error(exc, host=host, model=model, pulling=pulling)
    if isinstance(exc, json.JSONDecodeError):
        return StreamFailed(
            f"the Ollama server at {host} sent a line that is not JSON in the middle of the "
            "stream; what arrived so far was kept, try again"
        )
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | ConnectionError):
        return unreachable(host)
    if isinstance(exc, httpx.TimeoutException):
        return OllamaError(
            f"the Ollama server at {host} did not answer in time; it may be overloaded, try again"
        )
    if isinstance(exc, httpx.TransportError | httpx.StreamError):
        if pulling:
            return StreamInterrupted(
                f"the connection to {host} dropped during the download; "
                "pull again to resume where it stopped"
            )
        if streaming:
            return StreamInterrupted(
                f"the connection to {host} dropped before the answer finished; "
                "what arrived so far was kept"
            )
        return StreamInterrupted(f"the connection to {host} dropped; try again")
    return None


def _from_response_error(
    exc: ollama.ResponseError, *, host: str, model: str | None, pulling: bool
) -> OllamaError:
    status = exc.status_code
    raw = exc.error if isinstance(exc.error, str) else str(exc.error)
    detail = one_line(raw)
    log.info("Ollama at %s answered %s: %s", host, status, raw)
    if status == -1:  # an {"error": …} line inside a 200 stream
        if pulling and _MISSING_TAG.search(raw):
            return tag_not_found(model)
        if _OOM_PATTERNS.search(raw):
            return out_of_memory(host, model, raw, None)
        if pulling:
            return StreamFailed(
                f"the pull of {model or 'the model'} failed ({detail}); "
                "pull again to resume where it stopped"
            )
        return StreamFailed(
            f"Ollama reported an error in the middle of the answer ({detail}); "
            "what arrived so far was kept"
        )
    if status == 401:
        return Unauthorized(
            f"the server at {host} refused the request as unauthorized (401); "
            "check the access token of this host",
            status=status,
        )
    if status == 403:
        if not raw.strip():
            return Unauthorized(
                f"the server at {host} refused the request (403, no explanation); Ollama does "
                "this when the Host header is not local, so connect to it directly or allow the "
                "name on the server",
                status=status,
            )
        return Unauthorized(
            f"the server at {host} denied access (403: {detail}); "
            "check the access token of this host",
            status=status,
        )
    if status == 503:
        return ServerBusy(
            f"the Ollama server at {host} is busy (its request queue is full); "
            "try again in a moment",
            status=status,
        )
    if status == 429:
        return ServerBusy(
            f"the server at {host} is limiting requests (429: {detail}); try again later",
            status=status,
        )
    if pulling and _MISSING_TAG.search(raw):
        return tag_not_found(model)
    if status == 404:
        return tag_not_found(model) if pulling else model_not_found(host, model)
    if status == 400 and _BAD_NAME.search(raw):
        return InvalidModelName(
            f"the Ollama server at {host} says {model or 'the name'} is not a valid model name "
            f"({detail})",
            status=status,
        )
    if _OOM_PATTERNS.search(raw):
        return out_of_memory(host, model, raw, status)
    if status == 400:
        return RequestRejected(f"Ollama rejected the request ({detail})", status=status)
    return OllamaError(
        f"the Ollama server at {host} failed ({status}: {detail or 'no explanation'}); "
        "try again, and see its log if it keeps failing",
        status=status,
    )
