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

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.store.errors import NotFound
from app.store.models import (
    AttachmentChunkRow,
    AttachmentFileRow,
    ChatRow,
    MessageAttachmentRow,
    MessageRow,
    ProvenanceRow,
    utcnow,
)
from app.store.records import Attachment, SentDocuments
from app.store.sent import documents_json
from app.store.transactions import Transactions
from app.store.tree import _PATH, live_row


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


_ATTACHED_ON_PATH = sa.text(
    _PATH + " SELECT p.id, (SELECT c.id FROM path AS c JOIN messages AS a ON a.id = c.id"
    " WHERE c.parent_id = p.id AND a.role = 'assistant') FROM path AS p"
    " JOIN messages AS m ON m.id = p.id WHERE m.role = 'user' AND EXISTS"
    " (SELECT 1 FROM message_attachments AS f WHERE f.message_id = p.id) ORDER BY p.depth DESC"
)
"""The questions on the path ending at :leaf that carry attachments, first first, each with
the answer after it on the path (NULL: none)."""


@dataclass(frozen=True, slots=True)
class ImportedAttachment:
    """A file attached to an imported message, as an export holds it: its text and parts, and
    its original bytes when the export carries them (`original` gives them in pieces; None: not
    available, e.g. a Markdown file alone, which holds only the text). `id` names it for the
    `attachment` of the parts in the chat's imported provenance."""

    id: int
    name: str
    sha256: str
    kind: str
    size: int
    pages: int | None
    text: str
    chunks: Iterable[NewChunk]
    original: Callable[[], Iterator[bytes]] | None


@dataclass(frozen=True, slots=True)
class StoredText:
    """What an export writes of a kept file: its text and parts, and whether its original
    bytes are kept (not for a file imported from a Markdown file alone)."""

    text: str
    chunks: tuple[NewChunk, ...]
    original: bool


def _insert_chunks(session: Session, file_id: int, chunks: Iterable[NewChunk]) -> None:
    rows = [
        {
            "file_id": file_id,
            "seq": c.seq,
            "text": c.text,
            "first_page": c.first_page,
            "last_page": c.last_page,
            "headings": list(c.headings),
        }
        for c in chunks
    ]
    if rows:
        session.execute(sa.insert(AttachmentChunkRow), rows)


def _write_original(
    session: Session, file_id: int, size: int, pieces: Iterator[bytes], *, room: bool = True
) -> None:
    """Write a file's bytes into its row a piece at a time (SQLite's incremental blob I/O), so
    that they are never held in memory (SQLite makes room for `size` bytes once, while the row
    is written; `room` False: the row has it already). The pieces must add up to `size`."""
    if room:
        session.execute(
            sa.update(AttachmentFileRow)
            .where(AttachmentFileRow.id == file_id)
            .values(data=sa.func.zeroblob(size))
        )
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.blobopen("attachment_files", "data", file_id) as blob:
        written = 0
        for piece in pieces:
            if written + len(piece) > size:
                raise ValueError("an original holds more bytes than its size")
            blob.write(piece)
            written += len(piece)
    if written != size:
        raise ValueError("an original holds fewer bytes than its size")


def stage_attachments(
    session: Session, message_id: int, files: Sequence[ImportedAttachment]
) -> list[int]:
    """Attach imported files to a message in the import's transaction: a file kept already
    (same SHA-256) is shared, and gets its original if it had none; a new one is kept with its
    text and parts, and its original bytes when given (else none: `attachment_data` then says
    it is not available). Returns the new attachments' ids, in order."""
    links = []
    for position, new in enumerate(files):
        found = session.execute(
            sa.select(
                AttachmentFileRow.id, sa.func.length(AttachmentFileRow.data), AttachmentFileRow.size
            ).where(AttachmentFileRow.sha256 == new.sha256)
        ).first()
        if found is None:
            file_id = session.execute(
                sa.insert(AttachmentFileRow)
                .values(
                    sha256=new.sha256,
                    kind=new.kind,
                    size=new.size,
                    pages=new.pages,
                    data=b"" if new.original is None else sa.func.zeroblob(new.size),
                    text=new.text,
                    created_at=utcnow(),
                )
                .returning(AttachmentFileRow.id)
            ).scalar_one()
            _insert_chunks(session, file_id, new.chunks)
            if new.original is not None:
                _write_original(session, file_id, new.size, new.original(), room=False)
        else:
            file_id = int(found[0])
            missing = not found[1] and found[2]
            if missing and new.original is not None and new.size == found[2]:
                _write_original(session, file_id, new.size, new.original())
        link = MessageAttachmentRow(
            message_id=message_id, file_id=file_id, name=new.name, position=position
        )
        session.add(link)
        session.flush()
        links.append(link.id)
    return links


