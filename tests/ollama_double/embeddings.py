"""The double's embeddings: deterministic vectors in which texts sharing words are close."""

from __future__ import annotations

import hashlib
import math
import re

EMBED_DIMENSIONS = 256
_WORD = re.compile(r"\w+")


def embed_vector(text: str) -> list[float]:
    """The text's lower-cased words hashed into EMBED_DIMENSIONS buckets, L2-normalised (all
    zeros for a text without words)."""
    vector = [0.0] * EMBED_DIMENSIONS
    for word in _WORD.findall(text.lower()):
        bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
        vector[bucket % EMBED_DIMENSIONS] += 1.0
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector
