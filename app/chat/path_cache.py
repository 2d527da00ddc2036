"""The active path of one chat, kept by its session between turns: a turn in a long chat neither
reads every message again nor re-plans it from nothing before its request leaves.

The cache is keyed by what the chat's row says of its path: the active leaf, the number of
messages on the path, and `updated_at`, which every message added or finished moves. Anything
that changes the path, in this process or another (a version shown, a message deleted or
restored, an answer finished by `phidesk ask`), therefore makes the next turn read the path
again; the session reads the chat row at every turn anyway. The session keeps the cache current
for its own writes (the question it stored, the answer it began and finished), so in a chat only
this window writes to, every turn after the first reads no message at all.

Beside the messages it keeps what planning derives from them: the sendable messages as the
budget sees them, and the characters per token measured on the newest answer Ollama counted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.chat.context import BudgetMessage, calibrate
from app.store import Chat, Message


@dataclass(frozen=True, slots=True)
class PathKey:
    """What the chat's row says of its active path."""

    leaf_id: int | None
    count: int
    updated_at: datetime

    @classmethod
    def of(cls, chat: Chat) -> PathKey:
        return cls(chat.active_leaf_id, chat.message_count, chat.updated_at)


def sendable(message: Message) -> bool:
    """Messages that are part of the conversation: the user's, and answers that have text."""
    if message.role == "system":
        return False
    if message.role == "assistant":
        return bool(message.content) and message.status != "streaming"
    return True


def budget_message(message: Message) -> BudgetMessage:
    return BudgetMessage(id=message.id, role=message.role, text=message.content)


Calibration = tuple[int, int, int] | None
"""(characters sent, prompt tokens Ollama counted, messages sent) of the newest counted answer,
without the system prompt; None when no answer on the path was counted."""


def measure(history: Sequence[Message]) -> Calibration:
    """The figures of the newest answer on `history` that Ollama counted."""
    for index in range(len(history) - 1, -1, -1):
        answer = history[index]
        if answer.role != "assistant" or answer.stats is None:
            continue
        excluded = set(answer.provenance.excluded_message_ids if answer.provenance else ())
        sent = [m for m in history[:index] if m.id not in excluded and sendable(m)]
        chars = sum(len(m.content) for m in sent)
        return chars, answer.stats.prompt_eval_count or 0, len(sent)
    return None


def chars_per_token(calibration: Calibration, system_prompt: str) -> float | None:
    """Characters per token of the chat, from `measure`'s figures."""
    if calibration is None:
        return None
    chars, counted, sent = calibration
    system = 1 if system_prompt else 0
    return calibrate(chars + len(system_prompt), counted, sent + system)


class PathCache:
    """One chat's active path and what planning derives from it, while its key holds."""

    def __init__(self) -> None:
        self._key: PathKey | None = None
        self._messages: list[Message] = []
        self._files: set[int] = set()
        self._known: set[int] = set()
        """Messages whose attachments the cache knows (had or not): those it read or added.
        A message's attachments are given when it is stored and never change, so this outlives
        the path."""
        self._candidates: list[BudgetMessage] = []
        self._calibration: Calibration = None
        self.loads = 0
        """How often the path was read whole (for tests and benches)."""

    # --- reading ------------------------------------------------------------------------

    def path(self, chat: Chat) -> list[Message] | None:
        """The cached path when the chat's row still describes it, else None. The list is the
        cache's own: do not change it."""
        if self._key is None or self._key != PathKey.of(chat):
            return None
        return self._messages

    async def current(self, read: Callable[[], Awaitable[Chat]]) -> list[Message] | None:
        """A copy of the cached path if the chat's row, read now by `read()`, describes it.
        Read twice at most: a row read just before this session's last write is older than
        the cache, and the next read is not."""
        for _ in range(2):
            path = self.path(await read())
            if path is not None:
                return list(path)
        return None

    def through(self, chat: Chat, message_id: int) -> list[Message] | None:
        """The cached path up to and including `message_id`, if it is on it."""
        path = self.path(chat)
        if path is None:
            return None
        for index in range(len(path) - 1, -1, -1):
            if path[index].id == message_id:
                return path[: index + 1]
        return None

    def with_files(self, message_ids: Iterable[int]) -> list[int]:
        """Those of `message_ids` (on the cached path) that carry attachments, in order."""
        return [i for i in message_ids if i in self._files]

    def candidates(self, history: Sequence[Message]) -> list[BudgetMessage]:
        """The sendable messages of `history` as the budget sees them (kept for the path)."""
        if history is self._messages:
            return self._candidates
        return [budget_message(m) for m in history if sendable(m)]

    def calibration(self, history: Sequence[Message]) -> Calibration:
        if history is self._messages:
            return self._calibration
        return measure(history)

    # --- keeping it current ---------------------------------------------------------------

    def load(self, chat: Chat, messages: Sequence[Message], with_files: Iterable[int]) -> None:
        """The path as just read for `chat` (and which of its messages carry attachments)."""
        self.loads += 1
        ids = {m.id for m in messages}
        self._known |= ids
        self._files = (self._files - ids) | set(with_files)
        self._set(PathKey.of(chat), list(messages))

    def extend(self, message: Message, *, files: bool = False) -> None:
        """This session added `message` under the cached leaf (a question, an answer begun)."""
        key = self._key
        if key is None or key.leaf_id != message.parent_id:
            self.forget()
            return
        self._messages = [*self._messages, message]
        self.note(message.id, files=files)
        if sendable(message):
            self._candidates = [*self._candidates, budget_message(message)]
        if message.role == "assistant" and message.stats is not None:
            self._calibration = measure(self._messages)
        self._key = PathKey(message.id, key.count + 1, message.updated_at)

    def note(self, message_id: int, *, files: bool) -> None:
        """Whether a message this session added carries attachments."""
        self._known.add(message_id)
        if files:
            self._files.add(message_id)

    def settle(self, path: Sequence[Message], last: Message) -> None:
        """A turn ended with `last` (an answer, finished or stopped) after `path`: that is the
        chat's path now. Kept only if the cache knows the attachments of every message on it
        (else the next turn reads the path again)."""
        messages = [*path, last]
        if any(m.id not in self._known for m in path):
            self.forget()
            return
        self._set(PathKey(last.id, len(messages), last.updated_at), messages)

    def forget(self) -> None:
        """The path is no longer known: the next turn reads it."""
        self._key = None
        self._messages = []
        self._candidates = []
        self._calibration = None

    def _set(self, key: PathKey, messages: list[Message]) -> None:
        self._key = key
        self._messages = messages
        self._candidates = [budget_message(m) for m in messages if sendable(m)]
        self._calibration = measure(messages)
