"""The Markdown export format as text: round trips with hostile content, what a Markdown
renderer makes of an export, front matter that YAML reads, refusals, and file names."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from mdit_py_plugins import amsmath
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.texmath import texmath_plugin

from app.backend.events import ChatStats
from app.chat.transfer import (
    DamagedExport,
    NotAnExport,
    TransferError,
    _close_for,
    _parsers,
    _plainly_closed,
    chat_to_markdown,
    closing_lines,
    file_stem,
    parse_markdown,
    unique_names,
)
from app.store import Chat, ChatSettings, ContextUsage, Message, Provenance

# ---------------------------------------------------------------- hostile content

HOSTILE_LINES = [
    "---",
    "phidesk_export: 1",
    "title: fake",
    "## User · 2026-11-29 06:33:52 UTC",
    "## Assistant · 2026-01-01 00:00:00 UTC · error",
    '<!-- phidesk {"role": "user", "lines": 1} -->',
    "<!-- phidesk {} -->",
    "# Title",
    "```",
    "````python",
    "~~~",
    "  ```js",
    "`````",
    "~~~~~~ text",
    "$5 and $10, $ 3",
    "$$",
    "$$x^2$$",
    "$\\frac{a}{b}$",
    "\\[ x \\]",
    "<details>",
    "<summary>Reasoning</summary>",
    "</details>",
    "<!--",
    "-->",
    "<pre>",
    "<script>alert(1)</script>",
    "<?php",
    "<![CDATA[",
    "<!DOCTYPE html",
    "<div>",
    "> quote",
    "    indented code",
    "- item",
    "1. item",
    "  - nested",
    "   ```",
    "  ~~~",
    "  $$",
    "- ```",
    "> ```",
    "===",
    "[ref]: https://example.com",
    "trailing spaces   ",
    "\t tab",
    "emoji 👨‍👩‍👧 🙂",
    "שלום עולם مرحبا",
    "\u202etxt.exe",
    "nul\x00byte",
    "\x85 next line \u2028 line sep",
    "",
]

NEWLINES = st.sampled_from(["\n", "\n", "\r\n", "\r", ""])


@st.composite
def hostile_text(draw: st.DrawFn, max_parts: int = 12) -> str:
    parts = draw(
        st.lists(
            st.one_of(st.sampled_from(HOSTILE_LINES), st.text(max_size=12)),
            max_size=max_parts,
        )
    )
    out: list[str] = []
    for part in parts:
        out.append(part)
        out.append(draw(NEWLINES))
    return "".join(out)


def title_text() -> st.SearchStrategy[str]:
    return st.one_of(hostile_text(max_parts=3), st.text(max_size=30))


TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
SMALL_INT = st.integers(min_value=-(2**53), max_value=2**53)
FLOAT = st.floats(allow_nan=False, allow_infinity=False)
JSON_SCALAR = st.one_of(st.none(), st.booleans(), SMALL_INT, FLOAT, st.text(max_size=10))
OPTIONS = st.dictionaries(st.text(max_size=8), JSON_SCALAR, max_size=3)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


SETTINGS = st.builds(
    ChatSettings,
    num_ctx=optional(st.integers(1, 2**20)),
    temperature=optional(FLOAT),
    seed=optional(SMALL_INT),
    think=optional(st.booleans()),
    keep_alive=optional(st.text(max_size=8)),
    extra=OPTIONS,
)
STATS = st.builds(
    ChatStats,
    prompt_eval_count=optional(st.integers(0, 10**6)),
    eval_count=optional(st.integers(0, 10**6)),
    total_duration_ns=optional(st.integers(0, 10**12)),
    load_duration_ns=optional(st.integers(0, 10**12)),
    prompt_eval_duration_ns=optional(st.integers(0, 10**12)),
    eval_duration_ns=optional(st.integers(0, 10**12)),
    done_reason=optional(st.sampled_from(["stop", "length", "load"])),
)


@st.composite
def provenances(draw: st.DrawFn, message_ids: list[int]) -> Provenance:
    return Provenance(
        model=draw(st.text(max_size=12)),
        model_digest=draw(optional(st.text(max_size=12))),
        quantization=draw(optional(st.sampled_from(["Q4_K_M", "Q8_0", "F16", "q4 <b>"]))),
        requested_num_ctx=draw(optional(st.integers(1, 2**20))),
        effective_num_ctx=draw(optional(st.integers(1, 2**20))),
        gpu_percent=draw(optional(st.floats(0, 100))),
        options=draw(OPTIONS),
        ollama_version=draw(optional(st.text(max_size=8))),
        tokens_per_second=draw(optional(st.floats(0, 1e4))),
        excluded_message_ids=tuple(
            draw(st.lists(st.sampled_from(message_ids), unique=True)) if message_ids else ()
        ),
        warning=draw(optional(hostile_text(max_parts=2))),
    )


@st.composite
def chats(draw: st.DrawFn, max_messages: int = 6) -> tuple[Chat, list[Message]]:
    """A chat and its messages as the store would return them, full of hostile text."""
    chat_id = draw(st.integers(1, 10**6))
    count = draw(st.integers(0, max_messages))
    ids = sorted(draw(st.lists(st.integers(1, 10**9), min_size=count, max_size=count, unique=True)))
    messages = []
    for message_id in ids:
        created = draw(TIMES)
        messages.append(
            Message(
                id=message_id,
                chat_id=chat_id,
                role=draw(st.sampled_from(["user", "assistant", "system"])),
                content=draw(hostile_text()),
                thinking=draw(st.one_of(st.just(""), hostile_text(max_parts=4))),
                status=draw(st.sampled_from(["complete", "interrupted", "error", "stopped"])),
                error=draw(optional(hostile_text(max_parts=2))),
                created_at=created,
                updated_at=draw(TIMES),
                stats=draw(optional(STATS)),
                provenance=draw(optional(provenances(ids[: ids.index(message_id)]))),
            )
        )
    chat = Chat(
        id=chat_id,
        title=draw(title_text()),
        kind=draw(st.sampled_from(["normal", "quick"])),
        model=draw(st.sampled_from(["phi4-mini", "phi4-reasoning:plus", "phi4:14b-q8_0"])),
        system_prompt=draw(st.one_of(st.just(""), hostile_text(max_parts=4))),
        settings=draw(SETTINGS),
        pinned=draw(st.booleans()),
        created_at=draw(TIMES),
        updated_at=draw(TIMES),
        deleted_at=None,
        context=ContextUsage(used=draw(optional(st.integers(0, 10**6))), limit=None),
        message_count=count,
        engine=draw(st.sampled_from(["ollama", "lab-vllm", "open.router_1"])),
    )
    return chat, messages


EXPORTED_AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OPTION_SETS = st.sampled_from([(True, False), (True, True), (False, False), (False, True)])


def export(chat: Chat, messages: list[Message], options: tuple[bool, bool]) -> str:
    return chat_to_markdown(
        chat,
        messages,
        include_thinking=options[0],
        include_provenance=options[1],
        exported_at=EXPORTED_AT,
    )


# ---------------------------------------------------------------- round trip (text level)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chats(), OPTION_SETS)
def test_parsing_an_export_gives_back_every_exported_fact(
    chat_and_messages: tuple[Chat, list[Message]], options: tuple[bool, bool]
) -> None:
    chat, messages = chat_and_messages
    include_thinking, include_provenance = options
    parsed = parse_markdown(export(chat, messages, options))

    assert parsed.chat.id == chat.id
    assert parsed.chat.title == chat.title
    assert parsed.chat.system_prompt == chat.system_prompt
    assert parsed.chat.settings == chat.settings
    assert (parsed.chat.created_at, parsed.chat.updated_at) == (chat.created_at, chat.updated_at)
    assert (parsed.chat.kind, parsed.chat.pinned, parsed.chat.model) == (
        chat.kind,
        chat.pinned,
        chat.model,
    )
    assert parsed.chat.context == chat.context
    assert parsed.chat.engine == chat.engine
    assert len(parsed.messages) == len(messages)
    positions = {m.id: n for n, m in enumerate(messages, start=1)}
    for original, back in zip(messages, parsed.messages, strict=True):
        assert back.content == original.content
        assert back.thinking == (original.thinking if include_thinking else "")
        assert (back.role, back.status, back.error) == (
            original.role,
            original.status,
            original.error,
        )
        assert (back.created_at, back.updated_at) == (original.created_at, original.updated_at)
        assert back.stats == (original.stats if include_provenance else None)
        if include_provenance and original.provenance is not None:
            assert back.provenance is not None
            excluded = tuple(positions[i] for i in original.provenance.excluded_message_ids)
            assert back.provenance.excluded_message_ids == excluded
            assert back.provenance.options == original.provenance.options
            assert back.provenance.warning == original.provenance.warning
        else:
            assert back.provenance is None


@settings(max_examples=200, deadline=None)
@given(chats(), OPTION_SETS)
def test_the_front_matter_is_yaml_that_says_the_same(
    chat_and_messages: tuple[Chat, list[Message]], options: tuple[bool, bool]
) -> None:
    chat, messages = chat_and_messages
    text = export(chat, messages, options)
    front = text.split("\n---\n", 1)[0].removeprefix("---\n")
    facts = yaml.safe_load(front)
    assert facts["phidesk_export"] == 1
    assert facts["title"] == chat.title
    assert facts["system_prompt"] == chat.system_prompt
    assert facts["id"] == chat.id
    assert facts["model"] == chat.model
    assert facts["num_ctx"] == chat.settings.num_ctx
    assert datetime.fromisoformat(facts["created"]) == chat.created_at
    assert datetime.fromisoformat(facts["exported_at"]) == EXPORTED_AT
    assert facts["messages"] == len(messages)


def test_the_front_matter_names_the_quantization_of_the_last_answer_that_had_one() -> None:
    made = datetime(2026, 3, 1, tzinfo=UTC)
    answers = [
        Message(
            id=i,
            chat_id=1,
            role="assistant",
            content=f"answer {i}",
            thinking="",
            status="complete",
            error=None,
            created_at=made,
            updated_at=made,
            stats=None,
            provenance=Provenance(model="phi4", quantization=q),
        )
        for i, q in ((1, "Q8_0"), (2, "Q4_K_M"), (3, None))
    ]
    chat = Chat(1, "t", "normal", "phi4", "", ChatSettings(), False, made, made, None,
                ContextUsage(), 3)  # fmt: skip
    facts = yaml.safe_load(export(chat, answers, (True, False)).split("\n---\n", 1)[0][4:])
    assert facts["quantization"] == "Q4_K_M"
    assert facts["provenance"] is False


# ---------------------------------------------------------------- what a renderer sees


def _with_math(md: MarkdownIt) -> MarkdownIt:
    """The math syntaxes of PhiDesk's view (docs/design.md): $…$/$$…$$, \\[…\\] and amsmath."""
    return md.use(amsmath_plugin).use(texmath_plugin, delimiters="brackets").use(dollarmath_plugin)


