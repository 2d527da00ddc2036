"""The documents of one turn: every attachment on the chat's active path (and those of the
question being sent), ranked for the question, ready for the budget and the request."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from app.chat.context import ContextPlan
from app.chat.documents.chunks import Chunk, split_chunks
from app.chat.documents.extract import Extracted
from app.chat.documents.prompt import PoolDocument, TurnDocuments, flat_chunks, rank, turn_documents
from app.chat.documents.select import cosine_order, named_pages, pages_first
from app.errors import PhiDeskError
from app.store import Database
from app.store.attachments import NewAttachment, NewChunk, PooledAttachment
from app.store.records import SentDocuments

log = logging.getLogger(__name__)

Embedder = Callable[[str, Sequence[str]], Awaitable[list[list[float]]]]
"""`embed(model, texts)`: one vector per text (Ollama's `/api/embed`)."""


def to_new_attachment(found: Extracted) -> NewAttachment:
    """What the store keeps of an extracted file: bytes, text and parts."""
    chunks = tuple(
        NewChunk(c.seq, c.text, c.first_page, c.last_page, c.headings)
        for c in split_chunks(found.blocks)
    )
    return NewAttachment(
        found.name, found.sha256, found.kind, found.data, found.text, chunks, found.pages
    )


def pool_document(item: PooledAttachment) -> PoolDocument:
    chunks = tuple(Chunk(c.seq, c.text, c.first_page, c.last_page, c.headings) for c in item.chunks)
    a = item.attachment
    return PoolDocument(a.id, a.name, a.sha256, item.text, chunks)


def pending_documents(files: Sequence[Extracted]) -> list[PoolDocument]:
    """Files not stored yet (a draft's), as pool documents with ids -1, -2, …"""
    return [
        PoolDocument(-(i + 1), f.name, f.sha256, f.text, tuple(split_chunks(f.blocks)))
        for i, f in enumerate(files)
    ]


@dataclass
class DocumentPool:
    """The documents a turn may draw on and the order of their parts for its question."""

    documents: list[PoolDocument]
    question: str
    order: list[int]
    method: str = "bm25"
    built: TurnDocuments | None = field(default=None, repr=False)
    """The offer made to the last budget asked (its part tokens are those of that budget)."""

    def offer(self, tokens: Callable[[str], int]) -> TurnDocuments | None:
        self.built = turn_documents(
            self.documents, self.question, tokens, order=self.order, method=self.method
        )
        return self.built

    def prefix(self, plan: ContextPlan) -> str:
        """The blocks put before the question (see `app.chat.documents.prompt`)."""
        return self.built.prefix(plan) if self.built is not None else ""

    def sent(self, plan: ContextPlan) -> SentDocuments | None:
        """What the provenance keeps: the parts sent, their tokens, how they were chosen."""
        if self.built is None:
            return None
        return SentDocuments(self.method, plan.document_tokens, tuple(self.built.chosen(plan)))


class DocumentGatherer:
    """Builds each turn's `DocumentPool`; keeps the embeddings it asked for (per model and
    content) for the life of the session."""

    def __init__(
        self, embedder: Embedder | None = None, embedding_model: Callable[[], str] | None = None
    ) -> None:
        self._embedder = embedder
        self._model = embedding_model or (lambda: "")
        self._vectors: dict[tuple[str, str], list[float]] = {}

    async def gather(
        self,
        io: Callable[[Callable[[], list[PooledAttachment]]], Awaitable[list[PooledAttachment]]],
        db: Database,
        message_ids: Sequence[int],
        question: str,
        pending: Sequence[Extracted] = (),
    ) -> DocumentPool | None:
        """The pool of a turn: the attachments of `message_ids` (the path, in order) and
        `pending` files; None when there are none."""
        ids = list(message_ids)
        stored = await io(lambda: db.attachment_pool(ids)) if ids else []
        documents = [pool_document(p) for p in stored]
        seen = {d.sha256 for d in documents}
        documents += [d for d in pending_documents(pending) if d.sha256 not in seen]
        if not documents:
            return None
        model = self._model()
        if model and self._embedder is not None:
            try:
                order = await self._embedding_order(model, documents, question)
                return DocumentPool(documents, question, order, f"embeddings:{model}")
            except PhiDeskError as exc:
                log.warning("ranking by embeddings (%s) failed, BM25 instead: %s", model, exc)
        return DocumentPool(documents, question, rank(documents, question))

    async def _embedding_order(
        self, model: str, documents: list[PoolDocument], question: str
    ) -> list[int]:
        assert self._embedder is not None
        flat = flat_chunks(documents)
        keys = [(model, f"{documents[i].sha256}/{c.seq}") for i, c in flat]
        missing = [n for n, key in enumerate(keys) if key not in self._vectors]
        texts = [flat[n][1].text for n in missing] + [question]
        vectors = await self._embedder(model, texts)
        for n, vector in zip(missing, vectors, strict=False):
            self._vectors[keys[n]] = vector
        order = cosine_order([self._vectors[k] for k in keys], vectors[-1])
        return pages_first(order, [c.pages for _, c in flat], named_pages(question))


def leaves_machine(host: str) -> bool:
    """Does a request to `host` (a base URL) leave this computer?"""
    name = (urlsplit(host if "//" in host else f"//{host}").hostname or "").lower()
    if name in ("localhost", "") or name.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(name).is_loopback
    except ValueError:
        return True
