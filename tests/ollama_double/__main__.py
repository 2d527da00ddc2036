"""Run the Ollama double standalone: `python -m tests.ollama_double --port 11434`.

It prints its URL and serves until Ctrl-C. Faults can be armed at start with `--fault` (repeat it)
or later over HTTP:

    curl -X POST localhost:11434/_double/faults -d '{"kind": "stall", "after": 5, "seconds": 3}'
    curl -X DELETE localhost:11434/_double/faults
    curl -X POST localhost:11434/_double/script -d '{"content": "Hello $x^2$", "chunk_size": 2}'
    curl localhost:11434/_double/requests
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Any

from tests.ollama_double.models import GIB, REGISTRY
from tests.ollama_double.server import OllamaDouble


def parse_fault(text: str) -> tuple[str, dict[str, Any]]:
    """`stall:after=5,seconds=2` → ("stall", {"after": 5, "seconds": 2.0})."""
    kind, _, rest = text.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key in ("after", "status", "times"):
            params[key] = int(value)
        elif key in ("seconds", "delay"):
            params[key] = float(value)
        else:
            params[key] = value
    return kind, params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.ollama_double", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434, help="0 picks a free port")
    parser.add_argument(
        "--slow",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="delay between streamed tokens (e.g. 0.05)",
    )
    parser.add_argument(
        "--pull-delay",
        type=float,
        default=0.06,
        metavar="SECONDS",
        help="delay between pull progress lines (default 0.06, like Ollama)",
    )
    parser.add_argument(
        "--pull-steps", type=int, default=40, help="progress lines per weights layer (default 40)"
    )
    parser.add_argument(
        "--models",
        default=None,
        help="comma-separated installed models (default: the four phi4 models); "
        "'' for none. Known: " + ", ".join(sorted(REGISTRY)),
    )
    parser.add_argument("--vram-gib", type=float, default=16.0, help="pretend GPU memory")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:k=v,...]",
        help="arm a fault, e.g. stall:after=5,seconds=3 or status:status=503",
    )
    args = parser.parse_args(argv)
    installed = None
    if args.models is not None:
        installed = [name for name in args.models.split(",") if name.strip()]
    double = OllamaDouble(
        args.host,
        args.port,
        installed=installed,
        vram_bytes=int(args.vram_gib * GIB),
        pull_step_delay=args.pull_delay,
        pull_steps=args.pull_steps,
        token_delay=args.slow,
    )
    for text in args.fault:
        kind, params = parse_fault(text)
        double.set_fault(kind, **params)
    try:
        double.start()
    except OSError as exc:
        sys.stderr.write(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n"
        )
        return 1
    print(double.url, flush=True)
    sys.stderr.write("Ollama double running; Ctrl-C to stop.\n")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Set explicitly: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
