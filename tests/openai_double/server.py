"""`OpenAIDouble`: a real HTTP/1.1 server on 127.0.0.1 that speaks the OpenAI chat-completions
API as OpenAI-compatible servers do (vLLM, llama.cpp's llama-server, OpenRouter).

- `POST /v1/chat/completions` with `stream: true` answers Server-Sent Events in chunked
  encoding: `data: {chat.completion.chunk}` lines, then `data: [DONE]`. Usage arrives in a last
  chunk whose `choices` is empty, only when the request asks for it
  (`stream_options.include_usage`) and the `usage` knob is on. Reasoning goes in
  `delta.reasoning_content` (vLLM, llama.cpp) or `delta.reasoning` (OpenRouter), or inline as
  `<think>…</think>` in the content, by the `reasoning_field` knob.
- `GET /v1/models` in the vLLM shape (`max_model_len`) or the OpenRouter shape
  (`context_length`); `GET /props` as llama.cpp answers it (`n_ctx`) when `props_n_ctx` is set.
- Faults by `set_fault(kind, …)`: `unauthorized` (401), `forbidden` (403), `rate_limited` (429
  with Retry-After), `server_error` (500), `context_length` (400 with the server's limit),
  `disconnect` (the connection drops after `after` chunks), `stall` (silence after `after`
  chunks until released or stopped), `malformed` (an event that is not JSON), `not_openai` (a
  web page), `no_models` (404 on the model list).

Every chunk it sends is kept in `sent_chunks` (parsed JSON), so a test can validate each one
against the `openai` package's `ChatCompletionChunk`. Requests are recorded in `requests`.
A model the double does not list is answered 404, as vLLM does.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self

ModelsShape = Literal["vllm", "openrouter"]
ReasoningField = Literal["reasoning_content", "reasoning", "inline"]
FAULTS = (
    "unauthorized",
    "forbidden",
    "rate_limited",
    "server_error",
    "context_length",
    "disconnect",
    "stall",
    "malformed",
    "not_openai",
    "no_models",
)
CREATED = 1_767_225_600
FINGERPRINT = "fp_double_1"
HTML_PAGE = "<!DOCTYPE html><html><body><h1>Welcome to the hotel network</h1></body></html>"


@dataclass(frozen=True)
class ServedModel:
    """A model the double serves: its id and the context length the server reports."""

    id: str
    context_length: int | None = None
    owned_by: str = "double"


DEFAULT_MODELS = (
    ServedModel("microsoft/phi-4", 16384),
    ServedModel("microsoft/Phi-4-mini-instruct", 131072),
    ServedModel("microsoft/Phi-4-reasoning-plus", 32768),
    ServedModel("meta-llama/Llama-3.1-8B-Instruct", 131072),
    ServedModel("mistralai/Mistral-7B-Instruct-v0.3", None),
)


@dataclass
class Reply:
    """What the next answers say: `content` (and `reasoning`), cut into `piece`-character
    deltas."""

    content: str = "Hello from the double."
    reasoning: str = ""
    piece: int = 4
    finish_reason: str = "stop"


@dataclass
class Fault:
    kind: str
    after: int = 0
    """For stream faults: chunks sent before it strikes."""
    retry_after: int = 7
    limit: int = 16384
    times: int | None = None
    """How many requests it strikes (None: until cleared)."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    query: str = ""


def count_tokens(text: str) -> int:
    """The double's tokenizer: one token per started group of four characters."""
    return (len(text) + 3) // 4


def prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """Four tokens of framing per message plus its text."""
    return sum(4 + count_tokens(str(m.get("content") or "")) for m in messages)


@dataclass
class _State:
    api_key: str | None = None
    models: list[ServedModel] = field(default_factory=lambda: list(DEFAULT_MODELS))
    models_shape: ModelsShape = "vllm"
    usage: bool = True
    reasoning_field: ReasoningField = "reasoning_content"
    props_n_ctx: int | None = None
    cached_tokens: int = 0
    replies: list[Reply] = field(default_factory=list)
    fault: Fault | None = None
    token_delay: float = 0.0
    requests: list[RecordedRequest] = field(default_factory=list)
    sent_chunks: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


