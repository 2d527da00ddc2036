"""The streaming renderer gives exactly the full render, at every point and for any chunking."""

from __future__ import annotations

import html as html_lib
import itertools
import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.render import StreamRenderer, StreamUpdate, render_markdown

COMMONMARK = Path(__file__).resolve().parents[1] / "data" / "commonmark.json"
CORPUS = sorted((Path(__file__).resolve().parents[1] / "data" / "math_corpus").glob("*.md"))


class Page:
    """What the transcript view does with updates: append blocks, patch revised ones, swap tail."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.tail = ""

    def apply(self, update: StreamUpdate) -> None:
        assert update.first_index == len(self.blocks)
        for index, html in update.revised:
            assert index < len(self.blocks)
            self.blocks[index] = html
        self.blocks.extend(update.appended)
        self.tail = update.tail

    def html(self) -> str:
        return "".join(self.blocks) + self.tail


def chunks(text: str, rng: random.Random, largest: int = 6) -> list[str]:
    out = []
    pos = 0
    while pos < len(text):
        step = rng.randint(1, largest)
        out.append(text[pos : pos + step])
        pos += step
    return out


def stream_and_compare(text: str, parts: list[str], rng: random.Random) -> StreamRenderer:
    """Feed `parts`, checking html() and the page built from updates against full renders."""
    renderer = StreamRenderer()
    page = Page()
    so_far = ""
    for part in parts:
        so_far += part
        if rng.random() < 0.5:
            renderer.push(part)
            continue
        page.apply(renderer.feed(part))
        expected = render_markdown(so_far)
        assert renderer.html() == expected, f"after {so_far!r}"
        assert page.html() == expected, f"page after {so_far!r}"
    page.apply(renderer.take())
    final = renderer.finish()
    assert final == render_markdown(text)
    assert page.html() == final
    return renderer


def commonmark_examples() -> list[dict[str, object]]:
    if not COMMONMARK.is_file():
        pytest.fail(f"CommonMark spec examples are missing: {COMMONMARK} (see tests/data)")
    examples: list[dict[str, object]] = json.loads(COMMONMARK.read_text(encoding="utf-8"))
    return examples


def test_every_commonmark_example_streams_to_the_full_render() -> None:
    examples = commonmark_examples()
    assert len(examples) > 600
    rng = random.Random(20260101)
    for example in examples:
        text = str(example["markdown"])
        for _ in range(3):
            stream_and_compare(text, chunks(text, rng), rng)


def test_every_commonmark_example_streams_one_character_at_a_time() -> None:
    rng = random.Random(5)
    for example in commonmark_examples():
        text = str(example["markdown"])
        stream_and_compare(text, list(text), rng)


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_math_corpus_streams_to_the_full_render(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    rng = random.Random(path.stem)
    for largest in (1, 3, 4, 12, 40):
        stream_and_compare(text, chunks(text, rng, largest), rng)


def test_corpus_has_math_money_and_code() -> None:
    html = "".join(render_markdown(p.read_text(encoding="utf-8")) for p in CORPUS)
    assert len(CORPUS) >= 6
    assert html.count('class="math inline"') > 30
    assert html.count('class="math display"') > 10
    assert "$1,200" in html and "$HOME" in html


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_chunking_of_the_whole_corpus_gives_the_full_render(data: st.DataObject) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in CORPUS)
    cuts = data.draw(
        st.lists(st.integers(min_value=1, max_value=len(text) - 1), max_size=300, unique=True)
    )
    bounds = [0, *sorted(cuts), len(text)]
    parts = [text[a:b] for a, b in itertools.pairwise(bounds)]
    renderer = StreamRenderer()
    page = Page()
    for part in parts:
        page.apply(renderer.feed(part))
    page.apply(renderer.take())
    assert renderer.finish() == render_markdown(text) == page.html()


HAZARDS = {
    "reference defined after use": "See [foo] and [bar][b].\n\n# Head\n\ntext\n\n[foo]: /url\n\n"
    "more\n\n[b]: /b 'T'\n",
    "duplicate definitions": "[a]\n\n- x\n\n[a]: /one\n[a]: /two\n\ntext [a]\n",
    "list becomes loose": "1. a\n\n2. b\n\npara\n\n- c\n- d\n\n3\n",
    "display math across a heading": "$$\nx\n# h\n$$\n\nafter\n",
    "brackets and amsmath across a heading": "text\n\\[\nx\n# h\n\\]\n\n\\begin{align}\na\n"
    "# h2\n\\end{align}\n\nz",
    "math in quotes": "> $$\n> a\n> $$\n\n> \\[\n> b\n\n> \\]\n",
    "definition title on the next line": '[foo]: /u\n"title\nnext\n\n[foo]\n',
    "table after a paragraph": "x\na | b\n--|--\n1 | 2\n\npara\n",
    "unclosed math then blank line": "$$\nunclosed\n\n# h\n\nmore text\n\n$$\n",
    "windows line endings": "Hello\r\nworld\r\n\r\n# h\r\n- a\r\n",
    "setext heading": "para\n\nfoo\nbar\n===\n\nend\n",
}


@pytest.mark.parametrize("text", HAZARDS.values(), ids=HAZARDS.keys())
def test_later_text_that_changes_earlier_blocks(text: str) -> None:
    rng = random.Random(text)
    for largest in (1, 2, 5):
        for _ in range(40):
            stream_and_compare(text, chunks(text, rng, largest), rng)


def test_a_late_reference_definition_revises_the_committed_block() -> None:
    renderer = StreamRenderer()
    page = Page()
    page.apply(renderer.feed("Read [the docs].\n\n## Next\n\nMore text.\n\n"))
    assert page.blocks and "<a " not in page.blocks[0]
    update = renderer.feed("[the docs]: https://example.org/docs\n")
    page.apply(update)
    assert [index for index, _ in update.revised] == [0]
    assert '<a href="https://example.org/docs">the docs</a>' in page.blocks[0]
    assert page.html() == render_markdown(renderer.text())


def test_finished_blocks_are_committed_and_the_tail_stays_small() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in CORPUS)
    renderer = StreamRenderer()
    appended = 0
    largest_tail = 0
    for part in chunks(text, random.Random(3), 4):
        update = renderer.feed(part)
        appended += len(update.appended)
        largest_tail = max(largest_tail, len(update.tail))
    assert appended > 40
    assert largest_tail < len(render_markdown(text)) / 5


def test_an_unclosed_line_that_may_become_a_list_item_is_not_committed_early() -> None:
    renderer = StreamRenderer()
    first = renderer.feed("1. a\n\n2")
    assert first.appended == ()
    assert renderer.html() == render_markdown("1. a\n\n2")
    renderer.feed(". b\n")
    assert renderer.html() == render_markdown("1. a\n\n2. b\n")
    assert "<p>a</p>" in renderer.html()  # loose list: the first item got its paragraph


BLANK_LINE_ENDS = {
    "paragraph": ("Some words here.\n\n", "<p>Some words here.</p>\n"),
    "heading": ("# Title\n\n", "<h1>Title</h1>\n"),
    "closed fence": ("```py\nx = 1\n```\n\n", "<pre"),
    "display math": ("$$\nx^2\n$$\n\n", '<div class="math display">x^2</div>\n'),
    "environment": ("\\begin{align}\nx &= 1\n\\end{align}\n\n", '<div class="math display">'),
}


@pytest.mark.parametrize(("text", "block"), BLANK_LINE_ENDS.values(), ids=BLANK_LINE_ENDS.keys())
def test_a_block_ended_by_a_blank_line_is_committed_before_the_next_line_is_complete(
    text: str, block: str
) -> None:
    """After a blank line no later text can change a paragraph, a heading, a closed fence or
    closed display math: the block is committed while the next block's first line is written,
    so later frames do not parse it again."""
    renderer = StreamRenderer()
    update = renderer.feed(text + "Next wo")
    assert len(update.appended) == 1 and update.appended[0].startswith(block)
    assert renderer.html() == render_markdown(text + "Next wo")
    for more in ("rds", " $$", "\n", "===\n"):
        renderer.feed(more)
        assert renderer.html() == render_markdown(renderer.text())


@pytest.mark.parametrize(
    "text",
    [
        "- item\n\n",
        "> quoted\n\n",
        "    code\n\n",
        "a | b\n--|--\n1 | 2\n\n",
        "$$\nx\n\n",
        "[ref]: /url\n\n",
    ],
)
def test_blocks_that_later_lines_can_still_change_stay_live_after_a_blank_line(text: str) -> None:
    for rest in ("  more", "    more", "> more", "more"):
        whole = text + rest + "\n"
        renderer = StreamRenderer()
        for n in range(1, len(whole) + 1):
            renderer.feed(whole[n - 1 : n])
            assert renderer.html() == render_markdown(whole[:n]), whole[:n]


def test_carriage_return_split_from_its_newline() -> None:
    renderer = StreamRenderer()
    for part in ["a\r", "\nb\r", "\r", "\n"]:
        renderer.push(part)
    assert renderer.html() == render_markdown("a\r\nb\r\r\n")
    assert renderer.finish() == render_markdown("a\r\nb\r\r\n")


def test_feeding_after_finish_is_an_error() -> None:
    renderer = StreamRenderer()
    renderer.feed("done")
    renderer.finish()
    with pytest.raises(RuntimeError):
        renderer.feed("more")


DEEP_AFTER = "A closing paragraph.\n\n```python\nprint('after')\n```\n\n$$\nx^2 + after\n$$\n"
DEEP = {
    "list 10 deep": "".join("  " * i + f"- level{i + 1} item\n" for i in range(10)),
    "list 25 deep": "".join("  " * i + f"- level{i + 1} item\n" for i in range(25)),
    "list 200 deep": "".join("  " * i + f"- level{i + 1} item\n" for i in range(200)),
    "quotes 100 deep": "> " * 100 + "deep words\n" + "> " * 100 + "second line\n",
    "bullets on one line": "- " * 300 + "deep words\n",
    "quoted lists": "".join("> " * (i + 1) + f"- w{i}\n" for i in range(40)),
    "deep item then loose text": "".join("  " * i + f"- l{i}\n" for i in range(12))
    + "\n"
    + " " * 22
    + "loose\n\n"
    + " " * 24
    + "$$\ninside\n$$\n",
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_nesting_deeper_than_the_limit_streams_to_the_full_render(text: str) -> None:
    text = text + "\n" + DEEP_AFTER
    rng = random.Random(text)
    largest = max(6, len(text) // 200)  # a few hundred chunks, each compared to a full render
    for size in (largest, largest * 3):
        html = stream_and_compare(text, chunks(text, rng, size), rng).finish()
        visible = Counter(re.findall(r"\w+", html_lib.unescape(re.sub(r"<[^>]*>", " ", html))))
        # Nothing was dropped (a fence's language is an attribute, not text).
        assert not Counter(re.findall(r"\w+", text.replace("```python", "```"))) - visible


@settings(max_examples=40, deadline=None)
@given(
    depth=st.integers(min_value=1, max_value=300),
    marker=st.sampled_from(["- ", "1. ", "> ", "> - "]),
    data=st.data(),
)
def test_any_chunking_of_deep_nesting_gives_the_full_render(
    depth: int, marker: str, data: st.DataObject
) -> None:
    indent = " " * len(marker) if marker[0] != ">" else ""
    lines = [indent * i + (marker * (i + 1) if not indent else marker) for i in range(depth)]
    text = "".join(f"{line}w{i}\n" for i, line in enumerate(lines)) + "\n" + DEEP_AFTER
    cuts = data.draw(
        st.lists(st.integers(min_value=1, max_value=len(text) - 1), max_size=100, unique=True)
    )
    bounds = [0, *sorted(cuts), len(text)]
    renderer = StreamRenderer()
    page = Page()
    for a, b in itertools.pairwise(bounds):
        page.apply(renderer.feed(text[a:b]))
    page.apply(renderer.take())
    assert renderer.finish() == render_markdown(text) == page.html()
