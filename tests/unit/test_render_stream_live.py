"""Inside one long block (list, table, quote, code, paragraph) the stream re-parses only the
live part, and still gives exactly the full render at every point and for any chunking."""

from __future__ import annotations

import gc
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.render import StreamRenderer, StreamUpdate, render_markdown


class Page:
    """What the transcript view does with updates (as in test_render_stream)."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.tail = ""

    def apply(self, update: StreamUpdate) -> None:
        assert update.first_index == len(self.blocks)
        for index, html in update.revised:
            self.blocks[index] = html
        self.blocks.extend(update.appended)
        self.tail = update.tail

    def html(self) -> str:
        return "".join(self.blocks) + self.tail


def stream_checked(text: str, bounds: list[int]) -> StreamRenderer:
    """Feed text cut at `bounds`; after every piece html() and the page equal a full render."""
    renderer = StreamRenderer()
    page = Page()
    for a, b in itertools.pairwise([0, *bounds, len(text)]):
        page.apply(renderer.feed(text[a:b]))
        expected = render_markdown(text[:b])
        assert renderer.html() == expected, f"after {text[:b]!r}"
        assert page.html() == expected, f"page after {text[:b]!r}"
    page.apply(renderer.take())
    assert renderer.finish() == render_markdown(text) == page.html()
    return renderer


def cuts(data: st.DataObject, text: str, most: int = 60) -> list[int]:
    if len(text) < 2:
        return []
    chosen = data.draw(
        st.lists(st.integers(min_value=1, max_value=len(text) - 1), max_size=most, unique=True)
    )
    return sorted(chosen)


WORDS = st.sampled_from(
    [
        "alpha",
        "beta",
        "**bold**",
        "*em*",
        "`code`",
        "$x^2$",
        "[link](http://a.b)",
        "[ref]",
        "x*y",
        "a_b",
        "<http://c.d>",
        "&amp;",
        "\\(a\\)",
        "2 * 3",
        "$5",
        "`",
        "*",
        "[",
        "]",
        "![",
        "](u)",
        "_",
        "~~s~~",
        "|",
        "\\",
        "&",
        "<",
    ]
)
LINE = st.lists(WORDS, min_size=1, max_size=6).map(" ".join)


@st.composite
def lists(draw: st.DrawFn) -> str:
    marker = draw(st.sampled_from(["- ", "* ", "1. ", "3) ", "- [ ] ", "- [x] "]))
    items = draw(st.lists(LINE, min_size=1, max_size=8))
    out = []
    for n, item in enumerate(items):
        mark = marker.replace("1", str(n + 1)) if marker[0].isdigit() else marker
        out.append(f"{mark}{item}\n")
        extra = draw(
            st.sampled_from(
                [
                    "",
                    "",
                    "",
                    "\n",
                    "  more text\n",
                    "\n  para\n",
                    "  - nested\n",
                    "- other\n",
                    "  ```\n  c\n  ```\n",
                    "> q\n",
                    "$$\n",
                    "[ref]: /u\n",
                ]
            )
        )
        out.append(extra)
    out.append(draw(st.sampled_from(["", "\nafter\n", "# h\n", "para\n"])))
    return "".join(out)


@st.composite
def tables(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(["a | b\n", "| a | b |\n", "a | b | c\n", "x\n"]))
    delim = draw(st.sampled_from(["--|--\n", "|:-|-:|\n", "--|:-:|--\n", "-|\n"]))
    rows = draw(st.lists(st.lists(LINE, min_size=0, max_size=3).map(" | ".join), max_size=8))
    tail = draw(st.sampled_from(["", "\npara\n", "# h\n", "> q\n", "    code\n", "- li\n"]))
    lead = draw(st.sampled_from(["", "| ", "|"]))  # rows that start with a pipe are built directly
    return head + delim + "".join(lead + row + "\n" for row in rows) + tail


@st.composite
def quotes(draw: st.DrawFn) -> str:
    lines = draw(
        st.lists(
            st.one_of(
                LINE.map(lambda s: "> " + s),
                st.sampled_from(
                    [
                        ">",
                        "> - item",
                        "> 1. one",
                        "> # h",
                        "> ```",
                        "lazy",
                        "> > deep",
                        "",
                        "> $$",
                        "> a | b",
                        "> --|--",
                        "    > x",
                    ]
                ),
            ),
            min_size=1,
            max_size=12,
        )
    )
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\nafter\n"]))


@st.composite
def fences(draw: st.DrawFn) -> str:
    opener = draw(st.sampled_from(["```", "```python", "~~~", "  ```js", "````"]))
    body = draw(
        st.lists(st.sampled_from(["x = 1", "  y", "", "<b>&", "```", "~~~", "````"]), max_size=10)
    )
    closer = draw(st.sampled_from(["", "```", "~~~", "````", "  ```"]))
    return "\n".join([opener, *body, closer]) + draw(st.sampled_from(["", "\n", "\nafter\n"]))


@st.composite
def paragraphs(draw: st.DrawFn) -> str:
    lines = draw(
        st.lists(st.lists(WORDS, min_size=1, max_size=12).map(" ".join), min_size=1, max_size=4)
    )
    last = draw(
        st.sampled_from(
            [
                "",
                "\n",
                "\n===\n",
                "\n---\n",
                "\n--|--\n",
                "\n- li\n",
                "\n\n[ref]: /r\n",
                "\n\n[link]: /l\n",
            ]
        )
    )
    return "\n".join(lines) + last


@st.composite
def long_paragraphs(draw: st.DrawFn) -> str:
    """One long line (pieces of it are committed at safe inline boundaries), maybe ended by a
    line that makes it a heading or a table, or by a late definition."""
    words = draw(st.lists(WORDS, min_size=10, max_size=60))
    first = draw(st.sampled_from(["", "  ", "[a] ", "*", "**", "$", "`", "\\(", "| "]))
    last = draw(
        st.sampled_from(["", "\n", "\n===\n", "\n-\n", "\n--|--\n", "\n\n[ref]: /r\n", "\nmore\n"])
    )
    return first + " ".join(words) + last


MATH_LINES = st.sampled_from(
    [
        "x &= 1 \\\\",
        "a^2 + b^2 words",
        "= c",
        "\\frac{a}{b} + y",
        "$y$ and $$",
        "z \\]",
        "\\end{align}",
        "\\end{equation} words",
        "w $$",
        "- item",
        "# head",
        "`code` *em",
        "",
    ]
)


@st.composite
def display_math(draw: st.DrawFn) -> str:
    """Display math, often unclosed while it streams (a paragraph until its closer arrives),
    its lines sometimes closing it, sometimes starting other blocks."""
    lead = draw(st.sampled_from(["", "Text words\n", "Text words\n\n", "- li\n\n"]))
    opener = draw(
        st.sampled_from(
            ["$$", "$$ x words", "\\[", "\\[ a", "\\begin{align}", "\\begin{equation*}", "$$x"]
        )
    )
    body = draw(st.lists(MATH_LINES, max_size=6))
    last = draw(st.sampled_from(["", "\n", "\n$$\n", "\n\\]\n", "\n\\end{align}\n", "\n\nafter\n"]))
    return lead + "\n".join([opener, *body]) + last


@pytest.mark.parametrize(
    "shape",
    [lists, tables, quotes, fences, paragraphs, long_paragraphs, display_math],
    ids=["list", "table", "quote", "fence", "paragraph", "long paragraph", "display math"],
)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_chunking_of_a_block_gives_the_full_render(shape: object, data: st.DataObject) -> None:
    assert callable(shape)
    text = data.draw(shape())
    stream_checked(text, cuts(data, text))


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_any_chunking_of_blocks_in_sequence_gives_the_full_render(data: st.DataObject) -> None:
    parts = data.draw(
        st.lists(
            st.one_of(lists(), tables(), quotes(), fences(), paragraphs(), display_math()),
            max_size=4,
        )
    )
    text = "\n".join(parts)
    stream_checked(text, cuts(data, text, 100))


REVISIONS = {
    "list turns loose late": "".join(f"- item {n}\n" for n in range(40)) + "\n- last\n",
    "numbered list turns loose inside an item": "".join(f"{n}. s\n" for n in range(1, 30))
    + "   more\n\n   para\n",
    "late reference definition": "".join(f"- see [r{n % 3}]\n" for n in range(30))
    + "\n[r1]: /one\n",
    "table that is not one": "a | b\n" + "more text\n" * 5 + "--|--\n",
    "table rows then end": "a | b\n--|--\n"
    + "".join(f"{n} | {n}\n" for n in range(30))
    + "> quote\n",
    "quote with lazy lines": "> a\nlazy\n> b\n>\n> - c\nlazy2\n\nend\n",
    "fence closes": "```python\n" + "x = 1\n" * 30 + "```\nafter\n",
    "paragraph becomes heading": "word " * 100 + "\nmore " * 20 + "\n===\n",
    "paragraph becomes a table": "a " * 50 + "| b\n--|--\n1 | 2\n",
    "paragraph with open emphasis": "*open " + "word " * 200 + "close* and **x " * 3 + "\n",
    "list marker changes": "- a\n- b\n* c\n* d\n1. e\n",
    "paragraph with a lasting bracket closed late": "see [not " + "word " * 200 + "] (u) end\n",
    "paragraph with a lasting bracket made a link": "see [not " + "word " * 200 + "](http://x)\n",
    # dollarmath reads the character before a `$` at a paragraph's start as its last one
    "paragraph starting with math, ending with a digit": "$x$ " + "word " * 30 + "more 5",
    "paragraph with a lasting image bracket": "a ![not " + "word " * 200 + "](http://x) b\n",
    "paragraph with nested lasting brackets": "a [b [c " + "word " * 200 + "] d " * 2 + "\n",
    "paragraph with a bracket and a code span": "a [b " + "word " * 200 + "`]` c ]\n",
    "paragraph with a bracket and a later link": "a [b " + "word " * 200 + "[l](u) c](v)\n",
}


@pytest.mark.parametrize("text", REVISIONS.values(), ids=REVISIONS.keys())
def test_late_text_that_changes_the_live_block(text: str) -> None:
    rng = random.Random(text)
    for largest in (1, 3, 7):
        bounds: list[int] = []
        pos = 0
        while pos < len(text) - 1:
            pos = min(len(text) - 1, pos + rng.randint(1, largest))
            bounds.append(pos)
        stream_checked(text, sorted(set(bounds)))


def long_shapes() -> dict[str, str]:
    return {
        "bulleted list": "".join(f"- item {n} with **bold** and `code`\n" for n in range(600)),
        "numbered list": "".join(f"{n}. step {n}: $x_{n}$ then [a](u)\n" for n in range(1, 600)),
        "table": "n | square | note\n--|--:|--\n"
        + "".join(f"{n} | {n * n} | *ok*\n" for n in range(800)),
        "quote": "".join(
            f"> line {n} of the quote\n" + (">\n" if n % 4 == 3 else "") for n in range(800)
        ),
        "code": "```python\n" + "".join(f"x{n} = {n}  # <tag> & more\n" for n in range(800)),
        "paragraph": " ".join(f"Word{n} **bold{n}** and `c{n}` with $y_{n}$." for n in range(800)),
        "paragraph with lasting brackets": " ".join(
            f"Word{n} **bold{n}** see [not{n} and [a](u)." for n in range(250)
        ),
    }


@pytest.mark.parametrize("name", list(long_shapes()))
def test_only_the_live_part_of_a_long_block_is_parsed_again(name: str) -> None:
    text = long_shapes()[name]
    renderer = StreamRenderer()
    rng = random.Random(name)
    pos = 0
    largest_live = 0
    while pos < len(text):
        step = rng.randint(1, 4) * 8
        renderer.feed(text[pos : pos + step])
        pos += step
        if pos > len(text) // 2:
            largest_live = max(largest_live, renderer.live_size)
    assert renderer.html() == render_markdown(text)
    assert largest_live < 600, f"{name}: {largest_live} characters re-parsed in one frame"


@pytest.mark.parametrize("name", ["bulleted list", "table", "quote", "code"])
def test_a_long_block_after_a_paragraph_and_blank_lines_is_parsed_live(name: str) -> None:
    """A paragraph ended by blank lines is committed with them, so the next block starts the
    tail and is parsed part by part like a first block."""
    text = "Intro words here.\n\n\n" + long_shapes()[name]
    renderer = StreamRenderer()
    largest_live = 0
    for pos in range(24, len(text) + 24, 24):
        renderer.feed(text[pos - 24 : pos])
        if pos > len(text) // 2:
            largest_live = max(largest_live, renderer.live_size)
    assert renderer.html() == render_markdown(text)
    assert largest_live < 600, f"{name}: {largest_live} characters re-parsed in one frame"


INLINE_EDGES = {
    "line turns into a setext heading": "- a\n\npara words here\nmore words\n===\n",
    "setext dash under a paragraph line": "text line one\nsecond line\n---\nafter\n",
    "table delimiter row arrives late": "a | b words\n--|--\n1 | 2\n",
    "delimiter row after a long header": "the header | with words\n:-|-:\nrow | x\n",
    "list item's indentation continues": "- item one\n  continued line\n  more\n- two\n     deep\n",
    "code fence closes with more backticks": "```\ncode line\n````\nafter words\n",
    "late reference definition": "- see [ref] here\n- and [ref] again\n\n[ref]: /r\n",
    "definition title on the next line": '[ref]: /u\n"title words\nmore"\n\n[ref]\n',
    "label spanning lines": "[foo\nbar]: /u\n\n[foo bar]\n",
    "task item": "- [ ] task words\n- [x] done words\n",
    "display math opener": "text\n$$ x words\n$$\n",
    "bracket math": "words\n\\[ a words \\]\n",
    "emphasis across frames": "- the value **doubles when *x* grows** and `y\n",
    "quote lazy line": "> quoted words\nlazy words\n> more\n",
    "open dollar math closes at a line's end": "$$\nx words here\nmore words $$\nafter\n",
    "open dollar math closes on its own line": "words\n$$\na + b words\n$$\n",
    "open bracket math closes at a line's end": "\\[\nx + y words \\]\nafter\n",
    "open environment closes": "\\begin{align}\nx &= 1 words \\\\\ny \\end{align}\n",
    "open environment, a lone closer line": "\\begin{equation}\na words\n\\end{equation}\n",
    "open math, a line starting with a backslash": "$$\n\\frac{a}{b} words\n\\alpha $$\n",
    "open math, a line that could start a block": "$$\nx words\n- li words\n# h words\n",
    "open math in a list item": "- $$\n  x words\n  y words $$\n",
    "open math in a quote": "> $$\n> x words\n> y words $$\n",
    "open math then inline math": "$$\nx words $y$ and $z\nmore $$\n",
}


@pytest.mark.parametrize("text", INLINE_EDGES.values(), ids=INLINE_EDGES.keys())
def test_inline_only_frames_give_the_full_render(text: str) -> None:
    """Each character alone, then in pairs: the line being written is parsed inline-only
    wherever its block role is settled, and every frame still equals a full render."""
    stream_checked(text, list(range(1, len(text))))
    stream_checked(text, list(range(2, len(text), 2)))


@pytest.mark.parametrize(
    "opener", ["$$", "\\[", "\\begin{align}"], ids=["dollars", "brackets", "environment"]
)
def test_most_frames_of_open_display_math_parse_only_the_line_being_written(opener: str) -> None:
    """Until its closer arrives, display math is a paragraph: a frame that only lengthens its
    last line parses that line's inline content alone."""
    body = "".join(f"x_{n} words and more words {n} \\\\\n" for n in range(20))
    text = f"Intro words\n\n{opener}\n{body}"
    renderer = stream_checked(text, list(range(3, len(text), 3)))
    assert renderer.inline_frames > len(text) // 3 // 2


