"""Comparisons: one prompt, with the same system prompt and options (the same seed and
temperature), sent to 2–4 targets (model × engine), each answer measured on this machine.

Each target's answer is a normal chat (kind `compare`, hidden until the user continues it), so
it goes through the chat session like any turn: stored as it streams, stopped and saved on Stop.

    runner = ComparisonRunner(db, turns=..., engines=...)
    comparison = await runner.prepare("Why is the sky blue?", targets, settings)
    results = await runner.run(comparison, listener)    # cancel the task to stop every target

Targets on the same Ollama run one after another by default, so they do not fight over its
memory and each speed figure is honest; with `parallel`, or on different engines, they run at
once (a group per engine, one after another inside a group unless `parallel`). One failing target
ends with its sentence while the others go on. Models the comparison loaded are unloaded
afterwards, and models that were loaded before and were pushed out are loaded again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from app.backend.client import OllamaClient
from app.backend.engines import Engine
from app.backend.engines.ollama_engine import OllamaEngine, same_model
from app.backend.errors import OllamaError
from app.backend.events import ContentDelta, Done, ThinkingDelta
from app.backend.models import LoadedModel
from app.chat.compare_figures import (
    CompareSettings,
    Figures,
    Target,
    check_targets,
    measured,
)
from app.chat.session import (
    Blocking,
    SessionEvent,
    TurnFinished,
    TurnStarted,
    TurnState,
    run_inline,
    title_from,
)
from app.errors import PhiDeskError
from app.store import Database, Message
from app.store.comparisons import Comparison

log = logging.getLogger(__name__)

Turns = Callable[[int, str], AsyncIterator[SessionEvent]]
"""Sends a message in a chat and streams the answer (a `ChatSession.send`)."""
Engines = Callable[[str], Engine | None]
FitCheck = Callable[[Target, CompareSettings], Awaitable[str | None]]
"""One sentence when a target will not fit in memory, else None."""


@dataclass(frozen=True, slots=True)
class FitFlagged:
    """Before running: this target may not fit in memory (it is run all the same)."""

    index: int
    sentence: str


@dataclass(frozen=True, slots=True)
class WarmingUp:
    """The target's model is being loaded before its request."""

    index: int


@dataclass(frozen=True, slots=True)
class TargetEvent:
    """Something of a target's answer as it streams (a session event)."""

    index: int
    event: SessionEvent


@dataclass(frozen=True, slots=True)
class TargetResult:
    """How a target ended: `complete`, `failed` (with its sentence) or `stopped`."""

    index: int
    target: Target
    chat_id: int | None
    status: str
    error: str | None
    figures: Figures
    answer: str
    answer_id: int | None = None
    fit_warning: str | None = None


@dataclass(frozen=True, slots=True)
class TargetDone:
    index: int
    result: TargetResult


CompareEvent = FitFlagged | WarmingUp | TargetEvent | TargetDone
Listener = Callable[[CompareEvent], None]


