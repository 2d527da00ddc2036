"""Choosing the parts of attached documents for a question, within the context budget."""

from __future__ import annotations

from functools import cache

from app.chat.context import BudgetMessage, ContextBudget
from app.chat.documents import extract_bytes, split_chunks
from app.chat.documents.chunks import Chunk
from app.chat.documents.prompt import (
    PoolDocument,
    chip_text,
    render_block,
    turn_documents,
)
from app.chat.documents.select import bm25_order, cosine_order, named_pages, pages_first
from app.store.records import SentPart
from tests.documents_pdf import make_pdf, report_pages

QUESTION = "What coolant temperature did the Halvorsen reactor reach?"


@cache
def _report(attachment_id: int = 1) -> PoolDocument:
    found = extract_bytes("report.pdf", make_pdf(report_pages()))
    return PoolDocument(
        attachment_id, "report.pdf", found.sha256, found.text, tuple(split_chunks(found.blocks))
    )


def _doc(attachment_id: int, name: str, text: str) -> PoolDocument:
    found = extract_bytes(name, text.encode())
    return PoolDocument(
        attachment_id, name, found.sha256, found.text, tuple(split_chunks(found.blocks))
    )


def test_bm25_puts_the_answer_before_distractors_sharing_the_words() -> None:
    report = _report()
    order = bm25_order([c.text for c in report.chunks], QUESTION)
    assert report.chunks[order[0]].pages == (212,)
    # pages 7, 14, … share "coolant temperature Halvorsen reactor" but hold no answer
    assert all(report.chunks[i].pages[0] % 7 == 0 for i in order[1:4])


def test_bm25_keeps_unmatched_parts_in_their_order_and_survives_odd_queries() -> None:
    texts = ["apples and pears", "nothing here", "pears only"]
    assert bm25_order(texts, "pears") == [2, 0, 1]
    assert bm25_order(texts, "") == [0, 1, 2]
    assert bm25_order(texts, '" OR NEAR( * -') == [0, 1, 2]


def test_pages_the_question_names_come_first() -> None:
    assert named_pages("What is on page 212? And pp. 3-5, p.9") == {212, 3, 4, 5, 9}
    assert named_pages("pages 10 to 400") == {10}
    assert pages_first([0, 1, 2, 3], [(1,), (2,), (3,), ()], {3, 2}) == [1, 2, 0, 3]
    assert pages_first([2, 1], [(1,), (2,), (3,)], set()) == [2, 1]


def test_cosine_order() -> None:
    vectors = [[1.0, 0.0], [0.0, 1.0], [0.7, 0.7], [0.0, 0.0]]
    assert cosine_order(vectors, [0.0, 2.0]) == [1, 2, 0, 3]


def test_a_small_document_goes_whole_beside_the_history() -> None:
    budget = ContextBudget(4096)
    note = _doc(5, "note.md", "# Note\n\nThe code word is *pelican*.\n")
    docs = turn_documents([note], "What is the code word?", budget.estimate_text)
    assert docs is not None
    history = [BudgetMessage(i, "user", "x" * 300) for i in range(3)]
    plan = budget.plan(None, history, "What is the code word?", docs.offer)
    assert not plan.documents_cut and plan.excluded_ids == ()
    assert plan.document_parts == ("0/whole",)
    prefix = docs.prefix(plan)
    assert prefix == render_block("note.md", "whole", note.text)
    assert "The code word is *pelican*." in prefix
    assert plan.document_tokens == budget.estimate_text(prefix)
    assert chip_text(docs.chosen(plan), len(note.chunks)) == "whole"


def test_a_long_document_gets_the_best_parts_up_to_half_the_window() -> None:
    budget = ContextBudget(4096)
    report = _report()
    docs = turn_documents([report], QUESTION, budget.estimate_text)
    assert docs is not None
    history = [BudgetMessage(i, "user" if i % 2 else "assistant", "y" * 900) for i in range(8)]
    plan = budget.plan("Be brief.", history, QUESTION, docs.offer)
    assert plan.documents_cut
    chosen = docs.chosen(plan)
    assert any(p.pages == (212,) for p in chosen)
    assert 0 < plan.document_tokens <= 4096 // 2
    assert plan.document_tokens == sum(
        budget.estimate_text(docs.blocks[k]) for k in plan.document_parts
    )
    assert plan.used + plan.reserve <= plan.limit
    # history fills what is left, newest first, cut at one point
    assert plan.included_ids == tuple(range(8 - len(plan.included_ids), 8))
    assert plan.excluded_ids == tuple(range(8 - len(plan.included_ids)))
    # reading order in the request
    assert [p.seq for p in chosen] == sorted(p.seq for p in chosen if p.seq is not None)
    text = chip_text(chosen, len(report.chunks))
    assert text.startswith(f"{len(chosen)} of 300 parts (pages ") and "212" in text


def test_documents_whole_when_they_fit_in_half_the_window_even_if_history_must_go() -> None:
    budget = ContextBudget(4096)
    notes = _doc(1, "a.txt", "word " * 800)  # ~1,350 tokens: fits within half the window
    docs = turn_documents([notes], "word?", budget.estimate_text)
    assert docs is not None
    history = [BudgetMessage(i, "user", "z" * 3000) for i in range(4)]
    plan = budget.plan(None, history, "word?", docs.offer)
    assert plan.document_parts == ("0/whole",) and not plan.documents_cut
    assert plan.excluded_ids and plan.used + plan.reserve <= plan.limit


def test_no_documents_no_share() -> None:
    budget = ContextBudget(2048)
    assert turn_documents([], "q", budget.estimate_text) is None
    plan = budget.plan(None, [], "q", None)
    assert (plan.document_tokens, plan.document_parts, plan.documents_cut) == (0, (), False)


def test_labels_and_fences() -> None:
    block = render_block("a\nb.md", "page 3 (part 2 of 9)", "x ```` y")
    assert block.startswith("[Attached file a b.md — page 3 (part 2 of 9)]\n`````\n")
    assert block.endswith("\n`````\n\n")
    part = SentPart(1, "g.md", "0" * 64, 2, 9, (), ("Guide", "Setup"))
    assert part.location() == "Guide › Setup (part 3 of 9)"
    assert SentPart(1, "n.txt", "", 0, 4).location() == "part 1 of 4"
    assert SentPart(1, "r.pdf", "", 3, 9, (4, 5)).location() == "pages 4–5 (part 4 of 9)"
    assert chip_text([], 3) == "not sent"
    assert chip_text([SentPart(1, "r", "", 0, 9, (9,))], 9) == "1 of 9 parts (page 9)"
    assert chip_text([SentPart(1, "r", "", i, 2) for i in range(2)], 2) == "whole"
    assert Chunk(0, "t", 3, 3).location() == "page 3"
