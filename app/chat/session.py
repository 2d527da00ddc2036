"""One chat's conversation with a model: send a turn, stream the answer, keep everything.

State machine per turn: idle → streaming → done | stopped | failed.

Nothing typed is lost: what can be checked here (a model is set, its name is valid, the message
fits the chat's window) is checked first; then the user's message is committed, and only then is
the server asked anything. A turn refused after that (the server has no such model, or the
message is too long for the model's trained window) removes the message again, and the caller
gives the text back. Stopped while the server is asked, the chat keeps the unanswered question.
The answer row exists (status `streaming`) before the first token and is saved at least every
`flush_interval` seconds; the final state is `complete`, `stopped` (the user stopped it),
`interrupted` (the connection or the server died, or nothing arrived for the stall timeout) or
`error` (the server refused). To stop, cancel the task that iterates `send()` / `regenerate()` /
`edit_and_resend()` / `continue_answer()`.

A conversation is a tree (`app.store.tree`): a turn reads and extends the chat's active path.
Regenerate and edit add a new version beside the old one, which stays; continue appends to the
cut-off answer itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from app.backend.client import OllamaClient
from app.backend.connection import Connection
from app.backend.engines import DEFAULT_ENGINE, Engine, EngineTurn, TurnFacts
from app.backend.engines.ollama_engine import DEFAULT_NUM_CTX, OllamaEngine, OllamaTurn, same_model
from app.backend.errors import InvalidModelName, ModelNotFound, OllamaError, StreamInterrupted
from app.backend.events import ContentDelta, Done, StreamStalled, ThinkingDelta
from app.backend.models import ModelInfo
from app.backend.names import validate_model_name
from app.chat.context import (
    ContextBudget,
    ContextPlan,
    dropped_more_than_planned,
    effective_limit,
)
from app.chat.documents.extract import Extracted
from app.chat.documents.turn import (
    DocumentGatherer,
    DocumentPool,
    leaves_machine,
    to_new_attachment,
)
from app.chat.path_cache import PathCache, chars_per_token
from app.errors import PhiDeskError
from app.store import Chat, ContextUsage, Database, Message, Provenance, Status

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_NUM_CTX", "ChatSession", "TurnFinished", "TurnRefused", "TurnStarted"]

EngineResolver = Callable[[str], Engine | None]
"""The engine of a profile name, or None when no such engine exists (any longer)."""


class TurnState(StrEnum):
    IDLE = "idle"
    STREAMING = "streaming"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The request is about to go out; both rows exist in the database."""

    chat_id: int
    user_message_id: int
    answer_message_id: int
    plan: ContextPlan


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """The answer's final state, as stored."""

    state: TurnState
    message: Message
    error: OllamaError | None = None


SessionEvent = TurnStarted | ThinkingDelta | ContentDelta | StreamStalled | TurnFinished


class TurnRefused(PhiDeskError):
    """The turn cannot be sent as it is (no model, or a message too long for the window)."""