def _renderers(html: bool) -> tuple[MarkdownIt, MarkdownIt]:
    document = _with_math(MarkdownIt("commonmark", {"html": html}).use(front_matter_plugin))
    alone = _with_math(MarkdownIt("commonmark", {"html": html}))
    return document, alone


def _line_of(text: str, offset: int) -> int:
    """The line number markdown-it gives the line starting at `offset` (it treats CR, LF and
    CRLF each as one line ending)."""
    return len(re.findall(r"\r\n|\r|\n", text[:offset]))


def _self_contained(alone: MarkdownIt, content: str) -> bool:
    """True if nothing in `content` (code fence, raw HTML block, math block) stays open and
    would swallow what follows it, even a later line that could close it."""
    ends = "".join(f"\\end{{{name}}}\n\\end{{{name}*}}\n" for name in amsmath.ENVIRONMENTS)
    probe = "\n\n## probe-heading\n$$\n\\]\n" + ends + "```\n~~~\n-->\n"
    tokens = alone.parse(content + probe)
    return any(t.type == "inline" and t.content == "probe-heading" for t in tokens)


@pytest.mark.parametrize("html", [False, True], ids=["html-off", "html-on"])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat_and_messages=chats(), options=OPTION_SETS)
def test_a_renderer_sees_one_section_per_message_with_the_content_intact(
    html: bool, chat_and_messages: tuple[Chat, list[Message]], options: tuple[bool, bool]
) -> None:
    chat, messages = chat_and_messages
    if html:
        # Renderers with and without raw HTML disagree on a few texts (a fence opened inside a
        # raw-HTML block that a blank line ends), and then PhiDesk's own view, without raw
        # HTML, is the one kept whole (test_renderers_that_disagree_...). Leave those out here.
        blocks = [m.content for m in messages] + [m.thinking for m in messages if options[0]]
        assume(all(closing_lines(b if b.endswith("\n") else b + "\n").sealed for b in blocks))
    text = export(chat, messages, options)
    parsed = parse_markdown(text)
    document, alone = _renderers(html)
    env: dict[str, Any] = {}
    tokens = document.parse(text, env)

    headings = [_line_of(text, offset) for offset in parsed.heading_offsets]
    section_starts = [
        t.map[0]
        for t in tokens
        if t.type == "heading_open" and t.level == 0 and t.tag == "h2" and t.map
    ]
    # Every message heading is a real second-level heading: nothing before it swallowed it.
    assert set(headings) <= set(section_starts)
    assert len(headings) == len(messages)
    # Cut the file at every message heading and every content start. Nothing leaks across a
    # cut exactly when the whole document renders as its pieces do, one after the other.
    cuts = sorted({*parsed.heading_offsets, *(start for start, _ in parsed.content_offsets)})
    pieces = [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    expected = document.render(pieces[0], dict(env)) + "".join(
        alone.render(piece, dict(env)) for piece in pieces[1:]
    )
    assert document.render(text, dict(env)) == expected

    section_ends = [*parsed.heading_offsets[1:], len(text)][: len(messages)]
    for message, (start, _end), section_end in zip(
        messages, parsed.content_offsets, section_ends, strict=True
    ):
        own_text = text[start:section_end]
        assert own_text.startswith(message.content)  # byte for byte
        if _self_contained(alone, message.content):
            # Nothing was added that changes it: it renders as the message does on its own. The
            # export ends every message with a line break, so compare with that line ended: a
            # fence left open in a list item keeps the break in its code, as it must.
            ended = message.content if message.content.endswith("\n") else message.content + "\n"
            assert alone.render(own_text, dict(env)).startswith(alone.render(ended, dict(env)))


def test_renderers_that_disagree_about_a_fence_keep_phidesks_own_view_whole() -> None:
    # With raw HTML, <details> starts an HTML block holding the ``` line, ended by the blank
    # line; without raw HTML the ``` opens a fence. No closing line satisfies both.
    block = "<details>\n```\n\n"
    closing = closing_lines(block)
    assert not closing.sealed
    without_html = MarkdownIt("commonmark", {"html": False})
    tokens = without_html.parse(block + "".join(line + "\n" for line in closing.lines) + "\n# x\n")
    assert tokens[-3].type == "heading_open"


STRUCTURAL_LINES = [
    *["```", "````", "~~~", "```js", "  ```", "   ```", "    ```", "\t```", "- ```"],
    *["- a", "  - b", "1. c", "   x", "  x", "    x", "text", "", "", "# h", "---"],
    *["$$", "  $$", "$$x$$", "x $$", "$$ (1)", "- $$", "a $$ b", "> q", "<div>"],
]


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        hostile_text(max_parts=16),
        st.lists(st.sampled_from(STRUCTURAL_LINES), max_size=10).map("\n".join),
    )
)
def test_the_quick_scan_only_vouches_for_text_every_renderer_sees_closed(content: str) -> None:
    block = content if content.endswith("\n") else content + "\n"
    if _plainly_closed(block):
        assert _close_for(block, _parsers()) == ([], True)