class ComparisonRunner:
    """Runs comparisons over one database. `turns(chat_id, text)` streams a turn of a chat
    (the session's `send`); `engines(name)` gives an engine by profile name; `blocking(call)`
    runs each database call; `fit(target, settings)` flags targets that will not fit."""

    def __init__(
        self,
        db: Database,
        *,
        turns: Turns,
        engines: Engines,
        blocking: Blocking = run_inline,
        fit: FitCheck | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self._turns = turns
        self._engines = engines
        self._blocking = blocking
        self._fit = fit
        self._clock = clock

    async def _io[R](self, call: Callable[[], R]) -> R:
        result: R = await self._blocking(call)
        return result

    async def prepare(
        self, prompt: str, targets: Sequence[Target], settings: CompareSettings
    ) -> Comparison:
        """Store the comparison and a hidden chat per target (nothing is sent yet)."""
        if not prompt.strip():
            raise PhiDeskError("the prompt to compare is empty; type a question first")
        check_targets(targets)
        for target in targets:
            if self._engines(target.engine) is None:
                raise PhiDeskError(
                    f"there is no engine called {target.engine!r}; see phidesk engines list"
                )
        return await self._io(
            lambda: self.db.create_comparison(
                title=title_from(prompt),
                prompt=prompt,
                system_prompt=settings.system_prompt,
                settings=settings.chat_settings(),
                options=settings.to_json(),
                targets=[(t.model, t.engine) for t in targets],
            )
        )

    async def run(
        self, comparison: Comparison, listener: Listener | None = None
    ) -> list[TargetResult]:
        """Send the prompt to every target and measure each; the results in column order.
        Cancelling the task stops every target (each answer saved as stopped) and cleans up."""
        emit = _safe(listener)
        settings = CompareSettings.from_json(comparison.system_prompt, comparison.options)
        targets = [Target(t.model, t.engine) for t in comparison.targets]
        chats = [t.chat_id for t in comparison.targets]
        warnings = await self._flag(comparison.id, targets, settings, emit)
        before = await self._loaded_before(targets)
        results: dict[int, TargetResult] = {}
        groups = _groups(targets, settings.parallel)
        later = {
            i: {t.model for t in targets[i + 1 :] if t.engine == targets[i].engine}
            for i in range(len(targets))
        }

        async def run_group(indices: list[int]) -> None:
            for index in indices:
                results[index] = await self._run_target(
                    comparison,
                    index,
                    targets[index],
                    chats[index],
                    settings,
                    emit,
                    warnings.get(index),
                )
                if len(indices) > 1 and targets[index].model not in later[index]:
                    await self._unload_if_ours(targets[index], before)

        tasks = [asyncio.ensure_future(run_group(g)) for g in groups]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.shield(self._clean_up(comparison, targets, before, results))
        return [results[i] for i in range(len(targets))]

    # --- one target ---------------------------------------------------------------------

    async def _run_target(
        self,
        comparison: Comparison,
        index: int,
        target: Target,
        chat_id: int | None,
        settings: CompareSettings,
        emit: Listener,
        warning: str | None,
    ) -> TargetResult:
        def result(
            status: str, error: str | None, figures: Figures, message: Message | None
        ) -> TargetResult:
            return TargetResult(
                index,
                target,
                chat_id,
                status,
                error,
                figures,
                message.content if message else "",
                message.id if message else None,
                warning,
            )

        if chat_id is None:
            return result("failed", "the chat of this target was deleted", Figures(), None)
        await self._store(comparison.id, index, status="running")
        engine = self._engines(target.engine)
        warm_ms: float | None = None
        try:
            if settings.warm_up and isinstance(engine, OllamaEngine):
                emit(WarmingUp(index))
                warm_ms = await self._warm_up(engine, target.model, settings)
        except OllamaError as exc:
            done = result("failed", str(exc), Figures(), None)
            return await self._finished(comparison.id, done, emit)
        started: float | None = None
        first: float | None = None
        finished: TurnFinished | None = None
        try:
            async for event in self._turns(chat_id, comparison.prompt):
                if isinstance(event, TurnStarted):
                    started = self._clock()
                elif isinstance(event, ContentDelta | ThinkingDelta) and first is None:
                    first = self._clock()
                elif isinstance(event, TurnFinished):
                    finished = event
                emit(TargetEvent(index, event))
        except asyncio.CancelledError:
            message = await asyncio.shield(self._last_answer(chat_id))
            figures = Figures(answer_chars=len(message.content) if message else 0)
            await asyncio.shield(
                self._finished(comparison.id, result("stopped", None, figures, message), emit)
            )
            raise
        except PhiDeskError as exc:
            return await self._finished(
                comparison.id, result("failed", str(exc), Figures(), None), emit
            )
        ended = self._clock()
        if finished is None or finished.message is None:
            message = await self._last_answer(chat_id)
            return await self._finished(
                comparison.id, result("stopped", None, Figures(), message), emit
            )
        message = finished.message
        loaded = await self._loaded_entry(engine, target.model)
        provenance = message.provenance
        gpu = (
            loaded.gpu_percent
            if loaded
            else (
                round(provenance.gpu_percent)
                if provenance and provenance.gpu_percent is not None
                else None
            )
        )
        figures = measured(
            message.stats,
            first_token_s=None if first is None or started is None else first - started,
            wall_s=None if started is None else ended - started,
            warm_load_ms=warm_ms,
            answer=message.content,
            gpu_percent=gpu,
            memory_bytes=loaded.size if loaded else None,
            vram_bytes=loaded.size_vram if loaded else None,
            context_length=(loaded.context_length if loaded else None)
            or (provenance.effective_num_ctx if provenance else None),
            quantization=provenance.quantization if provenance else None,
        )
        if finished.state is TurnState.DONE:
            status, error = "complete", None
        elif finished.state is TurnState.STOPPED:
            status, error = "stopped", None
        else:
            status = "failed"
            error = (
                str(finished.error) if finished.error else (message.error or "the answer failed")
            )
        return await self._finished(comparison.id, result(status, error, figures, message), emit)

    async def _finished(
        self, comparison_id: int, result: TargetResult, emit: Listener
    ) -> TargetResult:
        await self._store(
            comparison_id,
            result.index,
            status=result.status,
            error=result.error,
            figures=result.figures.to_json(),
        )
        emit(TargetDone(result.index, result))
        return result

    async def _store(self, comparison_id: int, index: int, **changes: object) -> None:
        try:
            await self._io(
                lambda: self.db.update_comparison_target(comparison_id, index, **changes)  # type: ignore[arg-type]
            )
        except PhiDeskError as exc:
            log.warning("could not store target %s of comparison %s: %s", index, comparison_id, exc)

    async def _last_answer(self, chat_id: int) -> Message | None:
        try:
            history = await self._io(lambda: self.db.messages(chat_id))
        except PhiDeskError:
            return None
        return next((m for m in reversed(history) if m.role == "assistant"), None)

    # --- memory: fit, warm-up, unload and restore ----------------------------------------

    async def _flag(
        self,
        comparison_id: int,
        targets: Sequence[Target],
        settings: CompareSettings,
        emit: Listener,
    ) -> dict[int, str]:
        if self._fit is None:
            return {}
        warnings: dict[int, str] = {}
        for index, target in enumerate(targets):
            try:
                sentence = await self._fit(target, settings)
            except (OllamaError, OSError, ValueError) as exc:
                log.info("fit check of %s failed: %s", target.label, exc)
                sentence = None
            if sentence:
                warnings[index] = sentence
                await self._store(comparison_id, index, fit_warning=sentence)
                emit(FitFlagged(index, sentence))
        return warnings

    async def _warm_up(
        self, engine: OllamaEngine, model: str, settings: CompareSettings
    ) -> float | None:
        """Load the model as the request will (same window and options); its load time in ms."""
        info = await engine.show(model)
        num_ctx = engine.window(settings.num_ctx, info)
        options = engine.turn_options(model, settings.chat_settings().extra | _sampling(settings))
        load: float | None = None
        began = self._clock()
        stream = engine.client.chat(model, [], options=options, num_ctx=num_ctx)
        try:
            async for event in stream:
                if isinstance(event, Done) and event.stats.load_duration_ns:
                    load = event.stats.load_duration_ns / 1e6
        finally:
            await stream.aclose()
        # Ollama's answer to a load alone carries no durations: its wall time is the load time.
        return load if load is not None else (self._clock() - began) * 1000

    def _ollama_clients(self, targets: Sequence[Target]) -> dict[str, OllamaClient]:
        clients: dict[str, OllamaClient] = {}
        for target in targets:
            engine = self._engines(target.engine)
            if isinstance(engine, OllamaEngine):
                clients[target.engine] = engine.client
        return clients

    async def _loaded_before(self, targets: Sequence[Target]) -> dict[str, list[LoadedModel]]:
        before: dict[str, list[LoadedModel]] = {}
        for name, client in self._ollama_clients(targets).items():
            try:
                before[name] = await client.loaded()
            except OllamaError as exc:
                log.info("ps of %s failed: %s", name, exc)
        return before

    async def _loaded_entry(self, engine: Engine | None, model: str) -> LoadedModel | None:
        if not isinstance(engine, OllamaEngine):
            return None
        try:
            loaded = await engine.client.loaded()
        except OllamaError as exc:
            log.info("ps failed: %s", exc)
            return None
        return next((m for m in loaded if same_model(m.name, model)), None)

    async def _unload_if_ours(self, target: Target, before: dict[str, list[LoadedModel]]) -> None:
        engine = self._engines(target.engine)
        if not isinstance(engine, OllamaEngine) or target.engine not in before:
            return
        if any(same_model(m.name, target.model) for m in before[target.engine]):
            return  # the user had it loaded: it stays
        try:
            await engine.client.unload(target.model)
        except OllamaError as exc:
            log.info("unloading %s failed: %s", target.model, exc)

    async def _clean_up(
        self,
        comparison: Comparison,
        targets: Sequence[Target],
        before: dict[str, list[LoadedModel]],
        results: dict[int, TargetResult],
    ) -> None:
        """Unload what the comparison loaded; load again what the user had loaded and the
        comparison pushed out."""
        for target in dict.fromkeys(targets):
            await self._unload_if_ours(target, before)
        for name, models in before.items():
            engine = self._engines(name)
            if not isinstance(engine, OllamaEngine):
                continue
            try:
                now = await engine.client.loaded()
                for model in models:
                    if any(same_model(m.name, model.name) for m in now):
                        continue
                    stream = engine.client.chat(
                        model.name,
                        [],
                        options=engine.turn_options(model.name, {}),
                        num_ctx=model.context_length or engine.window(None, None),
                    )
                    try:
                        async for _event in stream:
                            pass
                    finally:
                        await stream.aclose()
            except OllamaError as exc:
                log.info(
                    "restoring the models loaded before comparison %s failed: %s",
                    comparison.id,
                    exc,
                )


def _sampling(settings: CompareSettings) -> dict[str, object]:
    found: dict[str, object] = {}
    if settings.temperature is not None:
        found["temperature"] = settings.temperature
    if settings.seed is not None:
        found["seed"] = settings.seed
    return found


def _groups(targets: Sequence[Target], parallel: bool) -> list[list[int]]:
    """Which targets run one after another: all of one engine together, unless `parallel`
    (each alone). Groups run at the same time."""
    if parallel:
        return [[i] for i in range(len(targets))]
    by_engine: dict[str, list[int]] = {}
    for index, target in enumerate(targets):
        by_engine.setdefault(target.engine, []).append(index)
    return list(by_engine.values())


def _safe(listener: Listener | None) -> Listener:
    def emit(event: CompareEvent) -> None:
        if listener is None:
            return
        try:
            listener(event)
        except Exception:
            log.exception("a comparison listener failed")

    return emit