MULTILINE_EDGES = {
    "emphasis across lines in a quote": "> a *b words\n> c* d words\n> e words\n",
    "strong across three lines": "para **x words\nmore *y* words\nz** words\nend\n",
    "code span across lines": "> `a words\n> b` c words\n> d words\n",
    "link across lines": "> [a words\n> b](/u) c words\n> d\n",
    "reference across lines": "> [a\n> b] c words\n> d words\n\n[a b]: /u\n",
    "inline math across lines": "> $a words\n> b$ c words\n> d words\n",
    "bracket math across lines": "> \\(a words\n> b\\) c words\n> d\n",
    "hard breaks": "> x words  \n> y words\\\n> z words\n",
    "dollar amounts": "> costs $5 words\n> and $6 words\n> more\n",
    "autolink opener": "> a <http://x words\n> b> c\n> d\n",
    "lines with leading spaces": ">   a words\n>    b words\n>  c words\n",
}


@pytest.mark.parametrize("text", MULTILINE_EDGES.values(), ids=MULTILINE_EDGES.keys())
def test_a_paragraph_read_line_by_line_gives_the_full_render(text: str) -> None:
    stream_checked(text, list(range(1, len(text))))
    stream_checked(text, list(range(3, len(text), 3)))


def test_frames_of_a_long_quote_parse_about_one_line() -> None:
    """The finished lines of the quote's last paragraph are not parsed again each frame."""
    text = "".join(
        f"> Line {n} of the quote, with **bold** text and $y$\n" + (">\n" if n % 5 == 4 else "")
        for n in range(60)
    )
    renderer = StreamRenderer()
    parsed = []
    for pos in range(3, len(text), 3):
        renderer.feed(text[pos - 3 : pos])
        parsed.append(renderer.live_size)
    assert renderer.html() == render_markdown(renderer.text())
    assert sum(parsed) / len(parsed) < 60, f"{sum(parsed) / len(parsed):.0f} characters a frame"


