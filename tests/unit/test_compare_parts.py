"""The parts of a comparison without a server: targets, shared settings, figures and marks, the
memory check, and the comparison record in a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.chat.compare_figures import (
    CompareSettings,
    Figures,
    Target,
    available_memory,
    fit_warning,
    marks,
)
from app.errors import UsageError
from app.store import ChatSettings, Database
from app.store.errors import NotFound


def test_targets_parse_model_and_engine() -> None:
    assert Target.parse("phi4") == Target("phi4", "ollama")
    assert Target.parse("microsoft/phi-4@lab") == Target("microsoft/phi-4", "lab")
    assert Target.parse("phi4-mini", "lab").label == "phi4-mini@lab"
    assert Target("phi4").label == "phi4"
    for bad in ("@lab", "phi4@", "  "):
        with pytest.raises(UsageError):
            Target.parse(bad)


def test_settings_and_figures_round_trip_through_json() -> None:
    settings = CompareSettings("Be brief.", 0.2, 7, 4096, True, {"top_p": 0.9}, True, True)
    assert CompareSettings.from_json("Be brief.", settings.to_json()) == settings
    assert CompareSettings.from_json("", {"seed": True, "extra": [1]}) == CompareSettings(
        temperature=None, seed=None
    )
    assert settings.chat_settings() == ChatSettings(4096, 0.2, 7, True, None, {"top_p": 0.9})
    figures = Figures(ttft_ms=12.5, tokens_per_s=40.0, eval_count=8, quantization="Q8_0")
    assert Figures.from_json(figures.to_json()) == figures
    assert Figures.from_json({"eval_count": "8", "gpu_percent": False}) == Figures()


def test_marks_need_two_columns_with_the_figure() -> None:
    fast = Figures(tokens_per_s=80.0, memory_bytes=3)
    slow = Figures(tokens_per_s=20.0, memory_bytes=9)
    assert marks([slow, fast]) == {1: ("fastest", "smallest")}
    assert marks([slow, None, Figures()]) == {}


def test_available_memory_reads_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:   2048 kB\n", encoding="ascii")
    assert available_memory(meminfo) == 2048 * 1024
    meminfo.write_text("MemTotal: 100 kB\n", encoding="ascii")
    assert available_memory(meminfo) is None
    assert available_memory(tmp_path / "missing") is None


def test_fit_warning_is_silent_when_it_cannot_tell() -> None:
    assert fit_warning("phi4", None, [], 8192, [], 1) is None


def test_the_comparison_record(tmp_path: Path) -> None:
    with Database.open(tmp_path / "db.sqlite3") as db:
        made = db.create_comparison(
            title="Why",
            prompt="Why 100% _so_?",
            system_prompt="",
            settings=ChatSettings(seed=1),
            options={"seed": 1},
            targets=[("phi4", "ollama"), ("phi4-mini", "ollama")],
        )
        first = made.targets[0]
        assert first.chat_id is not None and first.status == "waiting"
        assert db.comparison_of_chat(first.chat_id) == made.id
        assert db.comparison_of_chat(10_000) is None
        with pytest.raises(ValueError, match="unknown target status"):
            db.update_comparison_target(made.id, 0, status="lost")
        with pytest.raises(NotFound):
            db.update_comparison_target(made.id, 9, status="failed")
        with pytest.raises(NotFound):
            db.get_comparison(10_000)
        with pytest.raises(NotFound):
            db.continue_comparison_chat(10_000)
        assert [c.id for c in db.search_comparisons("100%")] == [made.id]
        assert db.search_comparisons("   ") == [] and db.search_comparisons("nothing") == []
        assert db.list_chats(kind="compare")[0].model in ("phi4", "phi4-mini")
        assert db.list_chats(limit=1) == []
        assert db.search("anything", chat_id=first.chat_id) == []
        db.delete_comparison(made.id)
        assert db.list_comparisons() == [] and len(db.list_comparisons(deleted=True, limit=1)) == 1
        db.delete_comparison(made.id, permanently=True)
        assert db.list_comparisons(deleted=True) == [] and db.list_chats(kind="compare") == []
