"""Engines: the servers a chat can talk to (Ollama, and any OpenAI-compatible server)."""

from app.backend.engines.base import (
    DEFAULT_ENGINE,
    ENGINE_KINDS,
    Engine,
    EngineKind,
    EngineTurn,
    TurnFacts,
)

__all__ = ["DEFAULT_ENGINE", "ENGINE_KINDS", "Engine", "EngineKind", "EngineTurn", "TurnFacts"]
