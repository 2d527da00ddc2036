"""Documents attached to a question: their text (`extract`), their parts (`chunks`), which parts
go into a request (`select`) and how they are written into it (`prompt`).

No Qt and no database here: the store keeps what `extract` and `chunks` produce
(`app.store.attachments`), the session asks `prompt` what to send with each turn.
"""

from app.chat.documents.blocks import Block
from app.chat.documents.chunks import Chunk, split_chunks
from app.chat.documents.extract import (
    DEFAULT_LIMIT_MB,
    DocumentRefused,
    Extracted,
    extract,
    extract_bytes,
)

__all__ = [
    "DEFAULT_LIMIT_MB",
    "Block",
    "Chunk",
    "DocumentRefused",
    "Extracted",
    "extract",
    "extract_bytes",
    "split_chunks",
]