def title_from(text: str, limit: int = 60) -> str:
    """A chat title from the first line of the first message, cut at a word (a title never
    ends in "…": the window elides what does not fit)."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        return "New chat"
    if len(first) <= limit:
        return first
    cut = first[:limit]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" .,;:")


Blocking = Callable[[Callable[[], Any]], Awaitable[Any]]
"""Runs a blocking call (a database read or write) somewhere that does not hold up the loop."""

Stored = Callable[[Message | None], None]
"""Told of the user's message once it is committed, and told None if a refusal removed it
again (the text is then the caller's to give back)."""


async def run_inline[R](call: Callable[[], R]) -> R:
    return call()


class ChatSession:
    """Drives the turns of one chat. Not thread-safe: use it from one event loop."""

    def __init__(
        self,
        db: Database,
        client: OllamaClient | Connection,
        chat_id: int,
        *,
        flush_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        model_options: Callable[[str], Mapping[str, Any]] | None = None,
        blocking: Blocking = run_inline,
        engines: EngineResolver | None = None,
        documents: DocumentGatherer | None = None,
    ) -> None:
        """`model_options(model)` gives Ollama options that apply to every chat with that model
        (the GPU offload preferences: `num_gpu`, `main_gpu`); a chat's own options win.
        `client` may be a `Connection`: each call then uses the client current at that moment.
        `blocking(call)` runs each database call of a turn (a worker thread in the app, so a
        database locked by another process never freezes the window).
        A chat whose `engine` is not the default (`ollama`, this connection) is answered by
        `engines(name)`; a name it does not know refuses the turn.
        `documents` gathers and ranks the attached documents of each turn (BM25 by default)."""
        self.documents = documents or DocumentGatherer()
        self.model_options = model_options
        self.db = db
        self.connection = client if isinstance(client, Connection) else Connection(client)
        self.ollama = OllamaEngine(self.connection, model_options=model_options)
        self._engines = engines
        self._engine_name = DEFAULT_ENGINE
        self._blocking = blocking
        self.chat_id = chat_id
        self.flush_interval = flush_interval
        self._clock = clock
        self.state = TurnState.IDLE
        self._model_info: dict[tuple[str, str], ModelInfo | None] = {}
        self._loaded_context: dict[str, int | None] = {}
        self._sent_num_ctx: dict[str, int] = {}
        self.paths = PathCache()
        """The chat's active path as of the last turn (see `app.chat.path_cache`)."""
        self._seen: Chat | None = None
        """The chat's row as the last turn left it: the next send checks against it and stores
        its rows in the same call that sees the row unchanged (else it reads the row first)."""

    @property
    def client(self) -> OllamaClient:
        return self.connection.client

    async def _io[R](self, call: Callable[[], R]) -> R:
        result: R = await self._blocking(call)
        return result

    # --- engines ------------------------------------------------------------------------

    def find_engine(self, name: str) -> Engine | None:
        """The engine called `name`: the default is this session's Ollama connection."""
        if name == DEFAULT_ENGINE:
            return self.ollama
        return self._engines(name) if self._engines is not None else None

    def engine_for(self, chat: Chat) -> Engine:
        """The chat's engine; refused when it was removed (the user must choose another)."""
        self._engine_name = chat.engine
        engine = self.find_engine(chat.engine)
        if engine is None:
            raise TurnRefused(
                f"the engine {chat.engine!r} of this chat no longer exists; choose another "
                "engine for this chat"
            )
        return engine

    def _engine_or_ollama(self, chat: Chat) -> Engine:
        """For figures only (the meter): the chat's engine if it exists, else Ollama's rules."""
        return self.find_engine(chat.engine) or self.ollama

    # --- the window ---------------------------------------------------------------------

    def chat(self) -> Chat:
        return self.db.get_chat(self.chat_id)

    async def model_info(self, model: str) -> ModelInfo | None:
        """The model's details from the chat's engine (`/api/show` for Ollama), cached; None
        when the server cannot tell."""
        chat = await self._io(self.chat)
        engine = self.find_engine(chat.engine)
        self._engine_name = chat.engine
        if engine is None:
            return None
        try:
            return await self._show(model, engine)
        except ModelNotFound as exc:
            log.info("show %s: %s", model, exc)
            return None

    async def _show(self, model: str, engine: Engine | None = None) -> ModelInfo | None:
        """The model's details, cached; None when the server cannot tell (it failed, or
        answered something that is not its JSON); ModelNotFound when it has no such model."""
        engine = engine or self.ollama
        key = (engine.name, model)
        if key in self._model_info:
            return self._model_info[key]
        client = engine
        try:
            # No longer than a stream would wait in silence: the turn goes on without.
            async with asyncio.timeout(client.stall_timeout):
                info = await client.show(model)
        except ModelNotFound:
            raise
        except OllamaError as exc:
            log.info("show %s failed: %s", model, exc)
            return None
        except ValueError as exc:  # not JSON: a web page (a captive portal, a proxy) answered
            log.info("show %s: the answer is not JSON (%s)", model, exc)
            return None
        except TimeoutError:
            log.info("show %s: no answer from %s in %g s", model, client.host, client.stall_timeout)
            return None
        self._model_info[key] = info
        return info

    def cached_model_info(self, model: str) -> ModelInfo | None:
        """What `model_info()` learnt, without asking the server."""
        return self._model_info.get((self._engine_name, model))

    def loaded_context(self, model: str) -> int | None:
        """The window Ollama loaded `model` with, as last seen in `/api/ps`."""
        return self._loaded_context.get(model)

    async def refresh_loaded(self, model: str) -> None:
        """Learn the window Ollama loaded the model with (`/api/ps`), if it is loaded."""
        try:
            loaded = await self.client.loaded()
        except OllamaError as exc:
            log.info("ps failed: %s", exc)
            return
        self._loaded_context[model] = next(
            (m.context_length for m in loaded if same_model(m.name, model)), None
        )

    def requested_num_ctx(self, chat: Chat, info: ModelInfo | None) -> int:
        """The chat's window on its engine (for a model whose window nobody reports and no
        num_ctx, the default, for figures; a turn is refused instead)."""
        window = self._engine_or_ollama(chat).window(chat.settings.num_ctx, info)
        return window or DEFAULT_NUM_CTX

    def budget(
        self, chat: Chat, info: ModelInfo | None, history: Sequence[Message]
    ) -> ContextBudget:
        requested = self.requested_num_ctx(chat, info)
        local = self._engine_or_ollama(chat) is self.ollama
        loaded = self._loaded_context.get(chat.model) if local else None
        # What /api/ps reports counts only if it was loaded for this chat's own request with the
        # num_ctx we ask now (Ollama may have reduced it, e.g. for memory). A window loaded for
        # another chat or program does not: our request reloads the model with our num_ctx.
        ours = self._sent_num_ctx.get(chat.model) == requested
        limit = effective_limit(
            requested,
            loaded_context=loaded if ours and loaded is not None and loaded <= requested else None,
            trained=info.context_length if info else None,
        )
        return ContextBudget(limit, chars_per_token=self._measured_chars_per_token(chat, history))

    def _measured_chars_per_token(self, chat: Chat, history: Sequence[Message]) -> float | None:
        """Characters per token of this chat, from the newest answer Ollama counted."""
        return chars_per_token(self.paths.calibration(history), chat.system_prompt)

    def plan(
        self,
        chat: Chat,
        info: ModelInfo | None,
        history: Sequence[Message],
        draft: str | None,
        documents: DocumentPool | None = None,
    ) -> ContextPlan:
        budget = self.budget(chat, info, history)
        candidates = self.paths.candidates(history)
        built = documents.offer(budget.estimate_text) if documents is not None else None
        offer = built.offer if built is not None else None
        return budget.plan(chat.system_prompt or None, candidates, draft, offer)

    async def preview(
        self, draft: str | None, attachments: Sequence[Extracted] = ()
    ) -> ContextPlan:
        """What sending `draft` (with `attachments`) now would fit and leave out (for the
        context meter, whose "documents" share is `document_tokens`)."""
        chat = await self._io(self.chat)
        info = await self.model_info(chat.model) if chat.model else None
        history = await self.active_path(chat)
        question = draft if draft is not None else _last_question(history)
        documents = await self._gather(
            self.paths.with_files(m.id for m in history), question, attachments
        )
        return self.plan(chat, info, history, draft, documents)

    async def active_path(self, chat: Chat | None = None) -> list[Message]:
        """The chat's active path, first message first: the cached one while the chat's row
        (`chat`, read now if not given) still describes it, else read (and cached)."""
        if chat is None:
            chat = await self._io(self.chat)
        cached = self.paths.path(chat)
        if cached is not None:
            return cached

        def read() -> tuple[Chat, list[Message], list[int]]:
            now = self.db.get_chat(self.chat_id)
            messages = self.db.messages(self.chat_id)
            attached = self.db.attachments([m.id for m in messages])
            return now, messages, [i for i, files in attached.items() if files]

        # The chat is read again with its path: both as of one moment of the writer's queue.
        now, messages, with_files = await self._io(read)
        self.paths.load(now, messages, with_files)
        return messages

    async def _gather(
        self, message_ids: Sequence[int], question: str, pending: Sequence[Extracted] = ()
    ) -> DocumentPool | None:
        """The documents of a turn: those attached on the path, and `pending` ones."""
        return await self.documents.gather(self._io, self.db, message_ids, question, pending)

    def documents_leave_machine(self, chat: Chat) -> bool:
        """Would documents sent in this chat leave this computer (a hosted or remote engine)?"""
        engine = self.find_engine(chat.engine)
        return engine is not None and leaves_machine(engine.host)

    # --- turns ----------------------------------------------------------------------------

    async def _checked_chat(self) -> Chat:
        """What can be checked without the server: nothing streams in this chat, a model is
        set, and its name is one Ollama would accept."""
        return self._check(await self._io(self.chat))

    def _check(self, chat: Chat) -> Chat:
        if self.state is TurnState.STREAMING:
            raise TurnRefused("an answer is still streaming in this chat; stop it first")
        if not chat.model:
            raise TurnRefused("this chat has no model yet; choose one first (see phidesk models)")
        engine = self.engine_for(chat)
        if engine.kind == "ollama":
            try:
                validate_model_name(chat.model)
            except InvalidModelName as exc:
                raise TurnRefused(str(exc)) from None
        return chat

    async def _info(self, chat: Chat) -> ModelInfo | None:
        """The model's details for a turn; a model the server does not have refuses it, and
        so does a window nobody knows (the user must set num_ctx)."""
        engine = self.engine_for(chat)
        try:
            info = await self._show(chat.model, engine)
        except ModelNotFound as exc:
            raise TurnRefused(str(exc)) from exc
        if engine.window(chat.settings.num_ctx, info) is None:
            raise TurnRefused(
                f"neither the server nor the catalog tells the context length of {chat.model}; "
                "set num_ctx for this chat (phidesk ask --num-ctx N)"
            )
        return info

    def _fitting(
        self,
        chat: Chat,
        info: ModelInfo | None,
        history: Sequence[Message],
        draft: str | None,
        documents: DocumentPool | None = None,
    ) -> ContextPlan:
        """The plan of the turn, if the newest message fits the window with room to answer
        (documents never refuse a turn: they get only the room there is)."""
        plan = self.plan(chat, info, history, draft, documents)
        if plan.overflow:
            raise TurnRefused(
                f"this message is too long for the context window of {plan.limit} tokens "
                "(with room left for the answer); raise num_ctx or shorten the message"
            )
        return plan

    async def _prepare(
        self, history: Sequence[Message], draft: str | None
    ) -> tuple[Chat, ModelInfo | None, ContextPlan]:
        """Check that a turn can go out, before anything is changed: locally first, then with
        the model's details from the server."""
        chat = await self._checked_chat()
        self._fitting(chat, self.cached_model_info(chat.model), history, draft)
        info = await self._info(chat)
        return chat, info, self._fitting(chat, info, history, draft)

    async def send(
        self,
        text: str,
        *,
        attachments: Sequence[Extracted] = (),
        on_stored: Stored | None = None,
    ) -> AsyncIterator[SessionEvent]:
        """Send a new user message and stream the answer. The message is committed before the
        server is asked anything (`on_stored` hears of it), with its `attachments` (all of them
        or, with the message, none); a refusal after that removes it."""
        files = [to_new_attachment(f) for f in attachments]
        seen, self._seen = self._seen, None
        quick = seen is not None and self.paths.path(seen) is not None
        chat = self._check(seen) if seen is not None and quick else await self._checked_chat()
        history = await self.active_path(chat)
        attached = self.paths.with_files(m.id for m in history)
        # Too long for the chat's own window: refused before anything is written.
        plan = self._fitting(chat, self.cached_model_info(chat.model), history, text)
        titled = chat.message_count == 0 and chat.title in ("", "New chat")
        # The model's details known already: nothing can refuse the turn once it is stored,
        # so its answer row is written with the question (one call to the writer).
        known = (self.engine_for(chat).name, chat.model) in self._model_info
        info = await self._info(chat) if known else None
        answers: list[Message] = []

        def store() -> Message | None:
            if quick and self.db.get_chat(self.chat_id) != chat:
                return None  # changed since the last turn: checked again below
            title = title_from(text) if titled else None
            if not files:  # question, title and answer row: one transaction
                stored, answer = self.db.add_turn(self.chat_id, text, title=title, answer=known)
                answers.extend([answer] if answer is not None else [])
                return stored
            stored = self.db.add_message(self.chat_id, "user", text)
            try:
                self.db.attach(stored.id, files)
            except BaseException:
                self.db.discard_message(stored.id)
                raise
            if title is not None:
                self.db.update_chat(self.chat_id, title=title)
            return stored

        user = await self._store(store, on_stored)
        if user is None:
            async for event in self.send(text, attachments=attachments, on_stored=on_stored):
                yield event
            return
        self.paths.extend(user, files=bool(files))
        for answer in answers:
            self.paths.extend(answer)
        try:
            info = await self._info(chat)
            documents = await self._gather([*attached, *([user.id] if files else [])], text)
            if documents is not None or not known:  # else the plan made before storing holds
                plan = self._fitting(chat, info, history, text, documents)
        except TurnRefused:
            self.paths.forget()
            if on_stored is not None:
                on_stored(None)
            for answer in answers:
                await self._unstore(answer.id, None)
            await self._unstore(user.id, chat.title if titled else None)
            raise
        async for event in self._turn(
            chat, info, [*history, user], user.id, plan, documents=documents, written=answers
        ):
            yield event

    def _answer_row(self, question_id: int) -> Message:
        return self.db.add_message(
            self.chat_id, "assistant", "", status="streaming", parent_id=question_id
        )

    async def _store[M: Message | None](self, call: Callable[[], M], on_stored: Stored | None) -> M:
        """Commit the user's message and tell `on_stored`, also when the task is cancelled
        while the write runs (it is then committed all the same, so the caller must know)."""
        storing = asyncio.ensure_future(self._io(call))
        try:
            user = await asyncio.shield(storing)
        except asyncio.CancelledError:
            if not storing.cancelled() and on_stored is not None and (done := await storing):
                on_stored(done)
            raise
        if on_stored is not None and user is not None:
            on_stored(user)
        return user

    async def _unstore(self, message_id: int, title: str | None) -> None:
        """Remove a refused turn's message (and the title it gave the chat), even if the task
        is cancelled meanwhile."""

        def remove() -> None:
            self.db.discard_message(message_id)
            if title is not None:
                self.db.update_chat(self.chat_id, title=title)

        await asyncio.shield(self._io(remove))

    async def regenerate(self, answer_id: int | None = None) -> AsyncIterator[SessionEvent]:
        """Answer a question again: a new version of the answer `answer_id` (by default the
        last answer of the version on show), beside the old one, which stays. When the chat
        ends with an unanswered question, that question is answered."""
        if answer_id is None:
            history = await self.active_path()
            last = next(
                (i for i in range(len(history) - 1, -1, -1) if history[i].role == "user"), None
            )
            if last is None:
                raise TurnRefused("there is no message to answer again in this chat")
            kept = history[: last + 1]
        else:
            answer = await self._io(lambda: self.db.get_message(answer_id))
            if answer.role != "assistant" or answer.chat_id != self.chat_id:
                raise TurnRefused("only answers in this chat can be answered again")
            if answer.parent_id is None:
                raise TurnRefused("this answer follows no question, so it cannot be asked again")
            parent = answer.parent_id
            kept = await self._io(lambda: self.db.path_to(parent))
            if kept[-1].role != "user":
                raise TurnRefused("this answer follows no question, so it cannot be asked again")
        chat, info, plan = await self._prepare(kept, None)
        documents = await self._gather([m.id for m in kept], kept[-1].content)
        plan = self._fitting(chat, info, kept, None, documents)
        async for event in self._turn(chat, info, kept, kept[-1].id, plan, documents=documents):
            yield event

    async def continue_answer(self, answer_id: int) -> AsyncIterator[SessionEvent]:
        """Let the model go on with a stopped or interrupted answer: the text it adds is
        appended to the same message (no new version)."""
        answer = await self._io(lambda: self.db.get_message(answer_id))
        if answer.role != "assistant" or answer.chat_id != self.chat_id:
            raise TurnRefused("only answers in this chat can be continued")
        if answer.status not in ("stopped", "interrupted") or not answer.content:
            raise TurnRefused("only an answer that was cut off, with some text, can be continued")
        kept = await self._io(lambda: self.db.path_to(answer_id))
        question = kept[-2] if len(kept) >= 2 and kept[-2].role == "user" else None
        if question is None:
            raise TurnRefused("this answer follows no question, so it cannot be continued")
        chat, info, plan = await self._prepare(kept, None)
        documents = await self._gather([m.id for m in kept[:-1]], question.content)
        plan = self._fitting(chat, info, kept, None, documents)
        async for event in self._turn(
            chat, info, kept, question.id, plan, continuing=answer, documents=documents
        ):
            yield event

    async def edit_and_resend(
        self, message_id: int, text: str, *, on_stored: Stored | None = None
    ) -> AsyncIterator[SessionEvent]:
        """Ask an edited question: a new version of the user message `message_id`, answered
        anew; the old question and all that followed it stay as the other version. Nothing is
        stored until the server's answers show the turn can go out (until then, a Stop leaves
        the chat as it was and the caller gives the edited text back)."""
        message = await self._io(lambda: self.db.get_message(message_id))
        if message.role != "user" or message.chat_id != self.chat_id:
            raise TurnRefused("only your own messages in this chat can be edited")
        parent = message.parent_id
        kept = [] if parent is None else await self._io(lambda: self.db.path_to(parent))
        chat, info, plan = await self._prepare(kept, text)

        def store() -> Message:
            edited = self.db.add_message(self.chat_id, "user", text, parent_id=parent)
            self.db.copy_attachments(message_id, edited.id)  # the files stay with the question
            return edited

        user = await self._store(store, on_stored)
        documents = await self._gather([*(m.id for m in kept), user.id], text)
        plan = self._fitting(chat, info, kept, text, documents)
        async for event in self._turn(
            chat, info, [*kept, user], user.id, plan, documents=documents
        ):
            yield event

    def _request_messages(
        self,
        chat: Chat,
        history: Sequence[Message],
        plan: ContextPlan,
        user_id: int,
        documents: str = "",
    ) -> list[dict[str, str]]:
        """The request's messages; `documents` (the parts sent) go before the question."""
        included = {*plan.included_ids, user_id, *(m.id for m in history if m.id > user_id)}
        messages: list[dict[str, str]] = []
        if chat.system_prompt:
            messages.append({"role": "system", "content": chat.system_prompt})
        # Reasoning is never sent back: only the answers' content.
        messages += [
            {"role": m.role, "content": documents + m.content if m.id == user_id else m.content}
            for m in history
            if m.id in included
        ]
        return messages

    def _options(self, chat: Chat) -> dict[str, Any]:
        """The chat's own options (the engine adds its own: Ollama the GPU offload)."""
        options: dict[str, Any] = {}
        options.update(chat.settings.extra)
        if chat.settings.temperature is not None:
            options["temperature"] = chat.settings.temperature
        if chat.settings.seed is not None:
            options["seed"] = chat.settings.seed
        return options

    async def _turn(
        self,
        chat: Chat,
        info: ModelInfo | None,
        history: Sequence[Message],
        user_id: int,
        plan: ContextPlan,
        *,
        continuing: Message | None = None,
        documents: DocumentPool | None = None,
        written: Sequence[Message] = (),
    ) -> AsyncIterator[SessionEvent]:
        """Stream one answer to `user_id`: a new message under it (a new version if it has
        answers already; the one `written` with the question, if any), or, `continuing`,
        more text for that cut-off answer."""
        engine = self.engine_for(chat)
        num_ctx = self.requested_num_ctx(chat, info)
        options = engine.turn_options(chat.model, self._options(chat))
        think: bool | None = None
        if info is not None and info.supports_thinking:
            think = chat.settings.think
        prefix = documents.prefix(plan) if documents is not None else ""
        messages = self._request_messages(chat, history, plan, user_id, prefix)
        self.state = TurnState.STREAMING
        try:
            if continuing is not None:
                answer = continuing
                await self._io(
                    partial(self.db.update_streaming, answer.id, answer.content, answer.thinking)
                )
            elif written:
                answer = written[0]
            else:
                answer = await self._io(partial(self._answer_row, user_id))
                self.paths.extend(answer)
        except BaseException:
            self.state = TurnState.IDLE
            self.paths.forget()
            raise
        self._sent_num_ctx[chat.model] = num_ctx
        content: list[str] = [continuing.content] if continuing else []
        thinking: list[str] = [continuing.thinking] if continuing else []
        before = continuing.provenance if continuing is not None else None
        reasoned = ReasoningClock(self._clock, before.thinking_seconds if before else None)
        saved_at = self._clock()
        dirty = False
        status: Status = "complete"
        error: OllamaError | None = None
        done: Done | None = None
        final: Message | None = None
        # The client current when the turn starts serves this whole answer, even if the host
        # is switched meanwhile.
        client = engine.acquire()
        held: EngineTurn | None = client
        try:
            stream = client.chat(
                chat.model,
                messages,
                options=options,
                num_ctx=num_ctx,
                keep_alive=chat.settings.keep_alive,
                think=think,
                starts_in_thinking=bool(info and info.template_opens_think),
            )
            # The request leaves now; whoever hears TurnStarted works while it is in flight.
            first = asyncio.ensure_future(anext(stream, None))
            events = _started(first, stream)
            try:
                await asyncio.sleep(0)  # its first step runs before TurnStarted is heard
                yield TurnStarted(self.chat_id, user_id, answer.id, plan)
                async for event in events:
                    if isinstance(event, Done):
                        done = event  # the stream ends right after it; let it end by itself
                        continue
                    if isinstance(event, ContentDelta):
                        content.append(event.text)
                        dirty = True
                        reasoned.answering()
                    elif isinstance(event, ThinkingDelta):
                        thinking.append(event.text)
                        dirty = True
                        reasoned.thinking()
                    yield event
                    if dirty and self._clock() - saved_at >= self.flush_interval:
                        await self._io(
                            partial(
                                self.db.update_streaming,
                                answer.id,
                                "".join(content),
                                "".join(thinking),
                            )
                        )
                        saved_at = self._clock()
                        dirty = False
            except StreamInterrupted as exc:
                status, error = "interrupted", exc
            except OllamaError as exc:
                status, error = "error", exc
                if isinstance(exc, ModelNotFound):
                    self._model_info.pop((engine.name, chat.model), None)
            finally:
                # Close the HTTP stream here, on this loop, rather than leaving a suspended
                # generator to the garbage collector.
                await events.aclose()
                await _settled(first)
                await stream.aclose()
            if done is None and error is None:
                status = "interrupted"
            # Asked of the server that answered, even if the host was switched meanwhile.
            facts = await client.facts(chat.model) if done else None
            if facts and isinstance(client, OllamaTurn) and client.current:
                self._loaded_context[chat.model] = facts.effective_num_ctx
            held = None
            await client.release()
            finished, seen = await self._io(
                lambda: self._finish_and_read(
                    answer.id,
                    status,
                    content,
                    thinking,
                    error,
                    done,
                    chat,
                    plan,
                    num_ctx,
                    options,
                    facts=facts,
                    info=info,
                    engine=engine,
                    documents=documents,
                    thinking_seconds=reasoned.seconds(),
                )
            )
            final = finished
            self.state = TurnState.DONE if status == "complete" else TurnState.FAILED
            self.paths.settle(history[:-1] if continuing else history, final)
            self._seen = seen
        finally:
            if held is not None:
                await held.release()
            if final is None:
                # Stopped (the task was cancelled or the caller stopped iterating), or the
                # store failed: whatever arrived is saved, and the chat can be used again.
                # Through the writer as every other write of the turn (so it lands after a
                # save still queued there, and a locked database does not freeze the loop).
                ended: Status = "complete" if done is not None else "stopped"
                try:
                    kept = await self._finish_shielded(
                        answer.id,
                        ended,
                        content,
                        thinking,
                        None,
                        done,
                        chat,
                        plan,
                        num_ctx,
                        options,
                        info=info,
                        engine=engine,
                        documents=documents,
                        thinking_seconds=reasoned.seconds(),
                    )
                except PhiDeskError as exc:
                    log.warning("could not save the end of answer %s: %s", answer.id, exc)
                    self.paths.forget()
                else:
                    self.paths.settle(history[:-1] if continuing else history, kept)
                self.state = TurnState.STOPPED
        yield TurnFinished(self.state, final, error)

    def _finish_and_read(self, *args: Any, **kwargs: Any) -> tuple[Message, Chat]:
        """`_finish`, then the chat's row as the turn leaves it (for the next send)."""
        return self._finish(*args, **kwargs), self.db.get_chat(self.chat_id)

    async def _finish_shielded(self, *args: Any, **kwargs: Any) -> Message:
        """`_finish` on the blocking runner, completed even if this task is cancelled again."""
        return await asyncio.shield(self._io(lambda: self._finish(*args, **kwargs)))

    def _finish(
        self,
        answer_id: int,
        status: Status,
        content: list[str],
        thinking: list[str],
        error: Exception | None,
        done: Done | None,
        chat: Chat,
        plan: ContextPlan,
        num_ctx: int,
        options: dict[str, Any],
        *,
        facts: TurnFacts | None = None,
        info: ModelInfo | None = None,
        engine: Engine | None = None,
        documents: DocumentPool | None = None,
        thinking_seconds: float | None = None,
    ) -> Message:
        engine = engine or self.ollama
        local = engine.kind == "ollama"
        stats = done.stats if done else None
        facts = facts or TurnFacts(server_version=engine.server_version)
        effective, gpu, digest, version = (
            facts.effective_num_ctx,
            facts.gpu_percent,
            facts.digest,
            facts.server_version,
        )
        warning = None
        # A server other than Ollama refuses a prompt too long instead of cutting it.
        if local and stats and dropped_more_than_planned(plan, stats.prompt_eval_count):
            warning = (
                f"Ollama read only {stats.prompt_eval_count} prompt tokens of about {plan.used} "
                "sent, so it dropped part of the conversation on its own; raise num_ctx"
            )
        provenance = Provenance(
            model=(done.model if done else chat.model),
            model_digest=digest,
            quantization=info.quantization if info else None,
            requested_num_ctx=num_ctx,
            effective_num_ctx=effective,
            gpu_percent=gpu,
            options={**options, "num_ctx": num_ctx} if local else dict(options),
            ollama_version=version,
            tokens_per_second=stats.tokens_per_second if stats else None,
            excluded_message_ids=plan.excluded_ids,
            warning=warning,
            engine=engine.name,
            system_fingerprint=done.system_fingerprint if done else None,
            cached_tokens=done.cached_tokens if done else None,
            reasoning_tokens=done.reasoning_tokens if done else None,
            usage_estimated=bool(done and done.usage_estimated),
            thinking_seconds=thinking_seconds,
        )
        message = self.db.finish_message(
            answer_id,
            status=status,
            content="".join(content),
            thinking="".join(thinking),
            error=str(error) if error else None,
            stats=stats,
            provenance=provenance,
            context_limit=effective or (plan.limit if stats else None),
        )
        sent = documents.sent(plan) if documents is not None else None
        if sent is not None:
            self.db.record_documents(answer_id, sent)
            message = self.db.get_message(answer_id)
        # No counts from the server: the meter estimates (≈) rather than show the last turn's
        # figure as this one's.
        estimated = done is not None and done.usage_estimated
        if estimated and self.db.get_chat(self.chat_id).active_leaf_id == answer_id:
            self.db.update_chat(self.chat_id, context=ContextUsage(None, plan.limit))
        return message


async def _started[T](
    first: Awaitable[T | None], stream: AsyncIterator[T]
) -> AsyncGenerator[T, None]:
    """The events of `stream` whose first one `first` is already fetching."""
    event = await first
    while event is not None:
        yield event
        event = await anext(stream, None)


async def _settled(task: asyncio.Future[Any]) -> None:
    """`task` ended (cancelled if still running), its outcome retrieved."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()


def _last_question(history: Sequence[Message]) -> str:
    return next((m.content for m in reversed(history) if m.role == "user"), "")


class ReasoningClock:
    """How long an answer reasoned: from its first token of reasoning to the first of the
    answer (or to the end, if no answer came). A continued answer adds to what it had."""

    def __init__(self, clock: Callable[[], float], before: float | None = None) -> None:
        self._clock = clock
        self._before = before
        self._began: float | None = None
        self._ended: float | None = None

    def thinking(self) -> None:
        if self._began is None:
            self._began = self._clock()

    def answering(self) -> None:
        if self._began is not None and self._ended is None:
            self._ended = self._clock()

    def seconds(self) -> float | None:
        if self._began is None:
            return self._before
        ended = self._ended if self._ended is not None else self._clock()
        return (self._before or 0.0) + max(ended - self._began, 0.0)
