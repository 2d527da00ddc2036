"""Faults the Ollama double can inject, and the bodies real Ollama sends for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FaultKind = Literal[
    "disconnect", "stall", "status", "malformed", "slow", "error_line", "oom", "think_tags", "html"
]
FAULT_KINDS: tuple[str, ...] = (
    "disconnect",
    "stall",
    "status",
    "malformed",
    "slow",
    "error_line",
    "oom",
    "think_tags",
    "html",
)

# Endpoints that stream NDJSON; stream faults apply to these.
STREAM_PATHS = ("/api/chat", "/api/generate", "/api/pull")
MODEL_PATHS = ("/api/chat", "/api/generate")

BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"
RUNNER_TERMINATED = "llama runner process has terminated: exit status 2"
MID_STREAM_ERROR = "an error was encountered while running the model"
PULL_MID_STREAM_ERROR = "max retries exceeded: unexpected EOF"
# docs/ollama-behaviour.md has no text for a load OOM; this is what users report from real servers.
OOM_MESSAGE = "model requires more system memory (14.6 GiB) than is available (7.6 GiB)"
SIGNIN_URL = "https://ollama.com/connect?name=phidesk-double&key=ZmFrZS1rZXk"
MALFORMED_LINE = b'{"model":"phi4","created_at":"2026-01-01T00:00:00Z","message":{"role":"assis'
# What a captive portal or a misconfigured proxy answers in Ollama's place.
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head>\n"
    b"<body><h1>Welcome</h1><p>Accept the terms to continue.</p></body></html>\n"
)


@dataclass
class Fault:
    """One armed fault. See `OllamaDouble.set_fault` for what each kind does."""

    kind: str
    after: int = 0
    seconds: float = 0.3
    delay: float = 0.05
    status: int = 500
    message: str | None = None
    path: str | None = None
    times: int | None = None

    def applies_to(self, path: str) -> bool:
        if self.path is not None:
            return path == self.path
        if self.kind in ("status", "html"):
            return path == "/" or path.startswith("/api/")
        if self.kind in ("oom", "think_tags"):
            return path in MODEL_PATHS
        return path in STREAM_PATHS

    def body(self) -> bytes | None:
        """Body of a `status` fault: Ollama's own for 503/500/401, empty for 403."""
        import json

        if self.status == 403:
            return b""
        if self.status == 401:
            payload: dict[str, str] = {"error": self.message or "unauthorized"}
            payload["signin_url"] = SIGNIN_URL
            return json.dumps(payload, separators=(",", ":")).encode()
        if self.message is not None:
            return json.dumps({"error": self.message}, separators=(",", ":")).encode()
        defaults = {503: BUSY_MESSAGE, 500: RUNNER_TERMINATED, 429: "too many requests"}
        message = defaults.get(self.status, f"injected HTTP {self.status}")
        return json.dumps({"error": message}, separators=(",", ":")).encode()
