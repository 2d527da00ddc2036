"""`phidesk ask` and `phidesk chats`: the conversation engine from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from app.backend.errors import InvalidModelName
from app.backend.events import ContentDelta, StreamStalled
from app.backend.names import validate_model_name
from app.cli.command import Command
from app.cli.text import safe, safe_json
from app.cli.waiting import EXIT_TERMINATED, TerminateAsStop, add_stall_timeout, stall_note
from app.cli.workspace import run_with_workspace
from app.config import AppContext
from app.errors import PhiDeskError, UsageError
from app.store import Chat, ChatSettings, SearchHit
from app.workspace import (
    Notices,
    RunningTurn,
    Scope,
    TurnFinished,
    TurnRefused,
    TurnRefusedEvent,
    TurnStarted,
    TurnState,
    Workspace,
)

MAX_ID = 2**63 - 1  # the largest integer SQLite stores


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    if value > MAX_ID:
        raise argparse.ArgumentTypeError(f"{text} is too large (the most is {MAX_ID})")
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
        "--engine",
        metavar="NAME",
        help="ask on this engine (phidesk engines list; default: the chat's, else ollama)",
    )
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
    parser.add_argument(
        "--regenerate",
        action="store_true",
        help="with --chat and no PROMPT: answer the chat's last question again, as a new "
        "version beside the old answer (which is kept)",
    )
    parser.add_argument(
        "--attach",
        metavar="FILE",
        type=Path,
        action="append",
        default=[],
        help="attach a document to the question (text, Markdown, code, PDF, HTML); repeat it "
        "for more files",
    )
    parser.add_argument(
        "--send-documents",
        action="store_true",
        help="agree that attached documents go to an engine that is not on this computer",
    )
    add_stall_timeout(parser, "token")
    parser.add_argument(
        "prompt", metavar="PROMPT", nargs="?", help="what to ask; - reads it from stdin"
    )


def _valid_model(name: str) -> str:
    """`name` if Ollama would accept it; otherwise a usage error, before anything is stored."""
    try:
        return validate_model_name(name)
    except InvalidModelName as exc:
        raise UsageError(str(exc)) from None


async def _prepare_chat(workspace: Workspace, args: argparse.Namespace) -> Chat:
    if args.chat is not None:
        chat = await workspace.chat(args.chat)
        if chat.deleted_at is not None:
            raise PhiDeskError(
                f"chat {chat.id} was deleted; restore it in PhiDesk first, or leave out --chat "
                "to start a new chat"
            )
        if args.engine:
            chat = await workspace.set_chat_engine(chat.id, args.engine, args.model or chat.model)
        elif args.model:
            chat = await workspace.set_model(chat.id, args.model)
        if args.system is not None or args.num_ctx is not None or args.think is not None:
            chat = await workspace.configure(
                chat.id,
                system_prompt=args.system,
                settings=_with_arguments(chat.settings, args),
            )
        return chat
    model = args.model or workspace.prefs.default_model
    if not model:
        raise UsageError("no model given; pass -m MODEL (phidesk models lists the installed ones)")
    if args.engine:
        workspace.engine_profile(args.engine)  # a usage error when there is none
    else:
        _valid_model(model)
    # The model's chat defaults (as the window and the quick prompt use them), then the flags.
    return await workspace.new_chat(
        model,
        system_prompt=args.system,
        settings=_with_arguments(workspace.defaults_for(model), args),
        engine=args.engine or "ollama",
    )


def _with_arguments(settings: ChatSettings, args: argparse.Namespace) -> ChatSettings:
    return ChatSettings(
        num_ctx=args.num_ctx if args.num_ctx is not None else settings.num_ctx,
        temperature=settings.temperature,
        seed=settings.seed,
        think=args.think if args.think is not None else settings.think,
        keep_alive=settings.keep_alive,
        extra=dict(settings.extra),
    )


class _AnswerPrinter:
    """Streams one turn's answer to stdout; notes on stderr; remembers how it ended."""

    def __init__(self, notices: Notices, host: str, stall_timeout: float) -> None:
        self.notices = notices
        self.host = host
        self.stall_timeout = stall_timeout
        self.ended_with_newline = True
        self.failure: BaseException | None = None
        self.reader_gone = False

    def __call__(self, turn: RunningTurn, event: object) -> None:
        out = sys.stdout
        if isinstance(event, TurnStarted) and event.plan.excluded_ids:
            count = len(event.plan.excluded_ids)
            self.notices.info(
                f"{count} older message{'s' if count > 1 else ''} did not "
                f"fit in the {event.plan.limit}-token context window and "
                f"{'were' if count > 1 else 'was'} left out (raise it with --num-ctx)",
                scope=Scope.CHAT,
                target=turn.chat_id,
            )
        elif isinstance(event, ContentDelta):
            if self.reader_gone:
                return
            try:
                out.write(event.text)
                out.flush()
            except BrokenPipeError:
                # `phidesk ask … | head`: nobody reads on; stop the answer (kept as stopped).
                self.reader_gone = True
                turn.stop()
                return
            self.ended_with_newline = event.text.endswith("\n")
        elif isinstance(event, StreamStalled):
            self.notices.info(
                stall_note(self.host, event.seconds, self.stall_timeout),
                scope=Scope.CHAT,
                target=turn.chat_id,
            )
        elif isinstance(event, TurnFinished):
            if not self.ended_with_newline and not self.reader_gone:
                out.write("\n")
                out.flush()
            if event.state is not TurnState.DONE:
                self.failure = event.error or PhiDeskError("the answer did not finish")
        elif isinstance(event, TurnRefusedEvent) and event.reason:
            self.failure = TurnRefused(event.reason)