def test_most_frames_of_a_long_list_parse_only_the_line_being_written() -> None:
    text = "".join(f"- item {n} with **bold** and `code` words\n" for n in range(60))
    renderer = stream_checked(text, list(range(3, len(text), 3)))
    assert renderer.inline_frames > len(text) // 3 // 2


FENCE_EDGES = {
    "closed by more backticks": "```py\na = 1\nb = 2\n`````\nafter\n",
    "a line starting with a backtick that does not close": "```\nx\n`inline` y\n``\nz\n```\n",
    "indented opener": "  ```js\n  a\n    b\nc\n  ```\n",
    "tilde fence with backticks inside": "~~~\n```\nx\n~~~~\nafter\n",
    "indented closer": "```\nx\ny\n   ```\nz\n",
    "tab before a backtick": "```\nx\n\t```\ny\n```\n",
    "escaping": "```\n<b>&amp;\n\"q\" 'a'\n```\n",
    "a last line of spaces": "```\nx\ny\n   \n \t \nz\n",
}


@pytest.mark.parametrize("text", FENCE_EDGES.values(), ids=FENCE_EDGES.keys())
def test_unparsed_code_frames_give_the_full_render(text: str) -> None:
    stream_checked(text, list(range(1, len(text))))
    stream_checked(text, list(range(3, len(text), 3)))


