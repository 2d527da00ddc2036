"""Comparisons: one prompt sent to several targets (model × engine), stored as one record with a
chat per target (migration 0008).

A target's chat is a normal chat of kind `compare`: hidden from the chat list (the comparison
is the one row there) and from the per-chat search, until the user continues it
(`continue_comparison_chat`), which makes it a normal chat. Its figures (time to first token,
rates, GPU share, …) are a JSON object the chat layer reads and writes (`app.chat.compare`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.store.chats import ChatQueries, apply_settings
from app.store.errors import NotFound
from app.store.models import ChatRow, ComparisonRow, ComparisonTargetRow, utcnow
from app.store.records import UNSET, Chat, ChatSettings, SearchHit, _Unset
from app.store.search import ChatMatches, SearchQueries, fts_query

COMPARE_KIND = "compare"
"""The kind of a chat that holds one target's answer and was not continued yet."""

TARGET_STATUSES = ("waiting", "running", "complete", "failed", "stopped")


@dataclass(frozen=True, slots=True)
class ComparisonTarget:
    """One column of a comparison."""

    position: int
    model: str
    engine: str
    chat_id: int | None
    """The chat holding the answer (None once that chat was deleted for good)."""
    status: str
    error: str | None
    fit_warning: str | None
    figures: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Comparison:
    id: int
    title: str
    prompt: str
    system_prompt: str
    options: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    targets: tuple[ComparisonTarget, ...]


def _target(row: ComparisonTargetRow) -> ComparisonTarget:
    return ComparisonTarget(
        position=row.position,
        model=row.model,
        engine=row.engine,
        chat_id=row.chat_id,
        status=row.status,
        error=row.error,
        fit_warning=row.fit_warning,
        figures=dict(row.figures or {}),
    )


