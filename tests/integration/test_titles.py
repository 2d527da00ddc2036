"""Generated chat titles through the application layer, against the Ollama double on a real
socket and a real SQLite file: the chat's own model, at the turn's own window, after the first
answer only; never over a name the user gave, never from the command line's workspace, never
with "…"."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from app.chat.session import title_from
from app.chat.titles import clean_title
from app.config import Paths
from app.workspace import Workspace
from tests.integration.test_workspace import ended, opened
from tests.ollama_double.server import OllamaDouble


@pytest.mark.parametrize(
    ("reply", "title"),
    [
        ("Eigenvalues of a matrix", "Eigenvalues of a matrix"),
        ('"Eigenvalues Explained."', "Eigenvalues Explained"),
        ("Title: **Rust lifetimes**\nThe rest", "Rust lifetimes"),
        ("<think>the user wants…</think>\nPumpkin haiku", "Pumpkin haiku"),
        ("## Quadratic formula…", "Quadratic formula"),
        ("   \n ", None),
        ("word " * 30, ("word " * 12).strip()),
    ],
)
def test_a_reply_becomes_a_clean_title(reply: str, title: str | None) -> None:
    assert clean_title(reply) == title
    if title is not None:
        assert "…" not in title and len(title) <= 60


def test_a_long_first_line_is_cut_at_a_word_without_an_ellipsis() -> None:
    text = "Explain how the borrow checker decides how long a reference may live in Rust"
    title = title_from(text)
    assert text.startswith(title) and len(title) <= 60 and "…" not in title
    assert title.endswith("reference")


async def _titled(workspace: Workspace, double: OllamaDouble, model: str) -> tuple[int, str]:
    chat = await workspace.new_chat(model)
    double.script_reply("Eigenvalues are the scalars λ with Av = λv.")
    double.script_reply("Eigenvalues in brief")
    await ended(workspace.send(chat.id, "what is an eigenvalue?"))
    for _ in range(500):
        await asyncio.sleep(0.01)
        if not workspace.__dict__.get("_title_tasks"):
            break
    return chat.id, (await workspace.chat(chat.id)).title


def test_the_chats_model_titles_it_after_the_first_answer(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    paths = Paths.resolve(tmp_path / "data").ensure()

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            workspace.auto_titles = True
            chat_id, title = await _titled(workspace, ollama_double, "phi4-mini")
            assert title == "Eigenvalues in brief"
            turn, asked = ollama_double.requests_to("/api/chat")[-2:]
            assert turn.body is not None and asked.body is not None
            # Same model, same window and options: nothing for Ollama to load or reload.
            assert asked.body["model"] == turn.body["model"]
            assert asked.body["options"]["num_ctx"] == turn.body["options"]["num_ctx"]
            assert [m["role"] for m in asked.body["messages"]] == ["user", "assistant", "user"]
            # A second answer does not title it again.
            ollama_double.script_reply("More.")
            await ended(workspace.send(chat_id, "and more?"))
            await asyncio.sleep(0.2)
            assert len(ollama_double.requests_to("/api/chat")) == 3

    asyncio.run(go())


def test_no_title_when_turned_off_from_the_cli_or_for_a_reasoning_model(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    paths = Paths.resolve(tmp_path / "data").ensure()

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            # The command line's workspace leaves auto_titles off.
            _chat_id, title = await _titled(workspace, ollama_double, "phi4-mini")
            assert title == "what is an eigenvalue?"
            workspace.auto_titles = True
            workspace.settings.update(lambda p: replace(p, generated_titles=False))
            _chat_id, title = await _titled(workspace, ollama_double, "phi4-mini")
            assert title == "what is an eigenvalue?"
            workspace.settings.update(lambda p: replace(p, generated_titles=True))
            _chat_id, title = await _titled(workspace, ollama_double, "phi4-mini-reasoning")
            assert title == "what is an eigenvalue?"
            # One request per turn: no title was asked for in any of the three.
            assert len(ollama_double.requests_to("/api/chat")) == 3

    asyncio.run(go())


def test_a_name_the_user_gave_is_never_replaced(
    tmp_path: Path, ollama_double: OllamaDouble
) -> None:
    paths = Paths.resolve(tmp_path / "data").ensure()

    async def go() -> None:
        async with opened(paths, ollama_double) as workspace:
            workspace.auto_titles = True
            chat = await workspace.new_chat("phi4-mini")
            ollama_double.script_reply("An answer.")
            ollama_double.script_reply("Model's title")
            ollama_double.set_fault("slow", delay=0.05, path="/api/chat")
            turn = workspace.send(chat.id, "a question")
            await ended(turn)
            await workspace.rename(chat.id, "Mine")  # while the model writes its title
            for _ in range(500):
                await asyncio.sleep(0.01)
                if not workspace.__dict__.get("_title_tasks"):
                    break
            assert (await workspace.chat(chat.id)).title == "Mine"

    asyncio.run(go())
