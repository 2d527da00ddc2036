"""Failures of Ollama a user can meet, each with one clear sentence of what to do."""

from __future__ import annotations

from app.errors import PhiDeskError


class OllamaError(PhiDeskError):
    """Something went wrong talking to Ollama. `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServerUnreachable(OllamaError):
    """Nothing answers at the host (refused, DNS failure, connect timeout)."""


class ModelNotFound(OllamaError):
    """The model is not installed on that server (404 from chat/show/delete)."""


class TagNotFound(OllamaError):
    """A pull asked for a name or tag the registry does not have."""


class OutOfMemory(OllamaError):
    """The server could not load the model in the memory it has."""


class Unauthorized(OllamaError):
    """401/403 from the server or a proxy in front of it."""


class ServerBusy(OllamaError):
    """503: the server's request queue is full."""


class InvalidModelName(OllamaError):
    """The name is not a valid Ollama model name; nothing was sent."""


class StreamInterrupted(OllamaError):
    """The connection dropped before the stream finished; what arrived was kept."""


class StreamFailed(OllamaError):
    """The server reported an error in the middle of a stream; what arrived was kept."""


class RequestRejected(OllamaError):
    """The server refused the request as invalid (400), e.g. thinking on a model without it."""


class NotOllama(OllamaError):
    """Something answered at the host, but not as Ollama does: a web page (a captive portal, a
    proxy's error page), a body that is not JSON, or far more than Ollama ever sends at once."""
