"""The Markdown pipeline: math delimiters, money, code, and untrusted input."""

from __future__ import annotations

import html as html_lib
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.render import StreamRenderer, pygments_css, render_markdown

EQUATION = "\\begin{equation}\nE = mc^2\n\\end{equation}"
ALIGN = "\\begin{align*}\na &= b \\\\\nc &= d\n\\end{align*}"


def math_sources(html: str, mode: str) -> list[str]:
    pattern = rf'<(?:span|div) class="math {mode}">(.*?)</(?:span|div)>'
    return [html_lib.unescape(m) for m in re.findall(pattern, html, re.DOTALL)]


@pytest.mark.parametrize(
    ("text", "inline", "display"),
    [
        ("Euler: $e^{i\\pi} + 1 = 0$.", ["e^{i\\pi} + 1 = 0"], []),
        ("Area \\(\\pi r^2\\) here.", ["\\pi r^2"], []),
        ("$$\n\\frac{a}{b}\n$$", [], ["\\frac{a}{b}"]),
        ("So\n\\[\nx^2\n\\]\ndone", [], ["x^2"]),
        ("Inline display \\[a+b\\] too.", [], ["a+b"]),
        (
            "\\begin{equation}\nE = mc^2\n\\end{equation}",
            [],
            ["\\begin{equation}\nE = mc^2\n\\end{equation}"],
        ),
        (
            "\\begin{align*}\na &= b \\\\\nc &= d\n\\end{align*}",
            [],
            ["\\begin{align*}\na &= b \\\\\nc &= d\n\\end{align*}"],
        ),
    ],
)
def test_math_delimiters_become_placeholders(
    text: str, inline: list[str], display: list[str]
) -> None:
    html = render_markdown(text)
    assert math_sources(html, "inline") == inline
    assert math_sources(html, "display") == display


@pytest.mark.parametrize(
    "text",
    [
        "It costs $5 and $10.",
        "Between $300 and $400 a month, or $1,200.50 total.",
        "Prices: $5-$10.",
        "An escaped \\$20 bill and \\$x\\$.",
    ],
)
def test_money_stays_text(text: str) -> None:
    html = render_markdown(text)
    assert "math" not in html
    assert "$" in html


def test_dollars_in_code_are_not_math() -> None:
    html = render_markdown('Use `$HOME` and\n\n```bash\necho "$x and $y"\n```\n')
    assert "math" not in html
    assert "<code>$HOME</code>" in html
    assert "$x" in html


def test_fenced_code_with_a_language_is_highlighted() -> None:
    html = render_markdown("```python\ndef f(x):\n    return x\n```\n")
    assert '<pre class="code" data-lang="python">' in html
    assert '<span class="k">def</span>' in html
    assert ".theme-light .hl .k" in pygments_css() and ".theme-dark .hl .k" in pygments_css()


def test_unknown_language_and_unclosed_fences_are_plain() -> None:
    unknown = render_markdown("```nosuchlang\na < b\n```\n")
    assert "a &lt; b" in unknown and "<span" not in unknown
    unclosed = render_markdown("```python\ndef f(x):")
    assert "def f(x):" in unclosed and "<span" not in unclosed


def test_tables_strikethrough_and_task_lists() -> None:
    html = render_markdown("| a | b |\n|---|--:|\n| 1 | ~~2~~ |\n\n- [x] done\n- [ ] todo\n")
    assert "<table>" in html and '<td style="text-align:right"><s>2</s></td>' in html
    assert html.count('type="checkbox"') == 2 and 'checked="checked"' in html


# -- untrusted input -------------------------------------------------------------------------


def test_raw_html_is_escaped() -> None:
    html = render_markdown('<script>alert(1)</script>\n\n<img src=x onerror="alert(1)">\n\nok')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "<javascript:alert(1)>",
        "[x](vbscript:msgbox)",
    ],
)
def test_dangerous_links_are_not_links(link: str) -> None:
    html = render_markdown(link)
    assert "href" not in html


def test_images_never_load_they_become_links() -> None:
    html = render_markdown("![a chart](https://example.org/x.png)")
    assert "<img" not in html
    assert '<a class="image-link" href="https://example.org/x.png">a chart</a>' in html


