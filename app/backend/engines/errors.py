"""Failures of OpenAI-compatible engines beyond those Ollama shares (`app.backend.errors`)."""

from __future__ import annotations

from app.backend.errors import OllamaError, RequestRejected, StreamInterrupted


class RateLimited(OllamaError):
    """429: the server limits requests; `retry_after` seconds (when it says) until it takes
    them again."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class ContextTooLong(RequestRejected):
    """400: the conversation does not fit the model's window; `limit` is the server's."""

    def __init__(self, message: str, *, limit: int | None = None) -> None:
        super().__init__(message, status=400)
        self.limit = limit


class ServerFailed(OllamaError):
    """5xx: the server failed."""


class EngineTimeout(StreamInterrupted):
    """The server took longer than the timeout to answer a call."""


class NotOpenAICompatible(OllamaError):
    """Something answered at the URL, but not as an OpenAI-compatible server does."""


class EngineMissing(OllamaError):
    """A chat's engine no longer exists (it was removed)."""
