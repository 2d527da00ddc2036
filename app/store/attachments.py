"""Files attached to messages (migration 0007), as part of `Database`.

A file's bytes are kept once per SHA-256 (`attachment_files`), with the text extracted from them
and the parts that text was cut into (`attachment_chunks`); `message_attachments` says which
message carries which file under which name. Nothing of a file is read with the messages (the
200-message read path never touches these tables); `attachments()` gives the chips' facts,
`attachment_pool()` the text and parts a turn draws on, `attachment_data()` the original bytes.
A trigger deletes a file once no message carries it (when the trash is purged, a refused turn's
message is discarded, or a staged import is cleaned away).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.store.errors import NotFound
from app.store.models import (
    AttachmentChunkRow,
    AttachmentFileRow,
    MessageAttachmentRow,
    MessageRow,
    ProvenanceRow,
    utcnow,
)
from app.store.records import Attachment, SentDocuments
from app.store.sent import documents_json
from app.store.transactions import Transactions
from app.store.tree import live_row


@dataclass(frozen=True, slots=True)
class NewChunk:
    """A part of a file's text to keep."""

    seq: int
    text: str
    first_page: int | None = None
    last_page: int | None = None
    headings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewAttachment:
    """A file to attach: its name, bytes and what was extracted from them."""

    name: str
    sha256: str
    kind: str
    data: bytes
    text: str
    chunks: tuple[NewChunk, ...]
    pages: int | None = None


@dataclass(frozen=True, slots=True)
class PooledAttachment:
    """An attachment with its text and parts, for a turn."""

    attachment: Attachment
    text: str
    chunks: tuple[NewChunk, ...]


_FACTS = (
    MessageAttachmentRow.id,
    MessageAttachmentRow.message_id,
    MessageAttachmentRow.name,
    AttachmentFileRow.sha256,
    AttachmentFileRow.kind,
    AttachmentFileRow.size,
    AttachmentFileRow.pages,
    sa.select(sa.func.count(AttachmentChunkRow.id))
    .where(AttachmentChunkRow.file_id == AttachmentFileRow.id)
    .scalar_subquery(),
)


