"""A comparison exported as one Markdown file and imported back: a real comparison run against
the Ollama double into a real SQLite file, imported into another database, exported again;
a damaged file; `phidesk export --comparison` and `phidesk import` as subprocesses."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from app.backend.client import OllamaClient
from app.chat.compare_figures import CompareSettings, Target
from app.chat.transfer import DamagedExport, TransferError
from app.config import Paths
from app.store import Database
from app.workspace import Workspace
from tests.ollama_double.server import OllamaDouble

PROMPT = "What is $e^{i\\pi}$?"
SLOW = "Slow: $e^{i\\pi} = -1$.\n\n```python\nprint(-1)\n```"
FAST = "Fast: | a | b |\n<!-- not a comment of ours -->\n## not a heading"


def in_workspace[T](
    paths: Paths, double: OllamaDouble, work: Callable[[Workspace], Awaitable[T]]
) -> T:
    async def main() -> T:
        workspace = Workspace.open(paths, OllamaClient(double.url))
        workspace.gpus_for_comparisons = list
        try:
            return await work(workspace)
        finally:
            await workspace.aclose()

    return asyncio.run(main())


def run_comparison(paths: Paths, double: OllamaDouble) -> int:
    double.set_token_delay("phi4", 0.03)
    double.set_token_delay("phi4-mini", 0.0)
    double.script_reply(SLOW)
    double.script_reply(FAST)
    settings = CompareSettings(system_prompt="Be brief.", temperature=0.3, seed=7)

    async def work(ws: Workspace) -> int:
        running = await ws.start_comparison(PROMPT, [Target("phi4"), Target("phi4-mini")], settings)
        await running.wait()
        return running.comparison.id

    return in_workspace(paths, double, work)


@pytest.fixture
def first(tmp_path: Path) -> Paths:
    return Paths.resolve(tmp_path / "first").ensure()


@pytest.fixture
def second(tmp_path: Path) -> Paths:
    return Paths.resolve(tmp_path / "second").ensure()


def test_a_comparison_round_trips_through_one_markdown_file(
    tmp_path: Path, first: Paths, second: Paths, ollama_double: OllamaDouble
) -> None:
    comparison_id = run_comparison(first, ollama_double)
    exported = tmp_path / "compare.md"

    async def export(ws: Workspace) -> Path:
        return await ws.export_comparison(comparison_id, exported)

    assert in_workspace(first, ollama_double, export) == exported
    text = exported.read_text(encoding="utf-8")
    assert text.startswith("---\nphidesk_export: 2\ncomparison: true\n")
    assert "| target | TTFT | load | prompt tok/s | gen tok/s | GPU % | memory |" in text
    assert "**fastest**" in text
    assert SLOW in text and FAST in text  # verbatim

    async def bring_back(ws: Workspace) -> int:
        imported = await ws.import_comparison(exported)
        again = await ws.import_comparison(exported)
        assert again.id == imported.id  # imported once
        await ws.export_comparison(imported.id, tmp_path / "again.md")
        return imported.id

    new_id = in_workspace(second, ollama_double, bring_back)
    with (
        Database.open(first.database, readonly=True) as a,
        Database.open(second.database, readonly=True) as b,
    ):
        old, new = a.get_comparison(comparison_id), b.get_comparison(new_id)
        assert (new.title, new.prompt, new.system_prompt, dict(new.options)) == (
            old.title,
            old.prompt,
            old.system_prompt,
            dict(old.options),
        )
        assert (new.created_at, new.updated_at) == (old.created_at, old.updated_at)
        assert len(b.list_comparisons()) == 1
        for was, now in zip(old.targets, new.targets, strict=True):
            assert (now.model, now.engine, now.status, dict(now.figures)) == (
                was.model,
                was.engine,
                was.status,
                dict(was.figures),
            )
            assert was.chat_id is not None and now.chat_id is not None
            answers = [(m.role, m.content) for m in b.messages(now.chat_id)]
            assert answers == [(m.role, m.content) for m in a.messages(was.chat_id)]
        assert [m.content for t in new.targets for m in b.messages(t.chat_id or 0)][1::2] == [
            SLOW,
            FAST,
        ]
        assert b.list_chats() == []  # the chats stay hidden behind the comparison
    again = (tmp_path / "again.md").read_text(encoding="utf-8")
    # Byte for byte, but for the moment of export.
    stamp = next(line for line in text.splitlines() if line.startswith("exported_at: "))[13:]
    stamp_again = next(line for line in again.splitlines() if line.startswith("exported_at: "))
    assert again.count(stamp_again[13:]) == 3  # the file's, and each target chat's
    assert again.replace(stamp_again[13:], stamp) == text


def test_a_damaged_comparison_file_is_one_sentence_and_imports_nothing(
    tmp_path: Path, first: Paths, second: Paths, ollama_double: OllamaDouble
) -> None:
    comparison_id = run_comparison(first, ollama_double)
    exported = tmp_path / "compare.md"

    async def export(ws: Workspace) -> Path:
        return await ws.export_comparison(comparison_id, exported)

    in_workspace(first, ollama_double, export)
    lines = exported.read_text(encoding="utf-8").split("\n")
    comment = next(
        i for i, line in enumerate(lines) if line.startswith('<!-- phidesk {"target": 2')
    )
    del lines[comment + 3]  # a line of the second target's chat
    exported.write_text("\n".join(lines), encoding="utf-8")

    async def bring_back(ws: Workspace) -> None:
        await ws.import_comparison(exported)

    with pytest.raises(DamagedExport) as caught:
        in_workspace(second, ollama_double, bring_back)
    message = str(caught.value)
    assert message.startswith(f"{exported} is damaged") and "\n" not in message
    with Database.open(second.database, readonly=True) as db:
        assert db.list_comparisons() == [] and db.list_chats(kind="compare") == []


def phidesk(data: Path, double: OllamaDouble, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), "--host", double.url, *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_phidesk_export_comparison_writes_the_file_and_import_reads_it_back(
    tmp_path: Path, first: Paths, ollama_double: OllamaDouble
) -> None:
    comparison_id = run_comparison(first, ollama_double)
    out = tmp_path / "cmp.md"
    done = phidesk(
        first.data, ollama_double, "export", "--comparison", str(comparison_id), "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == str(out)
    text = out.read_bytes()
    assert text.startswith(b"---\nphidesk_export: 2\ncomparison: true\n")
    shown = phidesk(first.data, ollama_double, "export", "--comparison", str(comparison_id))
    assert shown.returncode == 0 and shown.stdout.startswith(
        b"---\nphidesk_export: 2\ncomparison: true\n"
    )
    missing = phidesk(first.data, ollama_double, "export", "--comparison", "999")
    assert missing.returncode == 1
    assert missing.stderr.decode().startswith("phidesk: error: ")
    assert missing.stderr.decode().count("\n") == 1
    added = phidesk(tmp_path / "other", ollama_double, "import", str(out))
    assert added.returncode == 0, added.stderr
    assert added.stdout.decode().startswith("comparison 1\t2 targets\t")


def test_a_comparison_file_among_chat_imports_says_what_it_is(
    tmp_path: Path, first: Paths, second: Paths, ollama_double: OllamaDouble
) -> None:
    comparison_id = run_comparison(first, ollama_double)
    exported = tmp_path / "compare.md"

    async def export(ws: Workspace) -> Path:
        return await ws.export_comparison(comparison_id, exported)

    in_workspace(first, ollama_double, export)

    async def as_chats(ws: Workspace) -> None:
        await ws.import_files([exported])

    with pytest.raises(TransferError) as caught:
        in_workspace(second, ollama_double, as_chats)
    assert str(caught.value) == (
        f"{exported} is a comparison export, which is imported on its own "
        "(phidesk import FILE), not with chats"
    )