class OpenAIDouble:
    """Start with `start()` (or `with OpenAIDouble() as double:`); `url` ends with `/v1`."""

    def __init__(self) -> None:
        self.state = _State()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life -----------------------------------------------------------------------------

    @property
    def root(self) -> str:
        assert self._server is not None, "start() the double first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return self.root + "/v1"

    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"owner": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- knobs ----------------------------------------------------------------------------

    def require_key(self, key: str | None) -> None:
        self.state.api_key = key

    def serve(self, *models: ServedModel, shape: ModelsShape = "vllm") -> None:
        self.state.models = list(models)
        self.state.models_shape = shape

    def script_reply(
        self, content: str, *, reasoning: str = "", piece: int = 4, finish_reason: str = "stop"
    ) -> None:
        """The next answer (answers not scripted say `Reply().content`)."""
        self.state.replies.append(Reply(content, reasoning, piece, finish_reason))

    def set_fault(self, kind: str, **options: Any) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        self.state.release.clear()
        self.state.fault = Fault(kind, **options)

    def clear_faults(self) -> None:
        self.state.fault = None
        self.state.release.set()

    def release_stall(self) -> None:
        self.state.release.set()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self.state.requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    @property
    def sent_chunks(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.state.sent_chunks)

    # --- used by the handler ----------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.state.requests.append(request)

    def _sent(self, chunk: dict[str, Any]) -> None:
        with self._lock:
            self.state.sent_chunks.append(chunk)

    def _take_fault(self, kinds: tuple[str, ...]) -> Fault | None:
        with self._lock:
            fault = self.state.fault
            if fault is None or fault.kind not in kinds:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.state.fault = None
            return fault

    def _next_reply(self) -> Reply:
        with self._lock:
            return self.state.replies.pop(0) if self.state.replies else Reply()