@pytest.mark.parametrize("marker", ["- ", "7. ", "> "])
def test_a_frame_right_after_a_part_is_committed_parses_only_the_line_being_written(
    marker: str,
) -> None:
    """Each line arrives as its start (marker and words: a full parse, which commits the part
    before it) and then more words with no line break: inline-only, also right after a commit."""
    chunks = ["intro words\n"]
    for n in range(40):
        mark = f"{n + 7}. " if marker == "7. " else marker
        chunks += [f"\n{mark}line {n} with **bold**", f" and `code` words {n}"]
        if marker == "> " and n % 4 == 3:
            chunks.append("\n>")
    text = "".join(chunks)
    bounds = list(itertools.accumulate(len(chunk) for chunk in chunks))[:-1]
    renderer = stream_checked(text, bounds)
    assert renderer.inline_frames >= 38, f"{renderer.inline_frames} inline-only frames"


@pytest.mark.parametrize("marker", ["- ", "1. ", "+ "])
def test_the_next_list_item_starts_without_a_block_parse(marker: str) -> None:
    """Each frame ends the line being written and starts the next item with its marker and a
    word: only that new line is parsed, and every frame equals a full render."""
    chunks = [f"{marker}first item words"]
    for n in range(40):
        mark = f"{n + 2}. " if marker == "1. " else marker
        chunks.append(f" and `code` {n}\n{mark}item {n} with **bold**")
    text = "".join(chunks) + "\n"
    bounds = list(itertools.accumulate(len(chunk) for chunk in chunks))
    renderer = stream_checked(text, bounds)
    assert renderer.inline_frames >= 38, f"{renderer.inline_frames} frames without a block parse"


