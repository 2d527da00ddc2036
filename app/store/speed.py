"""Speed statistics: how fast a model answered on this machine, from the stored provenance."""

from __future__ import annotations

import sqlalchemy as sa

from app.store.models import ChatRow, MessageRow, ProvenanceRow
from app.store.transactions import Transactions


class SpeedQueries(Transactions):
    """The speed-statistics part of `Database`."""

    def measured_speed(self, model: str, *, recent: int = 20) -> float | None:
        """Median tokens/s of the last `recent` complete answers by `model` on this machine
        (`model` with or without `:latest`), or None before any was measured."""
        names = {model, model + ":latest"} if ":" not in model.rsplit("/", 1)[-1] else {model}
        if model.endswith(":latest"):
            names.add(model.removesuffix(":latest"))
        with self._reading() as session:
            rows = session.scalars(
                sa.select(ProvenanceRow.tokens_per_second)
                .join(MessageRow, MessageRow.id == ProvenanceRow.message_id)
                .join(ChatRow, ChatRow.id == MessageRow.chat_id)
                .where(
                    ChatRow.import_batch.is_(None),
                    ProvenanceRow.model.in_(names),
                    ProvenanceRow.tokens_per_second.is_not(None),
                    MessageRow.status == "complete",
                )
                .order_by(MessageRow.id.desc())
                .limit(recent)
            ).all()
        speeds = sorted(float(r) for r in rows if r is not None)
        if not speeds:
            return None
        middle = len(speeds) // 2
        if len(speeds) % 2:
            return speeds[middle]
        return (speeds[middle - 1] + speeds[middle]) / 2