REQUEST_FAULTS = ("unauthorized", "forbidden", "rate_limited", "server_error", "not_openai")
STREAM_FAULTS = ("disconnect", "stall", "malformed")


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIDouble
    protocol_version = "HTTP/1.1"
    server_version = "openai-double/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def setup(self) -> None:
        super().setup()
        # Each event goes out at once, as a streaming server sends it (no Nagle delay).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # --- plumbing ---------------------------------------------------------------------------

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(
        self, status: int, message: str, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self._json(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

    def _authorised(self) -> bool:
        wanted = self.owner.state.api_key
        if wanted is None:
            return True
        given = self.headers.get("Authorization", "")
        return given == f"Bearer {wanted}" or self.headers.get("api-key") == wanted

    def _start(self, method: str) -> Any:
        body = self._body() if method == "POST" else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        path, _, query = self.path.partition("?")
        self.owner._record(RecordedRequest(method, path, body, headers, query))
        return body

    def _request_fault(self) -> bool:
        """Answer a request-level fault; True if one was answered."""
        fault = self.owner._take_fault(REQUEST_FAULTS)
        if fault is None:
            if not self._authorised():
                self._error(401, "Incorrect API key provided.", "invalid_request_error")
                return True
            return False
        if fault.kind == "unauthorized":
            self._error(401, "Incorrect API key provided.", "invalid_request_error")
        elif fault.kind == "forbidden":
            self._error(403, "You do not have access to this model.", "permission_error")
        elif fault.kind == "rate_limited":
            self._error(
                429,
                "Rate limit reached for requests.",
                "rate_limit_error",
                {"Retry-After": str(fault.retry_after)},
            )
        elif fault.kind == "server_error":
            self._error(500, "The server had an error while processing your request.", "server")
        else:  # not_openai
            data = HTML_PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        return True

    # --- routes -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._start("GET")
        path = self.path.split("?")[0]
        if path == "/v1/models":
            if self.owner._take_fault(("no_models",)) is not None:
                self._error(404, "Not Found", "not_found")
                return
            if not self._request_fault():
                self._json(200, self._models())
            return
        if path == "/props" and self.owner.state.props_n_ctx is not None:
            props = {"default_generation_settings": {"n_ctx": self.owner.state.props_n_ctx}}
            self._json(200, {**props, "total_slots": 1})
            return
        if path == "/health":
            self._json(200, {"status": "ok"})
            return
        self._error(404, f"no route {path}", "not_found")

    def _models(self) -> dict[str, Any]:
        state = self.owner.state
        data: list[dict[str, Any]] = []
        for model in state.models:
            if state.models_shape == "vllm":
                card: dict[str, Any] = {
                    "id": model.id,
                    "object": "model",
                    "created": CREATED,
                    "owned_by": model.owned_by,
                    "root": model.id,
                }
                if model.context_length is not None:
                    card["max_model_len"] = model.context_length
            else:
                card = {"id": model.id, "name": model.id, "created": CREATED}
                if model.context_length is not None:
                    card["context_length"] = model.context_length
            data.append(card)
        return {"object": "list", "data": data}

    def do_POST(self) -> None:
        body = self._start("POST")
        if self.path.split("?")[0] != "/v1/chat/completions":
            self._error(404, "Not Found", "not_found")
            return
        if self._request_fault():
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._error(400, "messages is required", "invalid_request_error")
            return
        state = self.owner.state
        model = str(body.get("model", ""))
        if model not in {m.id for m in state.models}:
            self._error(404, f"The model `{model}` does not exist.", "NotFoundError")
            return
        fault = self.owner._take_fault(("context_length",))
        if fault is not None:
            used = prompt_tokens(body["messages"])
            self._json(
                400,
                {
                    "object": "error",
                    "message": (
                        f"This model's maximum context length is {fault.limit} tokens. However, "
                        f"you requested {used + fault.limit} tokens in the messages. Please "
                        "reduce the length of the messages."
                    ),
                    "type": "BadRequestError",
                    "param": None,
                    "code": 400,
                },
            )
            return
        if body.get("stream") is not True:
            self._error(400, "the double streams only", "invalid_request_error")
            return
        self._stream(body, model)

    # --- streaming ----------------------------------------------------------------------------

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: dict[str, Any]) -> None:
        self.owner._sent(payload)
        self._write_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _chunk(self, model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-double",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    def _deltas(self, reply: Reply) -> Iterator[dict[str, Any]]:
        how = self.owner.state.reasoning_field
        yield {"role": "assistant", "content": ""}
        if reply.reasoning and how == "inline":
            text = f"<think>\n{reply.reasoning}\n</think>\n\n{reply.content}"
            for i in range(0, len(text), reply.piece):
                yield {"content": text[i : i + reply.piece]}
            return
        for i in range(0, len(reply.reasoning), reply.piece):
            yield {how: reply.reasoning[i : i + reply.piece]}
        for i in range(0, len(reply.content), reply.piece):
            yield {"content": reply.content[i : i + reply.piece]}

    def _stream(self, body: dict[str, Any], model: str) -> None:
        state = self.owner.state
        reply = self.owner._next_reply()
        fault = self.owner._take_fault(STREAM_FAULTS)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        try:
            for delta in self._deltas(reply):
                if fault is not None and sent == fault.after:
                    self._strike(fault)
                    return
                self._event(self._chunk(model, delta, None))
                sent += 1
                if state.token_delay:
                    time.sleep(state.token_delay)
            if fault is not None:
                self._strike(fault)
                return
            self._event(self._chunk(model, {}, reply.finish_reason))
            options = body.get("stream_options") or {}
            if state.usage and isinstance(options, dict) and options.get("include_usage"):
                self._event(self._usage(body, model, reply))
            self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            return

    def _usage(self, body: dict[str, Any], model: str, reply: Reply) -> dict[str, Any]:
        prompt = prompt_tokens(body["messages"])
        reasoning = count_tokens(reply.reasoning)
        completion = count_tokens(reply.content) + reasoning
        return {
            "id": "chatcmpl-double",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": [],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": self.owner.state.cached_tokens},
                "completion_tokens_details": {"reasoning_tokens": reasoning},
            },
        }

    def _strike(self, fault: Fault) -> None:
        if fault.kind == "malformed":
            self._write_chunk(b'data: {"choices": [{"delta": \n\n')
            self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")
            return
        if fault.kind == "stall":
            while not self.owner.state.release.wait(0.05):
                pass
        # disconnect (and a released stall): the connection drops without the last chunk.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
