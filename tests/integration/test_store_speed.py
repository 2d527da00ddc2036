from __future__ import annotations

from pathlib import Path

from app.backend.events import ChatStats
from app.store import Database, Provenance


def answer(
    db: Database, chat_id: int, model: str, tps: float | None, status: str = "complete"
) -> None:
    message = db.add_message(chat_id, "assistant", "x", status="streaming")
    db.finish_message(
        message.id,
        status=status,  # type: ignore[arg-type]
        stats=ChatStats(eval_count=10),
        provenance=Provenance(model=model, tokens_per_second=tps),
    )


def test_measured_speed_is_the_median_of_complete_answers(tmp_path: Path) -> None:
    with Database.open(tmp_path / "db.sqlite3") as db:
        chat = db.create_chat(model="phi4")
        assert db.measured_speed("phi4") is None
        for tps in (10.0, 30.0, 12.0):
            answer(db, chat.id, "phi4:latest", tps)
        answer(db, chat.id, "phi4:latest", 500.0, status="stopped")  # not a full answer
        answer(db, chat.id, "phi4:latest", None)
        answer(db, chat.id, "phi4-mini:latest", 80.0)
        assert db.measured_speed("phi4") == 12.0
        assert db.measured_speed("phi4:latest") == 12.0
        assert db.measured_speed("phi4-mini") == 80.0
        assert db.measured_speed("phi4:14b-q8_0") is None