async def _ask(workspace: Workspace, args: argparse.Namespace, prompt: str) -> int:
    if args.stall_timeout is not None:
        workspace.use_stall_timeout(args.stall_timeout)
    with TerminateAsStop() as terminated:
        try:
            return await _ask_and_wait(workspace, args, prompt)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not terminated.received or task is None:
                raise
            # Stopped by SIGTERM: the turn saved what arrived (as `stopped`), as for Ctrl-C.
            task.uncancel()
            return EXIT_TERMINATED


async def _ask_and_wait(workspace: Workspace, args: argparse.Namespace, prompt: str) -> int:
    files = await workspace.prepare_attachments(args.attach) if args.attach else []
    chat = await _prepare_chat(workspace, args)
    if files and args.send_documents:
        workspace.consent_to_documents(chat.id)
    if files and await workspace.needs_document_consent(chat.id):
        if args.chat is None:
            await workspace.delete_chat_permanently(chat.id)
        raise UsageError(
            f"engine {chat.engine} is not on this computer, so the attached documents would "
            "leave it; add --send-documents to agree"
        )
    if args.engine and await workspace.chat_window(chat.id) is None:
        if args.chat is None:
            await workspace.delete_chat_permanently(chat.id)
        raise UsageError(
            f"nobody reports the context length of {chat.model} on engine {chat.engine}; "
            "give it with --num-ctx N"
        )
    host = workspace.engine_profile(chat.engine).url if args.engine else workspace.client.host
    printer = _AnswerPrinter(workspace.notices, host, workspace.stall_timeout)
    if args.regenerate:
        if not chat.message_count:
            raise PhiDeskError(f"chat {chat.id} has no question to answer again")
        turn = workspace.regenerate(chat.id)
    elif files:
        turn = workspace.send_with_attachments(chat.id, prompt, files)
    else:
        turn = workspace.send(chat.id, prompt)
    turn.listen(printer)
    assert turn.task is not None
    try:
        # Not `await turn.task`: a turn stopped because stdout closed is no error here.
        await asyncio.wait({turn.task})
    except asyncio.CancelledError:  # Ctrl-C or SIGTERM: the answer is saved as stopped
        turn.stop()
        await asyncio.wait({turn.task})
        raise
    if printer.reader_gone:
        raise BrokenPipeError("the reader of the answer went away")
    if isinstance(printer.failure, TurnRefused):
        if args.chat is None and not await workspace.messages(chat.id):
            # Nothing was said: leave no empty chat.
            await workspace.delete_chat_permanently(chat.id)
        raise printer.failure
    if printer.failure is not None:
        raise printer.failure
    print(f"chat: {chat.id}", file=sys.stderr)
    return 0


def _run_ask(ctx: AppContext, args: argparse.Namespace) -> int:
    if args.engine and args.host is not None:
        raise UsageError("give --engine or --host, not both")
    if args.model and not args.engine:
        _valid_model(args.model)
    if args.regenerate:
        if args.chat is None:
            raise UsageError("--regenerate needs --chat ID: the chat whose answer to redo")
        if args.prompt is not None:
            raise UsageError("--regenerate takes no PROMPT: it asks the chat's last question again")
        if args.attach:
            raise UsageError("--regenerate takes no --attach: it asks the same question again")
        return run_with_workspace(ctx, lambda workspace: _ask(workspace, args, ""))
    if args.prompt is None:
        raise UsageError("what to ask is missing: give a PROMPT, or - to read it from stdin")
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    return run_with_workspace(ctx, lambda workspace: _ask(workspace, args, prompt))


def _add_chats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--search", metavar="QUERY", help="find messages containing these words")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _chat_json(chat: Chat, versions: int) -> dict[str, Any]:
    return {
        "id": chat.id,
        "title": chat.title,
        "model": chat.model,
        "engine": chat.engine,
        "kind": chat.kind,
        "pinned": chat.pinned,
        "created_at": _iso(chat.created_at),
        "updated_at": _iso(chat.updated_at),
        "message_count": chat.message_count,
        "versions": versions,
        "context": {"used": chat.context.used, "limit": chat.context.limit},
    }


def _context_text(chat: Chat) -> str:
    used, limit = chat.context.used, chat.context.limit
    if used is None or limit is None:
        return "-"
    return f"{used}/{limit}"


def _run_chats(ctx: AppContext, args: argparse.Namespace) -> int:
    if args.search is not None:
        query = args.search
        _print_hits(run_with_workspace(ctx, lambda w: w.search(query), readonly=True), args)
        return 0
    if args.json:
        chats, versions = run_with_workspace(ctx, _chats_and_versions, readonly=True)
        print(safe_json([_chat_json(c, versions.get(c.id, 0)) for c in chats]))
        return 0
    chats = run_with_workspace(ctx, lambda w: w.list_chats(), readonly=True)
    for c in chats:
        updated = c.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
        pin = "*" if c.pinned else " "
        print(
            f"{c.id:>5}{pin} {updated}  {c.message_count:>4} msgs  "
            f"{_context_text(c):>13}  {safe(c.model) or '-':<24} {safe(c.title)}"
        )
    return 0


async def _chats_and_versions(workspace: Workspace) -> tuple[list[Chat], dict[int, int]]:
    """The chats, and per chat the number of its messages that have other versions."""
    chats = await workspace.list_chats()
    return chats, await workspace.branch_points()


def _print_hits(hits: list[SearchHit], args: argparse.Namespace) -> None:
    if not args.json:
        for h in hits:
            snippet = " ".join(safe(h.snippet).split())
            print(f"{h.chat_id}\t{h.message_id}\t{safe(h.chat_title)}\t{snippet}")
        return
    rows = [
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
    ]
    print(safe_json(rows))


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
