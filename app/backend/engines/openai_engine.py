"""An OpenAI-compatible engine (vLLM, TGI, llama.cpp's llama-server, LM Studio, OpenRouter,
GitHub Models, Azure AI Foundry) on the official `openai` package's `AsyncOpenAI`.

A turn streams `chat.completions.create(stream=True, stream_options={"include_usage": True})`:
reasoning arrives as `delta.reasoning_content` (vLLM, llama.cpp) or `delta.reasoning`
(OpenRouter), read through `model_extra`, or inline as `<think>…</think>` in the content; both
become `ThinkingDelta`s. Usage arrives in a last chunk whose `choices` is empty (every
`choices[0]` is guarded); a stream that finishes without it ends with `Done(usage_estimated=True)`
and no counts, so the meter shows its calibrated estimate. A stream that stops before a
`finish_reason` is interrupted, with what arrived kept. Every wait counts towards the stall
timeout, the one for the answer's head included; Stop (cancelling the task) closes the stream.

The API key and any extra headers are given by the caller (the application layer keeps them in
the keyring); this module never stores or logs them.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.backend.catalog import Catalog, default_catalog
from app.backend.engines.base import EngineKind, KeepAlive, TurnFacts
from app.backend.engines.errors import NotOpenAICompatible
from app.backend.engines.openai_failures import KEPT, translate
from app.backend.engines.remote_models import RemoteModel, catalog_entry_for, remote_model
from app.backend.engines.watch import watched
from app.backend.errors import ModelNotFound, OllamaError, StreamInterrupted
from app.backend.events import (
    ChatEvent,
    ChatStats,
    ContentDelta,
    Done,
    StreamStalled,
    ThinkingDelta,
)
from app.backend.models import ModelInfo
from app.backend.think import ThinkSplitter

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionChunk

log = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_CALL_TIMEOUT = 60.0
DEFAULT_STALL_SECONDS = 30.0
DEFAULT_STALL_TIMEOUT = 300.0
REASONING_FIELDS = ("reasoning_content", "reasoning")
SENT_OPTIONS = ("temperature", "top_p", "seed", "max_tokens", "presence_penalty", "stop")
"""Chat options an OpenAI-compatible server takes; Ollama's own (num_gpu, min_p…) stay home."""


@dataclass(frozen=True)
class OpenAIConfig:
    """How to reach one OpenAI-compatible server. `base_url` ends where `/chat/completions`
    and `/models` are appended (usually `…/v1`)."""

    base_url: str
    api_key: str | None = None
    key_header: str = "Authorization"
    """`Authorization` sends `Bearer KEY`; any other name (Azure's `api-key`) sends the key as
    that header's value."""
    headers: Mapping[str, str] = field(default_factory=dict)
    api_version: str | None = None
    verify_tls: bool = True
    ca_bundle: str | None = None
    proxy: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    models_url: str | None = None
    """Where the model list is when it is not `base_url + /models` (GitHub Models' catalog)."""
    context_lengths: Mapping[str, int] = field(default_factory=dict)
    """The user's own context length per model id (wins over what the server says)."""
    auth_note: str | None = None

    def __repr__(self) -> str:  # never shows the key or the headers
        return f"OpenAIConfig({self.base_url!r})"


def _tls(config: OpenAIConfig) -> ssl.SSLContext | bool:
    if not config.verify_tls:
        return False
    if config.ca_bundle:
        return ssl.create_default_context(cafile=config.ca_bundle)
    return True


