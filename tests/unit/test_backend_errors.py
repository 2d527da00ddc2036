"""Every failure a user can meet becomes one typed error with one clear sentence."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest

from app.backend import errors
from app.backend.client import parse_version, version_warning
from app.backend.failures import one_line, translate

HOST = "http://127.0.0.1:11434"


@pytest.mark.parametrize(
    ("exc", "kwargs", "kind", "words"),
    [
        (ConnectionError("Failed to connect"), {}, errors.ServerUnreachable, "not answering"),
        (httpx.ConnectError("refused"), {}, errors.ServerUnreachable, "not answering"),
        (httpx.ConnectTimeout("slow"), {}, errors.ServerUnreachable, "not answering"),
        (
            ollama.ResponseError('{"error":"model \'phi4\' not found"}', 404),
            {"model": "phi4"},
            errors.ModelNotFound,
            "phidesk pull phi4",
        ),
        (
            ollama.ResponseError("pull model manifest: file does not exist"),
            {"model": "phi4:99b", "pulling": True},
            errors.TagNotFound,
            "no model called phi4:99b",
        ),
        (
            ollama.ResponseError(
                '{"error":"model requires more system memory (12.1 GiB) than is available '
                '(7.5 GiB)"}',
                500,
            ),
            {"model": "phi4"},
            errors.OutOfMemory,
            "enough memory",
        ),
        (
            ollama.ResponseError("CUDA error: out of memory"),
            {"model": "phi4"},
            errors.OutOfMemory,
            "smaller quantization",
        ),
        (
            ollama.ResponseError('{"error":"unauthorized","signin_url":"x"}', 401),
            {},
            errors.Unauthorized,
            "401",
        ),
        (ollama.ResponseError("", 403), {}, errors.Unauthorized, "Host header"),
        (ollama.ResponseError("forbidden by proxy", 403), {}, errors.Unauthorized, "token"),
        (
            ollama.ResponseError(
                '{"error":"server busy, please try again.  maximum pending requests exceeded"}',
                503,
            ),
            {},
            errors.ServerBusy,
            "busy",
        ),
        (
            ollama.ResponseError('{"error":"invalid model name"}', 400),
            {"model": "x"},
            errors.InvalidModelName,
            "not a valid model name",
        ),
        (
            ollama.ResponseError('{"error":"\\"phi4\\" does not support thinking"}', 400),
            {"model": "phi4"},
            errors.RequestRejected,
            "does not support thinking",
        ),
        (
            ollama.ResponseError("an error was encountered while running the model"),
            {"streaming": True},
            errors.StreamFailed,
            "was kept",
        ),
        (
            httpx.RemoteProtocolError("peer closed"),
            {"streaming": True},
            errors.StreamInterrupted,
            "was kept",
        ),
        (httpx.ReadError("reset"), {"pulling": True}, errors.StreamInterrupted, "resume"),
        (json.JSONDecodeError("bad", "{x", 1), {"streaming": True}, errors.StreamFailed, "kept"),
        (json.JSONDecodeError("bad", "{x", 1), {}, errors.NotOllama, "not look like Ollama"),
        (
            json.JSONDecodeError("bad", "<!DOCTYPE html><p>Sign in</p>", 0),
            {},
            errors.NotOllama,
            "web page",
        ),
        (
            ollama.ResponseError("<html><body>Bad gateway</body></html>", 502),
            {},
            errors.NotOllama,
            "answered 502 with a web page",
        ),
        (
            ollama.ResponseError('{"error":"unauthorized"}', 401),
            {"auth_note": "the token was lost: enter it again"},
            errors.Unauthorized,
            "(401); the token was lost",
        ),
        (ollama.ResponseError("boom", 500), {}, errors.OllamaError, "500: boom"),
    ],
)
def test_failures_map_to_typed_one_line_errors(
    exc: Exception, kwargs: dict[str, object], kind: type[errors.OllamaError], words: str
) -> None:
    typed = translate(exc, host=HOST, **kwargs)  # type: ignore[arg-type]
    assert type(typed) is kind
    message = str(typed)
    assert words in message
    assert "\n" not in message
    assert len(message) < 400


def test_unrelated_exceptions_are_not_swallowed() -> None:
    assert translate(ValueError("bug"), host=HOST) is None


def test_server_text_is_folded_onto_one_short_line() -> None:
    assert one_line("a\n  b\tc.") == "a b c"
    assert len(one_line("x" * 1000)) == 200


def test_versions_below_the_minimum_warn() -> None:
    assert parse_version("0.33.0-rc2") == (0, 33, 0)
    assert version_warning("0.33.0") is None
    assert version_warning("0.10.0") is None
    warning = version_warning("0.9.6")
    assert warning is not None and "0.10.0" in warning
    assert version_warning("garbage") is None