def test_an_unclosed_fence_is_closed_before_the_next_message() -> None:
    made = datetime(2026, 3, 1, tzinfo=UTC)
    texts = ["````python\nprint('```')\n", "## not a section\n\nsecond"]
    messages = [
        Message(i, 1, "user", body, "", "complete", None, made, made, None, None)
        for i, body in enumerate(texts, start=1)
    ]
    chat = Chat(1, "t", "normal", "m", "", ChatSettings(), False, made, made, None,
                ContextUsage(), 2)  # fmt: skip
    text = export(chat, messages, (True, False))
    tokens = MarkdownIt("commonmark", {"html": False}).use(front_matter_plugin).parse(text)
    fences = [t for t in tokens if t.type == "fence"]
    assert [f.content for f in fences] == ["print('```')\n"]
    h2 = [t for t in tokens if t.type == "heading_open" and t.tag == "h2"]
    titles = [tokens[tokens.index(h) + 1].content for h in h2]
    assert titles[0].startswith("User · 2026-03-01")
    assert titles[1].startswith("User · 2026-03-01")
    assert titles[2] == "not a section"  # the second message's own heading, kept as it was


def test_a_fence_left_open_in_a_list_item_ends_with_its_message() -> None:
    """Found by hypothesis: the list item closes the fence, and the following message is a
    section of its own; the code keeps the message's last line."""
    made = datetime(2026, 3, 1, tzinfo=UTC)
    texts = ["---\n- ```\n  ```js", "next"]
    messages = [
        Message(i, 1, "user", body, "", "complete", None, made, made, None, None)
        for i, body in enumerate(texts, start=1)
    ]
    chat = Chat(1, "t", "normal", "m", "", ChatSettings(), False, made, made, None,
                ContextUsage(), 2)  # fmt: skip
    text = export(chat, messages, (True, False))
    tokens = MarkdownIt("commonmark", {"html": False}).use(front_matter_plugin).parse(text)
    fences = [t for t in tokens if t.type == "fence"]
    assert [f.content for f in fences] == ["```js\n"]
    h2 = [t for t in tokens if t.type == "heading_open" and t.tag == "h2"]
    assert len(h2) == 2
    assert parse_markdown(text).messages[0].content == texts[0]