def test_a_list_item_whose_marker_arrives_alone_needs_one_block_parse() -> None:
    """A frame that ends right after a new item's marker is parsed in full; the frame after it,
    which brings the item's first words, is not."""
    chunks = ["- first item words"]
    for n in range(40):
        chunks += [f" and `code` {n}\n-", f" item {n} with **bold**"]
    text = "".join(chunks) + "\n"
    bounds = list(itertools.accumulate(len(chunk) for chunk in chunks))
    renderer = stream_checked(text, bounds)
    assert renderer.inline_frames >= 38, f"{renderer.inline_frames} frames without a block parse"


NEXT_LINE_EDGES = {
    "hard break before a quoted line": "> first line  \n> second line\\\n> third *em\n> more* x\n",
    "quote with a list then a line": "> - item one\n> more words\n> - item two\n> and lazy\n",
    "quote with a nested quote": "> outer words\n> > inner words\n> back words\n> again\n",
    "quote with a tab": "> words\there\n>\tTabbed line\n> next line\n",
    "quote with trailing spaces only": "> words   \n> next\n>    \n> after blank\n",
    "list items with two spaces": "- one words\n-  two words\n- three\n  cont words\n- four\n",
    "list marker changes": "- one words\n+ two words\n+ three\n* four\n",
    "ordered list with parentheses": "1) one words\n2) two\n3. three\n4) four\n",
    "ordered list from a later number": "7. seven words\n8. eight\n9. nine\n10. ten\n",
    "list then a heading and a quote": "- item words\n# Heading\n- next item\n> q words\n> more\n",
    "list item with a nested list": "- item\n  - nested words\n- back words\n- more\n",
    "list with a late definition": "- see [r] words\n- and [r] here\n- more\n\n[r]: /u\n",
    "list with a task item": "- item words\n- [ ] task\n- x done\n",
    "loose list": "- one words\n\n- two words\n- three words\n",
    "quote paragraphs": "> a words\n>\n> b words\n>  \n> c words\n>\n>\n> d\n> - li\n>\n> e x\n",
    "quote paragraph after a list": "> - li words\n> lazy words\n>\n> Para words\n>\n> more\n",
}


