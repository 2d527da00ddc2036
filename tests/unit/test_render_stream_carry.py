"""The stream keeps its parse across a commit and across a paragraph's new lines, and still
gives exactly the full render at every point."""

from __future__ import annotations

import itertools

import pytest

from app.render import StreamRenderer, render_markdown
from tests.unit.test_render_stream_live import _tokens_held, stream_checked

DEFINITIONS_IN_LIVE_BLOCKS = {
    "in a list's first item": "- [r]: /u\n- see [r] here\n- more words\n- and more\n",
    "in a quote's first paragraph": "> [r]: /u\n>\n> see [r] here\n>\n> more words\n",
    "after a paragraph": "intro words\n\n- [r]: /u\n- see [r] here\n- more words\n- more\n",
}


@pytest.mark.parametrize(
    "text", DEFINITIONS_IN_LIVE_BLOCKS.values(), ids=DEFINITIONS_IN_LIVE_BLOCKS.keys()
)
def test_a_definition_in_a_committed_part_of_the_live_block_stays_known(text: str) -> None:
    """The first frame that sees the block whole commits its first part, definition and all;
    later frames parse only the live part and must still know the definition."""
    for first in range(len(text) // 2, len(text)):
        for size in (1, 3, 7):
            stream_checked(text, list(range(first, len(text), size)))


@pytest.mark.parametrize(
    "between",
    ["\n\n", "\n\n## Heading {n}\n\n", "\n\n---\n\n", "\n\n$$\nx_{n} = 1\n$$\n\n"],
    ids=["paragraphs", "a heading", "a rule", "display math"],
)
def test_the_frame_after_a_commit_parses_only_the_line_being_written(between: str) -> None:
    """A frame that ends a paragraph, adds blank lines (and finished blocks) and starts the
    next paragraph parses in full and commits what is final; the next frame, which only
    lengthens the new paragraph, reuses that parse and runs the inline parser alone."""
    chunks = ["First words"]
    for n in range(40):
        chunks += [f" and `code` {n}" + between.format(n=n) + f"Para {n} with", " **bold** x"]
    text = "".join(chunks) + "\n"
    bounds = list(itertools.accumulate(len(chunk) for chunk in chunks))
    renderer = stream_checked(text, bounds)
    assert renderer.inline_frames >= 39, f"{renderer.inline_frames} frames without a block parse"


PENDING_LINES = {
    "quote, a line break": ("> ", "\n", "> Line {n} with"),
    "quote, a marker": ("> ", "\n>", " Line {n} with"),
    "quote, a marker and a space": ("> ", "\n> ", "Line {n} with"),
    "quote, a quoted blank line": ("> ", "\n>\n", "> Para {n} with"),
    "quote, a quoted blank line and a marker": ("> ", "\n>  \n> ", "Para {n} with"),
    "list, a line break": ("- ", "\n", "- item {n} with"),
    "numbered list, a line break": ("1. ", "\n", "{n}. step {n} with"),
}


@pytest.mark.parametrize("parts", PENDING_LINES.values(), ids=PENDING_LINES.keys())
def test_a_frame_that_ends_before_the_next_line_has_words_needs_no_block_parse(
    parts: tuple[str, str, str],
) -> None:
    """A frame that completes the line being written and adds only a line break (in a block
    quote also a quoted blank line, a `>` and spaces) renders as the completed line alone;
    the frame that brings the next line's first words then starts it without a block parse."""
    first, pending, start = parts
    chunks = [f"{first}first words"]
    for n in range(40):
        chunks += [f" and `code` {n}{pending}", start.format(n=n + 2), " **bold** words"]
    text = "".join(chunks) + "\n"
    bounds = list(itertools.accumulate(len(chunk) for chunk in chunks))
    renderer = stream_checked(text, bounds)
    assert renderer.inline_frames >= 118, f"{renderer.inline_frames} frames without a block parse"


QUOTED_MATH_CLOSED_LATE = {
    "dollars around a list item": "> $$\n> - item\n> $$",
    "dollars closed at a line's end": "> $$\n> x\n> - item\n> y $$\n",
    "brackets": "> \\[\n> - item\n> \\]",
    "an environment": "> \\begin{align}\n> - item\n> \\end{align}",
    "dollars around a heading": "> $$\n> # head\n> $$",
    "dollars in a list item": "- $$\n  - item\n  $$",
}


@pytest.mark.parametrize(
    "text", QUOTED_MATH_CLOSED_LATE.values(), ids=QUOTED_MATH_CLOSED_LATE.keys()
)
def test_display_math_whose_next_line_is_a_bare_marker_is_still_open(text: str) -> None:
    """In a quote, a line of `>` alone looks blank, which would end an open equation; while
    that line is still being written it may yet close it, so nothing before it is final."""
    for size in (1, 2, 3):
        stream_checked(text, list(range(size, len(text), size)))


@pytest.mark.parametrize("quote", ["> ", ""], ids=["quote", "paragraph"])
def test_the_finished_lines_of_a_long_last_paragraph_are_kept_as_html(quote: str) -> None:
    """Each frame renders the paragraph being written; its finished lines are rendered once
    and kept as HTML, not as tokens to render again every frame."""
    text = "".join(f"{quote}Line {n} of it, with **bold** text and $y$\n" for n in range(120))
    renderer = StreamRenderer()
    for start in range(0, len(text), 20):
        renderer.feed(text[start : start + 20])
        assert renderer.html() == render_markdown(renderer.text())
    assert _tokens_held(renderer) < 100


OPENER_LINES = {
    "one-line equation": "$$x = \\frac{a}{b} words$$\n\nafter words\n",
    "three dollars": "$$$x words$$ y\n$$\nz\n",
    "opener line then a closer line": "$$x = 1 words\nmore words\n$$\nafter\n",
    "closer line after an opener": "$$\na words\n$$x words\n$$\n",
    "equation under a paragraph line": "text words\n$$x = 1 words$$\nmore\n",
    "indented opener": "   $$x words\n   y words $$\n",
    "in a list item": "- item words\n  $$x = 1 words\n  more $$\n- next\n",
    "closer in the middle": "$$x words $$ y words\n$$\n",
}


@pytest.mark.parametrize("text", OPENER_LINES.values(), ids=OPENER_LINES.keys())
def test_frames_of_a_line_that_opens_display_math_give_the_full_render(text: str) -> None:
    stream_checked(text, list(range(1, len(text))))
    stream_checked(text, list(range(3, len(text), 3)))


def test_most_frames_of_a_line_that_opens_display_math_parse_only_that_line() -> None:
    """A line that starts with `$$` is text until its closing `$$`: until one is written,
    a frame that only lengthens it re-runs the inline parser alone."""
    text = "".join(
        f"$$x_{n} = a + b + c + d + e + f + g + h + i + j + k$$\n\nWords {n} here.\n\n"
        for n in range(30)
    )
    renderer = stream_checked(text, list(range(3, len(text), 3)))
    assert renderer.inline_frames > len(text) // 3 * 2 // 3, f"{renderer.inline_frames} frames"


BLOCKS_THAT_TURN = {
    "display math closing": "$$\nx + y words\nmore $$\n\nafter words\n\n",
    "a setext heading": "Title words here\n=====\n\nafter words\n\n",
    "a table": "a | b words\n--|--\n1 | 2\n\nafter words\n\n",
    "an environment closing": "\\begin{align}\nx &= 1 words\n\\end{align}\n\nafter\n\n",
}


@pytest.mark.parametrize("text", BLOCKS_THAT_TURN.values(), ids=BLOCKS_THAT_TURN.keys())
def test_a_paragraph_that_turns_into_another_block_is_parsed_once_in_that_frame(
    text: str,
) -> None:
    """When the live part of a paragraph is the whole tail, the parse that shows it is no
    longer a paragraph is the full parse the frame needs: it is not parsed a second time."""
    text = text * 10
    renderer = StreamRenderer()
    for start in range(0, len(text), 3):
        before = renderer.block_parses
        renderer.feed(text[start : start + 3])
        assert renderer.html() == render_markdown(renderer.text())
        assert renderer.block_parses - before <= 1, f"after {renderer.text()!r}"


CONTINUED_LINES = {
    "paragraph": ("", "Line {n} with"),
    "list item, lazy lines": ("- ", "lazy {n} with"),
    "numbered item, lazy lines": ("1. ", "lazy {n} with"),
}


@pytest.mark.parametrize("parts", CONTINUED_LINES.values(), ids=CONTINUED_LINES.keys())
def test_a_line_that_continues_a_paragraph_starts_without_a_block_parse(
    parts: tuple[str, str],
) -> None:
    """A new line that starts with a letter can only continue the paragraph being written
    (at the top level or lazily in a list item): the frame that starts it parses only it."""
    first, start = parts
    chunks = [f"{first}first words"]
    for n in range(40):
        chunks += [f" and `code` {n}\n" + start.format(n=n), " **bold** words"]
    text = "".join(chunks) + "\n"
    bounds = list(itertools.accumulate(len(chunk) for chunk in chunks))
    renderer = stream_checked(text, bounds)
    assert renderer.inline_frames >= 78, f"{renderer.inline_frames} frames without a block parse"


PARAGRAPH_LINE_EDGES = {
    "hard break": "para words  \nnext line\\\nthird line\n",
    "trailing spaces": "para words   \nnext words \n",
    "a line that closes display math": "$$\nx words\ny words $$\nz\n",
    "setext after continued lines": "para words\nmore words\n===\n",
    "table after a line": "a | b\nc | d\n--|--\n",
    "emphasis across lines": "a *b words\nc* d words\ne\n",
    "lazy line in a nested list": "- a\n  - b words\nlazy words\n- c\n",
    "lazy line in a quote": "> a words\nlazy words\n> more\n",
    "code span across lines": "a `b words\nc` d\n",
    "reference after a line": "see [r] words\nmore [r]\n\n[r]: /u\n",
    "a tab after the marker": "-\ta words\nlazy words\n",
    "item with two paragraphs": "- a words\n\n  b words\nlazy words\n",
}


@pytest.mark.parametrize("text", PARAGRAPH_LINE_EDGES.values(), ids=PARAGRAPH_LINE_EDGES.keys())
def test_frames_that_continue_a_paragraph_give_the_full_render(text: str) -> None:
    for size in range(1, 9):
        stream_checked(text, list(range(size, len(text), size)))


@pytest.mark.parametrize("closer", ["$$", "\\]", "\\end"])
def test_a_quoted_line_that_holds_a_math_closer_gives_the_full_render(closer: str) -> None:
    """The frame that starts such a line in a quote's paragraph cannot extend the paragraph
    by inline parsing (the closer is checked on every extension): it parses in full."""
    text = f"> a words\n> b {closer} c words"
    stream_checked(text, [9])
    stream_checked(text, [9, 15])


LISTS_THAT_TURN_LOOSE = {
    "task items": "".join(f"- [{' x'[n % 2]}] task {n} with `code`\n" for n in range(30)),
    "items of two lines": "".join(f"- item {n} words\n  more {n}\n" for n in range(30)),
    "items with a nested list": "".join(f"1. item {n}\n   - sub {n}\n" for n in range(30)),
    "items with markup": "".join(f"* *em* {n} [a](u) $x$ <b> &amp;\n" for n in range(30)),
}


@pytest.mark.parametrize("text", LISTS_THAT_TURN_LOOSE.values(), ids=LISTS_THAT_TURN_LOOSE.keys())
def test_a_long_tight_list_that_turns_loose_gives_the_full_render(text: str) -> None:
    """The finished items' loose HTML, kept for the day the list turns loose, is exact."""
    marker = text[: text.index(" ") + 1]
    for ending in (f"\n{marker}last words\n", f"{marker}a\n\n  b words\n"):
        for size in (7, 13):
            whole = text + ending
            stream_checked(whole, list(range(size, len(whole), size)))


@pytest.mark.parametrize("marker", ["- ", "> ", ""], ids=["list", "quote", "paragraph"])
def test_a_long_line_is_parsed_from_its_last_closed_stretch(marker: str) -> None:
    """The line being written is parsed from the last space after which nothing before it
    is still open, not from its start, so a frame's inline parse stays short on a long line."""
    words = " ".join(f"w{k} **b{k}** `c`" for k in range(12))
    text = "".join(f"{marker}Line {n} {words}\n" for n in range(12))
    renderer = StreamRenderer()
    parsed = []
    for start in range(0, len(text), 20):
        renderer.feed(text[start : start + 20])
        assert renderer.html() == render_markdown(renderer.text())
        parsed.append(renderer.live_size)
    assert sum(parsed) / len(parsed) < 60, f"{sum(parsed) / len(parsed):.0f} characters a frame"


def test_plain_words_added_to_a_plain_word_are_not_parsed() -> None:
    """Letters, digits, spaces and plain punctuation after a letter or digit cannot change how
    anything before them reads: such a frame appends them to the last text, parsing nothing."""
    text = " ".join(f"Word{n} **b{n}** and plain words, 12 more; ok." for n in range(60))
    renderer = StreamRenderer()
    parsed = []
    for start in range(0, len(text), 4):
        renderer.feed(text[start : start + 4])
        assert renderer.html() == render_markdown(renderer.text())
        parsed.append(renderer.live_size)
    assert parsed.count(0) > len(parsed) // 3, f"{parsed.count(0)} of {len(parsed)} frames"


PLAIN_EDGES = {
    "underscore emphasis then a letter": "a __b__ words __c__d and __e__ f\n",
    "dollar math then a digit": "cost $x$ words $y$5 and $z$ more\n",
    "entity without its semicolon": "a &amp words &copy; x &am p\n",
    "escapes": "a \\* words \\_b\\_ c and \\\\ d\n",
    "emphasis closing intraword": "a *b*c words **d**e and f\n",
    "strikethrough": "a ~~b~~c words ~~d~~ e\n",
    "a code span": "a `b`c words `` d `` e\n",
    "a link": "a [b](u)c words [d] e\n\n[d]: /x\n",
    "autolink": "a <http://b.c>d words <e f\n",
    "inline math brackets": "a \\(x\\)b words \\[y\\] c\n",
    "trailing spaces": "a words   more    words\n",
    "a paragraph that starts with dollar math": "$x$ a words 5 and more 7\n",
    "a line that starts with dollar math": "a words\n$x$ b words 5 and 7\n",
}


@pytest.mark.parametrize("text", PLAIN_EDGES.values(), ids=PLAIN_EDGES.keys())
def test_frames_that_append_plain_text_give_the_full_render(text: str) -> None:
    for size in range(1, 6):
        stream_checked(text, list(range(size, len(text), size)))


def test_plain_words_added_after_plain_punctuation_are_not_parsed() -> None:
    """Plain punctuation before the new characters is as inert as a letter."""
    text = " ".join(f"Step {n}, then: a/b, 50% more. Yes? x-y **b{n}** ok." for n in range(60))
    renderer = StreamRenderer()
    parsed = []
    for start in range(0, len(text), 4):
        renderer.feed(text[start : start + 4])
        assert renderer.html() == render_markdown(renderer.text())
        parsed.append(renderer.live_size)
    assert parsed.count(0) > len(parsed) * 2 // 3, f"{parsed.count(0)} of {len(parsed)} frames"