# ---------------------------------------------------------------- refusals and damage


def test_the_example_in_the_format_documentation_is_a_valid_export() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "export-format.md").read_text(encoding="utf-8")
    example = doc.split("```markdown\n", 1)[1].split("\n```\n", 1)[0] + "\n"
    parsed = parse_markdown(example)
    assert parsed.chat.title == "Sums" and parsed.chat.settings.num_ctx == 8192
    assert [m.role for m in parsed.messages] == ["user", "assistant"]
    assert parsed.messages[1].thinking == "Pair the first and last terms."
    assert parsed.messages[1].content.endswith("$$\n\\frac{n(n+1)}{2}\n$$\n")
    again = chat_to_markdown(
        parsed.chat,
        list(parsed.messages_to_import()),
        exported_at=datetime.fromisoformat("2026-11-29T12:00:00+00:00"),
    )
    assert again == example


@pytest.mark.parametrize(
    "text",
    [
        "# Notes\n\nJust some Markdown.\n",
        "---\ntitle: A blog post\nlayout: post\n---\n\nHello\n",
        "",
        "---\nphidesk_export: 1\n",  # never closed
    ],
    ids=["plain", "other-front-matter", "empty", "unclosed-front-matter"],
)
def test_markdown_that_is_not_a_phidesk_export_is_refused_with_one_sentence(text: str) -> None:
    with pytest.raises(NotAnExport) as caught:
        parse_markdown(text, source="notes.md")
    message = str(caught.value)
    assert message.startswith("notes.md is not a PhiDesk export")
    assert "\n" not in message