class OpenAIEngine:
    """One OpenAI-compatible server, named `name` (its profile's name)."""

    kind: EngineKind = "openai"

    def __init__(
        self,
        name: str,
        config: OpenAIConfig,
        *,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        catalog: Catalog | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self._host = config.base_url.rstrip("/")
        self.stall_seconds = stall_seconds
        self.stall_timeout = stall_timeout
        self._catalog = catalog
        self._models: dict[str, RemoteModel] | None = None
        self._props_context: int | bool | None = False  # False: not asked yet
        keyed = bool(config.api_key) and config.key_header.casefold() == "authorization"
        headers = dict(config.headers)
        if config.api_key and not keyed:
            headers[config.key_header] = config.api_key

        async def no_bearer(request: Any) -> None:
            request.headers.pop("Authorization", None)

        import openai  # loaded only when an OpenAI-compatible engine is used

        self._http = openai.DefaultAsyncHttpxClient(
            verify=_tls(config),
            proxy=config.proxy or None,
            follow_redirects=True,
            event_hooks={"request": [] if keyed else [no_bearer]},
        )
        self._client = openai.AsyncOpenAI(
            base_url=self._host,
            api_key=config.api_key if keyed else "unused",
            default_headers=headers,
            default_query={"api-version": config.api_version} if config.api_version else None,
            timeout=openai.Timeout(
                config.call_timeout, connect=config.connect_timeout, read=config.call_timeout
            ),
            max_retries=0,
            http_client=self._http,
        )
        self._stream_timeout = openai.Timeout(
            config.call_timeout, connect=config.connect_timeout, read=None
        )

    def __repr__(self) -> str:
        return f"OpenAIEngine({self.name!r}, {self._host!r})"

    @property
    def host(self) -> str:
        return self._host

    def _plain_headers(self) -> dict[str, str]:
        """The client's headers (the key included) for the calls made without the SDK."""
        return {k: v for k, v in self._client.default_headers.items() if isinstance(v, str)}

    @property
    def server_version(self) -> str | None:
        return None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = default_catalog()
        return self._catalog

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> OpenAIEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _typed(
        self, exc: BaseException, *, model: str | None = None, streaming: bool = False
    ) -> OllamaError | None:
        return translate(
            exc,
            engine=self.name,
            host=self._host,
            model=model,
            streaming=streaming,
            auth_note=self.config.auth_note,
        )

    # --- models ---------------------------------------------------------------------------

    async def list_models(self, *, refresh: bool = False) -> list[RemoteModel]:
        """Every model the server lists (`GET /models`), with the context length it reports."""
        if self._models is not None and not refresh:
            return list(self._models.values())
        try:
            if self.config.models_url:
                response = await self._http.get(
                    self.config.models_url,
                    headers=self._plain_headers(),
                    timeout=self.config.call_timeout,
                )
                if response.status_code >= 400:
                    import openai  # loaded by __init__ already

                    raise openai.APIStatusError(
                        response.text[:200], response=response, body=_json_or_none(response)
                    )
                raw = response.json()
                cards = raw.get("data") if isinstance(raw, dict) else raw
            else:
                page = await self._client.models.list()
                cards = [{**(m.model_extra or {}), **m.model_dump()} for m in page.data]
        except Exception as exc:
            typed = self._typed(exc)
            if typed is not None:
                raise typed from exc
            # Not JSON, or JSON of another shape, failed inside the parsing (a captive portal's
            # page answers 200): the details go to the log, the user gets the sentence.
            log.info("the model list of engine %s could not be read", self.name, exc_info=True)
            cards = None
        if not isinstance(cards, list):
            raise NotOpenAICompatible(
                f"the server at {self._host} sent something that is not an OpenAI-compatible "
                f"model list; check the URL of engine {self.name}"
            )
        models = [m for c in cards if isinstance(c, dict) and (m := remote_model(c, self.catalog))]
        self._models = {m.id: m for m in models}
        return models

    async def _props_n_ctx(self) -> int | None:
        """llama.cpp's `/props` (next to `/v1`): the server's `n_ctx`, if it is llama.cpp."""
        if self._props_context is not False:
            return self._props_context if isinstance(self._props_context, int) else None
        root = self._host.removesuffix("/v1")
        found: int | None = None
        try:
            response = await self._http.get(
                root + "/props",
                headers=self._plain_headers(),
                timeout=self.config.call_timeout,
            )
            data = response.json() if response.status_code == 200 else None
            settings = data.get("default_generation_settings") if isinstance(data, dict) else None
            value = settings.get("n_ctx") if isinstance(settings, dict) else None
            found = value if isinstance(value, int) and value > 0 else None
        except Exception as exc:  # any failure only means "not llama.cpp"
            log.debug("no /props at %s: %r", root, exc)
        self._props_context = found
        return found

    async def context_length(self, model: str) -> int | None:
        """The model's window: the user's own figure, else the server's (`/models`, llama.cpp
        `/props`), else the catalog's trained length; None when nobody says."""
        if model in self.config.context_lengths:
            return self.config.context_lengths[model]
        known = (self._models or {}).get(model)
        if known is not None and known.context_length:
            return known.context_length
        props = await self._props_n_ctx()
        if props:
            return props
        entry = catalog_entry_for(model, self.catalog)
        return entry.context_length if entry else None

    async def show(self, model: str) -> ModelInfo:
        """The model as a `ModelInfo` (its family and context length); `ModelNotFound` when the
        server lists models and this is not one of them."""
        try:
            listed = {m.id for m in await self.list_models()}
        except ModelNotFound:
            raise
        except OllamaError as exc:
            log.info("the model list of %s is unavailable: %s", self._host, exc)
            listed = None
        if listed is not None and model not in listed:
            raise ModelNotFound(
                f"the server at {self._host} does not list the model {model}; choose one it "
                f"lists (phidesk models --engine {self.name} --all)"
            )
        entry = catalog_entry_for(model, self.catalog)
        return ModelInfo(
            name=model,
            architecture="",
            context_length=await self.context_length(model),
            block_count=None,
            head_count=None,
            head_count_kv=None,
            embedding_length=None,
            parameter_count=None,
            family=entry.name if entry else "",
            parameter_size="",
            quantization="",
            capabilities=("completion",),
            template="",
            system="",
            parameters="",
        )

    def window(self, wanted: int | None, info: ModelInfo | None) -> int | None:
        served = info.context_length if info is not None else None
        if wanted and served:
            return min(wanted, served)
        return wanted or served

    def turn_options(self, model: str, options: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in options.items() if k in SENT_OPTIONS}

    # --- turns ----------------------------------------------------------------------------

    def acquire(self) -> OpenAIEngine:
        return self

    async def release(self) -> None:
        return None

    async def facts(self, model: str) -> TurnFacts:
        return TurnFacts()

    async def _chunks(
        self, model: str, messages: Sequence[Mapping[str, Any]], options: Mapping[str, Any]
    ) -> AsyncIterator[ChatCompletionChunk]:
        create: Any = self._client.chat.completions.create
        stream: openai.AsyncStream[ChatCompletionChunk] = await create(
            model=model,
            messages=[dict(m) for m in messages],
            stream=True,
            stream_options={"include_usage": True},
            timeout=self._stream_timeout,
            **self.turn_options(model, options),
        )
        try:
            kind = stream.response.headers.get("content-type", "")
            if "text/event-stream" not in kind:
                log.info("%s answered a chat with content type %r", self._host, kind)
                raise NotOpenAICompatible(
                    f"the server at {self._host} sent something that is not an "
                    f"OpenAI-compatible answer; check the URL of engine {self.name}"
                )
            async for chunk in stream:
                yield chunk
        finally:
            await stream.close()

    async def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        options: Mapping[str, Any] | None = None,
        num_ctx: int | None = None,
        keep_alive: KeepAlive = None,
        think: bool | str | None = None,
        starts_in_thinking: bool = False,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Stream one reply as `ThinkingDelta` / `ContentDelta` / `StreamStalled`, then `Done`.
        `num_ctx`, `keep_alive` and `think` are Ollama's and not sent. Raises a typed error
        after yielding whatever arrived before the failure."""
        splitter = ThinkSplitter(starts_in_thinking=starts_in_thinking)
        reasoning_field_seen = False
        received = False
        finish: str | None = None
        usage: Any = None
        served_model = model
        fingerprint: str | None = None
        started = time.monotonic()
        first: float | None = None

        def give_up(seconds: float) -> Exception:
            log.info("nothing from %s for %g s: giving up", self._host, seconds)
            return StreamInterrupted(
                f"the server at {self._host} sent nothing for {seconds:g} s, so PhiDesk "
                f"stopped waiting; {KEPT}"
            )

        source = watched(
            self._chunks(model, messages, options or {}),
            stall_seconds=self.stall_seconds,
            stall_timeout=self.stall_timeout,
            give_up=give_up,
        )
        try:
            async for chunk in source:
                if isinstance(chunk, StreamStalled):
                    yield chunk
                    continue
                received = True
                served_model = chunk.model or served_model
                fingerprint = chunk.system_fingerprint or fingerprint
                if chunk.usage is not None:
                    usage = chunk.usage
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                delta = choice.delta
                extra = delta.model_extra or {}
                thought = next((extra[f] for f in REASONING_FIELDS if extra.get(f)), None)
                if isinstance(thought, str) and thought:
                    reasoning_field_seen = True
                    first = first or time.monotonic()
                    yield ThinkingDelta(thought)
                if delta.content:
                    first = first or time.monotonic()
                    if reasoning_field_seen:
                        yield ContentDelta(delta.content)
                    else:
                        for piece in splitter.feed(delta.content):
                            yield piece
                if choice.finish_reason:
                    finish = choice.finish_reason
            for piece in splitter.flush():
                yield piece
            if finish is None:
                raise StreamInterrupted(
                    f"the connection to {self._host} closed before the answer finished; {KEPT}"
                )
            yield _done(served_model, finish, usage, fingerprint, started, first)
        except Exception as exc:
            typed = self._typed(exc, model=model, streaming=received)
            if typed is None:
                raise
            for piece in splitter.flush():
                yield piece
            raise typed from exc
        finally:
            await source.aclose()

    async def check(self) -> list[RemoteModel]:
        """Ask for the model list fresh (for "test this engine")."""
        return await self.list_models(refresh=True)


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _done(
    model: str,
    finish: str,
    usage: Any,
    fingerprint: str | None,
    started: float,
    first: float | None,
) -> Done:
    ended = time.monotonic()
    head = first or ended

    def stats(prompt: int | None = None, completion: int | None = None) -> ChatStats:
        return ChatStats(
            prompt_eval_count=prompt,
            eval_count=completion,
            total_duration_ns=int((ended - started) * 1e9),
            prompt_eval_duration_ns=int((head - started) * 1e9),
            eval_duration_ns=int((ended - head) * 1e9) or None,
            done_reason=finish,
        )

    if usage is None:
        return Done(
            model=model, stats=stats(), usage_estimated=True, system_fingerprint=fingerprint
        )
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Done(
        model=model,
        stats=stats(usage.prompt_tokens, usage.completion_tokens),
        cached_tokens=getattr(prompt_details, "cached_tokens", None),
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", None),
        system_fingerprint=fingerprint,
    )
