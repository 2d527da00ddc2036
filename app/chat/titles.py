"""Short chat titles written by the chat's own model after its first answer.

The request goes to the model already loaded for the chat, with the same window (`num_ctx`) and
the same load options, so Ollama never loads another model or reloads this one for it (a title
asked at another `num_ctx` makes Ollama reload the model). It is skipped where it would cost the
user: reasoning models (they reason on every prompt, for minutes), and engines off this
computer (the conversation would leave the machine once more; see the documents' consent).
Reasoning is stripped from the reply, and a title never holds "…".
"""

from __future__ import annotations

import asyncio
import logging
import re

from app.backend.events import ContentDelta
from app.chat.session import ChatSession
from app.errors import PhiDeskError

log = logging.getLogger(__name__)

TITLE_LIMIT = 60
TITLE_TIMEOUT = 30.0
"""Seconds a title may take before PhiDesk keeps the title it has."""
EXCERPT = 2000
"""Characters of the question and of the answer the model is shown."""
INSTRUCTION = (
    "Write a title of at most six words for the conversation above, in its language. "
    "Reply with the title only: no quotes, no full stop."
)

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_PREFIX = re.compile(r"^(title|titre|título|titel)\s*:\s*", re.IGNORECASE)
_MARKUP = str.maketrans("", "", '*_`#"“”‘’«»…')


def clean_title(raw: str, limit: int = TITLE_LIMIT) -> str | None:
    """The title in a model's reply: reasoning, Markdown, quotes and a trailing full stop
    removed, cut at a word to `limit` characters without an ellipsis; None if nothing is left."""
    text = _THINK.sub("", raw)
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = _PREFIX.sub("", line.translate(_MARKUP).strip())
    line = " ".join(line.split()).strip(" .:;,!-'")
    if not line:
        return None
    if len(line) > limit:
        cut = line[:limit].rsplit(" ", 1)[0] if " " in line[:limit] else line[:limit]
        line = cut.rstrip(" .:;,!-'")
    return line or None


async def generate_title(session: ChatSession) -> str | None:
    """A title for the session's chat from its first question and answer, or None when it is
    not worth asking (see the module docstring) or the model's reply holds no title. Errors
    of the server are logged and give None: the chat keeps its title."""
    chat = await session._io(session.chat)
    if session.documents_leave_machine(chat):
        return None
    info = session.cached_model_info(chat.model)
    if info is not None and (info.supports_thinking or info.template_opens_think):
        return None
    if "reasoning" in chat.model:
        return None
    path = await session._io(lambda: session.db.messages(session.chat_id))
    question = next((m.content for m in path if m.role == "user"), "")
    answer = next((m.content for m in path if m.role == "assistant" and m.content), "")
    if not question or not answer:
        return None
    messages = [
        {"role": "user", "content": question[:EXCERPT]},
        {"role": "assistant", "content": answer[:EXCERPT]},
        {"role": "user", "content": INSTRUCTION},
    ]
    engine = session.engine_for(chat)
    # The turn's own options (offload included), so that nothing makes Ollama reload.
    options = {**engine.turn_options(chat.model, session._options(chat)), "temperature": 0.2}
    pieces: list[str] = []

    async def ask() -> None:
        held = engine.acquire()
        try:
            stream = held.chat(
                chat.model,
                messages,
                options=options,
                num_ctx=session.requested_num_ctx(chat, info),
                keep_alive=chat.settings.keep_alive,
            )
            try:
                async for event in stream:
                    if isinstance(event, ContentDelta):
                        pieces.append(event.text)
                        if sum(len(p) for p in pieces) > 4 * TITLE_LIMIT:
                            break
            finally:
                await stream.aclose()
        finally:
            await held.release()

    try:
        await asyncio.wait_for(ask(), TITLE_TIMEOUT)
    except (PhiDeskError, TimeoutError) as exc:
        log.info("no generated title for chat %s: %s", chat.id, exc)
        return None
    return clean_title("".join(pieces))
