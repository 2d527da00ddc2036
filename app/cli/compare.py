"""`phidesk compare`: one prompt sent to 2–4 models side by side, measured on this machine.

    phidesk compare -m phi4 -m phi4:14b-q8_0 -m phi4-mini [--parallel] [--warm-up] PROMPT
    phidesk compare -m phi4 -m microsoft/phi-4@lab --json PROMPT

Prints a table (target, TTFT, prompt tok/s, gen tok/s, GPU %, tokens) and then each answer;
`--json` prints a list of objects instead. A target that fails shows its sentence in the table;
the command then exits 1 after printing the others.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from app.chat.compare import FitFlagged, TargetResult
from app.chat.compare_figures import (
    DEFAULT_SEED,
    DEFAULT_TEMPERATURE,
    CompareSettings,
    Figures,
    Target,
    check_targets,
    marks,
)
from app.cli.command import Command
from app.cli.text import safe, safe_json
from app.cli.workspace import run_with_workspace
from app.config import AppContext
from app.errors import UsageError
from app.workspace import Workspace
from app.workspace.compare import RunningComparison

COLUMNS = ("target", "TTFT", "prompt tok/s", "gen tok/s", "GPU %", "tokens")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m",
        "--model",
        dest="models",
        action="append",
        metavar="MODEL[@ENGINE]",
        required=True,
        help="a target (2 to 4): a model, on ENGINE when given (default: the default Ollama)",
    )
    parser.add_argument(
        "--engine",
        metavar="NAME",
        help="the engine of targets that name none (default: the default Ollama)",
    )
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="run targets on the same Ollama at once (they then share its memory)",
    )
    parser.add_argument(
        "--warm-up",
        action="store_true",
        help="load each model before its request, so load time is not in its figures",
    )
    parser.add_argument("--system", metavar="TEXT", help="the system prompt of every target")
    parser.add_argument(
        "--temperature",
        type=float,
        default=DEFAULT_TEMPERATURE,
        help=f"the temperature of every target (default {DEFAULT_TEMPERATURE})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"the seed of every target (default {DEFAULT_SEED})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("prompt", metavar="PROMPT", help="the question every target answers")


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    default_engine = args.engine or "ollama"
    targets = [Target.parse(spec, default_engine) for spec in args.models]
    check_targets(targets)
    if not args.prompt.strip():
        raise UsageError("the prompt is empty; give the question to compare")

    async def work(ws: Workspace) -> list[TargetResult]:
        settings = CompareSettings(
            system_prompt=args.system
            if args.system is not None
            else ws.prefs.default_system_prompt,
            temperature=args.temperature,
            seed=args.seed,
            parallel=args.parallel,
            warm_up=args.warm_up,
        )
        running = await ws.start_comparison(args.prompt, targets, settings)
        running.listen(_warn_unfit)
        try:
            return await running.wait()
        finally:
            running.stop()

    results = run_with_workspace(ctx, work)
    if args.json:
        print(safe_json([_as_json(r) for r in results]))
    else:
        print(table(results))
        for result in results:
            print()
            print(f"## {safe(result.target.label)}")
            print()
            if result.status == "failed":
                print(f"(failed: {safe(result.error)})")
            else:
                print(safe(result.answer, multiline=True))
    for result in results:
        if result.status == "failed":
            print(
                f"phidesk: error: {safe(result.target.label)}: {safe(result.error)}",
                file=sys.stderr,
            )
    return 0 if all(r.status == "complete" for r in results) else 1


def _warn_unfit(_running: RunningComparison, event: object) -> None:
    if isinstance(event, FitFlagged):
        print(f"phidesk: warning: {safe(event.sentence)}", file=sys.stderr)


def _as_json(result: TargetResult) -> dict[str, Any]:
    f = result.figures
    return {
        "model": result.target.model,
        "engine": result.target.engine,
        "status": result.status,
        "error": result.error,
        "ttft_ms": _round(f.ttft_ms),
        "load_ms": _round(f.load_ms),
        "prompt_tokens_per_s": _round(f.prompt_tokens_per_s),
        "tokens_per_s": _round(f.tokens_per_s),
        "eval_count": f.eval_count,
        "prompt_eval_count": f.prompt_eval_count,
        "gpu_percent": f.gpu_percent,
        "memory_bytes": f.memory_bytes,
        "context_used": f.context_used,
        "context_length": f.context_length,
        "fit_warning": result.fit_warning,
        "chat_id": result.chat_id,
        "answer": result.answer,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def table(results: Sequence[TargetResult]) -> str:
    """The figures as an aligned text table, the fastest and smallest marked."""
    marked = marks([r.figures if r.status == "complete" else None for r in results])
    rows = [COLUMNS]
    for result in results:
        f: Figures = result.figures
        label = safe(result.target.label)
        if result.index in marked:
            label += " (" + ", ".join(marked[result.index]) + ")"
        if result.status != "complete":
            label += f" [{result.status}]"
        rows.append(
            (
                label,
                "—" if f.ttft_ms is None else f"{f.ttft_ms:,.0f} ms",
                _number(f.prompt_tokens_per_s),
                _number(f.tokens_per_s),
                "—" if f.gpu_percent is None else f"{f.gpu_percent}",
                "—" if f.eval_count is None else str(f.eval_count),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


COMMANDS = [
    Command(
        "compare",
        "send one prompt to 2-4 models side by side and measure each on this machine",
        _add_arguments,
        _run,
    )
]
