"""`phidesk ask` and `phidesk chats`: the conversation engine from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any

from app.backend.events import ContentDelta
from app.backend.hosts import HostProfiles
from app.backend.offload import OffloadPreferences
from app.chat.session import ChatSession, TurnFinished, TurnRefused, TurnStarted, TurnState
from app.cli.command import Command
from app.config import AppContext, Settings
from app.errors import PhiDeskError, UsageError
from app.store import Chat, ChatSettings, Database


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    return value


def _add_ask_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m",
        "--model",
        help="the model to ask (default: the chat's, or the default model from the settings)",
    )
    parser.add_argument(
        "--chat",
        type=_positive_int,
        metavar="ID",
        help="continue this chat instead of starting a new one",
    )
    parser.add_argument("--system", metavar="TEXT", help="the chat's system prompt")
    parser.add_argument(
        "--num-ctx",
        type=_positive_int,
        metavar="N",
        help="the context window in tokens (Ollama's num_ctx)",
    )
    think = parser.add_mutually_exclusive_group()
    think.add_argument(
        "--think",
        dest="think",
        action="store_true",
        default=None,
        help="let a reasoning model think first",
    )
    think.add_argument(
        "--no-think", dest="think", action="store_false", help="ask a reasoning model not to think"
    )
    parser.add_argument("prompt", metavar="PROMPT", help="what to ask; - reads it from stdin")


def _prepare_chat(ctx: AppContext, db: Database, args: argparse.Namespace, prompt: str) -> Chat:
    if args.chat is not None:
        chat = db.get_chat(args.chat)
        if chat.deleted_at is not None:
            raise PhiDeskError(
                f"chat {chat.id} was deleted; restore it in PhiDesk first, or leave out --chat "
                "to start a new chat"
            )
        settings = chat.settings
        changes: dict[str, Any] = {}
        if args.model:
            changes["model"] = args.model
        if args.system is not None:
            changes["system_prompt"] = args.system
        if args.num_ctx is not None or args.think is not None:
            changes["settings"] = ChatSettings(
                num_ctx=args.num_ctx if args.num_ctx is not None else settings.num_ctx,
                temperature=settings.temperature,
                seed=settings.seed,
                think=args.think if args.think is not None else settings.think,
                keep_alive=settings.keep_alive,
                extra=dict(settings.extra),
            )
        return db.update_chat(chat.id, **changes) if changes else chat
    model = args.model or Settings.load(ctx.paths.settings_file).default_model
    if not model:
        raise UsageError("no model given; pass -m MODEL (phidesk models lists the installed ones)")
    return db.create_chat(
        model=model,
        system_prompt=args.system or "",
        settings=ChatSettings(num_ctx=args.num_ctx, think=args.think),
    )


async def _ask(ctx: AppContext, db: Database, chat: Chat, prompt: str) -> int:
    out = sys.stdout
    ended_with_newline = True
    async with HostProfiles(ctx.paths, local_url=ctx.host).client_for_url(ctx.host) as client:
        offload = OffloadPreferences.load(ctx.paths)
        session = ChatSession(db, client, chat.id, model_options=offload.options_for)
        async for event in session.send(prompt):
            if isinstance(event, TurnStarted) and event.plan.excluded_ids:
                count = len(event.plan.excluded_ids)
                print(
                    f"phidesk: note: {count} older message{'s' if count > 1 else ''} did not "
                    f"fit in the {event.plan.limit}-token context window and "
                    f"{'were' if count > 1 else 'was'} left out (raise it with --num-ctx)",
                    file=sys.stderr,
                )
            elif isinstance(event, ContentDelta):
                out.write(event.text)
                out.flush()
                ended_with_newline = event.text.endswith("\n")
            elif isinstance(event, TurnFinished):
                if not ended_with_newline:
                    out.write("\n")
                    out.flush()
                if event.state is not TurnState.DONE:
                    raise event.error or PhiDeskError("the answer did not finish")
    print(f"chat: {chat.id}", file=sys.stderr)
    return 0


def _run_ask(ctx: AppContext, args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    with Database.open(ctx.paths.database) as db:
        chat = _prepare_chat(ctx, db, args, prompt)
        try:
            return asyncio.run(_ask(ctx, db, chat, prompt))
        except TurnRefused:
            if args.chat is None and not db.messages(chat.id):
                db.delete_chat_permanently(chat.id)  # nothing was said: leave no empty chat
            raise


def _add_chats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--search", metavar="QUERY", help="find messages containing these words")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _chat_json(chat: Chat) -> dict[str, Any]:
    return {
        "id": chat.id,
        "title": chat.title,
        "model": chat.model,
        "kind": chat.kind,
        "pinned": chat.pinned,
        "created_at": _iso(chat.created_at),
        "updated_at": _iso(chat.updated_at),
        "message_count": chat.message_count,
        "context": {"used": chat.context.used, "limit": chat.context.limit},
    }


def _context_text(chat: Chat) -> str:
    used, limit = chat.context.used, chat.context.limit
    if used is None or limit is None:
        return "-"
    return f"{used}/{limit}"


def _run_chats(ctx: AppContext, args: argparse.Namespace) -> int:
    with Database.open(ctx.paths.database) as db:
        if args.search is not None:
            hits = db.search(args.search)
            if args.json:
                print(
                    json.dumps(
                        [
                            {
                                "chat_id": h.chat_id,
                                "message_id": h.message_id,
                                "chat_title": h.chat_title,
                                "role": h.role,
                                "created_at": _iso(h.created_at),
                                "snippet": h.snippet,
                                "highlights": [list(span) for span in h.highlights],
                            }
                            for h in hits
                        ],
                        ensure_ascii=False,
                        indent=2,
                    )
                )
            else:
                for h in hits:
                    snippet = " ".join(h.snippet.split())
                    print(f"{h.chat_id}\t{h.message_id}\t{h.chat_title}\t{snippet}")
            return 0
        chats = db.list_chats()
        if args.json:
            print(json.dumps([_chat_json(c) for c in chats], ensure_ascii=False, indent=2))
            return 0
        for c in chats:
            updated = c.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
            pin = "*" if c.pinned else " "
            print(
                f"{c.id:>5}{pin} {updated}  {c.message_count:>4} msgs  "
                f"{_context_text(c):>13}  {c.model or '-':<24} {c.title}"
            )
    return 0


COMMANDS: list[Command] = [
    Command(
        name="ask",
        help="ask a model and stream the answer to stdout; the turn is saved as a chat",
        add_arguments=_add_ask_arguments,
        run=_run_ask,
    ),
    Command(
        name="chats",
        help="list the saved chats, or search their messages",
        add_arguments=_add_chats_arguments,
        run=_run_chats,
    ),
]
