"""From rows to records: ORM rows and raw driver rows become the frozen dataclasses of
`app.store.records`; and the checks of a role or status before it is written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from app.store.models import ROLES, STATUSES, ChatRow, MessageRow, PresetRow, ProvenanceRow
from app.store.records import (
    Chat,
    ChatSettings,
    ChatStats,
    ContextUsage,
    Message,
    Preset,
    Provenance,
    Role,
    Status,
)
from app.store.sent import sent_documents


def _optional_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def chat_from_list_row(values: tuple[Any, ...]) -> Chat:
    """From a driver row of `app.store.chats.LIST_CHATS_SQL`: the chat list's fast path.
    SQLAlchemy's type processing of 2,000 rows (datetime regexes, JSON) cost several times the
    query itself."""
    (id_, title, kind, model, system_prompt, num_ctx, temperature, seed, think, keep_alive) = (
        values[:10]
    )
    extra, pinned, created, updated, deleted, used, limit, count, leaf, engine = values[10:]
    return Chat(
        id=id_,
        title=title,
        kind=kind,
        model=model,
        system_prompt=system_prompt,
        settings=ChatSettings(
            num_ctx,
            temperature,
            seed,
            None if think is None else bool(think),
            keep_alive,
            json.loads(extra) if extra and extra != "{}" else {},
        ),
        pinned=bool(pinned),
        created_at=cast(datetime, _optional_time(created)),
        updated_at=cast(datetime, _optional_time(updated)),
        deleted_at=_optional_time(deleted),
        context=ContextUsage(used=used, limit=limit),
        message_count=count,
        active_leaf_id=leaf,
        engine=engine,
    )


def to_chat(row: ChatRow) -> Chat:
    return Chat(
        id=row.id,
        title=row.title,
        kind=row.kind,
        model=row.model,
        system_prompt=row.system_prompt,
        settings=ChatSettings(
            num_ctx=row.num_ctx,
            temperature=row.temperature,
            seed=row.seed,
            think=row.think,
            keep_alive=row.keep_alive,
            extra=dict(row.extra_options or {}),
        ),
        pinned=bool(row.pinned),
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        context=ContextUsage(used=row.context_used, limit=row.context_limit),
        message_count=row.message_count,
        active_leaf_id=row.active_leaf_id,
        engine=row.engine,
    )


def to_stats(row: MessageRow) -> ChatStats | None:
    values = (
        row.prompt_eval_count,
        row.eval_count,
        row.total_duration_ns,
        row.load_duration_ns,
        row.prompt_eval_duration_ns,
        row.eval_duration_ns,
        row.done_reason,
    )
    if all(v is None for v in values):
        return None
    return ChatStats(*values)


def to_provenance(row: ProvenanceRow | None) -> Provenance | None:
    if row is None:
        return None
    return Provenance(
        model=row.model,
        model_digest=row.model_digest,
        quantization=row.quantization,
        requested_num_ctx=row.requested_num_ctx,
        effective_num_ctx=row.effective_num_ctx,
        gpu_percent=row.gpu_percent,
        options=dict(row.options or {}),
        ollama_version=row.ollama_version,
        tokens_per_second=row.tokens_per_second,
        excluded_message_ids=tuple(int(i) for i in row.excluded_message_ids or ()),
        warning=row.warning,
        engine=row.engine,
        system_fingerprint=row.system_fingerprint,
        cached_tokens=row.cached_tokens,
        reasoning_tokens=row.reasoning_tokens,
        usage_estimated=bool(row.usage_estimated),
        documents=sent_documents(row.documents),
        thinking_seconds=row.thinking_seconds,
    )


def to_message(row: MessageRow) -> Message:
    return Message(
        id=row.id,
        chat_id=row.chat_id,
        role=cast(Role, row.role),
        content=row.content,
        thinking=row.thinking,
        status=cast(Status, row.status),
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        stats=to_stats(row),
        provenance=to_provenance(row.provenance),
        parent_id=row.parent_id,
    )


def to_preset(row: PresetRow) -> Preset:
    return Preset(
        id=row.id,
        name=row.name,
        text=row.text,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")


def parse_time(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
