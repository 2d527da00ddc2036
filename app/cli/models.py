"""`phidesk models`, `phidesk pull NAME` and `phidesk rm NAME`: the Ollama server's models from
the command line, with a progress line for downloads."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TextIO

from app.backend.client import OllamaClient
from app.backend.events import PullDone, PullProgress, StreamStalled
from app.backend.hosts import HostProfiles
from app.backend.models import InstalledModel, LoadedModel
from app.backend.names import validate_model_name
from app.cli.command import Command
from app.cli.engines import run_models
from app.cli.text import safe
from app.cli.waiting import add_stall_timeout, stall_note
from app.config import AppContext
from app.errors import UsageError
from app.workspace import SettingsStore


def _client(ctx: AppContext) -> OllamaClient:
    return HostProfiles(ctx.paths, local_url=ctx.host).client_for_url(ctx.host)


def _with_client[T](ctx: AppContext, work: Callable[[OllamaClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _client(ctx) as client:
            return await work(client)

    return asyncio.run(main())


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def human_seconds(value: float) -> str:
    seconds = round(value)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


# --- models ---------------------------------------------------------------------------------


def _models_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--engine", metavar="NAME", help="list the models of this engine (phidesk engines list)"
    )
    parser.add_argument(
        "--all", action="store_true", help="with --engine: every model, not only the Phi-4 family"
    )


def _models_rows(
    installed: list[InstalledModel], loaded: list[LoadedModel]
) -> list[dict[str, object]]:
    in_memory = {m.name: m for m in loaded}
    rows: list[dict[str, object]] = []
    for model in installed:
        running = in_memory.get(model.name)
        rows.append(
            {
                "name": model.name,
                "size": model.size,
                "quantization": model.quantization,
                "family": model.family,
                "parameter_size": model.parameter_size,
                "loaded": running is not None,
                "gpu_percent": running.gpu_percent if running else None,
                "context_length": running.context_length if running else None,
            }
        )
    return rows


def _run_models(ctx: AppContext, args: argparse.Namespace) -> int:
    if args.engine is not None:
        if args.host is not None:
            raise UsageError("give --engine or --host, not both")
        return run_models(ctx, args)
    if args.all:
        raise UsageError("--all goes with --engine NAME")

    async def fetch(client: OllamaClient) -> tuple[list[InstalledModel], list[LoadedModel]]:
        return await client.list_models(), await client.loaded()

    installed, loaded = _with_client(ctx, fetch)
    rows = _models_rows(installed, loaded)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no models are installed on {ctx.host}; get one with: phidesk pull phi4-mini")
        return 0
    table = [("NAME", "SIZE", "QUANT", "FAMILY", "LOADED", "GPU")]
    for row in rows:
        table.append(
            (
                safe(row["name"]),
                human_bytes(int(str(row["size"]))),
                safe(row["quantization"]),
                safe(row["family"]),
                "yes" if row["loaded"] else "no",
                f"{row['gpu_percent']}%" if row["loaded"] else "-",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
    return 0


# --- pull -----------------------------------------------------------------------------------


def _name_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="model name, e.g. phi4-mini:3.8b")


class ProgressBar:
    """One updating line on a terminal; a line every few seconds when not a terminal."""

    WIDTH = 24

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last = 0.0
        self._shown = False

    def show(self, progress: PullProgress, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < (0.1 if self._tty else 2.0):
            return
        self._last = now
        line = safe(self.render(progress))  # the status text is the server's
        if self._tty:
            self._stream.write("\r" + line.ljust(79)[:200])
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
        self._shown = True

    def render(self, progress: PullProgress) -> str:
        if not progress.total:
            return progress.status
        fraction = min(max(progress.fraction or 0.0, 0.0), 1.0)
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        parts = [
            f"{fraction * 100:3.0f}% [{bar}]",
            f"{human_bytes(progress.completed)} / {human_bytes(progress.total)}",
        ]
        if progress.bytes_per_second is not None:
            parts.append(f"{human_bytes(progress.bytes_per_second)}/s")
        if progress.eta_seconds is not None:
            parts.append(f"ETA {human_seconds(progress.eta_seconds)}")
        return "  ".join(parts)

    def end(self) -> None:
        if self._shown and self._tty:
            self._stream.write("\n")
            self._stream.flush()
        self._shown = False


def _pull_arguments(parser: argparse.ArgumentParser) -> None:
    _name_argument(parser)
    add_stall_timeout(parser, "progress")


def _run_pull(ctx: AppContext, args: argparse.Namespace) -> int:
    name = validate_model_name(args.name)
    settings = SettingsStore(ctx.paths.settings_file).current
    timeout = args.stall_timeout or float(settings.stall_timeout)
    bar = ProgressBar(sys.stderr)

    async def pull(client: OllamaClient) -> None:
        client.stall_timeout = timeout  # then the pull gives up with one sentence
        last: PullProgress | None = None

        def stalled(event: StreamStalled) -> None:
            bar.end()
            note = stall_note(client.host, event.seconds, timeout)
            print(f"phidesk: note: {note}", file=sys.stderr)

        try:
            async for event in client.pull(name, stalled=stalled):
                if isinstance(event, PullDone):
                    if last is not None:
                        bar.show(last, force=True)
                    return
                last = event
                bar.show(event)
        finally:
            bar.end()

    # Ctrl-C: asyncio.run cancels the task, which closes the connection (Ollama stops the
    # download and keeps the partial layers); app.cli then exits with status 130.
    _with_client(ctx, pull)
    print(f"pulled {name}")
    return 0


# --- rm -------------------------------------------------------------------------------------


def _run_rm(ctx: AppContext, args: argparse.Namespace) -> int:
    name = validate_model_name(args.name)

    async def delete(client: OllamaClient) -> None:
        await client.delete(name)

    _with_client(ctx, delete)
    print(f"deleted {name}")
    return 0


COMMANDS: list[Command] = [
    Command(
        name="models",
        help="list the models installed on the Ollama server, and which are loaded",
        add_arguments=_models_arguments,
        run=_run_models,
    ),
    Command(
        name="pull",
        help="download a model into the Ollama server (Ctrl-C stops; pulling again resumes)",
        add_arguments=_pull_arguments,
        run=_run_pull,
    ),
    Command(
        name="rm",
        help="delete a model from the Ollama server",
        add_arguments=_name_argument,
        run=_run_rm,
    ),
]
