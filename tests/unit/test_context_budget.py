from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.chat.context import (
    BudgetMessage,
    ContextBudget,
    calibrate,
    dropped_more_than_planned,
    effective_limit,
    reply_reserve,
)


def history(*texts: str) -> list[BudgetMessage]:
    roles = ("user", "assistant")
    return [BudgetMessage(id=i + 1, role=roles[i % 2], text=t) for i, t in enumerate(texts)]


def test_everything_fits_in_a_roomy_window() -> None:
    plan = ContextBudget(8192).plan("Be brief.", history("hi", "hello"), draft="how are you?")
    assert plan.included_ids == (1, 2)
    assert plan.excluded_ids == ()
    assert not plan.overflow
    assert plan.used == plan.system_tokens + plan.history_tokens + plan.draft_tokens


def test_oldest_history_falls_out_first_and_the_cut_is_contiguous() -> None:
    budget = ContextBudget(200, chars_per_token=1.0, reserve=50)
    # each message costs 40 + 4 tokens; system 10 + 4; draft 20 + 4
    msgs = history(*(f"{i}" * 40 for i in range(6)))
    plan = budget.plan("s" * 10, msgs, draft="d" * 20)
    room = 200 - 50 - 14 - 24
    assert plan.history_tokens <= room
    assert plan.included_ids == (5, 6)  # the newest two of six fit (2 x 44 = 88 <= 112)
    assert plan.excluded_ids == (1, 2, 3, 4)


def test_a_big_old_message_cuts_everything_older_than_it() -> None:
    budget = ContextBudget(300, chars_per_token=1.0, reserve=0)
    msgs = history("a" * 10, "b" * 500, "c" * 10)
    plan = budget.plan(None, msgs, draft="q")
    assert plan.included_ids == (3,)
    assert plan.excluded_ids == (1, 2)


def test_without_a_draft_the_last_history_message_is_the_newest_and_kept() -> None:
    budget = ContextBudget(100, chars_per_token=1.0, reserve=10)
    plan = budget.plan(None, history("x" * 80, "y" * 80))
    assert plan.included_ids == (2,)
    assert plan.excluded_ids == (1,)


def test_a_message_too_big_for_the_window_is_an_overflow() -> None:
    plan = ContextBudget(100, chars_per_token=1.0).plan("sys", [], draft="z" * 500)
    assert plan.overflow
    assert plan.reserve == 0


def test_reserve_shrinks_before_the_newest_message_is_dropped() -> None:
    budget = ContextBudget(100, chars_per_token=1.0, reserve=50)
    plan = budget.plan(None, [], draft="q" * 66)  # 70 tokens
    assert not plan.overflow
    assert plan.reserve == 30


def test_a_message_leaving_less_than_a_minimum_reply_is_an_overflow() -> None:
    budget = ContextBudget(100, chars_per_token=1.0, reserve=50)  # minimum reply: 25
    assert not budget.plan(None, [], draft="q" * 71).overflow  # 75 tokens: 25 left
    assert budget.plan(None, [], draft="q" * 72).overflow  # 76 tokens: 24 left


def test_measured_tokens_win_over_estimates() -> None:
    budget = ContextBudget(1000, chars_per_token=1.0, reserve=0)
    msgs = [BudgetMessage(1, "user", "x" * 5000, tokens=100), BudgetMessage(2, "assistant", "ok")]
    assert budget.plan(None, msgs, draft="next").included_ids == (1, 2)


def test_effective_limit_prefers_what_ollama_loaded_and_caps_at_trained_length() -> None:
    assert effective_limit(8192) == 8192
    assert effective_limit(8192, loaded_context=4096) == 4096
    assert effective_limit(65536, trained=16384) == 16384
    assert effective_limit(8192, loaded_context=32768, trained=16384) == 16384


def test_reply_reserve_scales_with_the_window() -> None:
    assert reply_reserve(2048) == 256
    assert reply_reserve(16384) == 2048
    assert reply_reserve(131072) == 4096
    assert reply_reserve(100) == 50


def test_calibration_from_a_measured_turn() -> None:
    # 4000 characters in 2 messages that Ollama counted as 1008 tokens -> 4 chars per token
    assert calibrate(4000, 1008, 2) == 4.0
    assert calibrate(4000, None, 2) is None
    assert calibrate(4000, 5, 2) is None
    assert calibrate(10**6, 20, 1) == 8.0  # clamped


def test_silent_truncation_is_detected_from_prompt_eval_count() -> None:
    plan = ContextBudget(8192, chars_per_token=1.0).plan(None, history("x" * 3000), draft="y")
    assert dropped_more_than_planned(plan, plan.used // 3)
    assert not dropped_more_than_planned(plan, plan.used - 10)
    assert not dropped_more_than_planned(plan, None)


texts = st.text(max_size=400)


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=5000),
    system=st.one_of(st.none(), texts),
    msgs=st.lists(texts, max_size=30),
    draft=st.one_of(st.none(), texts),
    cpt=st.floats(min_value=1.0, max_value=8.0),
)
def test_plan_never_exceeds_the_limit_and_keeps_system_and_newest(
    limit: int, system: str | None, msgs: list[str], draft: str | None, cpt: float
) -> None:
    budget = ContextBudget(limit, chars_per_token=cpt)
    hist = history(*msgs)
    plan = budget.plan(system, hist, draft)
    ids = [m.id for m in hist]
    # Every message is either sent or recorded as left out, never both, order preserved.
    assert sorted(plan.included_ids + plan.excluded_ids) == ids
    assert list(plan.excluded_ids) == ids[: len(plan.excluded_ids)]
    # The system prompt is always counted when present.
    assert (plan.system_tokens > 0) == bool(system)
    if draft is None and hist:
        assert plan.included_ids[-1] == hist[-1].id
    if not plan.overflow:
        assert plan.used + plan.reserve <= limit
        assert plan.reserve >= budget.min_reply
    else:
        newest = (
            budget.estimate(draft)
            if draft is not None
            else (budget.estimate(hist[-1].text) if hist else 0)
        )
        assert plan.system_tokens + newest > limit - budget.min_reply
