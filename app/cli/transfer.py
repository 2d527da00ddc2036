"""`phidesk export` and `phidesk import`: chats to and from Markdown files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.command import Command
from app.cli.text import safe
from app.cli.workspace import run_with_workspace
from app.config import AppContext
from app.errors import PhiDeskError, UsageError
from app.store.comparisons import Comparison
from app.workspace import Workspace
from app.workspace.transfer import is_comparison_export


def _chat_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a chat id (a whole number)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a chat id (ids start at 1)")
    if value > 2**63 - 1:
        raise argparse.ArgumentTypeError(f"{text} is not a chat id (too large for one)")
    return value


def _comparison_id(text: str) -> int:
    try:
        return _chat_id(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("chat id", "comparison id")) from None


def _add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "chat_ids",
        metavar="CHAT_ID",
        type=_chat_id,
        nargs="*",
        help="the chats to export (phidesk chats lists them)",
    )
    parser.add_argument("--all", action="store_true", help="export every chat not in the trash")
    parser.add_argument(
        "--comparison",
        metavar="ID",
        type=_comparison_id,
        help="export this comparison, with its figures and every answer, as one Markdown file",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="FILE.md for one chat, FILE.zip, or a folder that gets one .md per chat "
        "(default for one chat: stdout)",
    )
    parser.add_argument(
        "--no-reasoning",
        dest="reasoning",
        action="store_false",
        help="leave out the models' reasoning (included by default as collapsible blocks)",
    )
    parser.add_argument(
        "--provenance",
        action="store_true",
        help="add under each answer the model, quantization, context and speed it came from",
    )
    parser.add_argument(
        "--all-branches",
        action="store_true",
        help="include every version of each message (regenerated answers, edited questions), "
        "not only the one shown; phidesk import restores them",
    )


def _run_export_comparison(ctx: AppContext, args: argparse.Namespace) -> int:
    if args.all or args.chat_ids:
        raise UsageError("give --comparison ID alone, without chat ids or --all")

    async def export(workspace: Workspace) -> Path | None:
        if args.output is not None:
            return await workspace.export_comparison(args.comparison, Path(args.output))
        text = await workspace.comparison_markdown(args.comparison)
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.buffer.flush()
        return None

    written = run_with_workspace(ctx, export, readonly=True)
    if written is not None:
        print(safe(written))
    return 0


def _run_export(ctx: AppContext, args: argparse.Namespace) -> int:
    if args.comparison is not None:
        return _run_export_comparison(ctx, args)
    if args.all and args.chat_ids:
        raise UsageError("give chat ids or --all, not both")
    if not args.all and not args.chat_ids:
        raise UsageError("say which chats to export: CHAT_ID… or --all")

    async def export(workspace: Workspace) -> list[Path] | None:
        ids: list[int] = (
            [chat.id for chat in await workspace.list_chats()]
            if args.all
            else list(dict.fromkeys(args.chat_ids))
        )
        if not ids:
            raise PhiDeskError("there are no chats to export")
        if args.output is None:
            if len(ids) > 1:
                raise UsageError(
                    f"{len(ids)} chats cannot all go to stdout; pass -o FOLDER or -o FILE.zip"
                )
            text = await workspace.chat_markdown(
                ids[0],
                include_thinking=args.reasoning,
                include_provenance=args.provenance,
                all_branches=args.all_branches,
            )
            # Bytes, so that the export is the same on every platform (no newline translation).
            sys.stdout.flush()
            sys.stdout.buffer.write(text.encode("utf-8"))
            sys.stdout.buffer.flush()
            return None
        return await workspace.export(
            ids,
            Path(args.output),
            include_thinking=args.reasoning,
            include_provenance=args.provenance,
            all_branches=args.all_branches,
        )

    written = run_with_workspace(ctx, export, readonly=True)
    if written is None:
        return 0
    for path in written:
        print(safe(path))
    return 0


def _add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        metavar="FILE",
        nargs="+",
        help="Markdown files exported by PhiDesk, or .zip archives of them",
    )


def _run_import(ctx: AppContext, args: argparse.Namespace) -> int:
    files = [Path(name) for name in args.files]
    comparisons = [f for f in files if is_comparison_export(f)]
    if comparisons:
        if len(comparisons) < len(files):
            raise UsageError("import comparison exports on their own, not with chats")

        async def add(workspace: Workspace) -> list[Comparison]:
            return [await workspace.import_comparison(f) for f in comparisons]

        for comparison in run_with_workspace(ctx, add):
            print(
                f"comparison {comparison.id}\t{len(comparison.targets)} targets\t"
                f"{safe(comparison.title)}"
            )
        return 0
    chats = run_with_workspace(ctx, lambda workspace: workspace.import_files(files))
    for chat in chats:
        print(f"{chat.id}\t{chat.message_count} msgs\t{safe(chat.title)}")
    sys.stdout.flush()
    print(chats.summary(), file=sys.stderr)  # e.g. Imported 3 chats (2 already there).
    return 0


COMMANDS: list[Command] = [
    Command(
        name="export",
        help="write chats as Markdown: one to stdout, or to a file, a folder or a .zip",
        add_arguments=_add_export_arguments,
        run=_run_export,
    ),
    Command(
        name="import",
        help="add chats from Markdown files exported by PhiDesk (or .zip archives of them)",
        add_arguments=_add_import_arguments,
        run=_run_import,
    ),
]