def _sample_export() -> str:
    made = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    messages = [
        Message(1, 7, "user", "line one\nline two\n", "", "complete", None, made, made, None, None),
        Message(2, 7, "assistant", "answer", "why", "complete", None, made, made, None, None),
    ]
    chat = Chat(7, "Sample", "normal", "phi4-mini", "", ChatSettings(), False, made, made,
                None, ContextUsage(), 2)  # fmt: skip
    return export(chat, messages, (True, False))


def test_an_edit_inside_a_message_line_imports_with_the_edit() -> None:
    text = _sample_export().replace("line two", "line 2, fixed by hand")
    parsed = parse_markdown(text)
    assert parsed.messages[0].content == "line one\nline 2, fixed by hand\n"
    assert parsed.messages[1].content == "answer"


def test_added_lines_are_reported_as_a_damaged_export_naming_the_line() -> None:
    text = _sample_export().replace("line two\n", "line two\nan extra line\n")
    with pytest.raises(DamagedExport, match=r"^chat\.md is damaged: .* line \d+"):
        parse_markdown(text, source="chat.md")


def test_an_export_from_a_newer_phidesk_says_to_update() -> None:
    text = _sample_export().replace("phidesk_export: 1\n", "phidesk_export: 99\n")
    with pytest.raises(TransferError, match="newer PhiDesk"):
        parse_markdown(text)


