"""`OllamaDouble`: a real HTTP/1.1 server on 127.0.0.1 that behaves like Ollama's API.

It follows docs/ollama-behaviour.md: NDJSON streaming (`stream` defaults to true, one
chunked-encoding chunk per line, flushed), stats only on the final chunk with zero values omitted,
durations in nanoseconds, `done_reason`, errors as `{"error": ...}` with the right status, errors
inside a 200 stream once a chunk was sent, pull progress per layer digest with resume, `/api/show`
with arch-prefixed `model_info`, `/api/ps` with `size_vram` and `context_length`, chat truncation
of the oldest non-system messages (tokenization is documented in `tests.ollama_double.replies`).
Section numbers (§) in this module are those of docs/ollama-behaviour.md.

Use it from tests through the `ollama_double` fixture, or directly::

    with OllamaDouble() as double:
        httpx.get(double.url + "/api/tags")

Faults are armed with `set_fault` (or `POST /_double/faults` with the same fields as JSON) and
replies scripted with `script_reply` (or `POST /_double/script`). `requests` records every API
request (control requests under `/_double/` are not recorded).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from tests.ollama_double import replies
from tests.ollama_double.embeddings import embed_vector
from tests.ollama_double.faults import (
    FAULT_KINDS,
    HTML_PAGE,
    MALFORMED_LINE,
    MID_STREAM_ERROR,
    OOM_MESSAGE,
    PULL_MID_STREAM_ERROR,
    STREAM_PATHS,
    Fault,
)
from tests.ollama_double.models import (
    DEFAULT_INSTALLED,
    GIB,
    REGISTRY,
    ModelSpec,
    canonical_name,
    lookup,
)

VERSION = "0.33.0"
MAX_INT64_NS = 2**63 - 1
DEFAULT_KEEP_ALIVE_S = 300.0
# Durations are nominal (nothing is computed): a fresh load takes 1.25 s, prompt evaluation
# 0.25 ms per uncached token, generation at least 25 ms per token (40 tokens/s) or the real time
# spent streaming when that is longer (slow faults, token_delay).
LOAD_NS = 1_250_000_000
PROMPT_NS_PER_TOKEN = 250_000
EVAL_NS_PER_TOKEN = 25_000_000
THINK_LEVELS = ("low", "medium", "high", "max")
INT_OPTIONS = ("num_ctx", "num_predict", "num_gpu", "num_batch", "num_keep", "seed", "top_k")
FLOAT_OPTIONS = ("temperature", "top_p", "min_p", "typical_p", "repeat_penalty")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the double received: method, path, parsed JSON body (or None), headers.

    `headers` keys are lower-case.
    """

    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class InstalledModel:
    name: str  # canonical name it is installed under
    spec: ModelSpec
    modified_at: datetime


@dataclass
class LoadedModel:
    name: str
    spec: ModelSpec
    num_ctx: int
    num_gpu: int
    expires_at: datetime  # UTC
    last_prompt: str = ""


@dataclass
class ScriptedReply:
    content: str
    thinking: str | None
    chunk_size: int


class ClientGone(Exception):
    """The client closed the connection while we were streaming."""


class ServerStopping(ClientGone):
    """`stop()` was called while a response was still being written."""


class KeepAliveError(ValueError):
    pass


_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def go_json(payload: Any) -> bytes:
    """JSON as Go's encoding/json writes it: raw UTF-8, but <, >, &, U+2028 and U+2029 escaped.

    Other characters that some line splitters treat as line breaks (such as U+0085) stay raw, as
    on the real server; NDJSON lines end only at "\n".
    """
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_GO_ESCAPES).encode()


def format_time(moment: datetime) -> str:
    """RFC 3339 with nanoseconds, trailing zeros trimmed, like Go's time.RFC3339Nano in UTC."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{moment.microsecond:06d}{(time.time_ns() % 1000):03d}".rstrip("0")
    return f"{text}.{frac}Z" if frac else f"{text}Z"


_DURATION_RE = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_S = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds. Raises KeepAliveError with Go's message."""
    original = text
    if text in ("0", "+0", "-0"):
        return 0.0
    sign = 1.0
    if text[:1] in "+-" and text:
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if not text:
        raise KeepAliveError(f'time: invalid duration "{original}"')
    pos = 0
    total = 0.0
    while pos < len(text):
        match = _DURATION_RE.match(text, pos)
        if match is None:
            if re.fullmatch(r"[0-9]*\.?[0-9]+", text[pos:]):
                raise KeepAliveError(f'time: missing unit in duration "{original}"')
            raise KeepAliveError(f'time: invalid duration "{original}"')
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        pos = match.end()
    return sign * total


def parse_keep_alive(value: Any, default: float) -> float:
    """keep_alive (§2.3) in seconds; negative means forever."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise KeepAliveError("Unsupported type: 'bool'")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return parse_go_duration(value)
    raise KeepAliveError(f"Unsupported type: '{type(value).__name__}'")


def default_num_ctx_for_vram(vram_bytes: int) -> int:
    """The VRAM-tiered default context of Ollama ≥ v0.15.5 (§2.2)."""
    if vram_bytes >= 47 * GIB:
        return 262144
    if vram_bytes >= 23 * GIB:
        return 32768
    return 4096


def host_allowed(host_header: str | None) -> bool:
    """Ollama's Host-header check for a server on a loopback address (§1.2)."""
    if not host_header:
        return True
    host = host_header.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.lower()
    if host in ("localhost", socket.gethostname().lower()):
        return True
    if host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified


