"""Comparisons, as part of `Workspace` (a mixin): one prompt sent to 2–4 targets side by side,
measured on this machine, stored as one record with a chat per target.

    running = await ws.start_comparison(prompt, [Target("phi4"), Target("phi4-mini")], settings)
    running.listen(on_event)           # FitFlagged / WarmingUp / TargetEvent / TargetDone / ended
    await running.wait()               # the TargetResults, in column order
    ws.stop_comparison(running.comparison.id)     # Stop stops every target
    await ws.list_comparisons()        # one sidebar row each; ws.search_comparisons(text)
    await ws.continue_comparison_answer(chat_id)  # the answer becomes a normal chat
    ws.pick_comparison_target("phi4:14b-q8_0")    # the default of new chats of its family
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from app.backend.connection import Connection
from app.backend.engines import DEFAULT_ENGINE, Engine
from app.backend.engines.ollama_engine import OllamaEngine
from app.backend.errors import OllamaError
from app.backend.hardware import Gpu, detect_gpus
from app.backend.offload import OffloadPreferences
from app.chat.compare import (
    CompareEvent,
    ComparisonRunner,
    TargetResult,
)
from app.chat.compare_figures import (
    CompareSettings,
    Target,
    available_memory,
    fit_warning,
)
from app.chat.documents.turn import leaves_machine
from app.chat.session import TurnFinished, TurnState
from app.errors import PhiDeskError
from app.store import Chat, ChatSettings, Database
from app.store.comparisons import COMPARE_KIND, Comparison
from app.workspace.changes import ChatChange
from app.workspace.settings import Preferences, SettingsStore, model_family

if TYPE_CHECKING:
    from app.chat.session import ChatSession

log = logging.getLogger(__name__)

T = TypeVar("T")

PROBE_PROMPT = "In three sentences, explain why the sky is blue."
"""The short fixed prompt of the speed probe ("Measure on this machine")."""

ComparisonListener = Callable[["RunningComparison", "CompareEvent | None"], None]
"""Hears each event of a running comparison, then None once it is over."""


@dataclass
class RunningComparison:
    """A comparison being run: its record, the results so far, who listens, its task."""

    comparison: Comparison
    results: dict[int, TargetResult] = field(default_factory=dict)
    events: list[CompareEvent] = field(default_factory=list)
    listeners: list[ComparisonListener] = field(default_factory=list)
    task: asyncio.Task[list[TargetResult]] | None = None
    error: str | None = None
    """The sentence when the comparison as a whole failed."""

    def listen(self, listener: ComparisonListener) -> Callable[[], None]:
        self.listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self.listeners:
                self.listeners.remove(listener)

        return unsubscribe

    def _emit(self, event: CompareEvent | None) -> None:
        if event is not None:
            self.events.append(event)
            done = getattr(event, "result", None)
            if isinstance(done, TargetResult):
                self.results[done.index] = done
        for listener in list(self.listeners):
            try:
                listener(self, event)
            except Exception:
                log.exception("a comparison listener failed")

    def stop(self) -> None:
        """Stop every target (each answer saved as it is)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()

    async def wait(self) -> list[TargetResult]:
        """The results in column order, once every target ended (stopped ones included)."""
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
        return [self.results[i] for i in sorted(self.results)]