def _comparison(session: Session, row: ComparisonRow) -> Comparison:
    targets = session.scalars(
        sa.select(ComparisonTargetRow)
        .where(ComparisonTargetRow.comparison_id == row.id)
        .order_by(ComparisonTargetRow.position)
    ).all()
    return Comparison(
        id=row.id,
        title=row.title,
        prompt=row.prompt,
        system_prompt=row.system_prompt,
        options=dict(row.options or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        targets=tuple(_target(t) for t in targets),
    )


def _comparison_row(session: Session, comparison_id: int) -> ComparisonRow:
    row = session.get(ComparisonRow, comparison_id)
    if row is None:
        raise NotFound(f"comparison {comparison_id} does not exist (it may have been deleted)")
    return row


class ComparisonQueries(ChatQueries, SearchQueries):
    """The comparison part of `Database` (placed before the chat and search parts, whose lists
    it narrows to leave out the chats of comparisons)."""

    def create_comparison(
        self,
        *,
        title: str,
        prompt: str,
        system_prompt: str,
        settings: ChatSettings,
        options: Mapping[str, Any],
        targets: Sequence[tuple[str, str]],
    ) -> Comparison:
        """A comparison of `targets` (model, engine), each with a new hidden chat that has the
        same system prompt and `settings`; all in one transaction."""
        now = utcnow()
        with self._writing() as session:
            row = ComparisonRow(
                title=title,
                prompt=prompt,
                system_prompt=system_prompt,
                options=dict(options),
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            for position, (model, engine) in enumerate(targets):
                chat = ChatRow(
                    title=title,
                    kind=COMPARE_KIND,
                    model=model,
                    system_prompt=system_prompt,
                    created_at=now,
                    updated_at=now,
                    engine=engine,
                )
                apply_settings(chat, settings)
                session.add(chat)
                session.flush()
                session.add(
                    ComparisonTargetRow(
                        comparison_id=row.id,
                        position=position,
                        chat_id=chat.id,
                        model=model,
                        engine=engine,
                        status="waiting",
                        figures={},
                    )
                )
            session.flush()
            return _comparison(session, row)

    def get_comparison(self, comparison_id: int) -> Comparison:
        with self._reading() as session:
            return _comparison(session, _comparison_row(session, comparison_id))

    def update_comparison_target(
        self,
        comparison_id: int,
        position: int,
        *,
        status: str | _Unset = UNSET,
        error: str | _Unset | None = UNSET,
        fit_warning: str | _Unset | None = UNSET,
        figures: Mapping[str, Any] | _Unset = UNSET,
    ) -> ComparisonTarget:
        if not isinstance(status, _Unset) and status not in TARGET_STATUSES:
            raise ValueError(f"unknown target status {status!r}")
        with self._writing() as session:
            row = session.scalars(
                sa.select(ComparisonTargetRow).where(
                    ComparisonTargetRow.comparison_id == comparison_id,
                    ComparisonTargetRow.position == position,
                )
            ).one_or_none()
            if row is None:
                raise NotFound(f"comparison {comparison_id} has no target {position}")
            if not isinstance(status, _Unset):
                row.status = status
            if not isinstance(error, _Unset):
                row.error = error
            if not isinstance(fit_warning, _Unset):
                row.fit_warning = fit_warning
            if not isinstance(figures, _Unset):
                row.figures = dict(figures)
            parent = _comparison_row(session, comparison_id)
            parent.updated_at = utcnow()
            session.flush()
            return _target(row)

    def list_comparisons(
        self, *, deleted: bool = False, limit: int | None = None
    ) -> list[Comparison]:
        """Comparisons, newest activity first (`deleted=True`: those in the trash)."""
        with self._reading() as session:
            query = sa.select(ComparisonRow).where(
                ComparisonRow.deleted_at.is_not(None)
                if deleted
                else ComparisonRow.deleted_at.is_(None)
            )
            query = query.order_by(ComparisonRow.updated_at.desc(), ComparisonRow.id.desc())
            if limit is not None:
                query = query.limit(limit)
            return [_comparison(session, row) for row in session.scalars(query).all()]

    def comparison_of_chat(self, chat_id: int) -> int | None:
        """The comparison a chat's answer belongs to, if any."""
        with self._reading() as session:
            found = session.scalar(
                sa.select(ComparisonTargetRow.comparison_id).where(
                    ComparisonTargetRow.chat_id == chat_id
                )
            )
            return None if found is None else int(found)

    def continue_comparison_chat(self, chat_id: int) -> Chat:
        """Make a target's chat a normal chat (shown in the list and search from now on)."""
        with self._writing() as session:
            row = session.get(ChatRow, chat_id)
            if row is None:
                raise NotFound(f"chat {chat_id} does not exist (it may have been deleted)")
            if row.kind == COMPARE_KIND:
                row.kind = "normal"
                row.updated_at = utcnow()
        return self.get_chat(chat_id)

    def delete_comparison(self, comparison_id: int, *, permanently: bool = False) -> None:
        """Move the comparison and its hidden chats to the trash (or delete them for good);
        chats already continued stay where they are."""
        with self._writing() as session:
            row = _comparison_row(session, comparison_id)
            chat_ids = session.scalars(
                sa.select(ComparisonTargetRow.chat_id).where(
                    ComparisonTargetRow.comparison_id == comparison_id
                )
            ).all()
            hidden = sa.and_(
                ChatRow.id.in_([c for c in chat_ids if c is not None]),
                ChatRow.kind == COMPARE_KIND,
            )
            if permanently:
                session.execute(sa.delete(ChatRow).where(hidden))
                session.delete(row)
            else:
                now = utcnow()
                session.execute(sa.update(ChatRow).where(hidden).values(deleted_at=now))
                row.deleted_at = now

    def restore_comparison(self, comparison_id: int) -> Comparison:
        with self._writing() as session:
            row = _comparison_row(session, comparison_id)
            chat_ids = session.scalars(
                sa.select(ComparisonTargetRow.chat_id).where(
                    ComparisonTargetRow.comparison_id == comparison_id
                )
            ).all()
            session.execute(
                sa.update(ChatRow)
                .where(ChatRow.id.in_([c for c in chat_ids if c is not None]))
                .where(ChatRow.kind == COMPARE_KIND)
                .values(deleted_at=None)
            )
            row.deleted_at = None
        return self.get_comparison(comparison_id)

    def add_imported_comparison(
        self,
        *,
        title: str,
        prompt: str,
        system_prompt: str,
        options: Mapping[str, Any],
        created_at: datetime,
        updated_at: datetime,
        targets: Sequence[tuple[ComparisonTarget, tuple[int, datetime] | None]],
    ) -> Comparison:
        """Add a comparison read from an export, in one transaction, after its chats were
        imported (`import_chats`): each target names its chat by origin (the exported id and
        creation time), or None. A comparison whose targets already point to exactly these
        chats (imported before) is returned as it is."""
        with self._writing() as session:
            return self.imported_comparison_in(
                session,
                title=title,
                prompt=prompt,
                system_prompt=system_prompt,
                options=options,
                created_at=created_at,
                updated_at=updated_at,
                targets=targets,
            )

    def imported_comparison_in(
        self,
        session: Session,
        *,
        title: str,
        prompt: str,
        system_prompt: str,
        options: Mapping[str, Any],
        created_at: datetime,
        updated_at: datetime,
        targets: Sequence[tuple[ComparisonTarget, tuple[int, datetime] | None]],
    ) -> Comparison:
        """`add_imported_comparison` inside a transaction already open: the last one of the
        import of its chats (`import_chats(on_commit=…)`), so both land together or neither."""
        chat_ids: list[int | None] = []
        for _, origin in targets:
            found = None
            if origin is not None:
                found = session.scalar(
                    sa.select(ChatRow.id)
                    .where(
                        ChatRow.origin_id == origin[0],
                        ChatRow.origin_created_at == origin[1],
                        ChatRow.import_batch.is_(None),
                    )
                    .order_by(ChatRow.id)
                    .limit(1)
                )
                if found is None:
                    raise NotFound(f"the imported chat {origin[0]} of a comparison is missing")
            chat_ids.append(found)
        known = [c for c in chat_ids if c is not None]
        if known:
            before = session.scalars(
                sa.select(ComparisonTargetRow.comparison_id).where(
                    ComparisonTargetRow.chat_id.in_(known)
                )
            ).all()
            for comparison_id in set(before):
                old = session.get(ComparisonRow, comparison_id)
                if old is not None and before.count(comparison_id) == len(known):
                    return _comparison(session, old)
        row = ComparisonRow(
            title=title,
            prompt=prompt,
            system_prompt=system_prompt,
            options=dict(options),
            created_at=created_at,
            updated_at=updated_at,
        )
        session.add(row)
        session.flush()
        for (target, _origin), chat_id in zip(targets, chat_ids, strict=True):
            session.add(
                ComparisonTargetRow(
                    comparison_id=row.id,
                    position=target.position,
                    chat_id=chat_id,
                    model=target.model,
                    engine=target.engine,
                    status=target.status,
                    error=target.error,
                    fit_warning=target.fit_warning,
                    figures=dict(target.figures),
                )
            )
        session.flush()
        return _comparison(session, row)

    def search_comparisons(self, query: str, *, limit: int = 50) -> list[Comparison]:
        """Comparisons whose title or prompt holds every word of `query`, or one of whose
        answers matches it (full-text), newest first."""
        match = fts_query(query)
        words = [w for w in query.split() if w]
        if match is None or not words:
            return []
        like = sa.and_(
            *(
                sa.or_(
                    ComparisonRow.title.ilike(f"%{_escaped(w)}%", escape="\\"),
                    ComparisonRow.prompt.ilike(f"%{_escaped(w)}%", escape="\\"),
                )
                for w in words
            )
        )
        answered = sa.text(
            "SELECT t.comparison_id FROM message_fts JOIN messages AS m ON m.id = "
            "message_fts.rowid JOIN comparison_targets AS t ON t.chat_id = m.chat_id "
            "WHERE message_fts MATCH :query AND m.deleted_at IS NULL"
        ).bindparams(query=match)
        with self._reading() as session:
            by_answer = {int(r[0]) for r in session.execute(answered)}
            rows = session.scalars(
                sa.select(ComparisonRow)
                .where(ComparisonRow.deleted_at.is_(None))
                .where(sa.or_(like, ComparisonRow.id.in_(by_answer)))
                .order_by(ComparisonRow.updated_at.desc(), ComparisonRow.id.desc())
                .limit(limit)
            ).all()
            return [_comparison(session, row) for row in rows]

    # --- the chat list and search leave the chats of comparisons out ---------------------

    def _hidden_chats(self, chat_ids: Sequence[int]) -> set[int]:
        if not chat_ids:
            return set()
        with self._reading() as session:
            return set(
                session.scalars(
                    sa.select(ChatRow.id).where(
                        ChatRow.id.in_(list(chat_ids)), ChatRow.kind == COMPARE_KIND
                    )
                ).all()
            )

    def list_chats(
        self, *, kind: str | None = None, deleted: bool = False, limit: int | None = None
    ) -> list[Chat]:
        """As `ChatQueries.list_chats`; without a `kind`, the chats of comparisons are left
        out (the comparison is their one row)."""
        if kind is not None:
            return super().list_chats(kind=kind, deleted=deleted, limit=limit)
        chats = [
            c for c in super().list_chats(deleted=deleted, limit=None) if c.kind != COMPARE_KIND
        ]
        return chats if limit is None else chats[:limit]

    def search_chats(
        self, query: str, *, limit: int = 50, snippet_tokens: int = 12
    ) -> list[ChatMatches]:
        """As `SearchQueries.search_chats`, without the chats of comparisons."""
        found = super().search_chats(query, limit=limit, snippet_tokens=snippet_tokens)
        hidden = self._hidden_chats([m.chat_id for m in found])
        return [m for m in found if m.chat_id not in hidden]

    def search(
        self, query: str, *, limit: int = 50, chat_id: int | None = None, snippet_tokens: int = 12
    ) -> list[SearchHit]:
        """As `SearchQueries.search`; without a `chat_id`, the chats of comparisons are left
        out."""
        found = super().search(query, limit=limit, chat_id=chat_id, snippet_tokens=snippet_tokens)
        if chat_id is not None:
            return found
        hidden = self._hidden_chats([h.chat_id for h in found])
        return [h for h in found if h.chat_id not in hidden]


def _escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
