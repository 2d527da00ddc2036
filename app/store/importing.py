"""Import: chats with their messages added as they were, all-or-nothing and only once.

All-or-nothing without one long write lock: the chats are written in short transactions
(`batch_size` chats, at most `ROWS_PER_TRANSACTION` messages each), each chat marked as staged
(`chats.import_batch = "<owner token> <batch>"`). Staged chats are shown nowhere: not listed,
searched, counted, exported or found by id. One last small transaction clears the mark of the
whole batch, and only then does any of it appear. An import that fails removes what it staged;
one whose process died (even by SIGKILL) leaves staged rows that the next process that writes
removes (`clean_dead_imports`, run by `Database.open` and by each import), once the lock of
their owner (`app.store.owners`) shows it is gone. Other processes may write between the
batches, and read all along.

Only once: an imported chat keeps its origin, the id and creation time its export gave it
(`chats.origin_id`, `chats.origin_created_at`); a chat whose origin matches one already here
(or earlier in the same import) is skipped.

Imported chats always get new ids: the exported id named a chat in another database, and a kept
id of 2**63 - 1 made SQLite pick random ids for every chat created after it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from itertools import batched, islice
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.store import owners
from app.store.attachments import ImportedAttachment, stage_attachments
from app.store.chats import ChatQueries, apply_settings
from app.store.convert import check_role, check_status, to_chat
from app.store.errors import StoreError
from app.store.messages import fill_provenance
from app.store.models import ChatRow, MessageRow, ProvenanceRow
from app.store.records import Chat, ChatStats, ImportResult, Message, Provenance, SentDocuments
from app.store.sent import documents_json
from app.store.tree import set_active_leaf

log = logging.getLogger(__name__)

ROWS_PER_TRANSACTION = 1000
"""At most this many messages are written in one transaction of an import."""
SQLITE_INTEGER = range(-(2**63), 2**63)

Attached = Mapping[int, Sequence[ImportedAttachment]]
"""The files attached to an imported chat's messages, by the messages' ids in its `messages`."""
ImportItem = tuple[Chat, Sequence[Message]] | tuple[Chat, Sequence[Message], Attached]


def _documents(sent: SentDocuments, links: Mapping[int, int]) -> dict[str, Any]:
    """The parts sent, their attachments renamed from the import's ids to the stored ones
    (0 for one not in the chat)."""
    parts = tuple(replace(p, attachment_id=links.get(p.attachment_id, 0)) for p in sent.parts)
    return documents_json(replace(sent, parts=parts))


class _Turns:
    """Lets other processes have the write lock between an import's transactions.

    A process waiting for the lock polls for it, at most 100 ms apart (SQLite's busy handler);
    a short gap between two transactions is mostly missed. So after each commit the lock is
    left free briefly, and after every `HOLD` seconds of holding it, for longer than one poll:
    a waiting writer gets its turn within about `HOLD` seconds, for a tenth or so more time.
    """

    HOLD = 0.5
    SHORT = 0.002
    LONG = 0.12

    def __init__(self) -> None:
        self._held = 0.0
        self._since: float | None = None

    def began(self) -> None:
        self._since = time.monotonic()

    def committed(self) -> None:
        if self._since is not None:
            self._held += time.monotonic() - self._since
            self._since = None
        if self._held >= self.HOLD:
            self._held = 0.0
            time.sleep(self.LONG)
        else:
            time.sleep(self.SHORT)


class _Stager:
    """Write transactions one after another, each committed once it holds enough rows."""

    def __init__(self, queries: ImportQueries) -> None:
        self._queries = queries
        self._stack: ExitStack | None = None
        self._session: Session | None = None
        self._rows = 0
        self._turns = _Turns()

    def session(self) -> Session:
        if self._session is None:
            stack = ExitStack()
            self._session = stack.enter_context(self._queries._writing())
            self._stack = stack
            self._turns.began()
        return self._session

    def wrote(self, rows: int) -> None:
        self._rows += rows
        if self._rows >= ROWS_PER_TRANSACTION:
            self.commit()

    def commit(self) -> None:
        stack, self._stack, self._session, self._rows = self._stack, None, None, 0
        if stack is not None:
            stack.close()
            self._turns.committed()

    def abandon(self, exc: BaseException) -> None:
        stack, self._stack, self._session = self._stack, None, None
        if stack is not None:
            stack.__exit__(type(exc), exc, exc.__traceback__)  # rolls back


_SET_PARENT = sa.text("UPDATE messages SET parent_id = :parent WHERE id = :new")


def _message_values(chat_id: int, message: Message) -> dict[str, Any]:
    check_role(message.role)
    check_status(message.status)
    stats = message.stats or ChatStats()
    return {
        "chat_id": chat_id,
        "role": message.role,
        "content": message.content,
        "thinking": message.thinking,
        "status": message.status,
        "error": message.error,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
        "prompt_eval_count": stats.prompt_eval_count,
        "eval_count": stats.eval_count,
        "total_duration_ns": stats.total_duration_ns,
        "load_duration_ns": stats.load_duration_ns,
        "prompt_eval_duration_ns": stats.prompt_eval_duration_ns,
        "eval_duration_ns": stats.eval_duration_ns,
        "done_reason": stats.done_reason,
    }


class ImportQueries(ChatQueries):
    """The import part of `Database`."""

    def import_chats(
        self,
        items: Iterable[ImportItem],
        *,
        batch_size: int = 50,
        on_commit: Callable[[Session], None] | None = None,
    ) -> ImportResult:
        """Add chats with their messages as they were, all or nothing, each chat only once.

        `items` is consumed lazily, `batch_size` chats at a time, never while a write lock is
        held; each message sequence is iterated once. Times, statuses, stats and provenance are
        kept (not set to now). Each chat gets a new id; its `id` and `created_at` are kept as its
        origin, and a chat whose origin matches a chat already in the database (also in the
        trash) or earlier in `items` is skipped. `deleted_at` and `message_count` are ignored.
        Message ids are assigned anew, and each provenance's `excluded_message_ids`, which name
        messages by their ids in the chat's `messages`, are mapped to the new ids (ids not among
        them are dropped). An item may add the files attached to its messages
        (`ImportedAttachment`s by message id; see `stage_attachments`); the parts in its
        provenances' `documents` name them by their `id` and are mapped to the stored ones.

        Nothing is visible until every chat is written: an exception (from `items` too, or a
        `ValueError` for a role or status that does not exist) removes what was staged and is
        raised again; a killed process leaves staged rows that nothing shows and the next
        process that writes removes. Returns the chats added and the chats skipped (as stored
        here), each in the order given.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self._owner is None:
            raise StoreError(
                f"PhiDesk cannot import into {self.path}: it was opened read-only, or its lock "
                f"file could not be created in {owners.owners_dir(self.path)}"
            )
        self.clean_dead_imports()
        batch = f"{self._owner.token} {secrets.token_hex(8)}"
        self._active_imports.add(batch)
        added: list[int] = []
        skipped: list[int] = []
        stager = _Stager(self)
        try:
            iterator = iter(items)
            while chunk := list(islice(iterator, batch_size)):
                for item in chunk:
                    files: Attached = item[2] if len(item) == 3 else {}
                    self._stage_chat(stager, batch, item[0], item[1], added, skipped, files)
                stager.commit()
            with self._writing() as session:
                session.execute(
                    sa.update(ChatRow)
                    .where(ChatRow.import_batch == batch)
                    .values(import_batch=None)
                )
                if on_commit is not None:  # what belongs with these chats, in the same commit
                    on_commit(session)
        except BaseException as exc:
            stager.abandon(exc)
            try:
                self._delete_staged([batch])
            except Exception:
                log.warning("could not remove what a failed import staged", exc_info=True)
            raise
        finally:
            self._active_imports.discard(batch)
        return ImportResult(added=self._read_chats(added), skipped=self._read_chats(skipped))

    def import_chat(
        self, chat: Chat, messages: Sequence[Message], *, keep_id: Literal[False] = False
    ) -> Chat:
        """`import_chats` of one chat: the chat added, or the one that already holds it.
        (`keep_id` is accepted for older callers; an imported chat never keeps its id.)"""
        result = self.import_chats([(chat, messages)])
        return (result.added or result.skipped)[0]

    def clean_dead_imports(self) -> int:
        """Remove the chats staged by imports that will never finish: their process is gone
        (or, for this Database, the import is no longer running). Returns how many."""
        with self._reading() as session:
            batches = session.scalars(
                sa.select(ChatRow.import_batch).where(ChatRow.import_batch.is_not(None)).distinct()
            ).all()
        mine = self._owner.token if self._owner is not None else None
        active = set(self._active_imports)
        dead = []
        for batch in batches:
            assert batch is not None
            owner = batch.split(" ", 1)[0]
            alive = batch in active if owner == mine else owners.is_alive(self.path, owner)
            if not alive:
                dead.append(batch)
        if not dead:
            return 0
        removed = self._delete_staged(dead)
        log.info("removed %d chats staged by %d imports that did not finish", removed, len(dead))
        return removed

    # ---------------------------------------------------------------- the parts

    def _stage_chat(
        self,
        stager: _Stager,
        batch: str,
        chat: Chat,
        messages: Sequence[Message],
        added: list[int],
        skipped: list[int],
        files: Attached,
    ) -> None:
        if chat.id not in SQLITE_INTEGER:
            raise StoreError(f"the exported chat id {chat.id} is too large to import")
        session = stager.session()
        existing = session.scalar(
            sa.select(ChatRow.id)
            .where(
                ChatRow.origin_id == chat.id,
                ChatRow.origin_created_at == chat.created_at,
                sa.or_(ChatRow.import_batch.is_(None), ChatRow.import_batch == batch),
            )
            .order_by(ChatRow.id)
            .limit(1)
        )
        if existing is not None:
            skipped.append(existing)
            return
        row = ChatRow(
            title=chat.title,
            kind=chat.kind,
            model=chat.model,
            system_prompt=chat.system_prompt,
            pinned=chat.pinned,
            created_at=chat.created_at,
            updated_at=chat.updated_at,
            context_used=chat.context.used,
            context_limit=chat.context.limit,
            origin_id=chat.id,
            origin_created_at=chat.created_at,
            import_batch=batch,
            engine=chat.engine,
        )
        apply_settings(row, chat.settings)
        session.add(row)
        session.flush()
        chat_id = row.id
        added.append(chat_id)
        stager.wrote(1)
        new_ids: dict[int, int] = {}
        provenances: list[tuple[int, Provenance]] = []
        links: dict[int, int] = {}
        # A chat that names no active leaf and messages that name no parent are one path in
        # order (format 1, and callers from before versions); otherwise parents are as given.
        tree = chat.active_leaf_id is not None
        last: int | None = None
        for part in batched(messages, ROWS_PER_TRANSACTION):
            values = [_message_values(chat_id, message) for message in part]
            session = stager.session()
            ids = session.scalars(
                sa.insert(MessageRow).returning(MessageRow.id, sort_by_parameter_order=True),
                values,
            ).all()
            parents: list[dict[str, Any]] = []
            for message, new_id in zip(part, ids, strict=True):
                tree = tree or message.parent_id is not None
                if tree:
                    parent = None if message.parent_id is None else new_ids.get(message.parent_id)
                else:
                    parent = last
                new_ids[message.id] = last = new_id
                if parent is not None:
                    parents.append({"new": new_id, "parent": parent})
                if message.provenance is not None:
                    provenances.append((new_id, message.provenance))
            if parents:
                session.execute(_SET_PARENT, parents)
            stager.wrote(len(part))
            for message in part:
                attached = files.get(message.id, ())
                if attached:
                    session = stager.session()
                    kept = stage_attachments(session, new_ids[message.id], attached)
                    links.update(zip((a.id for a in attached), kept, strict=True))
                    stager.wrote(len(attached))
        session = stager.session()
        leaf = last
        if chat.active_leaf_id is not None and chat.active_leaf_id in new_ids:
            leaf = new_ids[chat.active_leaf_id]
        stored = session.get_one(ChatRow, chat_id)  # staged: `chat_row` would not see it
        set_active_leaf(session, stored, leaf)
        stored.context_used = chat.context.used
        for provenance_part in batched(provenances, ROWS_PER_TRANSACTION):
            session = stager.session()
            for message_id, provenance in provenance_part:
                excluded = tuple(
                    new_ids[i] for i in provenance.excluded_message_ids if i in new_ids
                )
                target = ProvenanceRow(message_id=message_id)
                session.add(target)
                fill_provenance(target, replace(provenance, excluded_message_ids=excluded))
                if provenance.documents is not None:
                    target.documents = _documents(provenance.documents, links)
            session.flush()
            stager.wrote(len(provenance_part))

    def _delete_staged(self, batches: list[str]) -> int:
        """Delete the chats of `batches` with their messages, in short transactions."""
        staged = sa.select(ChatRow.id).where(ChatRow.import_batch.in_(batches))
        turns = _Turns()
        while True:
            turns.began()
            with self._writing() as session:
                ids = session.scalars(
                    sa.select(MessageRow.id)
                    .where(MessageRow.chat_id.in_(staged))
                    .limit(ROWS_PER_TRANSACTION)
                ).all()
                if not ids:
                    result = session.execute(
                        sa.delete(ChatRow).where(ChatRow.import_batch.in_(batches))
                    )
                    return int(getattr(result, "rowcount", 0))
                session.execute(sa.delete(MessageRow).where(MessageRow.id.in_(ids)))
            turns.committed()

    def _read_chats(self, ids: list[int]) -> list[Chat]:
        found: dict[int, Chat] = {}
        with self._reading() as session:
            for part in batched(sorted(set(ids)), 500):
                rows = session.scalars(sa.select(ChatRow).where(ChatRow.id.in_(part))).all()
                found.update((row.id, to_chat(row)) for row in rows)
        return [found[i] for i in ids if i in found]
