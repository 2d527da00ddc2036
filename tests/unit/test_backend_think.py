"""The `<think>` splitter: reasoning and answer come apart however the stream is chunked."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from app.backend.events import ContentDelta, ThinkingDelta
from app.backend.think import ThinkSplitter


def split(chunks: list[str], *, starts_in_thinking: bool = False) -> tuple[str, str]:
    splitter = ThinkSplitter(starts_in_thinking=starts_in_thinking)
    pieces = [p for chunk in chunks for p in splitter.feed(chunk)] + splitter.flush()
    thinking = "".join(p.text for p in pieces if isinstance(p, ThinkingDelta))
    content = "".join(p.text for p in pieces if isinstance(p, ContentDelta))
    return thinking, content


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def test_reasoning_then_answer() -> None:
    assert split(["<think>\nLet me see.\n</think>\n\nThe answer is 4."]) == (
        "Let me see.\n",
        "The answer is 4.",
    )


def test_tags_split_across_chunks() -> None:
    assert split(["<th", "ink>ab", "c</th", "ink>", "\n\nX", "Y"]) == ("abc", "XY")


def test_closing_tag_split_one_char_at_a_time() -> None:
    text = "<think>2+2</think>4"
    assert split(list(text)) == ("2+2", "4")


def test_no_tags_is_all_content_unchanged() -> None:
    assert split(["  Hello ", "world"]) == ("", "  Hello world")


def test_missing_opening_tag_when_the_template_opened_it() -> None:
    assert split(["thinking here", "</thi", "nk>answer"], starts_in_thinking=True) == (
        "thinking here",
        "answer",
    )


def test_a_tag_later_in_the_answer_is_left_alone() -> None:
    assert split(["Use the <think> tag", " like <think>x</think>."]) == (
        "",
        "Use the <think> tag like <think>x</think>.",
    )


def test_unfinished_reasoning_at_the_end_is_still_reasoning() -> None:
    assert split(["<think>partial </th"]) == ("partial </th", "")


def test_a_lone_partial_opening_tag_at_the_end_is_content() -> None:
    assert split(["<thi"]) == ("", "<thi")


@given(
    thinking=st.text(alphabet="ab<>/thinkx \n", max_size=40).filter(lambda t: "</think>" not in t),
    answer=st.text(alphabet="ab<>/thinkx \n", min_size=1, max_size=40).filter(
        lambda t: t.strip() != ""
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
)
def test_any_chunking_gives_the_same_split(thinking: str, answer: str, cuts: list[int]) -> None:
    text = f"<think>{thinking}</think>\n\n{answer}"
    whole = split([text])
    assert split(chunked(text, cuts)) == whole
    assert whole == (thinking.lstrip("\n"), answer.lstrip())
