"""Properties of the double over open-ended input: chunkings, truncation, keep_alive durations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ollama_double.checks import call
from tests.ollama_double.models import REGISTRY
from tests.ollama_double.replies import prompt_tokens, truncate_messages
from tests.ollama_double.server import KeepAliveError, OllamaDouble, parse_go_duration

TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60)


def test_any_scripted_reply_streams_back_exactly_in_chunks_of_at_most_chunk_size() -> None:
    with OllamaDouble() as double:

        @settings(max_examples=40, deadline=None)
        @given(content=TEXT, chunk_size=st.integers(min_value=1, max_value=9))
        def check(content: str, chunk_size: int) -> None:
            double.script_reply(content, chunk_size=chunk_size)
            body = {"model": "phi4", "messages": [{"role": "user", "content": "x"}]}
            exchange = call(double.url, "POST", "/api/chat", body)
            pieces = [o["message"]["content"] for o in exchange.objects[:-1]]
            assert "".join(pieces) == content
            assert all(0 < len(p) <= chunk_size for p in pieces)
            assert exchange.final.get("eval_count", 0) == len(pieces)

        check()


MESSAGE = st.tuples(st.sampled_from(["system", "user", "assistant"]), st.integers(0, 300))


@settings(max_examples=200, deadline=None)
@given(shape=st.lists(MESSAGE, min_size=1, max_size=8), num_ctx=st.integers(4, 400))
def test_truncation_keeps_system_and_the_newest_messages_that_fit(
    shape: list[tuple[str, int]], num_ctx: int
) -> None:
    spec = REGISTRY["phi4:latest"]
    messages: list[dict[str, Any]] = [
        {"role": role, "content": f"{index}:" + "m" * size}
        for index, (role, size) in enumerate(shape)
    ]
    kept = truncate_messages(spec, messages, num_ctx)

    def candidate(first: int) -> list[dict[str, Any]]:
        """System messages before `first`, then everything from `first` on."""
        return [m for m in messages[:first] if m["role"] == "system"] + messages[first:]

    starts = [i for i in range(len(messages)) if candidate(i) == kept]
    assert starts, "the result is some older messages dropped, system messages kept"
    first = starts[0]
    assert kept[-1] is messages[-1]
    # It fits, or nothing more could be dropped (system messages and the last one stay).
    assert prompt_tokens(spec, kept) <= num_ctx or kept == candidate(len(messages) - 1)
    if first > 0:
        assert prompt_tokens(spec, candidate(first - 1)) > num_ctx, "dropped no more than needed"


UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@settings(max_examples=200)
@given(
    parts=st.lists(
        st.tuples(st.integers(0, 999), st.sampled_from(sorted(UNITS))), min_size=1, max_size=4
    ),
    negative=st.booleans(),
)
def test_go_durations_parse_to_the_sum_of_their_parts(
    parts: list[tuple[int, str]], negative: bool
) -> None:
    text = ("-" if negative else "") + "".join(f"{n}{unit}" for n, unit in parts)
    expected = sum(n * UNITS[unit] for n, unit in parts) * (-1 if negative else 1)
    assert parse_go_duration(text) == pytest.approx(expected)


@given(number=st.integers(-10_000, 10_000).filter(lambda n: n != 0))
def test_bare_numbers_in_strings_are_missing_a_unit(number: int) -> None:
    with pytest.raises(KeepAliveError, match="missing unit"):
        parse_go_duration(str(number))
