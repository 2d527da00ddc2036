"""A fake `ollama` executable for managed-server tests.

`write_fake_ollama(directory)` writes an executable `ollama` there that runs this module with the
interpreter of the current test process (`sys.executable`, baked in) and this checkout on
PYTHONPATH. The checked-in `tests/ollama_double/fake_ollama` shell script does the same with
`$PHIDESK_TEST_PYTHON` (default: the checkout's `.venv/bin/python`).

Commands:
    ollama --version | -v | version   prints "ollama version is 0.33.0"
    ollama serve                      runs the double on OLLAMA_HOST (default 127.0.0.1:11434)
                                      until SIGTERM/SIGINT, then exits 0

Environment read by `serve`:
    OLLAMA_HOST                  [scheme://]host[:port] to listen on
    OLLAMA_KEEP_ALIVE            default keep_alive (a Go duration, or bare seconds)
    OLLAMA_CONTEXT_LENGTH        default num_ctx
    PHIDESK_FAKE_OLLAMA_RECORD   file to write {"argv", "pid", "env"} to (JSON), where "env" holds
                                 every OLLAMA_* variable and the GPU visibility variables
    PHIDESK_FAKE_OLLAMA_DELAY    seconds to wait before listening (a slow start)
    PHIDESK_FAKE_OLLAMA_FAIL     if set, print "Error: <value>" to stderr and exit 1 at once
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import stat
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from tests.ollama_double.server import VERSION, KeepAliveError, OllamaDouble, parse_go_duration

REPO = Path(__file__).resolve().parents[2]
GPU_VARIABLES = (
    "CUDA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "GPU_DEVICE_ORDINAL",
    "GGML_VK_VISIBLE_DEVICES",
)


def write_fake_ollama(directory: Path, python: str | None = None) -> Path:
    """Write an executable `ollama` into `directory` and return its path."""
    path = Path(directory) / "ollama"
    interpreter = shlex.quote(python or sys.executable)
    root = shlex.quote(str(REPO))
    path.write_text(
        "#!/bin/sh\n"
        "# Fake ollama written by tests.ollama_double.fake_ollama.write_fake_ollama\n"
        f'PYTHONPATH={root}"${{PYTHONPATH:+:$PYTHONPATH}}" '
        f'exec {interpreter} -m tests.ollama_double.fake_ollama "$@"\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def parse_ollama_host(value: str | None) -> tuple[str, int]:
    """OLLAMA_HOST → (host, port), with Ollama's defaults 127.0.0.1 and 11434."""
    text = (value or "").strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0]
    host, port = "127.0.0.1", 11434
    if text.startswith("["):
        end = text.find("]")
        host = text[1:end]
        rest = text[end + 1 :]
        if rest.startswith(":") and rest[1:]:
            port = int(rest[1:])
    elif ":" in text:
        name, _, number = text.rpartition(":")
        host = name or host
        port = int(number) if number else port
    elif text:
        host = text
    return host, port


def _record(path: str) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key.startswith("OLLAMA_") or key in GPU_VARIABLES
    }
    data = {"argv": sys.argv, "pid": os.getpid(), "env": env}
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2))
    temporary.replace(target)


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    sys.stderr.write(f"time={stamp} level=INFO source=routes.go msg={json.dumps(message)}\n")
    sys.stderr.flush()


def serve() -> int:
    failure = os.environ.get("PHIDESK_FAKE_OLLAMA_FAIL")
    if failure:
        sys.stderr.write(f"Error: {failure}\n")
        return 1
    record = os.environ.get("PHIDESK_FAKE_OLLAMA_RECORD")
    if record:
        _record(record)
    host, port = parse_ollama_host(os.environ.get("OLLAMA_HOST"))
    keep_alive = 300.0
    raw_keep_alive = os.environ.get("OLLAMA_KEEP_ALIVE", "").strip()
    if raw_keep_alive:
        try:
            keep_alive = float(int(raw_keep_alive))
        except ValueError:
            try:
                keep_alive = parse_go_duration(raw_keep_alive)
            except KeepAliveError as exc:
                sys.stderr.write(f"Error: invalid OLLAMA_KEEP_ALIVE: {exc}\n")
                return 1
    context = os.environ.get("OLLAMA_CONTEXT_LENGTH", "").strip()
    delay = float(os.environ.get("PHIDESK_FAKE_OLLAMA_DELAY") or 0)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if delay and stop.wait(delay):
        return 0
    double = OllamaDouble(
        host,
        port,
        default_keep_alive=keep_alive,
        default_num_ctx=int(context) if context.isdigit() and int(context) > 0 else None,
    )
    try:
        double.start()
    except OSError as exc:
        reason = str(exc.strerror or exc)
        reason = reason[:1].lower() + reason[1:]  # Go's wording: "address already in use"
        sys.stderr.write(f"Error: listen tcp {host}:{port}: bind: {reason}\n")
        return 1
    _log(f"Listening on {host}:{double.port} (version {VERSION})")
    try:
        while not stop.wait(0.2):
            pass
    finally:
        double.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stderr.write("Usage:\n  ollama [flags]\n  ollama [command]\n")
        return 0
    if args[0] in ("--version", "-v", "version"):
        print(f"ollama version is {VERSION}")
        return 0
    if args[0] == "serve":
        return serve()
    sys.stderr.write(f'Error: unknown command "{args[0]}" for "ollama"\n')
    return 1


if __name__ == "__main__":
    sys.exit(main())