@pytest.mark.parametrize("text", NEXT_LINE_EDGES.values(), ids=NEXT_LINE_EDGES.keys())
def test_frames_that_start_a_line_give_the_full_render(text: str) -> None:
    """Chunks of several sizes, so that many frames end a line and start the next one with
    its marker and a word (the frames that parse only the new line)."""
    for size in range(5, 14):
        stream_checked(text, list(range(size, len(text), size)))


TABLE_EDGES = {
    "escaped pipes and code": "| a | b |\n|--|:-:|\n| x \\| y | `c|d` |\n"
    + "| **e** | f\\\\|g |\n| h |\n",
    "more and fewer cells": "| a | b |\n|--|--|\n| 1 | 2 | 3 | 4 |\n| 5 |\n|\n| | |\n| z\n",
    "late definition after the table": "| a | b |\n|--|--|\n| [r] | x |\n| y | [r] |\n\n[r]: /u\n",
    "table ended by a paragraph": "| a | b |\n|--|--|\n| 1 | 2 |\n| 3 | 4 |\nafter words\n",
    "table ended by an indented pipe": "| a | b |\n|--|--|\n| 1 | 2 |\n | 3 | 4 |\n    | 5 |\n",
    "table ended by a blank line": "| a | b |\n|--|--|\n| 1 | 2 |\n\n| 3 | 4 |\n",
    "math and emphasis in cells": "| a | b |\n|-:|:-|\n| $x|y$ | *e |\n| f* | $$ |\n"
    + "| \\( | \\) |\n",
}


