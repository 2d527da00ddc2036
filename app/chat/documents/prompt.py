"""How attached documents go into a request, and what is recorded of them.

Every attachment on the chat's active path is in the pool of a turn. Each part sent becomes one
block before the text of the newest question, in reading order (document by document, part by
part):

    [Attached file report.pdf — page 212 (part 141 of 300)]
    ```
    …the part's text…
    ```

(a whole document's label is "whole"; the fence is longer than any run of backticks inside).
The blocks are followed by the question itself. The context meter's "documents" share is the sum
of the blocks' estimated tokens, which is what `ContextPlan.document_tokens` holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from app.chat.context import BudgetPart, ContextPlan, DocumentOffer
from app.chat.documents.chunks import Chunk, page_ranges
from app.chat.documents.select import bm25_order, named_pages, pages_first
from app.store.records import SentPart

_BACKTICKS = re.compile(r"`+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
WHOLE = "whole"


@dataclass(frozen=True, slots=True)
class PoolDocument:
    """An attached document a turn may draw on."""

    attachment_id: int
    name: str
    sha256: str
    text: str
    chunks: tuple[Chunk, ...]


@dataclass(frozen=True)
class TurnDocuments:
    """The documents of one turn, offered to the budget, and written out once it chose."""

    offer: DocumentOffer
    blocks: Mapping[str, str]
    parts: Mapping[str, SentPart]
    order: Mapping[str, tuple[int, int]]
    method: str
    """"bm25", or "embeddings:<model>"."""

    def chosen(self, plan: ContextPlan) -> list[SentPart]:
        """The parts the plan sends, in reading order."""
        keys = sorted(plan.document_parts, key=lambda k: self.order[k])
        return [self.parts[k] for k in keys]

    def prefix(self, plan: ContextPlan) -> str:
        """The text put before the question: one block per part sent, in reading order."""
        keys = sorted(plan.document_parts, key=lambda k: self.order[k])
        return "".join(self.blocks[k] for k in keys)


def flat_chunks(pool: Sequence[PoolDocument]) -> list[tuple[int, Chunk]]:
    """Every part of every document of the pool: (document index, part)."""
    return [(index, chunk) for index, doc in enumerate(pool) for chunk in doc.chunks]


def rank(pool: Sequence[PoolDocument], question: str) -> list[int]:
    """BM25 order over `flat_chunks(pool)`, parts on pages the question names first."""
    flat = flat_chunks(pool)
    order = bm25_order([chunk.text for _, chunk in flat], question)
    return pages_first(order, [chunk.pages for _, chunk in flat], named_pages(question))


def turn_documents(
    pool: Sequence[PoolDocument],
    question: str,
    tokens: Callable[[str], int],
    *,
    order: Sequence[int] | None = None,
    method: str = "bm25",
) -> TurnDocuments | None:
    """The offer for a turn: each document whole, and all their parts in `order` (indexes into
    `flat_chunks(pool)`; by default BM25 for `question`). `tokens(text)` is the budget's
    estimate. None when the pool is empty."""
    if not pool:
        return None
    blocks: dict[str, str] = {}
    parts: dict[str, SentPart] = {}
    reading: dict[str, tuple[int, int]] = {}
    whole: list[BudgetPart] = []
    for index, doc in enumerate(pool):
        key = f"{index}/{WHOLE}"
        blocks[key] = render_block(doc.name, WHOLE, doc.text)
        parts[key] = SentPart(
            doc.attachment_id, doc.name, doc.sha256, None, len(doc.chunks),
            tuple(sorted({p for c in doc.chunks for p in c.pages})),
            tokens=tokens(blocks[key]),
        )  # fmt: skip
        reading[key] = (index, -1)
        whole.append(BudgetPart(key, parts[key].tokens))
    flat = flat_chunks(pool)
    keys: list[str] = []
    for index, chunk in flat:
        doc = pool[index]
        key = f"{index}/{chunk.seq}"
        sent = SentPart(
            doc.attachment_id, doc.name, doc.sha256, chunk.seq, len(doc.chunks),
            chunk.pages, chunk.headings,
        )  # fmt: skip
        blocks[key] = render_block(doc.name, sent.location(), chunk.text)
        parts[key] = SentPart(
            sent.attachment_id, sent.name, sent.sha256, sent.seq, sent.parts,
            sent.pages, sent.headings, tokens(blocks[key]),
        )  # fmt: skip
        reading[key] = (index, chunk.seq)
        keys.append(key)
    ranked = rank(pool, question) if order is None else order
    offer = DocumentOffer(
        tuple(whole), tuple(BudgetPart(keys[i], parts[keys[i]].tokens) for i in ranked)
    )
    return TurnDocuments(offer, blocks, parts, reading, method)


def render_block(name: str, label: str, text: str) -> str:
    """One part as it goes into the request."""
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(text)), default=0)
    fence = "`" * max(3, longest + 1)
    shown = _CONTROLS.sub(" ", name)
    return f"[Attached file {shown} — {label}]\n{fence}\n{text}\n{fence}\n\n"


def chip_text(sent: Sequence[SentPart], total_parts: int) -> str:
    """What an attachment's chip says of one answer: "whole", or "7 of 42 parts (pages 3–5,
    9)"; "not sent" when nothing of it fitted."""
    if any(p.seq is None for p in sent):
        return WHOLE
    if not sent:
        return "not sent"
    if len(sent) >= total_parts:
        return WHOLE
    pages = [page for part in sent for page in part.pages]
    shown = page_ranges(pages)
    where = f" ({'pages' if len(set(pages)) > 1 else 'page'} {shown})" if pages else ""
    return f"{len(sent)} of {total_parts} parts{where}"