class OllamaDouble:
    """A fake Ollama server for tests and for running the GUI by hand.

    Parameters:
        host, port: where to listen; port 0 picks a free port (read `url` after `start()`).
        installed: model names installed at start (default: phi4, phi4-mini, phi4-reasoning and
            phi4-mini-reasoning, all `:latest`); any name in `REGISTRY` may be used.
        version: what `/api/version` reports.
        vram_bytes: the pretend GPU's memory; decides `size_vram` in `/api/ps` and the default
            `num_ctx` when a request does not send one (VRAM tiers, §2.2).
        default_num_ctx: like OLLAMA_CONTEXT_LENGTH; overrides the VRAM tier when set.
        default_keep_alive: seconds, like OLLAMA_KEEP_ALIVE (default 300; negative = forever).
        pull_step_delay: seconds between pull progress lines (the real server ticks every ~60 ms).
        pull_steps: progress lines per weights layer of a full download.
        token_delay: seconds between streamed chat/generate chunks (0 = as fast as possible).

    Attributes tests may read (and the knobs above may be changed while it runs):
        url: "http://127.0.0.1:PORT".
        requests: every API request (`RecordedRequest`: method, path, body, lower-case headers).
        disconnects: paths of streams the client closed before they finished, in order.
        last_prompt / last_prompt_messages: the rendered prompt of the latest chat/generate and
            the messages it was built from after truncation (baked system message included).
        installed / loaded / blobs: models on "disk", models in memory (what /api/ps shows),
            bytes of each layer digest on "disk" (partial downloads are resume points).
        errors: tracebacks of bugs inside the double itself (should stay empty).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        installed: Iterable[str] | None = None,
        version: str = VERSION,
        vram_bytes: int = 16 * GIB,
        default_num_ctx: int | None = None,
        default_keep_alive: float = DEFAULT_KEEP_ALIVE_S,
        pull_step_delay: float = 0.005,
        pull_steps: int = 8,
        token_delay: float = 0.0,
    ) -> None:
        self.host = host
        self.port = port
        self.version = version
        self.vram_bytes = vram_bytes
        self.default_num_ctx = default_num_ctx
        self.default_keep_alive = default_keep_alive
        self.pull_step_delay = pull_step_delay
        self.pull_steps = max(1, pull_steps)
        self.token_delay = token_delay
        self.model_token_delays: dict[str, float] = {}
        """Per model (`set_token_delay`): seconds between its chunks, instead of `token_delay`."""
        self.lock = threading.RLock()
        self.installed: dict[str, InstalledModel] = {}
        self.loaded: dict[str, LoadedModel] = {}
        # Bytes of each blob on "disk": complete layers and partial downloads (resume points).
        self.blobs: dict[str, int] = {}
        self.last_prompt: str = ""
        self.last_prompt_messages: list[dict[str, Any]] = []
        self.disconnects: list[str] = []
        self.errors: list[str] = []
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._scripts: list[ScriptedReply] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        now = datetime.now(UTC)
        names = DEFAULT_INSTALLED if installed is None else tuple(installed)
        for offset, name in enumerate(names):
            self.install(name, modified_at=now - timedelta(hours=offset + 1))

    # ---- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` (valid after `start()`)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        """Bind and serve in a background thread. Returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.double = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; streams in progress are cut (stalls end at once)."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_all()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Start and block until KeyboardInterrupt (for the standalone command)."""
        self.start()
        try:
            while not self._stopping.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # ---- test-facing knobs -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every API request received so far (a copy), oldest first."""
        with self.lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests for one path, e.g. "/api/chat"."""
        return [r for r in self.requests if r.path == path]

    def clear_requests(self) -> None:
        with self.lock:
            self._requests.clear()

    def script_reply(self, content: str, thinking: str | None = None, chunk_size: int = 3) -> None:
        """Queue the exact reply for the next chat/generate request (FIFO, one per request).

        `content` is streamed in chunks of `chunk_size` characters. `thinking`, if given, comes
        first: as `message.thinking` / `thinking` chunks on a model with the `thinking`
        capability (unless the request sent `think: false`, which drops it), otherwise inline as
        `<think>…</think>` at the start of the content, like phi4-reasoning does.
        """
        with self.lock:
            self._scripts.append(ScriptedReply(content, thinking, max(1, chunk_size)))

    def set_token_delay(self, model: str, seconds: float) -> None:
        """Stream `model`'s chat/generate chunks `seconds` apart (other models keep
        `token_delay`), so that models differ measurably in speed."""
        with self.lock:
            self.model_token_delays[_tagged(model)] = seconds

    def token_delay_for(self, model: str) -> float:
        with self.lock:
            return self.model_token_delays.get(_tagged(model), self.token_delay)

    def set_fault(
        self,
        kind: str,
        *,
        after: int = 0,
        seconds: float = 0.3,
        delay: float = 0.05,
        status: int | None = None,
        message: str | None = None,
        path: str | None = None,
        times: int | None = None,
    ) -> None:
        """Arm a fault. Several may be armed at once; one of the same kind and path is replaced.

        Kinds (stream kinds apply to /api/chat, /api/generate and /api/pull unless `path` says):
            "disconnect": after `after` chunks, close the connection without finishing the
                response (after=0: before any response at all). A pull keeps its progress.
            "stall": after `after` chunks, send nothing for `seconds`, then carry on. With
                `path` naming a plain endpoint (e.g. "/api/ps"), answer it `seconds` late.
            "slow": wait `delay` seconds before every chunk.
            "malformed": after `after` chunks, send one line that is not JSON, then carry on.
            "error_line": after `after` chunks, send `{"error": message}` (default Ollama's
                "an error was encountered while running the model"; for pull "max retries
                exceeded: unexpected EOF") and end the stream (HTTP status stays 200).
            "status": answer every API request (and `/`) with HTTP `status` before doing anything:
                503 → "server busy, please try again.  maximum pending requests exceeded",
                500 → "llama runner process has terminated: exit status 2", 401 →
                {"error":"unauthorized","signin_url":...}, 403 → empty body (the Host-header
                check); `message` replaces the error text.
            "html": answer every API request (and `/`) with a web page (`text/html`, HTTP
                `status`, default 200) instead, as a captive portal or a proxy does.
            "oom": a chat/generate that has to load the model fails with 500 and `message`
                (default "model requires more system memory (14.6 GiB) than is available
                (7.6 GiB)"); a model already loaded with the same settings is not affected.
            "think_tags": the reply carries its reasoning inline as `<think>…</think>` in the
                content, with both tags split across chunks ("<thi", "nk>", …, "</th", "ink>").
        Common parameters:
            path: restrict to one endpoint path, e.g. "/api/pull".
            times: how many requests the fault affects before it disarms (None = until cleared).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        fault = Fault(
            kind=kind,
            after=after,
            seconds=seconds,
            delay=delay,
            status=status if status is not None else (200 if kind == "html" else 500),
            message=message,
            path=path,
            times=times,
        )
        with self.lock:
            self._faults = [f for f in self._faults if (f.kind, f.path) != (kind, path)]
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Disarm every fault."""
        with self.lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        with self.lock:
            return list(self._faults)

    def install(self, name: str, *, modified_at: datetime | None = None) -> None:
        """Make a registry model installed (as if pulled), without a pull."""
        spec = lookup(REGISTRY, name)
        if spec is None:
            raise KeyError(f"{name!r} is not in the double's registry")
        with self.lock:
            self.installed[spec.name] = InstalledModel(
                spec.name, spec, modified_at or datetime.now(UTC)
            )
            for layer in spec.layers:
                self.blobs[layer.digest] = layer.size

    def loaded_names(self) -> list[str]:
        with self.lock:
            self._expire()
            return list(self.loaded)

    # ---- internals used by the handler ---------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self.lock:
            self._requests.append(request)

    def _take_faults(self, path: str, kinds: tuple[str, ...]) -> list[Fault]:
        """Faults of these kinds that apply to `path`, counting one use each."""
        taken: list[Fault] = []
        with self.lock:
            for fault in list(self._faults):
                if fault.kind in kinds and fault.applies_to(path):
                    taken.append(fault)
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
        return taken

    def _take_script(self) -> ScriptedReply | None:
        with self.lock:
            return self._scripts.pop(0) if self._scripts else None

    def _expire(self) -> None:
        now = datetime.now(UTC)
        for name in [n for n, m in self.loaded.items() if m.expires_at <= now]:
            del self.loaded[name]

    def _installed(self, name: str) -> InstalledModel | None:
        canon = canonical_name(name)
        if canon is None:
            return None
        with self.lock:
            if canon in self.installed:
                return self.installed[canon]
            for key, model in self.installed.items():
                if key.lower() == canon.lower():
                    return model
        return None

    def memory_of(self, spec: ModelSpec, num_ctx: int, num_gpu: int) -> tuple[int, int]:
        """(size, size_vram) for /api/ps: weights + f16 KV + a compute buffer, split over VRAM."""
        kv = spec.kv_cache_bytes(num_ctx)
        compute = max(GIB // 2, (spec.head_count // spec.head_count_kv) * kv // 6)
        size = spec.size + kv + compute
        if num_gpu == 0:
            return size, 0
        if num_gpu > 0:
            share = size * min(num_gpu, spec.block_count + 1) // (spec.block_count + 1)
            return size, min(share, self.vram_bytes)
        return size, min(size, max(0, self.vram_bytes - GIB // 2))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    double: OllamaDouble

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | ClientGone):
            return
        import traceback

        text = traceback.format_exc()
        self.double.errors.append(text)
        sys.stderr.write(f"ollama double: internal error\n{text}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OllamaDouble"
    sys_version = ""
    server: _Server
    api_path: str = ""

    # ---- plumbing ----------------------------------------------------------------------------

    @property
    def double(self) -> OllamaDouble:
        return self.server.double

    def setup(self) -> None:
        super().setup()
        # Like Go's net/http: no Nagle delay, so each NDJSON line leaves at once.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        if body or status != 200:
            self.send_header("Content-Type", content_type if body else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, go_json(payload))

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _write_raw_line(self, data: bytes) -> None:
        line = data + b"\n"
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()
        except OSError as exc:
            raise ClientGone from exc

    def _end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError as exc:
            raise ClientGone from exc

    def _drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _peer_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except OSError:
            return True
        return False

    def _wait(self, seconds: float) -> None:
        """Sleep, but notice a client that went away and a server that stops."""
        deadline = time.monotonic() + seconds
        while True:
            if self._peer_gone():
                raise ClientGone
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.double._stopping.wait(min(0.02, remaining)):
                raise ServerStopping

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        raw = self._read_body()  # any method may carry one; read it to keep the connection sane
        body: Any = None
        parse_error: str | None = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                parse_error = f"invalid character in request body: {exc}"
        if path.startswith("/_double/"):
            self._control(method, path, body)
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.double._record(RecordedRequest(method, path, body, headers))
        if not host_allowed(self.headers.get("Host")):
            self._send(403, b"")
            return
        routes = {
            ("GET", "/"): self._root,
            ("HEAD", "/"): self._root,
            ("GET", "/api/version"): self._version,
            ("HEAD", "/api/version"): self._version,
            ("GET", "/api/tags"): self._tags,
            ("HEAD", "/api/tags"): self._tags,
            ("GET", "/api/ps"): self._ps,
            ("POST", "/api/show"): self._show,
            ("POST", "/api/pull"): self._pull,
            ("DELETE", "/api/delete"): self._delete,
            ("POST", "/api/copy"): self._copy,
            ("POST", "/api/chat"): self._chat,
            ("POST", "/api/generate"): self._generate,
            ("POST", "/api/embed"): self._embed,
        }
        self.api_path = path
        handler = routes.get((method, path))
        if handler is None:
            self._send(404, b"404 page not found", "text/plain")
            return
        for fault in self.double._take_faults(path, ("status",)):
            self._send(fault.status, fault.body() or b"")
            return
        for fault in self.double._take_faults(path, ("html",)):
            self._send(fault.status, HTML_PAGE, "text/html; charset=utf-8")
            return
        if path not in STREAM_PATHS:
            # A stall aimed at a plain endpoint (path given) answers it `seconds` late.
            for fault in self.double._take_faults(path, ("stall",)):
                time.sleep(fault.seconds)
        if method in ("POST", "DELETE"):
            if parse_error is not None:
                self._error(400, parse_error)
                return
            if body is None:
                self._error(400, "missing request body")
                return
            if not isinstance(body, dict):
                self._error(400, "json: cannot unmarshal array into Go value of type api.Request")
                return
        try:
            handler(body or {})
        except ServerStopping:
            self.close_connection = True
        except ClientGone:
            with self.double.lock:
                self.double.disconnects.append(path)
            self.close_connection = True

    # ---- control API for standalone use --------------------------------------------------------

    def _control(self, method: str, path: str, body: Any) -> None:
        double = self.double
        if path == "/_double/faults" and method == "POST":
            if not isinstance(body, dict) or "kind" not in body:
                self._error(400, 'expected {"kind": ..., ...}')
                return
            params = {k: v for k, v in body.items() if k != "kind"}
            try:
                double.set_fault(str(body["kind"]), **params)
            except (TypeError, ValueError) as exc:
                self._error(400, str(exc))
                return
            self._json(200, {"faults": [f.__dict__ for f in double.faults]})
        elif path == "/_double/faults" and method == "DELETE":
            double.clear_faults()
            self._json(200, {"faults": []})
        elif path == "/_double/faults" and method == "GET":
            self._json(200, {"faults": [f.__dict__ for f in double.faults]})
        elif path == "/_double/script" and method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("content"), str):
                self._error(400, 'expected {"content": ..., "thinking"?: ..., "chunk_size"?: ...}')
                return
            double.script_reply(
                body["content"], body.get("thinking"), int(body.get("chunk_size", 3))
            )
            self._json(200, {"scripted": True})
        elif path == "/_double/requests" and method == "GET":
            self._json(200, {"requests": [r.__dict__ for r in double.requests]})
        else:
            self._send(404, b"404 page not found", "text/plain")

    # ---- simple endpoints ----------------------------------------------------------------------

    def _root(self, body: dict[str, Any]) -> None:
        self._send(200, b"Ollama is running", "text/plain; charset=utf-8")

    def _version(self, body: dict[str, Any]) -> None:
        self._json(200, {"version": self.double.version})

    def _tags(self, body: dict[str, Any]) -> None:
        with self.double.lock:
            models = sorted(
                self.double.installed.values(), key=lambda m: m.modified_at, reverse=True
            )
            entries = [
                {
                    "name": m.name,
                    "model": m.name,
                    "modified_at": format_time(m.modified_at),
                    "size": m.spec.size,
                    "digest": m.spec.digest,
                    "details": m.spec.details(),
                    "capabilities": list(m.spec.capabilities),
                }
                for m in models
            ]
        self._json(200, {"models": entries})

    def _ps(self, body: dict[str, Any]) -> None:
        double = self.double
        with double.lock:
            double._expire()
            loaded = sorted(double.loaded.values(), key=lambda m: m.expires_at, reverse=True)
            entries = []
            for m in loaded:
                size, size_vram = double.memory_of(m.spec, m.num_ctx, m.num_gpu)
                entries.append(
                    {
                        "name": m.name,
                        "model": m.name,
                        "size": size,
                        "digest": m.spec.digest,
                        "details": m.spec.details(),
                        "expires_at": format_time(m.expires_at),
                        "size_vram": size_vram,
                        "context_length": m.num_ctx,
                    }
                )
        self._json(200, {"models": entries})

    def _model_field(self, body: dict[str, Any]) -> str | None:
        name = body.get("model")
        if name is None:
            name = body.get("name")  # older clients send "name"
        if not isinstance(name, str) or not name:
            self._error(400, "model is required")
            return None
        return name

    def _show(self, body: dict[str, Any]) -> None:
        name = self._model_field(body)
        if name is None:
            return
        model = self.double._installed(name)
        if model is None:
            self._error(404, f"model '{name}' not found")
            return
        spec = model.spec
        lines = [f"# Modelfile generated by the Ollama test double\nFROM {model.name}"]
        lines.append(f'TEMPLATE """{spec.template}"""')
        if spec.system:
            lines.append(f'SYSTEM """{spec.system}"""')
        lines += [f"PARAMETER {' '.join(p.split())}" for p in spec.parameters.splitlines()]
        lines.append(f'LICENSE """{spec.license}"""')
        payload: dict[str, Any] = {
            "license": spec.license,
            "modelfile": "\n".join(lines) + "\n",
            "parameters": spec.parameters,
            "template": spec.template,
            "details": spec.details(),
            "model_info": spec.model_info(verbose=bool(body.get("verbose"))),
            "capabilities": list(spec.capabilities),
            "modified_at": format_time(model.modified_at),
        }
        if spec.system:
            payload["system"] = spec.system
        self._json(200, payload)

    def _embed(self, body: dict[str, Any]) -> None:
        """`/api/embed`: one vector per input (EmbedResponse). Any installed model embeds; a
        vector is the text's words hashed into `EMBED_DIMENSIONS` buckets, L2-normalised, so
        texts sharing words are close (cosine) and the same text always gets the same one."""
        name = self._model_field(body)
        if name is None:
            return
        model = self.double._installed(name)
        if model is None:
            self._error(404, f"model '{name}' not found")
            return
        raw = body.get("input")
        inputs = [raw] if isinstance(raw, str) else raw
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            self._error(400, "invalid input type")
            return
        started = time.monotonic_ns()
        self._json(
            200,
            {
                "model": model.name,
                "embeddings": [embed_vector(text) for text in inputs],
                "total_duration": max(1, time.monotonic_ns() - started),
                "load_duration": 1000,
                "prompt_eval_count": sum(-(-len(text) // 4) for text in inputs),
            },
        )

    def _delete(self, body: dict[str, Any]) -> None:
        name = self._model_field(body)
        if name is None:
            return
        double = self.double
        model = double._installed(name)
        if model is None:
            self._error(404, f"model '{name}' not found")
            return
        with double.lock:
            del double.installed[model.name]
            double.loaded.pop(model.name, None)
            used = {layer.digest for m in double.installed.values() for layer in m.spec.layers}
            for layer in model.spec.layers:
                if layer.digest not in used:
                    double.blobs.pop(layer.digest, None)
        self._send(200, b"")

    def _copy(self, body: dict[str, Any]) -> None:
        source = body.get("source")
        destination = body.get("destination")
        if not isinstance(source, str) or not source:
            self._error(400, "source is required")
            return
        if not isinstance(destination, str) or not destination:
            self._error(400, "destination is required")
            return
        dest = canonical_name(destination)
        if dest is None:
            self._error(400, f"destination {destination!r} is invalid")
            return
        model = self.double._installed(source)
        if model is None:
            self._error(404, f'model "{source}" not found')
            return
        with self.double.lock:
            spec = ModelSpec(**{**model.spec.__dict__, "name": dest})
            self.double.installed[dest] = InstalledModel(dest, spec, datetime.now(UTC))
        self._send(200, b"")

    # ---- pull ------------------------------------------------------------------------------------

    def _pull(self, body: dict[str, Any]) -> None:
        name = self._model_field(body)
        if name is None:
            return
        double = self.double
        canon = canonical_name(name)
        if canon is None:
            self._error(400, "invalid model name")
            return
        stream = body.get("stream", True) is not False
        spec = lookup(REGISTRY, canon)
        faults = double._take_faults(
            "/api/pull", ("disconnect", "stall", "slow", "malformed", "error_line")
        )
        if not stream:
            self._pull_blocking(spec, canon, faults)
            return
        emitter = _Emitter(self, faults, default_error=PULL_MID_STREAM_ERROR)
        if not emitter.begin():
            return
        if not emitter.line({"status": "pulling manifest"}):
            return
        if spec is None:
            emitter.error("pull model manifest: file does not exist")
            return
        for status in self._pull_steps(spec):
            if not emitter.line(status, delay=double.pull_step_delay if "digest" in status else 0):
                return
        self._finish_pull(spec, canon)
        if emitter.line({"status": "success"}):
            emitter.end()

    def _pull_steps(self, spec: ModelSpec) -> Iterator[dict[str, Any]]:
        """Progress lines per layer, saving progress as it goes (so a re-pull resumes)."""
        double = self.double
        for layer in spec.layers:
            short = layer.digest[7:19]
            with double.lock:
                done = min(double.blobs.get(layer.digest, 0), layer.size)
            steps = double.pull_steps if layer.size > 1_000_000 else 1
            step = max(1, -(-layer.size // steps))
            first: dict[str, Any] = {
                "status": f"pulling {short}",
                "digest": layer.digest,
                "total": layer.size,
            }
            if done:
                first["completed"] = done
            yield first
            while done < layer.size:
                done = min(layer.size, done + step)
                with double.lock:
                    double.blobs[layer.digest] = max(double.blobs.get(layer.digest, 0), done)
                yield {
                    "status": f"pulling {short}",
                    "digest": layer.digest,
                    "total": layer.size,
                    "completed": done,
                }
        yield {"status": "verifying sha256 digest"}
        yield {"status": "writing manifest"}

    def _finish_pull(self, spec: ModelSpec, canon: str) -> None:
        double = self.double
        with double.lock:
            installed_as = ModelSpec(**{**spec.__dict__, "name": canon})
            if canon.lower() == spec.name.lower():
                installed_as = spec
                canon = spec.name
            double.installed[canon] = InstalledModel(canon, installed_as, datetime.now(UTC))

    def _pull_blocking(self, spec: ModelSpec | None, canon: str, faults: list[Fault]) -> None:
        if spec is None:
            # No status is attached to pull errors, so non-streamed it is a 500 (§1.5).
            self._error(500, "pull model manifest: file does not exist")
            return
        for status in self._pull_steps(spec):
            if "digest" in status and self.double.pull_step_delay:
                self._wait(self.double.pull_step_delay)
        self._finish_pull(spec, canon)
        self._json(200, {"status": "success"})

    # ---- chat and generate -----------------------------------------------------------------------

    def _chat(self, body: dict[str, Any]) -> None:
        self._complete(body, chat=True)

    def _generate(self, body: dict[str, Any]) -> None:
        self._complete(body, chat=False)

    def _complete(self, body: dict[str, Any], *, chat: bool) -> None:
        double = self.double
        started = time.monotonic_ns()
        name = body.get("model")
        if not isinstance(name, str) or not name:
            self._error(400, "model is required")
            return
        try:
            keep_alive = parse_keep_alive(body.get("keep_alive"), double.default_keep_alive)
        except KeepAliveError as exc:
            self._error(400, str(exc))
            return
        options = body.get("options") or {}
        if not isinstance(options, dict):
            self._error(400, "json: cannot unmarshal options into Go struct field of type map")
            return
        problem = _check_options(options)
        if problem is not None:
            self._error(400, problem)
            return
        think = body.get("think")
        if think is not None and not isinstance(think, bool) and think not in THINK_LEVELS:
            self._error(400, f"invalid think value: {json.dumps(think)}")
            return
        model = double._installed(name)
        if model is None:
            self._error(404, f"model '{name}' not found")
            return
        spec = model.spec
        messages: list[dict[str, Any]] = []
        prompt = ""
        if chat:
            raw_messages = body.get("messages") or []
            if not isinstance(raw_messages, list) or not all(
                isinstance(m, dict) for m in raw_messages
            ):
                self._error(400, "messages must be a list of objects")
                return
            messages = raw_messages
            empty = not messages
        else:
            prompt = body.get("prompt") or ""
            if not isinstance(prompt, str):
                self._error(400, "prompt must be a string")
                return
            if body.get("raw") and (
                body.get("template") or body.get("system") or body.get("context")
            ):
                self._error(400, "raw mode does not support template, system, or context")
                return
            empty = not prompt
        if think not in (None, False) and not spec.thinking:
            self._error(400, f'"{name}" does not support thinking')
            return
        if chat and body.get("tools") and "tools" not in spec.capabilities:
            self._error(400, f"{spec.full_name()} does not support tools")
            return

        if empty and keep_alive == 0:
            with double.lock:
                double.loaded.pop(model.name, None)
            self._json(200, self._load_payload(name, chat, "unload"))
            return
        load = self._load(model.name, spec, options, keep_alive)
        if isinstance(load, str):
            self._error(500, load)
            return
        load_ns, loaded = load
        if empty:
            self._json(200, self._load_payload(name, chat, "load"))
            return

        num_ctx = loaded.num_ctx
        if chat:
            full = replies.with_baked_system(spec, messages)
            if body.get("truncate", True) is not False:
                full = replies.truncate_messages(spec, full, num_ctx)
            prompt_text = replies.render_prompt(spec, full)
            n_prompt = replies.prompt_tokens(spec, full)
            last_user = next(
                (
                    str(m.get("content") or "")
                    for m in reversed(messages)
                    if m.get("role") == "user"
                ),
                "",
            )
        else:
            system = body.get("system") or spec.system
            full = [{"role": "user", "content": prompt}]
            if body.get("raw"):
                prompt_text = prompt
            else:
                if system:
                    full.insert(0, {"role": "system", "content": system})
                prompt_text = replies.render_prompt(spec, full)
            n_prompt = replies.count_tokens(prompt_text) + replies.IMAGE_TOKENS * len(
                body.get("images") or []
            )
            last_user = prompt
        if n_prompt > num_ctx:
            # Runner-level truncation (§3.1, llama-server): keep num_keep tokens and
            # discard until the prompt is about half the window; with shift off it is an error.
            if body.get("shift", True) is False:
                self._error(
                    400,
                    "the prompt is longer than the context length currently available to the "
                    "model; shorten the conversation or increase num_ctx",
                )
                return
            num_keep = int(options.get("num_keep", 4))
            n_prompt = num_ctx - max((num_ctx - num_keep) // 2, 1)
        with double.lock:
            double.last_prompt = prompt_text
            double.last_prompt_messages = list(full)
            cached = _common_prefix(loaded.last_prompt, prompt_text)
            loaded.last_prompt = prompt_text
        uncached_tokens = max(1, n_prompt - replies.count_tokens(prompt_text[:cached]))
        prompt_eval_ns = uncached_tokens * PROMPT_NS_PER_TOKEN

        thinking_chunks, content_chunks = self._reply_chunks(spec, think, last_user, body)
        limit = _generation_limit(options, num_ctx, n_prompt, body.get("shift", True) is not False)
        done_reason = "stop"
        total_chunks = len(thinking_chunks) + len(content_chunks)
        if limit is not None and total_chunks > limit:
            done_reason = "length"
            keep_thinking = thinking_chunks[:limit]
            content_chunks = content_chunks[: max(0, limit - len(keep_thinking))]
            thinking_chunks = keep_thinking

        stream = body.get("stream", True) is not False
        faults = double._take_faults(
            "/api/chat" if chat else "/api/generate",
            ("disconnect", "stall", "slow", "malformed", "error_line"),
        )
        stats_base = {
            "load_duration": load_ns,
            "prompt_eval_count": n_prompt,
            "prompt_eval_duration": prompt_eval_ns,
        }
        if stream:
            self._stream_reply(
                name,
                chat,
                thinking_chunks,
                content_chunks,
                faults,
                done_reason,
                stats_base,
                started,
            )
        else:
            self._single_reply(
                name,
                chat,
                thinking_chunks,
                content_chunks,
                faults,
                done_reason,
                stats_base,
                started,
            )
        if keep_alive == 0:
            with double.lock:
                double.loaded.pop(model.name, None)

    def _load_payload(self, name: str, chat: bool, reason: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": name, "created_at": format_time(datetime.now(UTC))}
        if chat:
            payload["message"] = {"role": "assistant", "content": ""}
        else:
            payload["response"] = ""
        payload["done"] = True
        payload["done_reason"] = reason
        return payload

    def _load(
        self, name: str, spec: ModelSpec, options: dict[str, Any], keep_alive: float
    ) -> tuple[int, LoadedModel] | str:
        """Load (or keep) the model; returns (load_duration ns, entry) or an error message."""
        double = self.double
        began = time.monotonic_ns()
        requested = options.get("num_ctx")
        if requested is None:
            requested = double.default_num_ctx or default_num_ctx_for_vram(double.vram_bytes)
        num_ctx = max(4, min(int(requested), spec.context_length))
        num_gpu = int(options.get("num_gpu", -1))
        now = datetime.now(UTC)
        if keep_alive < 0:
            expires = now + timedelta(microseconds=MAX_INT64_NS // 1000)
        else:
            expires = now + timedelta(seconds=keep_alive)
        with double.lock:
            double._expire()
            current = double.loaded.get(name)
            reload = (
                current is None
                or current.num_ctx != num_ctx
                or (num_gpu >= 0 and current.num_gpu != num_gpu)
            )
        if reload:
            for fault in double._take_faults(self.api_path, ("oom",)):
                return fault.message or OOM_MESSAGE
        with double.lock:
            if reload or current is None:
                current = LoadedModel(name, spec, num_ctx, num_gpu, expires)
                double.loaded[name] = current
            else:
                current.expires_at = expires
        elapsed = time.monotonic_ns() - began
        # A fresh load reports a plausible load time; a warm model only the bookkeeping time.
        return (elapsed + (LOAD_NS if reload else 1_000)), current

    def _reply_chunks(
        self, spec: ModelSpec, think: Any, last_user: str, body: dict[str, Any]
    ) -> tuple[list[str], list[str]]:
        double = self.double
        script = double._take_script()
        think_faults = double._take_faults(self.api_path, ("think_tags",))
        if script is not None:
            content, thinking, size = script.content, script.thinking, script.chunk_size
        else:
            content, size = replies.canned_answer(last_user), 4
            thinking = replies.REASONING if (spec.thinking or spec.inline_think) else None
        if think_faults:
            return [], replies.split_think_tags(thinking or replies.REASONING, content, size)
        if thinking is None:
            return [], replies.split_chunks(content, size)
        if spec.thinking:
            if think is False:
                return [], replies.split_chunks(content, size)
            return replies.split_chunks(thinking, size), replies.split_chunks(content, size)
        return [], replies.split_chunks(f"<think>{thinking}</think>\n\n{content}", size)

    def _chunk_payload(self, name: str, chat: bool, content: str, thinking: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": name, "created_at": format_time(datetime.now(UTC))}
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                message["thinking"] = thinking
            payload["message"] = message
        else:
            payload["response"] = content
            if thinking:
                payload["thinking"] = thinking
        payload["done"] = False
        return payload

    def _final_stats(
        self, stats_base: dict[str, int], eval_count: int, eval_ns: int, started: int
    ) -> dict[str, int]:
        stats = dict(stats_base)
        stats["eval_count"] = eval_count
        # Nominal speed: at least EVAL_NS_PER_TOKEN per token, so tokens/s look like a GPU's.
        eval_ns = max(eval_ns, eval_count * EVAL_NS_PER_TOKEN) if eval_count else 0
        stats["eval_duration"] = eval_ns
        wall = time.monotonic_ns() - started
        stats["total_duration"] = max(
            wall, stats["load_duration"] + stats["prompt_eval_duration"] + eval_ns
        )
        ordered = {
            key: stats[key]
            for key in (
                "total_duration",
                "load_duration",
                "prompt_eval_count",
                "prompt_eval_duration",
                "eval_count",
                "eval_duration",
            )
            if stats[key]  # Go omits zero metrics (omitempty)
        }
        return ordered

    def _stream_reply(
        self,
        name: str,
        chat: bool,
        thinking_chunks: list[str],
        content_chunks: list[str],
        faults: list[Fault],
        done_reason: str,
        stats_base: dict[str, int],
        started: int,
    ) -> None:
        emitter = _Emitter(self, faults, default_error=MID_STREAM_ERROR)
        if not emitter.begin():
            return
        eval_started = time.monotonic_ns()
        count = 0
        pieces = [(c, True) for c in thinking_chunks] + [(c, False) for c in content_chunks]
        for text, is_thinking in pieces:
            payload = self._chunk_payload(
                name, chat, "" if is_thinking else text, text if is_thinking else ""
            )
            if not emitter.line(payload, delay=self.double.token_delay_for(name)):
                return
            count += 1
        final = self._chunk_payload(name, chat, "", "")
        final["done"] = True
        final["done_reason"] = done_reason
        final.update(
            self._final_stats(stats_base, count, time.monotonic_ns() - eval_started, started)
        )
        if emitter.line(final):
            emitter.end()

    def _single_reply(
        self,
        name: str,
        chat: bool,
        thinking_chunks: list[str],
        content_chunks: list[str],
        faults: list[Fault],
        done_reason: str,
        stats_base: dict[str, int],
        started: int,
    ) -> None:
        eval_started = time.monotonic_ns()
        sent = 0
        for _ in range(len(thinking_chunks) + len(content_chunks)):
            for fault in faults:
                if fault.kind == "slow":
                    self._wait(fault.delay)
                elif fault.after == sent and fault.kind == "stall":
                    self._wait(fault.seconds)
                elif fault.after == sent and fault.kind == "disconnect":
                    self._drop_connection()
                    return
                elif fault.after == sent and fault.kind == "error_line":
                    # Nothing was written yet, so it is a plain error status (§1.2).
                    self._error(500, fault.message or MID_STREAM_ERROR)
                    return
            if delay := self.double.token_delay_for(name):
                self._wait(delay)
            sent += 1
        payload = self._chunk_payload(name, chat, "".join(content_chunks), "".join(thinking_chunks))
        payload["done"] = True
        payload["done_reason"] = done_reason
        payload.update(
            self._final_stats(stats_base, sent, time.monotonic_ns() - eval_started, started)
        )
        self._json(200, payload)


class _Emitter:
    """Writes NDJSON lines and applies stream faults by chunk count."""

    def __init__(self, handler: _Handler, faults: list[Fault], *, default_error: str) -> None:
        self.handler = handler
        self.faults = faults
        self.default_error = default_error
        self.sent = 0
        self.fired: set[int] = set()

    def begin(self) -> bool:
        """Send the 200 headers, unless a disconnect at chunk 0 drops the connection first."""
        for fault in self.faults:
            if fault.kind == "disconnect" and fault.after == 0:
                self.handler._drop_connection()
                return False
            if fault.kind == "error_line" and fault.after == 0:
                # Nothing written yet: a plain error status, not a line (§1.2).
                self.handler._error(500, fault.message or self.default_error)
                return False
        self.handler._start_stream()
        return True

    def line(self, payload: dict[str, Any], *, delay: float = 0.0) -> bool:
        """Send one line; False when a fault ended the stream."""
        for index, fault in enumerate(self.faults):
            if fault.kind == "slow":
                self.handler._wait(fault.delay)
                continue
            if fault.after != self.sent or index in self.fired:
                continue
            self.fired.add(index)
            if fault.kind == "stall":
                self.handler._wait(fault.seconds)
            elif fault.kind == "disconnect":
                self.handler._drop_connection()
                return False
            elif fault.kind == "malformed":
                self.handler._write_raw_line(MALFORMED_LINE)
            elif fault.kind == "error_line":
                self.error(fault.message or self.default_error)
                return False
        if delay:
            self.handler._wait(delay)
        self.handler._write_raw_line(go_json(payload))
        self.sent += 1
        return True

    def error(self, message: str) -> None:
        self.handler._write_raw_line(go_json({"error": message}))
        self.end()

    def end(self) -> None:
        self.handler._end_stream()


def _check_options(options: dict[str, Any]) -> str | None:
    for key in INT_OPTIONS:
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f'option "{key}" must be of type integer'
        if isinstance(value, float) and not value.is_integer():
            return f'option "{key}" must be of type integer'
    for key in FLOAT_OPTIONS:
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f'option "{key}" must be of type number'
    return None


def _generation_limit(
    options: dict[str, Any], num_ctx: int, n_prompt: int, shift: bool
) -> int | None:
    limits = []
    num_predict = options.get("num_predict")
    if num_predict is not None and int(num_predict) >= 0:
        limits.append(int(num_predict))
    if not shift:
        limits.append(max(0, num_ctx - n_prompt))
    return min(limits) if limits else None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[OllamaDouble]:
    """`with running() as double:` — a started double, stopped afterwards."""
    double = OllamaDouble(**kwargs)
    double.start()
    try:
        yield double
    finally:
        double.stop()


__all__ = ["OllamaDouble", "RecordedRequest", "running"]


def _tagged(model: str) -> str:
    """`phi4` and `phi4:latest` are one model."""
    return model if ":" in model.rsplit("/", 1)[-1] else model + ":latest"