@pytest.mark.parametrize("text", TABLE_EDGES.values(), ids=TABLE_EDGES.keys())
def test_table_rows_built_without_a_parse_give_the_full_render(text: str) -> None:
    stream_checked(text, list(range(1, len(text))))
    for size in range(2, 9):
        stream_checked(text, list(range(size, len(text), size)))


def test_most_frames_of_a_long_table_parse_only_its_new_rows() -> None:
    text = "| n | square | note |\n|--:|--:|:--|\n" + "".join(
        f"| {n} | {n * n} | *ok* `v` |\n" for n in range(80)
    )
    renderer = stream_checked(text, list(range(3, len(text), 3)))
    assert renderer.inline_frames > len(text) // 3 * 3 // 4


def test_a_new_paragraph_in_a_quote_starts_without_a_block_parse() -> None:
    """Each frame ends a quoted line and brings a quoted blank line and the start of the next
    paragraph: only the new line is parsed, and the paragraph before it is committed."""
    chunks = ["> first paragraph words"]
    for n in range(40):
        chunks.append(f" and `code` {n}\n>\n> Paragraph {n} with **bold**")
    text = "".join(chunks) + "\n"
    bounds = list(itertools.accumulate(len(chunk) for chunk in chunks))
    renderer = stream_checked(text, bounds)
    assert renderer.inline_frames >= 38, f"{renderer.inline_frames} frames without a block parse"


def _tokens_held(renderer: StreamRenderer) -> int:
    """How many markdown-it tokens the renderer keeps alive (its own objects, lists, tuples,
    dicts and tokens are followed; the shared parser is not)."""
    from markdown_it.token import Token

    from app.render.fastpath import InlineFrame
    from app.render.live import LiveBlock

    followed = (dict, list, tuple, Token, StreamRenderer, LiveBlock, InlineFrame)
    seen: set[int] = set()
    stack: list[object] = [renderer]
    count = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or not isinstance(obj, followed):
            continue
        seen.add(id(obj))
        count += isinstance(obj, Token)
        stack.extend(gc.get_referents(obj))
    return count


@pytest.mark.parametrize("marker", ["- ", "1. "])
def test_a_long_list_keeps_its_finished_items_as_html_not_tokens(marker: str) -> None:
    """Thousands of tokens kept alive made each full pass of the garbage collector long (one
    frame of a long list took a fifth of a full render); finished items are kept as HTML,
    in both their tight and loose forms, and the list still turns loose exactly."""
    text = "".join(f"{marker}item {n} with **bold** and [a](u)\n" for n in range(300))
    renderer = StreamRenderer()
    for start in range(0, len(text), 20):
        renderer.feed(text[start : start + 20])
    assert renderer.html() == render_markdown(text)
    assert _tokens_held(renderer) < 200
    renderer.feed("\n" + marker + "last\n")
    assert renderer.html() == render_markdown(text + "\n" + marker + "last\n")
