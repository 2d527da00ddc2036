"""Documents in the context window, end to end: the workspace, a real SQLite file and the Ollama
double over a socket. What the model received is read from the double's recorded requests."""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest

from app.backend.client import OllamaClient
from app.chat.documents import DocumentRefused
from app.chat.documents.turn import leaves_machine, to_new_attachment
from app.chat.session import TurnStarted
from app.config import Paths
from app.errors import PhiDeskError
from app.store import ChatSettings
from app.workspace import RunningTurn, Workspace
from app.workspace.turns import TurnEvent
from tests.documents_pdf import make_pdf, report_pages
from tests.ollama_double.checks import call
from tests.ollama_double.server import OllamaDouble

QUESTION = "What coolant temperature did the Halvorsen reactor reach?"
SPRING = "Which temperature was reached during the spring inspection?"
BLOCK = re.compile(r"\[Attached file (?P<name>[^\]]*?) — (?P<label>[^\]]*)\]\n(?P<fence>`{3,})\n")


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths.resolve(tmp_path / "data").ensure()


def _starts(turn: RunningTurn) -> list[TurnStarted]:
    seen: list[TurnStarted] = []

    def heard(_turn: RunningTurn, event: TurnEvent) -> None:
        if isinstance(event, TurnStarted):
            seen.append(event)

    turn.listen(heard)
    return seen


async def _done(turn: RunningTurn) -> None:
    assert turn.task is not None
    await asyncio.wait([turn.task])
    assert turn.refused is None, turn.refused
    assert turn.finished is not None and turn.finished.error is None


def _question_sent(double: OllamaDouble) -> str:
    content = double.requests_to("/api/chat")[-1].body["messages"][-1]["content"]
    assert isinstance(content, str)
    return content


def _blocks(text: str) -> list[tuple[str, str, str]]:
    """(name, label, body) of each block before the question."""
    found = []
    position = 0
    while match := BLOCK.match(text, position):
        fence = match.group("fence")
        end = text.index(f"\n{fence}\n\n", match.end())
        found.append((match.group("name"), match.group("label"), text[match.end() : end]))
        position = end + len(fence) + 3
    return found


