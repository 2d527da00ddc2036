"""The context window of one chat: what fits, what falls out, and how full it is.

Ollama silently drops the oldest messages when a prompt exceeds `num_ctx` and reserves no room
for the reply (docs/ollama-behaviour.md §3.1). PhiDesk plans the prompt itself instead: the
system prompt and the newest message are always kept, room is reserved for the reply, and the
oldest history that does not fit is left out *and recorded*, so the user sees it before sending.

Token counts before sending are estimates (characters per token, calibrated on the chat's own
measured figures); after a turn the used figure is Ollama's own `prompt_eval_count + eval_count`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Characters per token before anything was measured. Deliberately low (English prose is ~4,
#: LaTeX and code nearer 3): overestimating tokens leaves a message out early, underestimating
#: lets Ollama drop it silently.
DEFAULT_CHARS_PER_TOKEN = 3.0
#: Tokens the chat template adds around each message (role markers, separators).
MESSAGE_OVERHEAD_TOKENS = 4
MIN_CHARS_PER_TOKEN = 1.0
#: The least room kept for the answer; a message that leaves less is refused as too long.
MIN_REPLY_TOKENS = 256
MAX_CHARS_PER_TOKEN = 8.0


def effective_limit(
    requested_num_ctx: int, *, loaded_context: int | None = None, trained: int | None = None
) -> int:
    """The window Ollama really uses: `/api/ps` `context_length` when the model is loaded,
    else the `num_ctx` PhiDesk sends, never above the model's trained length."""
    limit = loaded_context if loaded_context else requested_num_ctx
    if trained:
        limit = min(limit, trained)
    return max(1, limit)


