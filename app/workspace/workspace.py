"""`Workspace`: the one object under every front end.

It owns the database, the connection to the current Ollama, the settings store, the GPU offload
preferences and the running turns, and offers every operation a front end needs. The window, the
quick prompt, the tray and the command line all go through it; none of them builds a session or
touches the database. Blocking work (SQLite, files) runs on worker threads and comes back to the
event loop: writes on one thread, in order; reads on another, so a read never waits behind a
write that waits for another process's lock.

    ws = Workspace.open(paths, client)        # or Workspace(db, connection, settings, paths)
    unsubscribe = ws.subscribe(on_change)     # ChatsChanged / ConnectionChanged / SettingsChanged
    chat = await ws.new_chat(model)           # per-model defaults applied
    turn = ws.send(chat.id, "Hello")          # a RunningTurn; turn.listen(presenter)
    await ws.aclose()                         # stops turns (saved), finishes writes, closes
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from app.backend.client import OllamaClient
from app.backend.connection import Connection
from app.backend.offload import OffloadPreferences
from app.chat.session import ChatSession
from app.config import Paths
from app.errors import PhiDeskError
from app.store import Chat, ChatSettings, Database, Message, Preset, SearchHit
from app.store.records import DeletedMessages, Versions
from app.store.search import ChatMatches
from app.workspace.changes import (
    Change,
    ChangeListener,
    ChatChange,
    ChatsChanged,
    ConnectionChanged,
    SettingsChanged,
)
from app.workspace.compare import CompareOps
from app.workspace.documents import DocumentOps
from app.workspace.engines import EngineOps
from app.workspace.external import ExternalChanges
from app.workspace.notices import Notices
from app.workspace.settings import ModelDefaults, Preferences, SettingsStore
from app.workspace.summary import summarise_into_new_chat
from app.workspace.threads import shut_down, submit
from app.workspace.titles import TitleOps
from app.workspace.transfer import TransferOps
from app.workspace.turns import RunningTurn, TurnEvents, TurnKind, start_turn

log = logging.getLogger(__name__)

T = TypeVar("T")


class Workspace(TransferOps, EngineOps, DocumentOps, CompareOps, TitleOps):
    """Database, connection, settings, offload preferences and running turns, for one app."""

    def __init__(
        self,
        db: Database,
        connection: Connection,
        paths: Paths,
        *,
        settings: SettingsStore | None = None,
        notices: Notices | None = None,
    ) -> None:
        self.db = db
        self.connection = connection
        self.paths = paths
        self.settings = settings or SettingsStore(paths.settings_file)
        self.notices = notices or Notices()
        self.offload = OffloadPreferences.load(paths)
        self.turns: dict[int, RunningTurn] = {}
        self._sessions: dict[int, ChatSession] = {}
        self._listeners: list[ChangeListener] = []
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="phidesk-db-write")
        self._reader = ThreadPoolExecutor(2, thread_name_prefix="phidesk-db-read")
        self._external = ExternalChanges(self)
        self._touched = self._external.touched
        self._closed = False
        self._stall_timeout: float | None = None
        self._keep_stall_timeout()
        self.settings.subscribe(self._settings_changed)
        connection.subscribe(self._connection_changed)

    @classmethod
    def open(
        cls,
        paths: Paths,
        client: OllamaClient,
        *,
        readonly: bool = False,
        on_wait: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> Workspace:
        """Open (create or migrate) the database in `paths` and wrap it with `client`.
        `readonly`: never write (no recovery, no migration; for listing and exporting).
        `on_wait(sentence)` hears once when another process has kept the database busy."""
        db = Database.open(paths.database, readonly=readonly, on_wait=on_wait)
        return cls(db, Connection(client), paths, **kwargs)

    # --- listening ----------------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def announce(self, change: Change) -> None:
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("a change listener failed")

    def announce_chats(self, how: ChatChange, *ids: int) -> None:
        self._chats(how, *ids)

    def _chats(self, how: ChatChange, *ids: int) -> None:
        if how is not ChatChange.EXTERNAL:
            self._touched.update(ids)  # our own change: not "external" at the next poll
        self.announce(ChatsChanged(frozenset(ids), how))

    def _settings_changed(self, _prefs: Preferences, sections: frozenset[str]) -> None:
        self._keep_stall_timeout()
        self.announce(SettingsChanged(sections))

    def _connection_changed(self, client: OllamaClient) -> None:
        self._keep_stall_timeout()
        self.announce(ConnectionChanged(client.host))

    @property
    def stall_timeout(self) -> float:
        """Seconds without a token or pull progress (a model loading included) after which an
        answer or a pull is given up: the preference, unless this run was given its own."""
        return self._stall_timeout or float(self.prefs.stall_timeout)

    def use_stall_timeout(self, seconds: float) -> None:
        """Give up after `seconds` of silence in this run (`phidesk ask --stall-timeout`)."""
        self._stall_timeout = seconds
        self._keep_stall_timeout()

    def _keep_stall_timeout(self) -> None:
        """Every stream of the current client (chats, and pulls that lease it) gives up after
        `stall_timeout`."""
        self.connection.client.stall_timeout = self.stall_timeout

    @property
    def schema_revision(self) -> str | None:
        """The database's migration revision (None if it was never migrated)."""
        return self.db.schema_revision()

    @property
    def prefs(self) -> Preferences:
        return self.settings.current

    @property
    def client(self) -> OllamaClient:
        """The client current now (ask again at each call: the host may be switched)."""
        return self.connection.client

    # --- threads ------------------------------------------------------------------------

    async def read(self, call: Callable[[], T]) -> T:
        """Run a database read on the reader thread."""
        # wrap_future rather than run_in_executor: under qasync a task may take a step while
        # Qt processes events outside the running loop (start-up, a modal dialog, shutdown).
        return await asyncio.wrap_future(submit(self._reader, call))

    async def write(self, call: Callable[[], T]) -> T:
        """Run a database write (or any call that must keep its order) on the writer thread."""
        return await asyncio.wrap_future(submit(self._writer, call))

    # --- chats --------------------------------------------------------------------------

    def defaults_for(self, model: str) -> ChatSettings:
        return self.prefs.defaults_for(model)

    async def new_chat(
        self,
        model: str | None = None,
        *,
        kind: str = "normal",
        title: str = "",
        system_prompt: str | None = None,
        settings: ChatSettings | None = None,
        engine: str = "ollama",
    ) -> Chat:
        """A new chat with `model` (default: the user's default model), that model's chat
        defaults unless `settings` are given, and the default system prompt of the preferences
        unless `system_prompt` is given; on `engine` (a profile name). Every kind of chat gets
        the same rules."""
        chosen = model if model is not None else self.prefs.default_model
        options = settings if settings is not None else self.defaults_for(chosen)
        prompt = self.prefs.default_system_prompt if system_prompt is None else system_prompt
        chat = await self.write(
            lambda: self.db.create_chat(
                title=title,
                model=chosen,
                system_prompt=prompt,
                settings=options,
                kind=kind,
                engine=engine,
            )
        )
        self._chats(ChatChange.CREATED, chat.id)
        return chat

    async def chat(self, chat_id: int) -> Chat:
        return await self.read(lambda: self.db.get_chat(chat_id))

    async def list_chats(
        self, *, kind: str | None = None, deleted: bool = False, limit: int | None = None
    ) -> list[Chat]:
        return await self.read(lambda: self.db.list_chats(kind=kind, deleted=deleted, limit=limit))

    async def messages(self, chat_id: int) -> list[Message]:
        """The active path: the session's cached copy while the chat's row describes it."""
        row = partial(self.read, partial(self.db.get_chat, chat_id))
        if (session := self._sessions.get(chat_id)) and (found := await session.paths.current(row)):
            return found
        return await self.read(lambda: self.db.messages(chat_id))

    async def latest_messages(
        self, chat_id: int, limit: int = 200, *, before: int | None = None
    ) -> list[Message]:
        """The newest `limit` messages on show (older than `before`, for scrolling back)."""
        return await self.read(lambda: self.db.latest_messages(chat_id, limit, before=before))

    async def message(self, message_id: int) -> Message:
        return await self.read(lambda: self.db.get_message(message_id))

    async def search(self, query: str, *, limit: int = 50) -> list[SearchHit]:
        return await self.read(lambda: self.db.search(query, limit=limit))

    async def search_chats(self, query: str, *, limit: int = 50) -> list[ChatMatches]:
        """One result per matching chat (title or messages), for the sidebar."""
        return await self.read(lambda: self.db.search_chats(query, limit=limit))

    async def presets(self) -> list[Preset]:
        """The saved system prompts."""
        return await self.read(self.db.list_presets)

    async def create_preset(self, name: str, text: str) -> Preset:
        """Save a system prompt under `name` (DuplicateName if the name is taken)."""
        return await self.write(lambda: self.db.create_preset(name, text))

    async def measured_speed(self, model: str) -> float | None:
        """Tokens per second this machine reached with `model` in recent answers."""
        return await self.read(lambda: self.db.measured_speed(model))

    def set_default_model(self, name: str) -> None:
        """New chats use `name` from now on."""
        self.settings.set(default_model=name)

    async def rename(self, chat_id: int, title: str) -> Chat:
        chat = await self.write(lambda: self.db.update_chat(chat_id, title=title))
        self._chats(ChatChange.UPDATED, chat_id)
        return chat

    async def pin(self, chat_id: int, pinned: bool) -> Chat:
        chat = await self.write(lambda: self.db.update_chat(chat_id, pinned=pinned))
        self._chats(ChatChange.UPDATED, chat_id)
        return chat

    async def set_model(self, chat_id: int, model: str) -> Chat:
        chat = await self.write(lambda: self.db.update_chat(chat_id, model=model))
        self._chats(ChatChange.UPDATED, chat_id)
        return chat

    async def configure(
        self,
        chat_id: int,
        *,
        system_prompt: str | None = None,
        settings: ChatSettings | None = None,
        remember_for_model: bool = False,
    ) -> Chat:
        """Change a chat's system prompt and options; `remember_for_model` makes these
        options the defaults of the next chats with the same model."""
        changes: dict[str, Any] = {}
        if system_prompt is not None:
            changes["system_prompt"] = system_prompt
        if settings is not None:
            changes["settings"] = settings
        chat = await self.write(lambda: self.db.update_chat(chat_id, **changes))
        if remember_for_model and settings is not None and chat.model:
            self.remember_model_defaults(chat.model, settings)
        self._chats(ChatChange.UPDATED, chat_id)
        return chat

    def remember_model_defaults(self, model: str, settings: ChatSettings) -> None:
        def change(prefs: Preferences) -> Preferences:
            defaults = {**prefs.model_defaults, model: ModelDefaults.of(settings)}
            return replace(prefs, model_defaults=defaults)

        self.settings.update(change)

    async def raise_context(self, chat_id: int, num_ctx: int) -> Chat:
        chat = await self.chat(chat_id)
        settings = replace(chat.settings, num_ctx=num_ctx, extra=dict(chat.settings.extra))
        return await self.configure(chat_id, settings=settings)

    async def delete_chat(self, chat_id: int) -> None:
        """Move a chat to the trash (undo with `restore_chat`)."""
        await self.write(lambda: self.db.delete_chat(chat_id))
        self._sessions.pop(chat_id, None)
        self._chats(ChatChange.DELETED, chat_id)

    async def restore_chat(self, chat_id: int) -> Chat:
        chat = await self.write(lambda: self.db.restore_chat(chat_id))
        self._chats(ChatChange.RESTORED, chat_id)
        return chat

    async def delete_chat_permanently(self, chat_id: int) -> None:
        await self.write(lambda: self.db.delete_chat_permanently(chat_id))
        self._sessions.pop(chat_id, None)
        self._chats(ChatChange.DELETED, chat_id)

    async def delete_message(self, message_id: int) -> DeletedMessages:
        """Hide a message and all that follows it (undo with `restore_messages`); the nearest
        version's path, else its parent's, is shown instead."""
        message = await self.message(message_id)
        if message.chat_id in self.turns:
            raise PhiDeskError("an answer is streaming in this chat; stop it first")
        deleted = await self.write(lambda: self.db.delete_message(message_id))
        self._chats(ChatChange.MESSAGES, message.chat_id)
        return deleted

    async def restore_messages(self, deleted: DeletedMessages) -> None:
        """Undo `delete_message`."""
        await self.write(lambda: self.db.restore_messages(deleted))
        self._chats(ChatChange.MESSAGES, deleted.chat_id)

    async def versions(self, chat_id: int) -> dict[int, Versions]:
        """The versions of each message of the chat that has siblings."""
        return await self.read(lambda: self.db.versions(chat_id))

    async def branch_points(self, chat_ids: list[int] | None = None) -> dict[int, int]:
        """Per chat: how many of its messages have other versions (each group once)."""
        return await self.read(lambda: self.db.branch_points(chat_ids))

    async def show_version(self, message_id: int) -> int:
        """Show the version of the conversation through `message_id` (down its newest
        versions). Returns the new last message; refused while the chat streams."""
        message = await self.message(message_id)
        if message.chat_id in self.turns:
            raise PhiDeskError("an answer is streaming in this chat; stop it first")
        leaf = await self.write(lambda: self.db.show_version(message_id))
        self._chats(ChatChange.MESSAGES, message.chat_id)
        return leaf

    async def show_message(self, message_id: int) -> int:
        """Make sure `message_id` is in the version on show (opening a search hit): the
        version changes only when it is on another branch. Returns the last message."""
        message = await self.message(message_id)
        if message.chat_id in self.turns:
            return await self.read(lambda: self.db.get_chat(message.chat_id).active_leaf_id or 0)
        before = (await self.chat(message.chat_id)).active_leaf_id
        leaf = await self.write(lambda: self.db.show_message(message_id))
        if leaf != before:
            self._chats(ChatChange.MESSAGES, message.chat_id)
        return leaf

    # --- sessions and turns -------------------------------------------------------------

    def session(self, chat_id: int) -> ChatSession:
        """The session of a chat: the current connection, the offload choice of its model
        (read at each turn), database work on the writer thread."""
        session = self._sessions.get(chat_id)
        if session is None:
            session = ChatSession(
                self.db,
                self.connection,
                chat_id,
                model_options=self.offload.options_for,
                blocking=self.write,
                engines=self.engine_by_name,
            )
            self._sessions[chat_id] = session
        return session

    def send(self, chat_id: int, text: str) -> RunningTurn:
        """Start a turn; the message is stored before the server is asked (the chat's
        listeners hear of it), and given back by a `TurnRefusedEvent` if it is not kept."""
        session = self._document_session(chat_id)
        return self._start(chat_id, TurnKind.SEND, text, lambda s: session.send(text, on_stored=s))

    def regenerate(self, chat_id: int, answer_id: int | None = None) -> RunningTurn:
        """A new version of the answer `answer_id` (default: the last answer on show)."""
        session = self._document_session(chat_id)
        events = partial(session.regenerate, answer_id)
        return self._start(chat_id, TurnKind.REGENERATE, "", lambda _stored: events())

    def edit(self, chat_id: int, message_id: int, text: str) -> RunningTurn:
        """A new version of the question `message_id`, answered anew."""
        session = self._document_session(chat_id)
        events = partial(session.edit_and_resend, message_id, text)
        return self._start(chat_id, TurnKind.EDIT, text, lambda s: events(on_stored=s))

    def continue_answer(self, chat_id: int, answer_id: int) -> RunningTurn:
        """Let the model go on with a stopped or interrupted answer, in the same message."""
        session = self._document_session(chat_id)
        events = partial(session.continue_answer, answer_id)
        return self._start(chat_id, TurnKind.CONTINUE, "", lambda _stored: events())

    def _start(self, chat_id: int, kind: TurnKind, text: str, events: TurnEvents) -> RunningTurn:
        if self._closed:
            raise PhiDeskError("PhiDesk is closing; the message was not sent")
        if chat_id in self.turns:
            raise PhiDeskError("an answer is still streaming in this chat; stop it first")
        self._cancel_title(chat_id)  # the model serves this turn first

        def ended(turn: RunningTurn) -> None:
            if self.turns.get(chat_id) is turn:
                del self.turns[chat_id]
            self._chats(ChatChange.MESSAGES, chat_id)
            self._after_turn(turn)

        touched = partial(self._chats, ChatChange.MESSAGES, chat_id)
        turn = start_turn(chat_id, kind, text, events, touched=touched, ended=ended)
        self.turns[chat_id] = turn
        return turn

    def stop(self, chat_id: int) -> bool:
        turn = self.turns.get(chat_id)
        if turn is None:
            return False
        turn.stop()
        return True

    async def stop_all(self) -> None:
        """Stop every answer and wait until each is saved."""
        turns = list(self.turns.values())
        for turn in turns:
            turn.stop()
        tasks = [t.task for t in turns if t.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def summarise_into_new_chat(self, chat_id: int) -> Chat:
        """Ask the chat's model for a summary and start a new chat that carries it."""
        return await summarise_into_new_chat(self, chat_id)

    # --- other processes ----------------------------------------------------------------

    async def poll_external(self) -> frozenset[int]:
        """Notice chats another process changed and announce them as EXTERNAL changes."""
        return await self._external.poll()

    # --- the connection -----------------------------------------------------------------

    async def use_client(self, client: OllamaClient) -> None:
        """Talk to another server from now on; streams already running finish on the old one."""
        await self.connection.switch(client)

    def reload_settings(self) -> None:
        sections = self.settings.reload_if_changed()
        if sections:
            log.info("settings changed outside this process: %s", ", ".join(sorted(sections)))

    # --- closing ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop every turn (each answer saved), finish queued writes, close the database and
        the connection."""
        if self._closed:
            return
        self._closed = True
        await self.cancel_titles()
        await self.stop_comparisons()
        await self.stop_all()
        await shut_down(self._writer)
        await shut_down(self._reader)
        self.db.close()
        await self.close_engines()
        await self.connection.aclose()


__all__ = ["ChatsChanged", "ConnectionChanged", "SettingsChanged", "Workspace"]
