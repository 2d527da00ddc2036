"""The Ollama engine: the `Engine` face of a `Connection` to an Ollama server.

What only Ollama has stays here: `num_ctx` is always sent (PhiDesk asks for a window, capped at
the model's trained length), the GPU offload options of the model, and the facts of a turn from
`/api/ps`, `/api/tags` and `/api/version`. A turn leases the client current when it starts, so it
finishes on that server even if the host is switched meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

from app.backend.client import OllamaClient
from app.backend.connection import Connection
from app.backend.engines.base import DEFAULT_ENGINE, EngineKind, KeepAlive, TurnFacts
from app.backend.errors import OllamaError
from app.backend.events import ChatEvent
from app.backend.models import ModelInfo

log = logging.getLogger(__name__)

DEFAULT_NUM_CTX = 8192
"""The window PhiDesk asks for when a chat does not say (capped at the model's trained
length). Ollama's own default changes between versions (docs/ollama-behaviour.md §2.2), so it
is always sent."""


def same_model(a: str, b: str) -> bool:
    """Ollama names one model with or without `:latest`."""

    def norm(name: str) -> str:
        return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"

    return norm(a) == norm(b)


class OllamaEngine:
    """An Ollama server behind a `Connection`. `model_options(model)` gives the options every
    chat with that model sends (the GPU offload preferences); a chat's own options win."""

    kind: EngineKind = "ollama"

    def __init__(
        self,
        connection: Connection,
        *,
        name: str = DEFAULT_ENGINE,
        model_options: Callable[[str], Mapping[str, Any]] | None = None,
    ) -> None:
        self.name = name
        self.connection = connection
        self.model_options = model_options
        self._versions: dict[str, str] = {}
        """Ollama's version per host (asked once, after the first answer from it)."""

    def __repr__(self) -> str:
        return f"OllamaEngine({self.name!r}, {self.connection.host!r})"

    @property
    def client(self) -> OllamaClient:
        return self.connection.client

    @property
    def host(self) -> str:
        return self.connection.host

    @property
    def stall_timeout(self) -> float:
        return self.connection.client.stall_timeout

    @property
    def server_version(self) -> str | None:
        return self._versions.get(self.connection.host)

    async def show(self, model: str) -> ModelInfo:
        return await self.connection.client.show(model)

    def window(self, wanted: int | None, info: ModelInfo | None) -> int:
        window = wanted or DEFAULT_NUM_CTX
        if info is not None and info.context_length:
            window = min(window, info.context_length)
        return window

    def turn_options(self, model: str, options: Mapping[str, Any]) -> dict[str, Any]:
        sent: dict[str, Any] = {}
        if self.model_options is not None:
            sent.update(self.model_options(model))
        sent.update(options)
        return sent

    def acquire(self) -> OllamaTurn:
        return OllamaTurn(self, self.connection.acquire())


class OllamaTurn:
    """One answer's lease on the Ollama client that was current when it started."""

    def __init__(self, engine: OllamaEngine, client: OllamaClient) -> None:
        self.engine = engine
        self.client = client
        self._held = True

    def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        options: Mapping[str, Any] | None = None,
        num_ctx: int,
        keep_alive: KeepAlive = None,
        think: bool | str | None = None,
        starts_in_thinking: bool = False,
    ) -> AsyncGenerator[ChatEvent, None]:
        return self.client.chat(
            model,
            messages,
            options=options,
            num_ctx=num_ctx,
            keep_alive=keep_alive,
            think=think,
            starts_in_thinking=starts_in_thinking,
        )

    async def facts(self, model: str) -> TurnFacts:
        """After a turn: the effective num_ctx and GPU share (`/api/ps`), the digest, and
        Ollama's version, each if known; asked of the server that answered."""
        client = self.client
        effective: int | None = None
        gpu: float | None = None
        digest: str | None = None
        versions = self.engine._versions
        try:
            loaded = await client.loaded()
            entry = next((m for m in loaded if same_model(m.name, model)), None)
            if entry is not None:
                effective, gpu = entry.context_length, float(entry.gpu_percent)
            installed = await client.list_models()
            digest = next((m.digest for m in installed if same_model(m.name, model)), None)
            if client.host not in versions:
                versions[client.host] = await client.version()
        except OllamaError as exc:
            log.info("provenance lookup failed: %s", exc)
        return TurnFacts(effective, gpu, digest, versions.get(client.host))

    @property
    def current(self) -> bool:
        """The leased client is still the connection's current one."""
        return self.client is self.engine.connection.client

    async def release(self) -> None:
        if self._held:
            self._held = False
            await self.engine.connection.release(self.client)
