"""The parts of attached documents an answer's question carried, as kept in its provenance
(`message_provenance.documents`, JSON): read leniently, since an import may bring anything."""

from __future__ import annotations

from typing import Any

from app.store.records import SentDocuments, SentPart


def documents_json(sent: SentDocuments) -> dict[str, Any]:
    return {
        "method": sent.method,
        "tokens": sent.tokens,
        "parts": [
            {
                "attachment": p.attachment_id,
                "name": p.name,
                "sha256": p.sha256,
                "part": p.seq,
                "of": p.parts,
                "pages": list(p.pages),
                "headings": list(p.headings),
                "tokens": p.tokens,
            }
            for p in sent.parts
        ],
    }


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _part(raw: object) -> SentPart | None:
    if not isinstance(raw, dict):
        return None
    seq = raw.get("part")
    pages = raw.get("pages")
    headings = raw.get("headings")
    return SentPart(
        attachment_id=_int(raw.get("attachment")),
        name=str(raw.get("name", "")),
        sha256=str(raw.get("sha256", "")),
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        parts=_int(raw.get("of")),
        pages=tuple(p for p in pages if isinstance(p, int)) if isinstance(pages, list) else (),
        headings=tuple(str(h) for h in headings) if isinstance(headings, list) else (),
        tokens=_int(raw.get("tokens")),
    )


def sent_documents(raw: object) -> SentDocuments | None:
    if not isinstance(raw, dict):
        return None
    parts = raw.get("parts")
    found = [_part(p) for p in parts] if isinstance(parts, list) else []
    return SentDocuments(
        method=str(raw.get("method", "")),
        tokens=_int(raw.get("tokens")),
        parts=tuple(p for p in found if p is not None),
    )