class CompareOps:
    """The comparison operations of `Workspace`."""

    db: Database
    connection: Connection
    offload: OffloadPreferences
    settings: SettingsStore
    _comparisons: dict[int, RunningComparison]

    if TYPE_CHECKING:

        async def read(self, call: Callable[[], T]) -> T: ...

        async def write(self, call: Callable[[], T]) -> T: ...

        def session(self, chat_id: int) -> ChatSession: ...

        def engine_by_name(self, name: str) -> Engine | None: ...

        async def new_chat(
            self,
            model: str | None = None,
            *,
            kind: str = "normal",
            title: str = "",
            system_prompt: str | None = None,
            settings: ChatSettings | None = None,
            engine: str = "ollama",
        ) -> Chat: ...

        def _chats(self, how: ChatChange, *ids: int) -> None: ...

        @property
        def prefs(self) -> Preferences: ...

    gpus_for_comparisons: Callable[[], Sequence[Gpu]] | None = None
    """Finds this machine's GPUs for the memory check (default: `detect_gpus`)."""
    free_memory_for_comparisons: Callable[[], int | None] = staticmethod(available_memory)

    @property
    def running_comparisons(self) -> dict[int, RunningComparison]:
        if not hasattr(self, "_comparisons"):
            self._comparisons = {}
        return self._comparisons

    def _compare_engine(self, name: str) -> Engine | None:
        if name == DEFAULT_ENGINE:
            return OllamaEngine(self.connection, model_options=self.offload.options_for)
        return self.engine_by_name(name)

    def engines_off_this_computer(self, targets: Sequence[Target]) -> dict[str, str]:
        """The engines of `targets` that a request would leave this computer for, each once:
        name → its URL (a comparison asks before sending its prompt there)."""
        found: dict[str, str] = {}
        for name in dict.fromkeys(t.engine for t in targets):
            engine = self._compare_engine(name)
            if engine is not None and leaves_machine(engine.host):
                found[name] = engine.host
        return found

    def comparison_runner(self) -> ComparisonRunner:
        engines: dict[str, Engine | None] = {}

        def engine(name: str) -> Engine | None:
            if name not in engines:
                engines[name] = self._compare_engine(name)
            return engines[name]

        return ComparisonRunner(
            self.db,
            turns=lambda chat_id, text: self.session(chat_id).send(text),
            engines=engine,
            blocking=self.write,
            fit=lambda target, settings: self._fit(engine(target.engine), target, settings),
        )

    async def _fit(
        self, engine: Engine | None, target: Target, settings: CompareSettings
    ) -> str | None:
        """Will the target fit in this machine's memory (Ollama on this machine only)?"""
        if not isinstance(engine, OllamaEngine):
            return None
        try:
            info = await engine.show(target.model)
            installed = await engine.client.list_models()
        except OllamaError as exc:
            log.info("fit check of %s: %s", target.label, exc)
            return None
        finder = self.gpus_for_comparisons or detect_gpus
        gpus = await asyncio.to_thread(finder)
        num_ctx = engine.window(settings.num_ctx, info)
        return fit_warning(
            target.model, info, installed, num_ctx, gpus, self.free_memory_for_comparisons()
        )

    async def start_comparison(
        self,
        prompt: str,
        targets: Sequence[Target],
        settings: CompareSettings | None = None,
    ) -> RunningComparison:
        """Store the comparison and start it; the per-target events go to its listeners.
        Refused (one sentence) for an empty prompt, fewer than 2 or more than 4 targets, or an
        engine that does not exist."""
        settings = settings or CompareSettings(system_prompt=self.prefs.default_system_prompt)
        runner = self.comparison_runner()
        comparison = await runner.prepare(prompt, targets, settings)
        self._chats(ChatChange.CREATED, *(t.chat_id for t in comparison.targets if t.chat_id))
        running = RunningComparison(comparison)

        async def run() -> list[TargetResult]:
            try:
                return await runner.run(comparison, running._emit)
            except PhiDeskError as exc:
                running.error = str(exc)
                log.info("comparison %s failed: %s", comparison.id, exc)
                return []
            finally:
                self.running_comparisons.pop(comparison.id, None)
                self._chats(
                    ChatChange.MESSAGES, *(t.chat_id for t in comparison.targets if t.chat_id)
                )
                running._emit(None)

        running.task = asyncio.ensure_future(run())
        self.running_comparisons[comparison.id] = running
        return running

    def stop_comparison(self, comparison_id: int) -> bool:
        running = self.running_comparisons.get(comparison_id)
        if running is None:
            return False
        running.stop()
        return True

    async def stop_comparisons(self) -> None:
        """Stop every comparison and wait until each answer is saved."""
        running = list(self.running_comparisons.values())
        for one in running:
            one.stop()
        for one in running:
            await one.wait()

    async def comparison(self, comparison_id: int) -> Comparison:
        return await self.read(lambda: self.db.get_comparison(comparison_id))

    async def list_comparisons(
        self, *, deleted: bool = False, limit: int | None = None
    ) -> list[Comparison]:
        """One row each for the sidebar, newest activity first."""
        return await self.read(lambda: self.db.list_comparisons(deleted=deleted, limit=limit))

    async def search_comparisons(self, query: str, *, limit: int = 50) -> list[Comparison]:
        """Comparisons whose title or prompt, or one of whose answers, matches `query`."""
        return await self.read(lambda: self.db.search_comparisons(query, limit=limit))

    async def comparison_of_chat(self, chat_id: int) -> int | None:
        return await self.read(lambda: self.db.comparison_of_chat(chat_id))

    async def continue_comparison_answer(self, chat_id: int) -> Chat:
        """Make one target's answer a normal chat (listed, searchable) to go on with."""
        if await self.comparison_of_chat(chat_id) is None:
            raise PhiDeskError("this chat is not an answer of a comparison")
        chat = await self.write(lambda: self.db.continue_comparison_chat(chat_id))
        self._chats(ChatChange.UPDATED, chat_id)
        return chat

    async def delete_comparison(self, comparison_id: int) -> None:
        """Move the comparison and its answers not yet continued to the trash."""
        if comparison_id in self.running_comparisons:
            raise PhiDeskError("this comparison is still running; stop it first")
        found = await self.comparison(comparison_id)
        await self.write(lambda: self.db.delete_comparison(comparison_id))
        self._chats(ChatChange.DELETED, *(t.chat_id for t in found.targets if t.chat_id))

    async def restore_comparison(self, comparison_id: int) -> Comparison:
        found = await self.write(lambda: self.db.restore_comparison(comparison_id))
        self._chats(ChatChange.RESTORED, *(t.chat_id for t in found.targets if t.chat_id))
        return found

    async def probe_speed(self, model: str, prompt: str = PROBE_PROMPT) -> float | None:
        """Send `prompt` once to `model` on the default Ollama, with the comparisons' seed and
        temperature and no system prompt, in a hidden chat (kind `compare`), so the answer's
        speed joins `measured_speed`; its tokens/s (None when the engine gave no durations).
        Cancelling stops the answer (kept as stopped, not counted)."""
        settings = CompareSettings().chat_settings()
        chat = await self.new_chat(
            model, kind=COMPARE_KIND, title=f"Speed of {model}", system_prompt="", settings=settings
        )
        finished: TurnFinished | None = None
        async for event in self.session(chat.id).send(prompt):
            if isinstance(event, TurnFinished):
                finished = event
        if finished is None or finished.state is not TurnState.DONE:
            error = finished.error if finished is not None else None
            raise PhiDeskError(str(error) if error else f"{model} did not finish its answer")
        provenance = finished.message.provenance
        return provenance.tokens_per_second if provenance is not None else None

    def pick_comparison_target(self, model: str) -> None:
        """ "Pick this one": `model` becomes the variant of its family for new chats (and the
        default model when that is of the same family, or not chosen yet)."""
        family = model_family(model)

        def change(prefs: Preferences) -> Preferences:
            picks = {**prefs.compare_picks, family: model}
            default = prefs.default_model
            if not default or model_family(default) == family:
                default = model
            return replace(prefs, compare_picks=picks, default_model=default)

        self.settings.update(change)