def test_a_file_whose_line_endings_were_turned_into_crlf_still_imports() -> None:
    text = _sample_export()
    parsed = parse_markdown("\ufeff" + text.replace("\n", "\r\n"))
    assert [m.content for m in parsed.messages] == ["line one\nline two\n", "answer"]
    assert parsed.messages[1].thinking == "why"


# ---------------------------------------------------------------- file names

WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{d}{n}" for d in ("COM", "LPT") for n in "0123456789¹²³"
}


def assert_portable(name: str) -> None:
    stem = name.removesuffix(".md")
    assert stem
    assert not set('<>:"/\\|?*') & set(name)
    assert all(unicodedata.category(ch) not in ("Cc", "Cs", "Zl", "Zp") for ch in name)
    assert not any(ch in name for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert not stem.startswith(".") and not stem.startswith("-")
    assert not stem.endswith((".", " ")) and not stem.startswith(" ")
    assert stem.split(".")[0].strip().upper() not in WINDOWS_RESERVED
    assert len(name.encode("utf-8")) <= 255
    assert len(name.encode("utf-16-le")) // 2 <= 255
    assert unicodedata.normalize("NFC", name) == name


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), title_text(), st.sampled_from(["con", "Nul.txt", "LPT¹", " . "])))
def test_file_names_from_any_title_are_valid_on_windows_macos_and_linux(title: str) -> None:
    assert_portable(file_stem(title, fallback="chat-1") + ".md")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Primes: a/b test?", "Primes_ a_b test_"),
        ("CON", "_CON"),
        ("aux.notes", "_aux.notes"),
        ("...hidden...", "hidden"),
        ("  \n\t ", "chat-9"),
        ("Résumé 🙂 שלום", "Résumé 🙂 שלום"),
        ("evil\u202egnp.md", "evilgnp.md"),
    ],
)
def test_file_stem_examples(title: str, expected: str) -> None:
    assert file_stem(title, fallback="chat-9") == expected


def test_unique_names_never_collide_even_ignoring_case_and_normalisation() -> None:
    made = datetime(2026, 3, 1, tzinfo=UTC)

    def chat(chat_id: int, title: str) -> Chat:
        return Chat(chat_id, title, "normal", "m", "", ChatSettings(), False, made, made, None,
                    ContextUsage(), 0)  # fmt: skip

    titles = ["Notes", "notes", "NOTES", "Café", "Cafe\u0301", "", "a/b", "a_b"]
    names = unique_names([chat(i, t) for i, t in enumerate(titles, 1)], taken=["notes (2).md"])
    keys = [unicodedata.normalize("NFC", n).casefold() for n in names]
    assert len(set(keys)) == len(names)
    assert "notes (2).md" not in keys
    assert names[0] == "Notes.md"
    assert names[5] == "chat-6.md"
    for name in names:
        assert_portable(name)
