"""The one current connection to an Ollama server, shared by everything that talks to it.

Consumers keep the `Connection`, never the client: they read `connection.client` at each call,
or hold a lease (`acquire()`/`release()`, or `async with connection.lease() as client:`) for as
long as one stream runs.
`switch()` makes a new client current at once; the old one is closed only when the last lease
on it ends, so a stream that started before a host switch finishes on the server it began on,
and nothing is left holding a closed client.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from app.backend.client import OllamaClient

log = logging.getLogger(__name__)

ConnectionListener = Callable[[OllamaClient], None]


class Connection:
    """Holds the current `OllamaClient`; closes replaced clients once nobody uses them."""

    def __init__(self, client: OllamaClient) -> None:
        self._client = client
        self._leases: dict[int, int] = {}
        self._retired: dict[int, OllamaClient] = {}
        self._listeners: list[ConnectionListener] = []

    @property
    def client(self) -> OllamaClient:
        return self._client

    @property
    def host(self) -> str:
        return self._client.host

    def subscribe(self, listener: ConnectionListener) -> Callable[[], None]:
        """`listener(new_client)` after every switch; returns an unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def acquire(self) -> OllamaClient:
        """The current client, kept open until `release()` even if the host is switched."""
        client = self._client
        key = id(client)
        self._leases[key] = self._leases.get(key, 0) + 1
        return client

    async def release(self, client: OllamaClient) -> None:
        key = id(client)
        left = self._leases.get(key, 0) - 1
        if left > 0:
            self._leases[key] = left
            return
        self._leases.pop(key, None)
        retired = self._retired.pop(key, None)
        if retired is not None:
            await retired.aclose()

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[OllamaClient]:
        """`async with connection.lease() as client:` acquire and release around a block."""
        client = self.acquire()
        try:
            yield client
        finally:
            await self.release(client)

    def leases(self, client: OllamaClient) -> int:
        return self._leases.get(id(client), 0)

    async def switch(self, client: OllamaClient) -> None:
        """Make `client` current; the old client closes now if unused, else when released."""
        old = self._client
        if client is old:
            return
        self._client = client
        # Switched back to a client a stream still leases: it is current again, so the end of
        # that stream must not close it.
        self._retired.pop(id(client), None)
        for listener in list(self._listeners):
            try:
                listener(client)
            except Exception:
                log.exception("a connection listener failed")
        if self._leases.get(id(old), 0):
            self._retired[id(old)] = old
        else:
            await old.aclose()

    async def aclose(self) -> None:
        """Close the current client and any retired one still open (at quit)."""
        for retired in list(self._retired.values()):
            await retired.aclose()
        self._retired.clear()
        await self._client.aclose()