def reply_reserve(limit: int) -> int:
    """Room kept free for the answer: an eighth of the window, between 256 and 4096 tokens."""
    return max(min(256, limit // 2), min(4096, limit // 8))


def calibrate(prompt_chars: int, prompt_eval_count: int | None, messages: int) -> float | None:
    """Characters per token measured on a turn Ollama counted, or None when it tells nothing."""
    if not prompt_eval_count:
        return None
    text_tokens = prompt_eval_count - messages * MESSAGE_OVERHEAD_TOKENS
    if text_tokens <= 0 or prompt_chars <= 0:
        return None
    return min(MAX_CHARS_PER_TOKEN, max(MIN_CHARS_PER_TOKEN, prompt_chars / text_tokens))


@dataclass(frozen=True, slots=True)
class BudgetMessage:
    """A message of the history as the budget sees it. `tokens` if measured, else estimated."""

    id: int
    role: str
    text: str
    tokens: int | None = None


@dataclass(frozen=True, slots=True)
class BudgetPart:
    """A part of an attached document as the budget sees it: the tokens its block takes in the
    request (estimated from its exact text, see `ContextBudget.estimate_text`)."""

    key: str
    tokens: int


@dataclass(frozen=True, slots=True)
class DocumentOffer:
    """The documents a turn may send: each of them whole, and all their parts, the most
    relevant to the question first."""

    whole: tuple[BudgetPart, ...]
    ranked: tuple[BudgetPart, ...]


@dataclass(frozen=True, slots=True)
class ContextPlan:
    """What will be sent and what will not, in tokens (estimated where not measured)."""

    limit: int
    reserve: int
    system_tokens: int
    history_tokens: int
    draft_tokens: int
    included_ids: tuple[int, ...]
    excluded_ids: tuple[int, ...]
    #: True when the system prompt and the newest message alone leave no room for an answer
    #: (less than the minimum reply): nothing can be sent until the window grows or the
    #: message shrinks.
    overflow: bool
    document_tokens: int = 0
    """Tokens of the attached documents' parts sent with the question (the meter's
    "documents" share)."""
    document_parts: tuple[str, ...] = ()
    """Keys of the `BudgetPart`s sent: the offer's whole documents, or some of its parts."""
    documents_cut: bool = False
    """True when the documents did not fit whole and only some parts are sent."""

    @property
    def used(self) -> int:
        """Tokens the prompt will take (system + kept history + draft + documents)."""
        return self.system_tokens + self.history_tokens + self.draft_tokens + self.document_tokens

    @property
    def fraction(self) -> float:
        return (self.used + self.reserve) / self.limit

    @property
    def drops_history(self) -> bool:
        return bool(self.excluded_ids)


class ContextBudget:
    """Plans a prompt into a window of `limit` tokens."""

    def __init__(
        self,
        limit: int,
        *,
        chars_per_token: float | None = None,
        reserve: int | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("the context window must hold at least one token")
        self.limit = limit
        cpt = chars_per_token or DEFAULT_CHARS_PER_TOKEN
        self.chars_per_token = min(MAX_CHARS_PER_TOKEN, max(MIN_CHARS_PER_TOKEN, cpt))
        self.reserve = reply_reserve(limit) if reserve is None else max(0, reserve)
        self.min_reply = min(MIN_REPLY_TOKENS, limit // 4, self.reserve)

    def estimate(self, text: str) -> int:
        """Estimated tokens of one message, template overhead included."""
        return math.ceil(len(text) / self.chars_per_token) + MESSAGE_OVERHEAD_TOKENS

    def estimate_text(self, text: str) -> int:
        """Estimated tokens of text inside a message (no template overhead)."""
        return math.ceil(len(text) / self.chars_per_token)

    def _tokens(self, message: BudgetMessage) -> int:
        return message.tokens if message.tokens is not None else self.estimate(message.text)

    def plan(
        self,
        system: str | None,
        history: Sequence[BudgetMessage],
        draft: str | None = None,
        documents: DocumentOffer | None = None,
    ) -> ContextPlan:
        """Keep the system prompt and the newest message (the draft, or else the last history
        message), then as much of the most recent history as fits beside the reply reserve.
        History is cut at one point: everything older than the first message that does not fit
        is left out too, so the model never sees a conversation with a hole in it.

        `documents` go whole when they fit beside the whole history (or alone within half the
        window); otherwise their most relevant parts are taken, up to half the window, before
        any history: the question and the reply reserve first, then documents, then history."""
        system_tokens = self.estimate(system) if system else 0
        draft_tokens = self.estimate(draft) if draft is not None else 0
        older = list(history)
        pinned: list[BudgetMessage] = []
        if draft is None and older:
            pinned.append(older.pop())
        pinned_tokens = sum(self._tokens(m) for m in pinned)
        must_keep = system_tokens + draft_tokens + pinned_tokens
        # The reserve may shrink before the newest message is dropped, but not below a minimum
        # answer: a prompt that fills the window leaves the model no room to reply.
        overflow = must_keep > self.limit - self.min_reply
        # Shrink the reply reserve before leaving the newest message out.
        reserve = max(0, min(self.reserve, self.limit - must_keep))
        room = self.limit - reserve - must_keep
        history_all = sum(self._tokens(m) for m in older)
        doc_tokens, doc_keys, cut_docs = self._documents(documents, max(0, room), history_all)
        room -= doc_tokens
        kept: list[BudgetMessage] = []
        kept_tokens = 0
        cut = 0
        for index in range(len(older) - 1, -1, -1):
            cost = self._tokens(older[index])
            if kept_tokens + cost > room:
                cut = index + 1
                break
            kept.append(older[index])
            kept_tokens += cost
        excluded = tuple(m.id for m in older[:cut])
        included = tuple(m.id for m in reversed(kept)) + tuple(m.id for m in pinned)
        return ContextPlan(
            limit=self.limit,
            reserve=reserve,
            system_tokens=system_tokens,
            history_tokens=kept_tokens + pinned_tokens,
            draft_tokens=draft_tokens,
            included_ids=included,
            excluded_ids=excluded,
            overflow=overflow,
            document_tokens=doc_tokens,
            document_parts=doc_keys,
            documents_cut=cut_docs,
        )

    def _documents(
        self, offer: DocumentOffer | None, room: int, history: int
    ) -> tuple[int, tuple[str, ...], bool]:
        """(tokens, keys, cut) of the document parts that go into `room`."""
        if offer is None or not offer.whole:
            return 0, (), False
        cap = min(room, self.limit // 2)
        whole = sum(p.tokens for p in offer.whole)
        if whole + history <= room or whole <= cap:
            return whole, tuple(p.key for p in offer.whole), False
        keys: list[str] = []
        used = 0
        for part in offer.ranked:
            if used + part.tokens <= cap:
                keys.append(part.key)
                used += part.tokens
        return used, tuple(keys), True


def dropped_more_than_planned(
    plan: ContextPlan, prompt_eval_count: int | None, *, tolerance: float = 0.5
) -> bool:
    """Did Ollama read far fewer prompt tokens than PhiDesk sent? Then it truncated on its own
    (for example because it loaded a smaller window than asked, docs/ollama-behaviour.md §3.1)."""
    if prompt_eval_count is None or plan.used < 64:
        return False
    return prompt_eval_count < plan.used * tolerance