def _file_id(session: Session, new: NewAttachment) -> int:
    """The row of these bytes, added with their text and parts if they are new."""
    found = session.scalar(
        sa.select(AttachmentFileRow.id).where(AttachmentFileRow.sha256 == new.sha256)
    )
    if found is not None:
        return int(found)
    row = AttachmentFileRow(
        sha256=new.sha256,
        kind=new.kind,
        size=len(new.data),
        pages=new.pages,
        data=new.data,
        text=new.text,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    session.execute(
        sa.insert(AttachmentChunkRow),
        [
            {
                "file_id": row.id,
                "seq": c.seq,
                "text": c.text,
                "first_page": c.first_page,
                "last_page": c.last_page,
                "headings": list(c.headings),
            }
            for c in new.chunks
        ],
    )
    return row.id


def _to_attachment(values: Sequence[object]) -> Attachment:
    id_, message_id, name, sha256, kind, size, pages, parts = values
    return Attachment(
        id=int(id_),  # type: ignore[call-overload]
        message_id=int(message_id),  # type: ignore[call-overload]
        name=str(name),
        sha256=str(sha256),
        kind=str(kind),
        size=int(size),  # type: ignore[call-overload]
        pages=None if pages is None else int(pages),  # type: ignore[call-overload]
        parts=int(parts or 0),  # type: ignore[call-overload]
    )


class AttachmentQueries(Transactions):
    """The attachments part of `Database`."""

    def attach(self, message_id: int, files: Sequence[NewAttachment]) -> list[Attachment]:
        """Attach `files` to a message, in one transaction: all of them or none. The same bytes
        are stored once however often, and under whatever names, they are attached."""
        with self._writing() as session:
            row = live_row(session, message_id)
            start = session.scalar(
                sa.select(sa.func.count(MessageAttachmentRow.id)).where(
                    MessageAttachmentRow.message_id == row.id
                )
            )
            added = []
            for position, new in enumerate(files, start=int(start or 0)):
                link = MessageAttachmentRow(
                    message_id=row.id,
                    file_id=_file_id(session, new),
                    name=new.name,
                    position=position,
                )
                session.add(link)
                session.flush()
                added.append(link.id)
        return [a for a in self.attachments([message_id])[message_id] if a.id in added]

    def copy_attachments(self, source_id: int, target_id: int) -> None:
        """Give message `target_id` the attachments of `source_id` (an edited question keeps
        its files); the files themselves are not copied."""
        with self._writing() as session:
            live_row(session, target_id)
            rows = session.scalars(
                sa.select(MessageAttachmentRow)
                .where(MessageAttachmentRow.message_id == source_id)
                .order_by(MessageAttachmentRow.position)
            ).all()
            for row in rows:
                session.add(
                    MessageAttachmentRow(
                        message_id=target_id,
                        file_id=row.file_id,
                        name=row.name,
                        position=row.position,
                    )
                )

    def attachments(self, message_ids: Sequence[int]) -> dict[int, list[Attachment]]:
        """For each message: its attachments in order (no contents; [] for none)."""
        result: dict[int, list[Attachment]] = {int(i): [] for i in message_ids}
        if not result:
            return result
        with self._reading() as session:
            rows = session.execute(
                sa.select(*_FACTS)
                .join(AttachmentFileRow, AttachmentFileRow.id == MessageAttachmentRow.file_id)
                .where(MessageAttachmentRow.message_id.in_(list(result)))
                .order_by(MessageAttachmentRow.message_id, MessageAttachmentRow.position)
            ).all()
        for values in rows:
            attachment = _to_attachment(tuple(values))
            result[attachment.message_id].append(attachment)
        return result

    def attachment_pool(self, message_ids: Sequence[int]) -> list[PooledAttachment]:
        """The attachments of these messages with their text and parts, in the messages'
        order; a file attached twice on the path is in the pool once (its first time)."""
        order = {int(m): i for i, m in enumerate(message_ids)}
        listed = self.attachments(list(order))
        pool: list[Attachment] = []
        seen: set[str] = set()
        for message_id in sorted(listed, key=order.__getitem__):
            for attachment in listed[message_id]:
                if attachment.sha256 not in seen:
                    seen.add(attachment.sha256)
                    pool.append(attachment)
        if not pool:
            return []
        with self._reading() as session:
            rows = session.execute(
                sa.select(
                    AttachmentFileRow.sha256, AttachmentFileRow.id, AttachmentFileRow.text
                ).where(AttachmentFileRow.sha256.in_(list(seen)))
            ).all()
            files = {str(sha): int(id_) for sha, id_, _ in rows}
            texts = {int(id_): str(text) for _, id_, text in rows}
            chunks: dict[int, list[NewChunk]] = {}
            for c in session.scalars(
                sa.select(AttachmentChunkRow)
                .where(AttachmentChunkRow.file_id.in_(list(files.values())))
                .order_by(AttachmentChunkRow.file_id, AttachmentChunkRow.seq)
            ):
                chunks.setdefault(c.file_id, []).append(
                    NewChunk(c.seq, c.text, c.first_page, c.last_page, tuple(c.headings or ()))
                )
        return [
            PooledAttachment(a, texts[files[a.sha256]], tuple(chunks.get(files[a.sha256], ())))
            for a in pool
        ]

    def attachment_data(self, attachment_id: int) -> tuple[str, bytes]:
        """(name, original bytes) of an attachment (to open it, or put it in a zip export)."""
        with self._reading() as session:
            found = session.execute(
                sa.select(MessageAttachmentRow.name, AttachmentFileRow.data)
                .join(AttachmentFileRow, AttachmentFileRow.id == MessageAttachmentRow.file_id)
                .where(MessageAttachmentRow.id == attachment_id)
            ).first()
        if found is None:
            raise NotFound(f"attachment {attachment_id} does not exist (it may have been deleted)")
        return str(found[0]), bytes(found[1])

    def attachment_part(self, attachment_id: int, seq: int | None) -> str:
        """The text of one part of an attachment (`seq` None: all of its text)."""
        with self._reading() as session:
            file_id = session.scalar(
                sa.select(MessageAttachmentRow.file_id).where(
                    MessageAttachmentRow.id == attachment_id
                )
            )
            text = None
            if file_id is not None and seq is None:
                text = session.scalar(
                    sa.select(AttachmentFileRow.text).where(AttachmentFileRow.id == file_id)
                )
            elif file_id is not None:
                text = session.scalar(
                    sa.select(AttachmentChunkRow.text).where(
                        AttachmentChunkRow.file_id == file_id, AttachmentChunkRow.seq == seq
                    )
                )
        if text is None:
            raise NotFound(f"attachment {attachment_id} has no such part (it may be deleted)")
        return str(text)

    def record_documents(self, answer_id: int, sent: SentDocuments) -> None:
        """Keep in the answer's provenance which parts of which documents were sent."""
        with self._writing() as session:
            row = session.get(ProvenanceRow, answer_id)
            if row is None:
                if session.get(MessageRow, answer_id) is None:
                    raise NotFound(f"message {answer_id} does not exist (it may have been deleted)")
                row = ProvenanceRow(message_id=answer_id, model="")
                session.add(row)
            row.documents = documents_json(sent)

    def attachment_file_count(self) -> int:
        """How many distinct files are kept (for tests and diagnostics)."""
        with self._reading() as session:
            return int(session.scalar(sa.select(sa.func.count(AttachmentFileRow.id))) or 0)
