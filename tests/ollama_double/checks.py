"""Talk to a running double (or any Ollama) over a real socket and check every body it sends.

`call(url, method, path, body)` performs one request with httpx, reads the whole response (NDJSON
line by line when streamed) and validates each JSON body or line against the OpenAPI component
schema for that endpoint: `{"error": ...}` bodies and lines against `ErrorResponse`, chat and
generate chunks against both their stream-event and response schemas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.ollama_double.openapi import OpenAPIValidator, openapi_validator

# path → (schema of a single JSON response, schema of each NDJSON line)
RESPONSE_SCHEMAS: dict[str, tuple[str, str | None]] = {
    "/api/version": ("VersionResponse", None),
    "/api/tags": ("ListResponse", None),
    "/api/ps": ("PsResponse", None),
    "/api/show": ("ShowResponse", None),
    "/api/chat": ("ChatResponse", "ChatStreamEvent"),
    "/api/generate": ("GenerateResponse", "GenerateStreamEvent"),
    "/api/pull": ("StatusResponse", "StatusEvent"),
    "/api/embed": ("EmbedResponse", None),
}


@dataclass
class Exchange:
    """One request and everything that came back."""

    status: int
    headers: httpx.Headers
    text: str
    objects: list[Any] = field(default_factory=list)  # parsed JSON body, or each NDJSON line
    malformed: list[str] = field(default_factory=list)  # NDJSON lines that were not JSON
    streamed: bool = False

    @property
    def json(self) -> Any:
        assert len(self.objects) == 1, f"expected one JSON object, got {self.objects!r}"
        return self.objects[0]

    @property
    def final(self) -> dict[str, Any]:
        last = self.objects[-1]
        assert isinstance(last, dict)
        return last

    def contents(self) -> str:
        """Concatenated `message.content` (chat) or `response` (generate) of all objects."""
        parts = []
        for obj in self.objects:
            if "message" in obj:
                parts.append(obj["message"].get("content", ""))
            elif "response" in obj:
                parts.append(obj["response"])
        return "".join(parts)

    def thinking(self) -> str:
        parts = []
        for obj in self.objects:
            if "message" in obj:
                parts.append(obj["message"].get("thinking", ""))
            else:
                parts.append(obj.get("thinking", ""))
        return "".join(parts)


def check_object(validator: OpenAPIValidator, path: str, obj: Any, *, streamed: bool) -> None:
    """Validate one JSON body or NDJSON line from `path`."""
    assert isinstance(obj, dict), f"{path} sent a non-object: {obj!r}"
    if "error" in obj:
        validator.validate("ErrorResponse", obj)
        assert isinstance(obj["error"], str) and obj["error"]
        return
    single, line = RESPONSE_SCHEMAS[path]
    if streamed and line is not None:
        validator.validate(line, obj)
        if path in ("/api/chat", "/api/generate"):
            validator.validate(single, obj)
    else:
        validator.validate(single, obj)


def call(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    validator: OpenAPIValidator | None = None,
) -> Exchange:
    """One request to `url + path`; every JSON body/line is validated against the OpenAPI."""
    validator = validator or openapi_validator()
    with (
        httpx.Client(base_url=url, timeout=timeout, verify=False) as client,  # plain http only
        client.stream(method, path, json=body, headers=headers) as response,
    ):
        content_type = response.headers.get("content-type", "")
        streamed = content_type.startswith("application/x-ndjson")
        exchange = Exchange(response.status_code, response.headers, "", streamed=streamed)
        if streamed:
            # NDJSON lines end at "\n" only; httpx's iter_lines would also split at U+0085 & co.
            data = b"".join(response.iter_bytes())
            exchange.text = data.decode()
            for line in exchange.text.split("\n"):
                if not line:
                    continue
                try:
                    exchange.objects.append(json.loads(line))
                except ValueError:
                    exchange.malformed.append(line)
        else:
            exchange.text = response.read().decode()
            if content_type.startswith("application/json") and exchange.text:
                exchange.objects.append(json.loads(exchange.text))
    if path in RESPONSE_SCHEMAS or exchange.status >= 400:
        for obj in exchange.objects:
            if path in RESPONSE_SCHEMAS:
                check_object(validator, path, obj, streamed=streamed)
            else:
                validator.validate("ErrorResponse", obj)
    return exchange
