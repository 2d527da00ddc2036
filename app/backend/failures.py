"""Map what the ollama client and httpx raise to the typed errors of `app.backend.errors`.

Each resulting error carries one sentence a user can act on. Raw server text is folded onto one
line and shortened before it goes into a sentence; the full detail goes to the log. A web page
is never quoted: something that answers with one is not Ollama, and the sentence says so.

`app.backend.guard.answer_guard` refuses, as they arrive, answers Ollama never gives (a web
page, an encoding that was not asked for, a line longer than `MAX_LINE_BYTES`, a plain answer
longer than `MAX_ANSWER_BYTES`), so a hostile body is never read whole into memory.

`ollama`, `httpx` and `pydantic` are imported by the functions that need them, not here: the
client is imported at start, before the first window, and these load with its first call.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING

from app.backend.errors import (
    InvalidModelName,
    ModelNotFound,
    NotOllama,
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
from app.backend.ollama_lib import load_ollama

if TYPE_CHECKING:
    import httpx
    import ollama

log = logging.getLogger(__name__)

MAX_DETAIL = 200
MAX_LINE_BYTES = 8 * 1024 * 1024
"""No line Ollama sends comes near this (the largest, `/api/show`, is some kilobytes)."""
MAX_ANSWER_BYTES = 32 * 1024 * 1024
"""The most a plain (not streamed) answer may hold; `/api/tags` with hundreds of models is
well under a megabyte."""
_OOM_PATTERNS = re.compile(
    r"out of memory|requires more system memory|insufficient memory|not enough memory|"
    r"unable to allocate|failed to allocate|cudaMalloc|memory layout cannot be allocated|"
    r"\bOOM\b",
    re.IGNORECASE,
)
_MISSING_TAG = re.compile(r"file does not exist|manifest unknown|pull model manifest: 404", re.I)
_BAD_NAME = re.compile(r"invalid model name|invalid model path|invalid name", re.I)


class UnlikeOllama(Exception):
    """An answer Ollama never gives, refused before it is read (by the client's transport).

    `what` completes "the server at HOST …", e.g. "sent a web page"; `translate` makes the
    sentence fit what the request was doing.
    """

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def looks_like_web_page(text: str) -> bool:
    """Ollama answers JSON or plain text; markup comes from something in front of it."""
    return text.lstrip()[:1] == "<"


def origin(url: httpx.URL | str) -> str:
    """`scheme://host:port` of a URL, the port always given, as `normalize_host` writes it."""
    import httpx

    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}:{port}"


def not_ollama(host: str, what: str) -> NotOllama:
    return NotOllama(
        f"the server at {host} does not look like Ollama (it {what}); check the host address, "
        "and any proxy or network sign-in page between PhiDesk and Ollama"
    )


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
    auth_note: str | None = None,
) -> OllamaError | None:
    """The typed error for `exc`, or None if `exc` is not a failure of talking to Ollama.

    `streaming` means at least one chunk of a stream already arrived, so what came was kept.
    `pulling` means the request was a pull, where a missing name is a missing *tag*.
    `auth_note` replaces the advice of a 401/403 when the caller knows more (a token lost).
    """
    if isinstance(exc, OllamaError):
        return exc
    load_ollama()
    import httpx
    import ollama
    import pydantic

    if isinstance(exc, ollama.ResponseError):
        return _from_response_error(
            exc, host=host, model=model, pulling=pulling, auth_note=auth_note
        )
    if isinstance(exc, UnlikeOllama):
        if streaming:
            return StreamFailed(
                f"the server at {host} {exc.what} in the middle of the answer, which Ollama "
                "never does; what arrived so far was kept"
            )
        return not_ollama(host, exc.what)
    if isinstance(exc, json.JSONDecodeError):
        if looks_like_web_page(exc.doc):
            return not_ollama(host, "sent a web page")
        if streaming:
            return StreamFailed(
                f"the Ollama server at {host} sent a line that is not JSON in the middle of the "
                "stream; what arrived so far was kept, try again"
            )
        return not_ollama(host, "answered with something that is not JSON")
    if isinstance(exc, UnicodeDecodeError):
        return not_ollama(host, "answered with something that is not JSON")
    if isinstance(exc, pydantic.ValidationError):
        return not_ollama(host, "answered JSON that is not in Ollama's format")
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | ConnectionError):
        elsewhere = _redirected_to(exc, host)
        if elsewhere is not None:
            return ServerUnreachable(
                f"the server at {host} redirected the request to {elsewhere}, where nothing "
                "answers; check the host address, or that server's redirect"
            )
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


def _redirected_to(exc: BaseException, host: str) -> str | None:
    """The origin a failed connection went to, if a redirect took it away from `host`. (The
    ollama library turns httpx's ConnectError into a ConnectionError; the original is its
    context.)"""
    import httpx

    for candidate in (exc, exc.__cause__, exc.__context__):
        if isinstance(candidate, httpx.RequestError):
            try:
                went = origin(candidate.request.url)
            except RuntimeError:  # an error raised without a request
                return None
            return went if went != origin(host) else None
    return None


def _from_response_error(
    exc: ollama.ResponseError,
    *,
    host: str,
    model: str | None,
    pulling: bool,
    auth_note: str | None = None,
) -> OllamaError:
    status = exc.status_code
    raw = exc.error if isinstance(exc.error, str) else str(exc.error)
    web_page = looks_like_web_page(raw)
    detail = "a web page" if web_page else one_line(raw)
    log.info("Ollama at %s answered %s: %s", host, status, raw)
    if web_page and status not in (-1, 401, 403):
        return not_ollama(host, f"answered {status} with a web page")
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
            f"{auth_note or 'check the access token of this host'}",
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
            f"{auth_note or 'check the access token of this host'}",
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