def _file_id(session: Session, new: NewAttachment) -> int:
    """The row of these bytes, added with their text and parts if they are new."""
    found = session.execute(
        sa.select(AttachmentFileRow.id, sa.func.length(AttachmentFileRow.data)).where(
            AttachmentFileRow.sha256 == new.sha256
        )
    ).first()
    if found is not None:
        if not found[1] and new.data:  # imported without its original: now it is here
            session.execute(
                sa.update(AttachmentFileRow)
                .where(AttachmentFileRow.id == found[0])
                .values(data=new.data, size=len(new.data))
            )
        return int(found[0])
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
    _insert_chunks(session, row.id, new.chunks)
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

    def attached_on_path(self, chat_id: int) -> list[tuple[int, int | None]]:
        """The questions on the chat's active path that carry attachments, first first, each
        with the answer shown after it (None: not answered yet), in one statement whatever
        the path's length."""
        with self._reading() as session:
            chat = session.get(ChatRow, chat_id)
            if chat is None or chat.active_leaf_id is None:
                return []
            rows = session.execute(_ATTACHED_ON_PATH, {"leaf": chat.active_leaf_id}).all()
        return [(int(q), None if a is None else int(a)) for q, a in rows]

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
        """(name, original bytes) of an attachment (to open it, or put it in a zip export).
        Raises `NotFound` also for a file whose original is not kept (imported from a Markdown
        file alone, which holds only its text)."""
        with self._reading() as session:
            found = session.execute(
                sa.select(MessageAttachmentRow.name, AttachmentFileRow.data, AttachmentFileRow.size)
                .join(AttachmentFileRow, AttachmentFileRow.id == MessageAttachmentRow.file_id)
                .where(MessageAttachmentRow.id == attachment_id)
            ).first()
        if found is None:
            raise NotFound(f"attachment {attachment_id} does not exist (it may have been deleted)")
        name, data, size = str(found[0]), bytes(found[1]), int(found[2])
        if size and not data:
            raise NotFound(
                f"the original of {name} is not available: it was imported from a Markdown "
                "export, which holds only its text"
            )
        return name, data

    def attachment_texts(self, sha256s: Sequence[str]) -> dict[str, StoredText]:
        """For each kept file among `sha256s`: its text, its parts, and whether its original
        is kept (for an export)."""
        wanted = sorted(set(sha256s))
        if not wanted:
            return {}
        with self._reading() as session:
            rows = session.execute(
                sa.select(
                    AttachmentFileRow.sha256,
                    AttachmentFileRow.id,
                    AttachmentFileRow.text,
                    AttachmentFileRow.size,
                    sa.func.length(AttachmentFileRow.data),
                ).where(AttachmentFileRow.sha256.in_(wanted))
            ).all()
            chunks: dict[int, list[NewChunk]] = {}
            for c in session.scalars(
                sa.select(AttachmentChunkRow)
                .where(AttachmentChunkRow.file_id.in_([int(r[1]) for r in rows]))
                .order_by(AttachmentChunkRow.file_id, AttachmentChunkRow.seq)
            ):
                chunks.setdefault(c.file_id, []).append(
                    NewChunk(c.seq, c.text, c.first_page, c.last_page, tuple(c.headings or ()))
                )
        return {
            str(sha): StoredText(
                str(text), tuple(chunks.get(int(id_), ())), bool(length) or not size
            )
            for sha, id_, text, size, length in rows
        }

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
