"""The store keeps a chat's engine and where each answer came from (migration 0006)."""

from __future__ import annotations

from pathlib import Path

from app.store import ContextUsage, Database, Provenance
from app.store.records import ChatStats


def test_a_chat_keeps_its_engine_and_its_answers_their_usage(tmp_path: Path) -> None:
    with Database.open(tmp_path / "phidesk.sqlite3") as db:
        local = db.create_chat(title="Local", model="phi4")
        remote = db.create_chat(title="Lab", model="microsoft/phi-4", engine="lab-vllm")
        assert (local.engine, remote.engine) == ("ollama", "lab-vllm")
        assert {c.title: c.engine for c in db.list_chats()} == {
            "Local": "ollama",
            "Lab": "lab-vllm",
        }
        moved = db.update_chat(local.id, engine="lab-vllm", context=ContextUsage(None, 16384))
        assert moved.engine == "lab-vllm" and db.get_chat(local.id).engine == "lab-vllm"

        db.add_message(remote.id, "user", "2+2?")
        answer = db.add_message(remote.id, "assistant", "", status="streaming")
        provenance = Provenance(
            model="microsoft/phi-4",
            engine="lab-vllm",
            system_fingerprint="fp_1",
            cached_tokens=12,
            reasoning_tokens=30,
            tokens_per_second=41.5,
        )
        stats = ChatStats(prompt_eval_count=100, eval_count=60)
        db.finish_message(answer.id, content="4", stats=stats, provenance=provenance)
        stored = db.messages(remote.id)[-1]
        assert stored.provenance == provenance
        assert db.get_chat(remote.id).context.used == 160

        again = db.add_message(remote.id, "assistant", "", status="streaming")
        estimated = Provenance(model="microsoft/phi-4", engine="lab-vllm", usage_estimated=True)
        db.finish_message(again.id, content="5", provenance=estimated)
        got = db.get_message(again.id).provenance
        assert got is not None and got.usage_estimated and got.cached_tokens is None

        imported = db.import_chats([(db.get_chat(remote.id), db.messages(remote.id))])
        assert imported.added[0].engine == "lab-vllm"
