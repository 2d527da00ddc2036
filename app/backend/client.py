"""PhiDesk's Ollama client: the official `ollama.AsyncClient` behind typed events and errors.

No Qt here. The GUI drives it from the qasync loop, the CLI from `asyncio.run`. To stop a stream,
cancel the task that iterates it: the HTTP response is closed at once and Ollama stops
generating (docs/ollama-behaviour.md §6, "Cancelling a stream").

Timeouts: connecting must succeed within `connect_timeout`; a stream has no read timeout (a
14B model can take minutes to load before its first token) but a watchdog yields
`StreamStalled` every `stall_seconds` without a chunk, leaving the stream open, and gives up
with `StreamInterrupted` after `stall_timeout` seconds of silence (any silence: the wait for the
answer's head and first token too). Plain calls (list, show, ps, delete) have a read timeout of
`call_timeout`.

Two things the official client lacks are done with httpx on the same base URL and headers:
`/api/version`, and the full `/api/show` body (its typed `ShowResponse` drops `system`); and
`/api/delete`, whose 200 the official client takes for success whatever the body is.

Every answer passes `guard.answer_guard` first, which refuses what Ollama never sends (a
web page, a huge body) as it arrives: a captive portal is never taken for Ollama, and a hostile
body is never read whole into memory.

`ollama` and `httpx` are imported, and the HTTP clients built, on the first call, not with
this module or the `OllamaClient`: the window builds one and shows before its first call to
Ollama, and importing them costs a large part of the start.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from app.backend.engines.watch import watched
from app.backend.errors import OllamaError, StreamInterrupted
from app.backend.events import (
    ChatEvent,
    ChatStats,
    ContentDelta,
    Done,
    PullDone,
    PullEvent,
    StreamStalled,
    ThinkingDelta,
)
from app.backend.failures import (
    MAX_ANSWER_BYTES,
    UnlikeOllama,
    looks_like_web_page,
    not_ollama,
    translate,
)
from app.backend.models import InstalledModel, LoadedModel, ModelInfo
from app.backend.names import validate_model_name
from app.backend.ollama_lib import load_ollama
from app.backend.progress import PullProgressTracker
from app.backend.think import ThinkSplitter

if TYPE_CHECKING:
    import httpx
    import ollama

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_CALL_TIMEOUT = 60.0
DEFAULT_STALL_SECONDS = 30.0
DEFAULT_STALL_TIMEOUT = 300.0

MIN_OLLAMA_VERSION = (0, 10, 0)
"""Oldest Ollama PhiDesk supports without a warning: 0.10.0 is the first whose `/api/ps`
reports the effective `context_length` (the context meter needs it), and it has the `think`
field (0.9.0). Older servers mostly work, but the meter and reasoning display may be wrong."""

KeepAlive = float | str | None


@dataclass(frozen=True)
class _Transports:
    stream: ollama.AsyncClient
    """Streams: no read timeout, no bound on the whole answer."""
    calls: ollama.AsyncClient
    http: httpx.AsyncClient
    """What the official client lacks: `/api/version`, the full `/api/show`, `/api/delete`."""


def parse_version(text: str) -> tuple[int, ...]:
    """`"0.33.0-rc2"` → `(0, 33, 0)`; unparseable parts stop the tuple."""
    numbers: list[int] = []
    for part in re.split(r"[.\-+]", text.strip().lstrip("v")):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers)


def version_warning(version: str) -> str | None:
    """One sentence if `version` is older than `MIN_OLLAMA_VERSION`, else None."""
    have = parse_version(version)
    if not have or have >= MIN_OLLAMA_VERSION:
        return None
    need = ".".join(str(n) for n in MIN_OLLAMA_VERSION)
    return (
        f"Ollama {version} is older than {need}; the context meter and reasoning display may "
        f"be wrong, so update Ollama to {need} or newer"
    )


class OllamaClient:
    """One Ollama server, reached at `host` (a base URL), optionally with a bearer token.

    `auth_note` is the sentence a 401/403 ends with instead of "check the access token" when
    the caller knows why no token is sent (a token kept only for an earlier session)."""

    def __init__(
        self,
        host: str,
        *,
        token: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        auth_note: str | None = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.stall_seconds = stall_seconds
        self.stall_timeout = stall_timeout
        """Seconds of silence after which a stream is given up (the user's preference; the
        workspace keeps it current)."""
        self.auth_note = auth_note
        self._headers = {"Accept-Encoding": "identity"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._connect_timeout = connect_timeout
        self._call_timeout = call_timeout
        self._transports: _Transports | None = None
        self._closed = False

    def __repr__(self) -> str:  # never shows the token
        return f"OllamaClient({self.host!r})"

    def _open(self) -> _Transports:
        """The HTTP clients, built (and `ollama` and `httpx` imported) on the first call."""
        if self._transports is not None:
            return self._transports
        if self._closed:  # as httpx says of a closed client: a closed client stays closed
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        load_ollama()
        import httpx
        import ollama

        from app.backend.guard import answer_guard

        headers = self._headers
        connect_timeout, call_timeout = self._connect_timeout, self._call_timeout
        stream_timeout = httpx.Timeout(
            connect=connect_timeout, read=None, write=call_timeout, pool=call_timeout
        )
        call = httpx.Timeout(call_timeout, connect=connect_timeout)
        self._transports = _Transports(
            stream=ollama.AsyncClient(
                self.host,
                timeout=stream_timeout,
                headers=headers,
                event_hooks=answer_guard(max_total=None),
            ),
            calls=ollama.AsyncClient(
                self.host,
                timeout=call,
                headers=headers,
                event_hooks=answer_guard(max_total=MAX_ANSWER_BYTES),
            ),
            http=httpx.AsyncClient(
                base_url=self.host,
                timeout=call,
                headers={"Accept": "application/json", **headers},
                follow_redirects=True,
                event_hooks=answer_guard(max_total=MAX_ANSWER_BYTES),
            ),
        )
        return self._transports

    @property
    def _stream(self) -> ollama.AsyncClient:
        return self._open().stream

    @property
    def _calls(self) -> ollama.AsyncClient:
        return self._open().calls

    @property
    def _http(self) -> httpx.AsyncClient:
        return self._open().http

    async def aclose(self) -> None:
        self._closed = True
        if self._transports is None:  # never called: nothing was opened
            return
        await self._transports.stream.close()  # type: ignore[no-untyped-call]
        await self._transports.calls.close()  # type: ignore[no-untyped-call]
        await self._transports.http.aclose()

    async def __aenter__(self) -> OllamaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- errors -------------------------------------------------------------------------

    def _typed(
        self,
        exc: Exception,
        *,
        model: str | None = None,
        pulling: bool = False,
        streaming: bool = False,
    ) -> OllamaError | None:
        return translate(
            exc,
            host=self.host,
            model=model,
            pulling=pulling,
            streaming=streaming,
            auth_note=self.auth_note,
        )

    async def _raw_request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """A plain request; a status of 400 or more raises the typed error."""
        load_ollama()
        import httpx
        import ollama

        model = str(body.get("model")) if body else None
        try:
            response = await self._http.request(method, path, json=body)
        except (httpx.HTTPError, UnlikeOllama) as exc:
            raise self._typed(exc, model=model) or exc from exc
        if response.status_code >= 400:
            error = ollama.ResponseError(response.text, response.status_code)
            raise self._typed(error, model=model) or error
        return response

    async def _raw_json(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = await self._raw_request(method, path, body)
        try:
            return response.json()
        except ValueError as exc:  # not JSON, or not text at all
            raise self._typed(exc) or exc from exc

    # --- streams --------------------------------------------------------------------------

    async def _watched(
        self, source: AsyncIterator[T], *, kept: str
    ) -> AsyncGenerator[T | StreamStalled, None]:
        """Items of `source`, plus a `StreamStalled` each `stall_seconds` without one (each half
        of `stall_timeout` when that is shorter, so one always comes before giving up); after
        `stall_timeout` seconds without one, `StreamInterrupted` ending with `kept`."""

        def give_up(seconds: float) -> StreamInterrupted:
            log.info("nothing from %s for %g s: giving up", self.host, seconds)
            return StreamInterrupted(
                f"the Ollama server at {self.host} sent nothing for {seconds:g} s, so "
                f"PhiDesk stopped waiting; {kept}"
            )

        # Closed with this generator: that cancels the pending read, which closes the HTTP
        # response inside the ollama generator.
        stream = watched(
            source,
            stall_seconds=self.stall_seconds,
            stall_timeout=self.stall_timeout,
            give_up=give_up,
        )
        try:
            async for item in stream:
                yield item
        finally:
            await stream.aclose()

    async def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        options: Mapping[str, Any] | None = None,
        num_ctx: int,
        keep_alive: KeepAlive = None,
        think: bool | str | None = None,
        split_think_tags: bool = True,
        starts_in_thinking: bool = False,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Stream one reply as `ThinkingDelta` / `ContentDelta` / `StreamStalled`, then `Done`.

        `num_ctx` is always sent (Ollama's default depends on version and VRAM). `options` go as a
        plain dict (the typed `Options` drops `min_p`). `think` is sent only when not None: never
        send `True` to a model without the `thinking` capability (400). For such models the reply's
        leading `<think>…</think>` becomes `ThinkingDelta`s; set `starts_in_thinking` when the
        template already opened the tag (`ModelInfo.template_opens_think`).
        Raises an `OllamaError` subclass after yielding whatever arrived before the failure.
        """
        validate_model_name(model)
        if num_ctx <= 0:
            raise ValueError(f"num_ctx must be positive, not {num_ctx}")
        sent_options = {**(options or {}), "num_ctx": int(num_ctx)}
        splitter = (
            ThinkSplitter(starts_in_thinking=starts_in_thinking) if split_think_tags else None
        )
        thinking_field_seen = False
        received = False
        watched: AsyncGenerator[Any, None] | None = None
        try:
            stream = await self._stream.chat(
                model=model,
                messages=[dict(m) for m in messages],
                stream=True,
                options=sent_options,
                keep_alive=keep_alive,
                think=think,
            )
            watched = self._watched(stream, kept="what arrived so far was kept")
            async for part in watched:
                if isinstance(part, StreamStalled):
                    yield part
                    continue
                received = True
                message = part.message
                if message.thinking:
                    thinking_field_seen = True
                    yield ThinkingDelta(message.thinking)
                if message.content:
                    if splitter is not None and not thinking_field_seen:
                        for piece in splitter.feed(message.content):
                            yield piece
                    else:
                        yield ContentDelta(message.content)
                if part.done:
                    if splitter is not None:
                        for piece in splitter.flush():
                            yield piece
                    yield Done(model=part.model or model, stats=_stats(part))
                    return
            raise StreamInterrupted(
                f"the connection to {self.host} closed before the answer finished; "
                "what arrived so far was kept"
            )
        except Exception as exc:
            typed = self._typed(exc, model=model, streaming=received)
            if typed is None:
                raise
            if splitter is not None:
                for piece in splitter.flush():
                    yield piece
            raise typed from exc
        finally:
            # Returning after `Done` leaves the inner generators suspended with the HTTP
            # response open; close them here, on this loop, not in the garbage collector.
            if watched is not None:
                await watched.aclose()

    async def pull(
        self, name: str, *, stalled: Callable[[StreamStalled], None] | None = None
    ) -> AsyncGenerator[PullEvent, None]:
        """Pull a model: `PullProgress` summed over layers, then `PullDone`. While no progress
        arrives `stalled` is told (each `stall_seconds`), and after `stall_timeout` without any
        the pull is given up with `StreamInterrupted`.

        Cancelling the iterating task closes the connection, which cancels the download on the
        server; pulling again resumes the partial layers.
        """
        validate_model_name(name)
        tracker = PullProgressTracker()
        stream: AsyncGenerator[Any, None] | None = None
        try:
            stream = self._watched(
                await self._stream.pull(name, stream=True),
                kept="pull again to resume where it stopped",
            )
            async for part in stream:
                if isinstance(part, StreamStalled):
                    if stalled is not None:
                        stalled(part)
                    continue
                if part.status == "success":
                    yield PullDone(model=name)
                    return
                yield tracker.update(
                    part.status, digest=part.digest, total=part.total, completed=part.completed
                )
            raise StreamInterrupted(
                f"the connection to {self.host} closed before the pull of {name} finished; "
                "pull again to resume where it stopped"
            )
        except Exception as exc:
            typed = self._typed(exc, model=name, pulling=True)
            if typed is None:
                raise
            raise typed from exc
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    # --- plain calls ----------------------------------------------------------------------

    async def list_models(self) -> list[InstalledModel]:
        try:
            response = await self._calls.list()
        except Exception as exc:
            raise self._typed(exc) or exc from exc
        return [InstalledModel.from_json(m.model_dump()) for m in response.models]

    async def show(self, name: str) -> ModelInfo:
        validate_model_name(name)
        raw = await self._raw_json("POST", "/api/show", {"model": name})
        return ModelInfo.from_json(name, raw if isinstance(raw, dict) else {})

    async def loaded(self) -> list[LoadedModel]:
        try:
            response = await self._calls.ps()
        except Exception as exc:
            raise self._typed(exc) or exc from exc
        return [LoadedModel.from_json(m.model_dump()) for m in response.models]

    async def delete(self, name: str) -> None:
        """Delete a model. Only Ollama's own success counts: a 200 with an empty or JSON body."""
        validate_model_name(name)
        response = await self._raw_request("DELETE", "/api/delete", {"model": name})
        text = response.text.strip()
        if response.status_code != 200:
            raise not_ollama(self.host, f"answered {response.status_code} instead of deleting")
        if looks_like_web_page(text):
            raise not_ollama(self.host, "sent a web page")
        if text:
            try:
                response.json()
            except ValueError:
                raise not_ollama(self.host, "answered with something that is not JSON") from None

    async def unload(self, name: str) -> None:
        """Free the model's memory now: an empty chat with `keep_alive: 0`."""
        validate_model_name(name)
        try:
            await self._calls.chat(model=name, messages=[], keep_alive=0)
        except Exception as exc:
            raise self._typed(exc, model=name) or exc from exc

    async def version(self) -> str:
        raw = await self._raw_json("GET", "/api/version")
        version = raw.get("version") if isinstance(raw, dict) else None
        if not isinstance(version, str):
            raise OllamaError(f"the server at {self.host} does not look like Ollama")
        return version

    async def ping(self) -> bool:
        """True if something answers like Ollama at the host; never raises for network trouble."""
        import httpx

        try:
            response = await self._http.get("/")
        except (httpx.HTTPError, UnlikeOllama):
            return False
        return response.status_code == 200 and not looks_like_web_page(response.text)


def _stats(part: ollama.ChatResponse) -> ChatStats:
    def count(value: int | None) -> int | None:
        return value if value else None

    return ChatStats(
        prompt_eval_count=count(part.prompt_eval_count),
        eval_count=count(part.eval_count),
        total_duration_ns=count(part.total_duration),
        load_duration_ns=count(part.load_duration),
        prompt_eval_duration_ns=count(part.prompt_eval_duration),
        eval_duration_ns=count(part.eval_duration),
        done_reason=part.done_reason or None,
    )
