"""Ollama embeddings (`POST /api/embed`): vectors for texts, in batches, for ranking the parts
of attached documents when the user chose an embedding model."""

from __future__ import annotations

from collections.abc import Sequence

from app.backend.client import OllamaClient
from app.backend.errors import OllamaError
from app.backend.names import validate_model_name

BATCH = 32
"""Texts per request: large enough to be quick, small enough to stay under the answer limit."""


async def embed(client: OllamaClient, model: str, texts: Sequence[str]) -> list[list[float]]:
    """One vector per text, in order. Raises the typed errors of the client (a missing model
    is `ModelNotFound`), or `OllamaError` when the answer is not a list of vectors."""
    validate_model_name(model)
    vectors: list[list[float]] = []
    for start in range(0, len(texts), BATCH):
        batch = list(texts[start : start + BATCH])
        raw = await client._raw_json(  # the official client's typed answer adds nothing here
            "POST", "/api/embed", {"model": model, "input": batch, "truncate": True}
        )
        found = raw.get("embeddings") if isinstance(raw, dict) else None
        if not isinstance(found, list) or len(found) != len(batch):
            raise OllamaError(
                f"the server at {client.host} answered /api/embed without one vector per text"
            )
        for vector in found:
            if not isinstance(vector, list) or not all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in vector
            ):
                raise OllamaError(
                    f"the server at {client.host} sent an embedding that is not numbers"
                )
            vectors.append([float(x) for x in vector])
    return vectors
