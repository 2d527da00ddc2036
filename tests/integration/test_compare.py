"""Comparisons end to end: the workspace, a real SQLite file, the Ollama double (with a slower
model and a faster one) and the OpenAI-compatible double over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from app.backend.client import OllamaClient
from app.backend.events import ContentDelta
from app.backend.fit import GIB
from app.chat.compare import FitFlagged, TargetDone, TargetEvent, WarmingUp
from app.chat.compare_figures import CompareSettings, Figures, Target, marks
from app.config import Paths
from app.errors import PhiDeskError
from app.workspace import Workspace
from app.workspace.compare import RunningComparison
from tests.ollama_double.server import OllamaDouble
from tests.openai_double.server import OpenAIDouble

PROMPT = "What is $e^{i\\pi}$?"


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths.resolve(tmp_path / "data").ensure()


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


def loaded_names(double: OllamaDouble) -> set[str]:
    with double.lock:
        return set(double.loaded)


def test_sequential_comparison_measures_each_target_and_stores_it(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.set_token_delay("phi4", 0.06)
    ollama_double.set_token_delay("phi4-mini", 0.0)
    settings = CompareSettings(system_prompt="Be brief.", temperature=0.3, seed=7, warm_up=True)
    events: list[object] = []

    async def work(ws: Workspace) -> tuple[RunningComparison, object, object, object]:
        running = await ws.start_comparison(PROMPT, [Target("phi4"), Target("phi4-mini")], settings)
        running.listen(lambda _r, event: events.append(event))
        await running.wait()
        stored = await ws.comparison(running.comparison.id)
        chats = await ws.list_chats()
        found = await ws.search_comparisons("pi")
        return running, stored, chats, found

    running, stored, chats, found = in_workspace(paths, ollama_double, work)
    results = [running.results[0], running.results[1]]
    assert [r.status for r in results] == ["complete", "complete"]
    slow, fast = results[0].figures, results[1].figures
    assert slow.tokens_per_s is not None and fast.tokens_per_s is not None
    assert fast.tokens_per_s > slow.tokens_per_s
    for figures in (slow, fast):
        assert figures.ttft_ms is not None and figures.load_ms is not None
        assert figures.prompt_tokens_per_s is not None
        assert figures.gpu_percent == 100 and figures.memory_bytes
        assert figures.eval_count and figures.prompt_eval_count and figures.context_used
        assert figures.answer_chars == len(results[figures is fast].answer) > 0
    assert marks([slow, fast]).get(1, ())[0] == "fastest"
    assert any(isinstance(e, WarmingUp) for e in events)
    assert events[-1] is None
    # The same system prompt, seed and temperature for each; one target after the other.
    sent = [r.body for r in ollama_double.requests_to("/api/chat") if r.body.get("messages")]
    assert [b["model"] for b in sent] == ["phi4", "phi4-mini"]
    for body in sent:
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert body["options"]["seed"] == 7 and body["options"]["temperature"] == 0.3
    # Unloaded afterwards: nothing was loaded before.
    assert loaded_names(ollama_double) == set()
    # Stored as one record whose chats stay out of the chat list.
    assert [t.status for t in stored.targets] == ["complete", "complete"]  # type: ignore[attr-defined]
    figures = Figures.from_json(stored.targets[0].figures)  # type: ignore[attr-defined]
    assert figures.tokens_per_s == pytest.approx(slow.tokens_per_s)
    assert chats == []
    assert [c.id for c in found] == [running.comparison.id]  # type: ignore[attr-defined]


def test_parallel_run_with_one_failing_target(paths: Paths, ollama_double: OllamaDouble) -> None:
    async def work(ws: Workspace) -> RunningComparison:
        running = await ws.start_comparison(
            PROMPT,
            [Target("phi4-mini"), Target("no-such-model")],
            CompareSettings(parallel=True),
        )
        await running.wait()
        return running

    running = in_workspace(paths, ollama_double, work)
    ok, failed = running.results[0], running.results[1]
    assert ok.status == "complete" and ok.answer
    assert failed.status == "failed" and failed.error is not None
    assert "no-such-model" in failed.error and "\n" not in failed.error


def test_stop_stops_every_target_and_keeps_what_arrived(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    ollama_double.set_token_delay("phi4", 0.2)
    ollama_double.set_token_delay("phi4-mini", 0.2)

    async def work(ws: Workspace) -> tuple[RunningComparison, list[str]]:
        running = await ws.start_comparison(
            PROMPT, [Target("phi4"), Target("phi4-mini")], CompareSettings(parallel=True)
        )
        started: set[int] = set()
        both = asyncio.Event()

        def heard(_r: RunningComparison, event: object) -> None:
            if isinstance(event, TargetEvent) and isinstance(event.event, ContentDelta):
                started.add(event.index)
                if len(started) == 2:
                    both.set()

        running.listen(heard)
        await asyncio.wait_for(both.wait(), 30)
        assert ws.stop_comparison(running.comparison.id)
        await running.wait()
        statuses = []
        for target in running.comparison.targets:
            assert target.chat_id is not None
            answer = (await ws.messages(target.chat_id))[-1]
            statuses.append(f"{answer.status}:{bool(answer.content)}")
        return running, statuses

    running, statuses = in_workspace(paths, ollama_double, work)
    assert [running.results[i].status for i in (0, 1)] == ["stopped", "stopped"]
    assert statuses == ["stopped:True", "stopped:True"]
    assert loaded_names(ollama_double) == set()


def test_continuing_an_answer_makes_it_a_normal_chat(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    async def work(ws: Workspace) -> tuple[list[int], int, str]:
        running = await ws.start_comparison(PROMPT, [Target("phi4"), Target("phi4-mini")])
        await running.wait()
        chat_id = running.results[1].chat_id
        assert chat_id is not None
        chat = await ws.continue_comparison_answer(chat_id)
        turn = ws.send(chat.id, "And why?")
        assert turn.task is not None
        await asyncio.wait([turn.task])
        listed = [c.id for c in await ws.list_chats()]
        return listed, chat_id, (await ws.messages(chat_id))[-1].status

    listed, chat_id, status = in_workspace(paths, ollama_double, work)
    assert listed == [chat_id]
    assert status == "complete"


def test_the_users_loaded_model_is_restored(paths: Paths, ollama_double: OllamaDouble) -> None:
    async def work(ws: Workspace) -> set[str]:
        chat = await ws.new_chat("phi4-reasoning")
        turn = ws.send(chat.id, "Hi")
        assert turn.task is not None
        await asyncio.wait([turn.task])
        before = loaded_names(ollama_double)
        running = await ws.start_comparison(PROMPT, [Target("phi4"), Target("phi4-mini")])

        def push_out(_r: RunningComparison, event: object) -> None:
            if isinstance(event, TargetDone) and event.index == 0:
                with ollama_double.lock:  # Ollama made room for the next target
                    ollama_double.loaded.pop("phi4-reasoning:latest", None)

        running.listen(push_out)
        await running.wait()
        return before

    before = in_workspace(paths, ollama_double, work)
    assert before == {"phi4-reasoning:latest"}
    assert loaded_names(ollama_double) == {"phi4-reasoning:latest"}
    reloaded = ollama_double.requests_to("/api/chat")[-1].body
    assert reloaded["model"] == "phi4-reasoning:latest" and reloaded["messages"] == []


def test_a_target_that_will_not_fit_is_flagged_before_running(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    events: list[object] = []

    async def work(ws: Workspace) -> RunningComparison:
        ws.free_memory_for_comparisons = lambda: 6 * GIB
        running = await ws.start_comparison(PROMPT, [Target("phi4"), Target("phi4-mini")])
        running.listen(lambda _r, event: events.append(event))
        await running.wait()
        return running

    running = in_workspace(paths, ollama_double, work)
    flagged = [e for e in running.events if isinstance(e, FitFlagged)]
    assert [f.index for f in flagged] == [0]
    assert "phi4" in flagged[0].sentence and "GiB" in flagged[0].sentence
    first_done = next(i for i, e in enumerate(running.events) if isinstance(e, TargetDone))
    assert running.events.index(flagged[0]) < first_done
    assert running.results[0].fit_warning == flagged[0].sentence


def test_ollama_and_an_openai_engine_side_by_side(
    paths: Paths, ollama_double: OllamaDouble, openai_double: OpenAIDouble
) -> None:
    openai_double.script_reply("Yes: $e^{i\\pi} = -1$.")

    async def work(ws: Workspace) -> RunningComparison:
        ws.add_engine("lab", openai_double.url)
        running = await ws.start_comparison(
            PROMPT, [Target("phi4-mini"), Target("microsoft/phi-4", "lab")]
        )
        await running.wait()
        return running

    running = in_workspace(paths, ollama_double, work)
    remote = running.results[1]
    assert remote.status == "complete", remote.error
    assert remote.answer == "Yes: $e^{i\\pi} = -1$."
    assert remote.figures.tokens_per_s is not None and remote.figures.ttft_ms is not None
    assert remote.figures.gpu_percent is None and remote.figures.memory_bytes is None
    assert running.results[0].figures.gpu_percent == 100


def test_refusals_are_one_sentence(paths: Paths, ollama_double: OllamaDouble) -> None:
    async def work(ws: Workspace) -> list[str]:
        sentences = []
        for prompt, targets in (
            ("", [Target("phi4"), Target("phi4-mini")]),
            (PROMPT, [Target("phi4")]),
            (PROMPT, [Target("phi4"), Target("phi4")]),
            (PROMPT, [Target("phi4"), Target("phi4", "nowhere")]),
        ):
            with pytest.raises(PhiDeskError) as caught:
                await ws.start_comparison(prompt, targets)
            sentences.append(str(caught.value))
        return sentences

    sentences = in_workspace(paths, ollama_double, work)
    assert all("\n" not in s and s for s in sentences)
    assert "2 to 4 targets" in sentences[1] and "'nowhere'" in sentences[3]


def test_pick_this_one_is_the_default_for_new_chats_of_its_family(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    async def work(ws: Workspace) -> tuple[str, str | None, str | None]:
        ws.set_default_model("phi4:latest")
        ws.pick_comparison_target("phi4:14b-q8_0")
        chat = await ws.new_chat()
        return chat.model, ws.prefs.picked_variant("phi4"), ws.prefs.picked_variant("phi4-mini")

    model, picked, other = in_workspace(paths, ollama_double, work)
    assert model == "phi4:14b-q8_0" and picked == "phi4:14b-q8_0" and other is None
    # Kept in the settings file: a new process sees it.
    assert "phi4:14b-q8_0" in paths.settings_file.read_text(encoding="utf-8")


def test_deleting_a_comparison_hides_it_and_its_answers(
    paths: Paths, ollama_double: OllamaDouble
) -> None:
    async def work(ws: Workspace) -> tuple[int, int, int, int]:
        running = await ws.start_comparison(PROMPT, [Target("phi4"), Target("phi4-mini")])
        await running.wait()
        await ws.delete_comparison(running.comparison.id)
        gone = len(await ws.list_comparisons()), len(await ws.search_comparisons("pi"))
        await ws.restore_comparison(running.comparison.id)
        back = len(await ws.list_comparisons()), len(await ws.search_comparisons("pi"))
        return (*gone, *back)

    assert in_workspace(paths, ollama_double, work) == (0, 0, 1, 1)