def test_a_small_file_goes_in_whole_and_verbatim(
    paths: Paths, ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    source = tmp_path / "notes.md"
    text = "# Notes\n\nThe code word is *pelican* — with `ticks` and ```fences```.\n"
    source.write_text(text, encoding="utf-8")

    async def go() -> None:
        ws = Workspace.open(paths, OllamaClient(ollama_double.url))
        try:
            chat = await ws.new_chat("phi4:latest")
            files = await ws.prepare_attachments([source])
            assert not await ws.needs_document_consent(chat.id)  # the double is on loopback
            preview = await ws.preview_documents(chat.id, "What is the code word?", files)
            assert preview.document_parts == ("0/whole",)
            turn = ws.send_with_attachments(chat.id, "What is the code word?", files)
            starts = _starts(turn)
            await _done(turn)
            sent = _question_sent(ollama_double)
            assert text.rstrip("\n") in sent
            assert sent.endswith("\n\nWhat is the code word?")
            assert [(n, label) for n, label, _ in _blocks(sent)] == [("notes.md", "whole")]
            messages = await ws.messages(chat.id)
            question, answer = messages
            assert question.content == "What is the code word?"  # the file is not in the text
            chips = await ws.attachment_chips(question.id, answer.id)
            assert [(c.attachment.name, c.text) for c in chips] == [("notes.md", "whole")]
            documents = await ws.sent_parts(answer.id)
            assert documents is not None and documents.method == "bm25"
            assert documents.tokens == starts[0].plan.document_tokens > 0
            name, data = await ws.attachment_data(chips[0].attachment.id)
            assert (name, data) == ("notes.md", text.encode())
            assert await ws.attachment_part(chips[0].attachment.id, None) == text.rstrip("\n")
        finally:
            await ws.aclose()

    asyncio.run(go())


def test_a_300_page_pdf_under_a_4096_token_window_sends_the_parts_that_fit(
    paths: Paths, ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(make_pdf(report_pages(300, answer_page=212)))

    async def go() -> None:
        ws = Workspace.open(paths, OllamaClient(ollama_double.url))
        try:
            chat = await ws.new_chat("phi4:latest", settings=ChatSettings(num_ctx=4096))
            files = await ws.prepare_attachments([report])
            turn = ws.send_with_attachments(chat.id, QUESTION, files)
            starts = _starts(turn)
            await _done(turn)
            plan = starts[0].plan
            assert plan.limit == 4096 and plan.documents_cut
            sent = _question_sent(ollama_double)
            blocks = _blocks(sent)
            labels = [label for _, label, _ in blocks]
            assert any(label.startswith("page 212 ") for label in labels)
            assert "reached 451 kelvin" in sent
            # only parts that fit: documents within half the window, all within the window
            assert 0 < len(blocks) < 20 and plan.document_tokens <= 4096 // 2
            assert plan.used + plan.reserve <= plan.limit
            # distractors share the question's words; the answer page is among those sent
            assert sum("no measured value" in body for _, _, body in blocks) < len(blocks)
            # the meter's documents share is what was sent
            budget = ws.session(chat.id).budget(await ws.chat(chat.id), None, [])
            prefix = sent[: -len(QUESTION)]
            per_block = [
                math.ceil(len(part) / budget.chars_per_token)
                for part in re.split(r"(?=\[Attached file )", prefix)
                if part
            ]
            assert plan.document_tokens == sum(per_block)
            answer = (await ws.messages(chat.id))[-1]
            documents = await ws.sent_parts(answer.id)
            assert documents is not None and documents.tokens == plan.document_tokens
            assert [p.location() for p in documents.parts] == labels
            assert sum(p.tokens for p in documents.parts) == plan.document_tokens
            question = (await ws.messages(chat.id))[0]
            chips = await ws.attachment_chips(question.id, answer.id)
            assert chips[0].text.startswith(f"{len(blocks)} of 300 parts (pages ")
            # a later turn re-selects for its own question, from the same attachment
            follow = "Which pump and valve were serviced in Section 37?"
            later = ws.send(chat.id, follow)
            await _done(later)
            again = _blocks(_question_sent(ollama_double))
            assert any(label.startswith("page 37 ") for _, label, _ in again)
        finally:
            await ws.aclose()

    asyncio.run(go())


def test_ranking_by_embeddings_asks_the_double(
    paths: Paths, ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(make_pdf(report_pages(60, answer_page=41)))

    async def go() -> None:
        ws = Workspace.open(paths, OllamaClient(ollama_double.url))
        try:
            ws.settings.update(lambda p: replace(p, embedding_model="phi4-mini:latest"))
            chat = await ws.new_chat("phi4:latest", settings=ChatSettings(num_ctx=4096))
            files = await ws.prepare_attachments([report])
            turn = ws.send_with_attachments(chat.id, SPRING, files)
            await _done(turn)
            embeds = ollama_double.requests_to("/api/embed")
            inputs = [text for r in embeds for text in r.body["input"]]
            assert all(r.body["model"] == "phi4-mini:latest" for r in embeds)
            assert len(inputs) == 60 + 1 and inputs[-1] == SPRING
            answer = (await ws.messages(chat.id))[-1]
            documents = await ws.sent_parts(answer.id)
            assert documents is not None and documents.method == "embeddings:phi4-mini:latest"
            assert any(p.pages == (41,) for p in documents.parts)
            # the vectors are kept: a second turn embeds only its question
            await _done(ws.send(chat.id, "And the coolant temperature in kelvin?"))
            assert [
                r.body["input"] for r in ollama_double.requests_to("/api/embed")[len(embeds) :]
            ] == [["And the coolant temperature in kelvin?"]]
            # a model the server lacks: BM25 instead, and the turn goes on
            ws.settings.update(lambda p: replace(p, embedding_model="nomic-embed-text:latest"))
            await _done(ws.send(chat.id, QUESTION))
            last = (await ws.messages(chat.id))[-1]
            fallback = await ws.sent_parts(last.id)
            assert fallback is not None and fallback.method == "bm25"
        finally:
            await ws.aclose()

    asyncio.run(go())


def test_an_edited_question_keeps_its_files(
    paths: Paths, ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    source = tmp_path / "spec.txt"
    source.write_text("The launch code is 7421.\n", encoding="utf-8")

    async def go() -> None:
        ws = Workspace.open(paths, OllamaClient(ollama_double.url))
        try:
            chat = await ws.new_chat("phi4:latest")
            turn = ws.send_with_attachments(
                chat.id, "code?", await ws.prepare_attachments([source])
            )
            await _done(turn)
            question = (await ws.messages(chat.id))[0]
            await _done(ws.edit(chat.id, question.id, "What is the launch code?"))
            edited = (await ws.messages(chat.id))[0]
            assert edited.id != question.id
            listed = await ws.attachments([edited.id, question.id])
            assert [a.name for a in listed[edited.id]] == ["spec.txt"]
            assert [a.name for a in listed[question.id]] == ["spec.txt"]
            assert "The launch code is 7421." in _question_sent(ollama_double)
            # regenerating sends it again
            await _done(ws.regenerate(chat.id))
            assert "The launch code is 7421." in _question_sent(ollama_double)
        finally:
            await ws.aclose()

    asyncio.run(go())


def test_a_refused_file_keeps_nothing(
    paths: Paths, ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("fine\n", encoding="utf-8")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 4)

    async def go() -> None:
        ws = Workspace.open(paths, OllamaClient(ollama_double.url))
        try:
            chat = await ws.new_chat("phi4:latest")
            with pytest.raises(DocumentRefused, match=r"blob\.bin is a binary file"):
                await ws.prepare_attachments([good, binary])
            with pytest.raises(DocumentRefused, match=r"gone\.txt is no longer there"):
                await ws.prepare_attachments([tmp_path / "gone.txt"])
            ws.settings.update(lambda p: replace(p, attachment_limit_mb=1))
            big = tmp_path / "big.txt"
            big.write_bytes(b"a " * 600_000)
            with pytest.raises(DocumentRefused, match="over the 1 MB limit"):
                await ws.prepare_attachments([big])
            with pytest.raises(DocumentRefused, match="at most 20 files"):
                await ws.prepare_attachments([good] * 21)
            assert await ws.messages(chat.id) == []
            assert ws.db.attachment_file_count() == 0
        finally:
            await ws.aclose()

    asyncio.run(go())


def test_which_hosts_are_off_this_machine() -> None:
    assert not leaves_machine("http://127.0.0.1:11434")
    assert not leaves_machine("http://localhost:8080/v1")
    assert not leaves_machine("http://[::1]:11434")
    assert not leaves_machine("127.0.0.2:11434")
    assert leaves_machine("https://api.example.com/v1")
    assert leaves_machine("http://192.168.1.20:11434")


def test_documents_for_an_engine_off_this_machine_need_consent_once_per_chat(
    paths: Paths, ollama_double: OllamaDouble, tmp_path: Path
) -> None:
    async def go() -> None:
        ws = Workspace.open(paths, OllamaClient(ollama_double.url))
        try:
            ws.add_engine("hosted", "https://phi.example.com/v1", kind="openai")
            local = await ws.new_chat("phi4:latest")
            hosted = await ws.new_chat("phi4:latest")
            await ws.set_chat_engine(hosted.id, "hosted", "phi-4")
            assert not await ws.needs_document_consent(local.id)
            await ws.check_document_consent(local.id)
            assert await ws.needs_document_consent(hosted.id)
            with pytest.raises(PhiDeskError, match="attached documents would leave it"):
                await ws.check_document_consent(hosted.id)
            ws.consent_to_documents(hosted.id)
            assert not await ws.needs_document_consent(hosted.id)
            await ws.check_document_consent(hosted.id)
            # chips before any answer say nothing yet
            source = tmp_path / "a.txt"
            source.write_text("alpha", encoding="utf-8")
            question = await ws.write(lambda: ws.db.add_message(local.id, "user", "q"))
            files = await ws.prepare_attachments([source])
            await ws.write(lambda: ws.db.attach(question.id, [to_new_attachment(files[0])]))
            chips = await ws.attachment_chips(question.id)
            assert [(c.attachment.name, c.text) for c in chips] == [("a.txt", "")]
        finally:
            await ws.aclose()

    asyncio.run(go())


def test_the_doubles_embed_answers_in_ollamas_shape(ollama_double: OllamaDouble) -> None:
    one = call(ollama_double.url, "POST", "/api/embed", {"model": "phi4", "input": "sky blue"})
    assert one.status == 200 and len(one.objects[0]["embeddings"]) == 1
    many = call(
        ollama_double.url,
        "POST",
        "/api/embed",
        {"model": "phi4:latest", "input": ["sky blue", "blue sky", "green grass"]},
    )
    first, second, third = many.objects[0]["embeddings"]
    assert first == second != third and first == one.objects[0]["embeddings"][0]
    missing = call(ollama_double.url, "POST", "/api/embed", {"model": "nope", "input": "x"})
    assert missing.status == 404 and "not found" in missing.objects[0]["error"]
    bad = call(ollama_double.url, "POST", "/api/embed", {"model": "phi4", "input": [1]})
    assert bad.status == 400