def test_tex_that_attacks_the_typesetter_stays_an_escaped_placeholder() -> None:
    html = render_markdown("$\\href{javascript:alert(1)}{x}$ and $\\def\\a{\\a\\a}\\a$ and $<b>$")
    assert math_sources(html, "inline") == [
        "\\href{javascript:alert(1)}{x}",
        "\\def\\a{\\a\\a}\\a",
        "<b>",
    ]
    assert "<a " not in html and "<b>" not in html


def test_deep_nesting_is_bounded() -> None:
    # markdown-it stops nesting at 20 levels instead of recursing; what is deeper is text.
    quotes = render_markdown(">" * 10_000 + " deep")
    assert 0 < quotes.count("<blockquote>") < 200
    lists = render_markdown("".join("  " * i + "- item\n" for i in range(1_500)))
    assert lists.count("<ul>") < 200
    quoted_lists = render_markdown("> - " * 5_000 + "x")
    assert quoted_lists.count("<ul>") < 200
    bullets = render_markdown("- " * 10_000 + "x")
    assert bullets.count("<ul>") < 200


def test_a_one_megabyte_line() -> None:
    line = "word $5 *a* `c` [l](http://x) " * 35_000
    assert len(line) > 1_000_000
    html = render_markdown(line)
    assert html.startswith("<p>") and html.count("<em>") == 35_000
    renderer = StreamRenderer()
    renderer.push(line[:600_000])
    assert "<em>a</em>" in renderer.take().tail
    renderer.push(line[600_000:])
    assert renderer.finish() == html


def test_many_unclosed_math_openers_stay_linear() -> None:
    # Each of these was quadratic in mdit-py-plugins' texmath / amsmath scans (minutes, not ms);
    # pytest's faulthandler timeout catches a regression.
    html = render_markdown("\\( x " * 150_000)
    assert "math" not in html
    html = render_markdown("\\begin{align} x\n" * 20_000)
    assert "math" not in html
    html = render_markdown("$$ x\n" * 20_001)  # not blocks: 10,000 inline display pairs
    assert html.count('class="math display"') == 10_000


def test_unterminated_constructs_at_the_end_of_a_stream() -> None:
    for text in [
        "```python\nprint(1)\n",
        "$$\n\\frac{1}{",
        "\\[\n\\int_0^1",
        "\\begin{align}\na &= b",
    ]:
        renderer = StreamRenderer()
        for ch in text:
            renderer.push(ch)
            renderer.take()
        assert renderer.finish() == render_markdown(text)
    assert "print(1)" in render_markdown("```python\nprint(1)\n")
    assert "\\frac{1}{" in render_markdown("$$\n\\frac{1}{")


def test_invalid_surrogates_become_replacement_characters() -> None:
    html = render_markdown("bad \ud800 pair \udfff end")
    assert "\ud800" not in html and "\udfff" not in html
    assert html.count("\ufffd") == 2
    html.encode("utf-8")  # valid UTF-8 all the way to the web page
    renderer = StreamRenderer()
    renderer.push("a\ud83d")
    renderer.push("\ude00b")
    assert renderer.finish() == render_markdown("a\ud83d\ude00b")


def test_right_to_left_text_is_kept() -> None:
    text = "مرحبا بالعالم **غامق** و $x^2$\n\nשלום עולם"
    html = render_markdown(text)
    assert "مرحبا بالعالم" in html and "<strong>غامق</strong>" in html and "שלום עולם" in html
    assert math_sources(html, "inline") == ["x^2"]


# -- nesting deeper than the parser's limit --------------------------------------------------

AFTER_DEEP = (
    "A closing paragraph with *emphasis*.\n\n"
    "```python\nprint('after the list')\n```\n\n"
    "$$\nx^2 + y_{after}\n$$\n"
)
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w+")
# The words a reader sees; a fence's language is an attribute, not text.
AFTER_WORDS = _WORD.findall(AFTER_DEEP.replace("```python", "```"))


def visible_words(html: str) -> Counter[str]:
    """The words a reader sees: tags dropped, entities decoded."""
    return Counter(_WORD.findall(html_lib.unescape(_TAG.sub(" ", html))))


