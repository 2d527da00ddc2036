"""Start a new chat that carries a summary of a long one (when the old one no longer fits)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.backend.events import ContentDelta
from app.chat.session import DEFAULT_NUM_CTX
from app.store import Chat

if TYPE_CHECKING:
    from app.workspace.workspace import Workspace

SUMMARY_INSTRUCTION = (
    "Summarise the conversation below in at most 200 words, keeping facts, decisions, formulas "
    "and open questions. Write only the summary."
)


async def summarise_into_new_chat(workspace: Workspace, chat_id: int) -> Chat:
    """Ask the chat's model for a summary and start a new chat that carries it."""
    chat = await workspace.chat(chat_id)
    history = [m for m in await workspace.messages(chat_id) if m.content and m.role != "system"]
    transcript = "\n\n".join(f"{m.role.upper()}: {m.content}" for m in history)
    prompt = [
        {"role": "system", "content": SUMMARY_INSTRUCTION},
        {"role": "user", "content": transcript[-60_000:]},
    ]
    # A window big enough for the whole transcript (about 3 characters a token, plus room
    # for the summary), within what the model was trained for; Ollama cuts it otherwise.
    info = workspace.session(chat_id).cached_model_info(chat.model) if chat.model else None
    wanted = len(prompt[1]["content"]) // 3 + 1024
    trained = info.context_length if info and info.context_length else None
    num_ctx = max(chat.settings.num_ctx or DEFAULT_NUM_CTX, wanted)
    if trained:
        num_ctx = min(num_ctx, trained)
    parts: list[str] = []
    async with workspace.connection.lease() as client:
        async for event in client.chat(
            chat.model,
            prompt,
            options=workspace.offload.options_for(chat.model),
            num_ctx=num_ctx,
            keep_alive=chat.settings.keep_alive,
        ):
            if isinstance(event, ContentDelta):
                parts.append(event.text)
    summary = "".join(parts).strip()
    system = (chat.system_prompt + "\n\n" if chat.system_prompt else "") + (
        f"Summary of an earlier conversation (“{chat.title}”):\n{summary}"
    )
    return await workspace.new_chat(
        chat.model,
        title=f"{chat.title} (continued)",
        system_prompt=system,
        settings=chat.settings,
    )
