"""Attached documents, as part of `Workspace` (a mixin, like `transfer`): read files into
attachments off the event loop, send a question with them, and tell the window what each chip
says and which parts an answer's question carried.

    files = await ws.prepare_attachments([path, …])   # DocumentRefused: one sentence, none kept
    if await ws.needs_document_consent(chat_id):       # a hosted or remote engine: ask once
        ws.consent_to_documents(chat_id)               # …after the user agreed
    turn = ws.send_with_attachments(chat_id, text, files)
    chips = await ws.attachment_chips(question_id, answer_id)   # "whole" / "7 of 42 parts (…)"
    chips = await ws.path_chips(chat_id)               # {question id: chips} on the active path
    sent = await ws.sent_parts(answer_id)              # SentDocuments: parts, pages, headings
    text = await ws.attachment_part(attachment_id, seq)   # open one part (seq None: all)
    name, data = await ws.attachment_data(attachment_id)  # open the original file
    plan = await ws.preview_documents(chat_id, draft, files)   # the meter: plan.document_tokens
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from app.backend.connection import Connection
from app.backend.embeddings import embed
from app.chat.context import ContextPlan
from app.chat.documents import DocumentRefused, Extracted, extract
from app.chat.documents.prompt import chip_text
from app.chat.documents.turn import DocumentGatherer
from app.chat.session import ChatSession, SessionEvent, Stored
from app.errors import PhiDeskError
from app.store import Chat, Database, Message
from app.store.records import Attachment, SentDocuments
from app.workspace.settings import Preferences
from app.workspace.turns import RunningTurn, TurnEvents, TurnKind

T = TypeVar("T")

MAX_ATTACHMENTS = 20
"""Files one message may carry."""


@dataclass(frozen=True, slots=True)
class AttachmentChip:
    """What the window shows for one attachment of a question."""

    attachment: Attachment
    text: str
    """"whole", "7 of 42 parts (pages 3–5, 9)", "not sent", or "" before any answer."""


class DocumentOps:
    """The document operations of `Workspace`."""

    db: Database
    connection: Connection
    _sessions: dict[int, ChatSession]

    async def read(self, call: Callable[[], T]) -> T:
        raise NotImplementedError

    async def chat(self, chat_id: int) -> Chat:
        raise NotImplementedError

    def session(self, chat_id: int) -> ChatSession:
        raise NotImplementedError

    @property
    def prefs(self) -> Preferences:
        raise NotImplementedError

    def _start(self, chat_id: int, kind: TurnKind, text: str, events: TurnEvents) -> RunningTurn:
        raise NotImplementedError

    # --- reading files --------------------------------------------------------------------

    async def prepare_attachments(self, paths: Sequence[Path]) -> list[Extracted]:
        """Read and extract `paths` on a worker thread (never the window's), within the size
        limit of the preferences. The first file that cannot be attached raises
        `DocumentRefused` with its one sentence, and none of them is kept."""
        if len(paths) > MAX_ATTACHMENTS:
            raise DocumentRefused(
                f"a message can carry at most {MAX_ATTACHMENTS} files; attach fewer at once"
            )
        limit = self.prefs.attachment_limit_mb
        return await asyncio.to_thread(lambda: [extract(p, limit_mb=limit) for p in paths])

    # --- sending --------------------------------------------------------------------------

    def _document_session(self, chat_id: int) -> ChatSession:
        """The chat's session, ranking parts by the embedding model of the preferences."""
        session = self.session(chat_id)
        gatherer: DocumentGatherer | None = getattr(self, "_document_gatherer", None)
        if gatherer is None:
            connection = self.connection

            async def embedder(model: str, texts: Sequence[str]) -> list[list[float]]:
                return await embed(connection.client, model, texts)

            gatherer = DocumentGatherer(embedder, lambda: self.prefs.embedding_model)
            self._document_gatherer = gatherer
        session.documents = gatherer
        return session

    def send_with_attachments(
        self, chat_id: int, text: str, files: Sequence[Extracted]
    ) -> RunningTurn:
        """`send` with files attached to the question (stored with it, all or none). Every
        later turn of the chat draws on them too."""
        session = self._document_session(chat_id)
        attached = list(files)

        def events(stored: Stored) -> AsyncIterator[SessionEvent]:
            return session.send(text, attachments=attached, on_stored=stored)

        return self._start(chat_id, TurnKind.SEND, text, events)

    async def preview_documents(
        self, chat_id: int, draft: str | None, files: Sequence[Extracted] = ()
    ) -> ContextPlan:
        """What sending `draft` with `files` would fit (the meter's documents share is
        `document_tokens`), every attachment of the chat's path included."""
        return await self._document_session(chat_id).preview(draft, files)

    # --- data leaving the machine ---------------------------------------------------------

    def _consented(self) -> set[int]:
        found: set[int] | None = getattr(self, "_document_consent", None)
        if found is None:
            found = set()
            self._document_consent = found
        return found

    async def needs_document_consent(self, chat_id: int, chat: Chat | None = None) -> bool:
        """True when this chat's engine is hosted or remote (documents would leave this
        computer) and the user has not agreed yet for this chat in this run. `chat`: the
        chat's row as the caller knows it to be now (else it is read)."""
        if chat_id in self._consented():
            return False
        if chat is None or chat.id != chat_id:
            chat = await self.chat(chat_id)
        return self.session(chat_id).documents_leave_machine(chat)

    def consent_to_documents(self, chat_id: int) -> None:
        """The user agreed that documents of this chat may go to its engine."""
        self._consented().add(chat_id)

    async def check_document_consent(self, chat_id: int) -> None:
        """Refuse (one sentence) when documents would leave the machine without consent."""
        if await self.needs_document_consent(chat_id):
            raise PhiDeskError(
                "this chat's engine is not on this computer, so attached documents would leave "
                "it; agree to send them first (or use a local engine)"
            )

    # --- what the window shows ------------------------------------------------------------

    async def attachments(self, message_ids: Sequence[int]) -> dict[int, list[Attachment]]:
        """Each message's attachments (names, sizes, parts; never their contents)."""
        return await self.read(lambda: self.db.attachments(message_ids))

    async def sent_parts(self, answer_id: int) -> SentDocuments | None:
        """The parts of documents the question of `answer_id` carried (None: none)."""
        message = await self.read(lambda: self.db.get_message(answer_id))
        return message.provenance.documents if message.provenance else None

    async def attachment_chips(
        self, question_id: int, answer_id: int | None = None
    ) -> list[AttachmentChip]:
        """The chips of a question's attachments: what of each went to `answer_id`."""
        listed = (await self.attachments([question_id]))[question_id]
        sent = await self.sent_parts(answer_id) if answer_id is not None else None
        return _chips(listed, sent)

    async def attached_questions(self, chat_id: int) -> list[tuple[int, int | None]]:
        """The questions on the chat's active path that carry attachments, first first, each
        with the answer shown after it (None: not answered yet). From the path the chat's
        session keeps while the chat's row still describes it (no message read), else in one
        statement; never a statement listing every question of the path."""
        session = self._sessions.get(chat_id)
        if session is not None:
            path = await session.paths.current(partial(self.chat, chat_id))
            if path is not None:
                attached = set(session.paths.with_files(m.id for m in path))
                return [
                    (m.id, _answer_after(path, index))
                    for index, m in enumerate(path)
                    if m.id in attached and m.role == "user"
                ]
        return await self.read(lambda: self.db.attached_on_path(chat_id))

    async def path_chips(self, chat_id: int) -> dict[int, list[AttachmentChip]]:
        """The chips of every question on the chat's active path that carries attachments,
        in the path's order (see `attached_questions`)."""
        questions = await self.attached_questions(chat_id)
        if not questions:
            return {}

        def read() -> tuple[dict[int, list[Attachment]], dict[int, SentDocuments | None]]:
            listed = self.db.attachments([q for q, _ in questions])
            sent: dict[int, SentDocuments | None] = {}
            for _, answer in questions:
                if answer is not None:
                    provenance = self.db.get_message(answer).provenance
                    sent[answer] = provenance.documents if provenance else None
            return listed, sent

        listed, sent = await self.read(read)
        return {q: _chips(listed[q], sent.get(a) if a is not None else None) for q, a in questions}

    async def attachment_part(self, attachment_id: int, seq: int | None) -> str:
        """The text of one part of an attachment (seq None: all its text)."""
        return await self.read(lambda: self.db.attachment_part(attachment_id, seq))

    async def attachment_data(self, attachment_id: int) -> tuple[str, bytes]:
        """The attachment's name and original bytes (to open it)."""
        return await self.read(lambda: self.db.attachment_data(attachment_id))


def _chips(listed: Sequence[Attachment], sent: SentDocuments | None) -> list[AttachmentChip]:
    """The chips of a question's attachments, given the parts its answer was sent (None: not
    answered yet)."""
    chips = []
    for attachment in listed:
        if sent is None:
            chips.append(AttachmentChip(attachment, ""))
            continue
        parts = [p for p in sent.parts if p.sha256 == attachment.sha256]
        chips.append(AttachmentChip(attachment, chip_text(parts, attachment.parts)))
    return chips


def _answer_after(path: Sequence[Message], index: int) -> int | None:
    """The answer shown after the question at `index` (None: not answered yet)."""
    following = path[index + 1] if index + 1 < len(path) else None
    return following.id if following is not None and following.role == "assistant" else None
