"""Turning user input into FTS5 queries and FTS5 snippets into highlights (no database)."""

from __future__ import annotations

import html

from hypothesis import given
from hypothesis import strategies as st

from app.store.search import END, START, fts_query, parse_snippet


def test_each_word_is_quoted_and_the_last_is_a_prefix() -> None:
    assert fts_query("rust  lifetimes") == '"rust" "lifetimes"*'


def test_operators_and_quotes_are_plain_text() -> None:
    assert fts_query('say "hi" AND NEAR(') == '"say" """hi""" "AND" "NEAR("'
    assert fts_query("C++") == '"C++"'  # ends in punctuation: a whole word, no prefix


def test_input_without_letters_or_digits_searches_nothing() -> None:
    for text in ("", "   ", "*", '"', "++ -- ()", "🙂🙃", "\x00"):
        assert fts_query(text) is None


def test_snippet_markers_become_offsets_and_escaped_marks() -> None:
    text, spans, marked = parse_snippet(f"a <b> {START}match{END} & {START}more{END}")
    assert text == "a <b> match & more"
    assert [text[s:e] for s, e in spans] == ["match", "more"]
    assert marked == "a &lt;b&gt; <mark>match</mark> &amp; <mark>more</mark>"


@given(st.text())
def test_fts_query_is_always_a_sequence_of_quoted_strings(text: str) -> None:
    query = fts_query(text)
    if query is None:
        return
    # Outside the quoted strings there is only a space between terms and a final `*`.
    inside = False
    outside: list[str] = []
    i = 0
    while i < len(query):
        ch = query[i]
        if ch == '"':
            if inside and query[i + 1 : i + 2] == '"':
                i += 2
                continue
            inside = not inside
        elif not inside:
            outside.append(ch)
        i += 1
    assert not inside
    assert set("".join(outside)) <= {" ", "*"}
    assert "\x00" not in query


@given(
    st.lists(
        st.tuples(st.text(alphabet=st.characters(exclude_characters=START + END)), st.booleans())
    )
)
def test_parse_snippet_round_trips_any_text(parts: list[tuple[str, bool]]) -> None:
    marked = "".join(f"{START}{t}{END}" if hit else t for t, hit in parts)
    text, spans, as_html = parse_snippet(marked)
    assert text == "".join(t for t, _ in parts)
    assert [text[s:e] for s, e in spans] == [t for t, hit in parts if hit]
    assert html.unescape(as_html.replace("<mark>", "").replace("</mark>", "")) == text
    assert "<" not in as_html.replace("<mark>", "").replace("</mark>", "")
