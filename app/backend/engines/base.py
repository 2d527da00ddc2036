"""What the chat session needs from an engine (a server that answers chats), whatever it is.

Two kinds exist: `ollama` (Ollama's native API, `app.backend.engines.ollama_engine`) and `openai`
(any OpenAI-compatible server: vLLM, TGI, llama.cpp, LM Studio, hosted Phi-4;
`app.backend.engines.openai_engine`). Both stream the same events (`app.backend.events`): thinking
and content deltas, `StreamStalled`, then one `Done` with `ChatStats`; both raise the typed errors
of `app.backend.errors` (and `app.backend.engines.errors`), each one sentence.

A turn holds its engine with `acquire()` for as long as the answer streams and asks the facts of
that answer (`facts`) of the same server before `release()`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from app.backend.events import ChatEvent
from app.backend.models import ModelInfo

EngineKind = Literal["ollama", "openai"]
ENGINE_KINDS: tuple[EngineKind, ...] = ("ollama", "openai")
DEFAULT_ENGINE = "ollama"
"""The name of the default engine: the Ollama host PhiDesk was started with."""

KeepAlive = float | str | None


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """What the server that answered can tell about it afterwards (each may be unknown)."""

    effective_num_ctx: int | None = None
    gpu_percent: float | None = None
    digest: str | None = None
    server_version: str | None = None


class EngineTurn(Protocol):
    """One answer's hold on an engine (from `Engine.acquire()` until `release()`)."""

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
    ) -> AsyncGenerator[ChatEvent, None]: ...

    async def facts(self, model: str) -> TurnFacts: ...

    async def release(self) -> None: ...


class Engine(Protocol):
    """A server that answers chats, as the session sees it."""

    name: str
    kind: EngineKind

    @property
    def host(self) -> str: ...

    @property
    def stall_timeout(self) -> float: ...

    async def show(self, model: str) -> ModelInfo:
        """The model's details (its context length above all); `ModelNotFound` when the
        server has no such model."""
        ...

    def window(self, wanted: int | None, info: ModelInfo | None) -> int | None:
        """The context window a turn uses: `wanted` (the chat's num_ctx) within what the model
        takes; None when nobody knows it (the caller must ask)."""
        ...

    def turn_options(self, model: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """The options a turn sends, from the chat's own (`temperature`, `seed`, …)."""
        ...

    @property
    def server_version(self) -> str | None:
        """The server's version as last learnt, if any."""
        ...

    def acquire(self) -> EngineTurn: ...