def missing_words(words: list[str], html: str) -> Counter[str]:
    return Counter(words) - visible_words(html)


def nested_list(depth: int) -> tuple[str, list[str]]:
    """A bullet list `depth` levels deep, one item per level, and the words it holds."""
    text = "".join("  " * i + f"- level{i + 1} item\n" for i in range(depth))
    return text, _WORD.findall(text)


def nested_quote(depth: int) -> tuple[str, list[str]]:
    text = "> " * depth + "deep quote words\n" + "> " * depth + "and a second line\n"
    return text, ["deep", "quote", "words", "and", "a", "second", "line"]


@pytest.mark.parametrize("depth", [10, 25, 200])
def test_a_deep_list_shows_its_deep_part_as_text_and_everything_after_it(depth: int) -> None:
    deep, words = nested_list(depth)
    html = render_markdown(deep + "\n" + AFTER_DEEP)
    assert not missing_words(words + AFTER_WORDS, html)
    assert "<li>level1 item" in html  # the shallow levels are still a list
    assert f"- level{depth} item" in html  # the deepest item is shown as its text
    assert html.endswith(render_markdown(AFTER_DEEP))
    assert "<p>A closing paragraph with <em>emphasis</em>.</p>" in html
    assert '<pre class="code" data-lang="python">' in html and "print" in html
    assert math_sources(html, "display") == ["x^2 + y_{after}"]


def test_a_deep_blockquote_shows_its_deep_part_as_text_and_everything_after_it() -> None:
    deep, words = nested_quote(100)
    html = render_markdown(deep + "\n" + AFTER_DEEP)
    assert not missing_words(words + AFTER_WORDS, html)
    assert 0 < html.count("<blockquote>") < 100
    assert "&gt; &gt; deep quote words" in html  # what is deeper is shown as text
    assert html.endswith(render_markdown(AFTER_DEEP))
    assert math_sources(html, "display") == ["x^2 + y_{after}"]


def nested(style: str, depth: int, words: list[str]) -> str:
    """`words[i]` at nesting level i in one of the ways Markdown nests blocks."""
    if style == "bullets":
        return "".join("  " * i + f"- {w}\n" for i, w in enumerate(words))
    if style == "ordered":
        return "".join("   " * i + f"1. {w}\n" for i, w in enumerate(words))
    if style == "quotes":
        return "".join("> " * (i + 1) + f"{w}\n" for i, w in enumerate(words))
    if style == "quoted list":
        return "".join("> " * (i + 1) + f"- {w}\n" for i, w in enumerate(words))
    markers = {"bullets on one line": "- ", "quotes on one line": "> ", "mixed on one line": "> - "}
    return markers[style] * depth + " ".join(words) + "\n"


NESTING_STYLES = [
    "bullets",
    "ordered",
    "quotes",
    "quoted list",
    "bullets on one line",
    "quotes on one line",
    "mixed on one line",
]


@settings(max_examples=80, deadline=None)
@given(
    depth=st.integers(min_value=1, max_value=300),
    style=st.sampled_from(NESTING_STYLES),
    extra=st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,7}", fullmatch=True), max_size=5),
)
def test_no_word_is_lost_at_any_nesting_depth(depth: int, style: str, extra: list[str]) -> None:
    words = [f"w{i}" for i in range(depth)]
    words[-1] = " ".join([words[-1], *extra])
    text = nested(style, depth, words) + "\ntrailing words stay\n"
    html = render_markdown(text)
    expected = [*_WORD.findall(" ".join(words)), "trailing", "words", "stay"]
    assert not missing_words(expected, html), (style, depth)
    assert html.endswith("<p>trailing words stay</p>\n")


def test_a_huge_line_of_inline_markup_renders_as_plain_text() -> None:
    line = "*_[" * 40_000  # 120,000 characters: past the inline parser's size limit
    html = render_markdown(line + "\n\nafter *this*\n")
    assert html == f"<p>{line}</p>\n<p>after <em>this</em></p>\n"
    renderer = StreamRenderer()
    for start in range(0, len(line), 30_000):
        renderer.feed(line[start : start + 30_000])
    assert renderer.html() == f"<p>{line}</p>\n"
