"""Engines as part of `Workspace` (a mixin, like `TransferOps`): the registry of engine profiles
(decision 5: `ollama` is the default Ollama host; remote Ollama hosts are engines of kind
`ollama`; OpenAI-compatible servers are kind `openai`), the engine each chat's session talks to,
testing an engine, and the models it offers.

The window uses: `engine_profiles()` (sections of the model picker, the Engines dialog),
`engine_presets()`, `add_engine(…)`, `remove_engine(name)`, `test_engine(name)` (its
`EngineCheck.sentence`: "Connected: 12 models, 3 of the Phi-4 family"), `engine_models(name,
all_models=…)` (read-only lists of remote models), `new_chat(model, engine=name)` and
`set_chat_engine(chat_id, name, model)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from app.backend.catalog import default_catalog
from app.backend.connection import Connection
from app.backend.engines import DEFAULT_ENGINE, Engine, EngineKind
from app.backend.engines.ollama_engine import OllamaEngine
from app.backend.engines.openai_engine import OpenAIEngine
from app.backend.engines.remote_models import RemoteModel, catalog_entry_for, is_phi4
from app.backend.hosts import HostProfiles, InsecureTokenRefused, token_would_travel_in_clear
from app.chat.session import ChatSession
from app.config import Paths
from app.errors import UsageError
from app.secrets import TokenStore
from app.store import Chat, Database
from app.workspace.changes import ChatChange
from app.workspace.engine_profiles import (
    PRESETS,
    EngineProfile,
    EngineProfiles,
    Preset,
    check_name,
    normalize_url,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EngineCheck:
    """What testing an engine found."""

    name: str
    models: int
    phi4: int

    @property
    def sentence(self) -> str:
        noun = "model" if self.models == 1 else "models"
        return f"Connected: {self.models} {noun}, {self.phi4} of the Phi-4 family"


class EngineOps:
    """The engine operations of `Workspace`."""

    db: Database
    paths: Paths
    connection: Connection

    async def write(self, call: Callable[[], T]) -> T:
        raise NotImplementedError

    async def chat(self, chat_id: int) -> Chat:
        raise NotImplementedError

    def session(self, chat_id: int) -> ChatSession:
        raise NotImplementedError

    def _chats(self, how: ChatChange, *ids: int) -> None:
        raise NotImplementedError

    @property
    def stall_timeout(self) -> float:
        raise NotImplementedError

    # --- the registry ---------------------------------------------------------------------

    @property
    def engine_registry(self) -> EngineProfiles:
        registry: EngineProfiles | None = getattr(self, "_engine_registry", None)
        if registry is None:
            registry = EngineProfiles(self.paths, secrets=self._secrets())
            self._engine_registry = registry
        return registry

    def _secrets(self) -> TokenStore:
        store: TokenStore | None = getattr(self, "_engine_secrets", None)
        if store is None:
            store = TokenStore()
            self._engine_secrets = store
        return store

    def _hosts(self) -> HostProfiles:
        return HostProfiles(self.paths, tokens=self._secrets(), local_url=self.connection.host)

    def engine_presets(self) -> tuple[Preset, ...]:
        return PRESETS

    def engine_profiles(self) -> list[EngineProfile]:
        """Every engine: the default Ollama first, then remote Ollama hosts, then the
        OpenAI-compatible servers."""
        profiles = [EngineProfile(DEFAULT_ENGINE, "ollama", self.connection.host)]
        for host in self._hosts().all():
            if not host.is_local:
                profiles.append(
                    EngineProfile(
                        host.name, "ollama", host.url, has_key=host.has_token, host_id=host.id
                    )
                )
        return profiles + self.engine_registry.all()

    def engine_profile(self, name: str) -> EngineProfile:
        found = next((p for p in self.engine_profiles() if p.name == name), None)
        if found is None:
            raise UsageError(f"there is no engine {name!r} (phidesk engines list shows them)")
        return found

    def add_engine(
        self,
        name: str,
        url: str,
        *,
        kind: EngineKind = "openai",
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
        key_header: str = "Authorization",
        api_version: str | None = None,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        proxy: str | None = None,
        models_url: str | None = None,
        context_lengths: dict[str, int] | None = None,
        confirm_insecure: bool = False,
    ) -> EngineProfile:
        """Add an engine. Its key and header values go to the keyring only; over plain http to
        another machine they need `confirm_insecure` (else `InsecureTokenRefused`)."""
        check_name(name)
        if any(p.name == name for p in self.engine_profiles()):
            raise UsageError(f"an engine called {name!r} exists already; remove it first")
        if kind == "ollama":
            if headers:
                raise UsageError("an Ollama engine takes a key but no extra headers")
            target = normalize_url(url, "ollama")
            if api_key and token_would_travel_in_clear(target) and not confirm_insecure:
                raise InsecureTokenRefused(
                    f"{target} uses plain http:// to another machine, so the key would be "
                    "readable on the network; use https://, or confirm that you accept this "
                    "(--allow-insecure)"
                )
            host, _saved = self._hosts().add(
                name, target, token=api_key, confirm_insecure=confirm_insecure
            )
            return EngineProfile(name, "ollama", host.url, has_key=host.has_token, host_id=host.id)
        profile = EngineProfile(
            name=name,
            kind="openai",
            url=url,
            key_header=key_header,
            api_version=api_version,
            verify_tls=verify_tls,
            ca_bundle=ca_bundle,
            proxy=proxy,
            models_url=models_url,
            context_lengths=dict(context_lengths or {}),
        )
        return self.engine_registry.add(
            profile, api_key=api_key, headers=headers, confirm_insecure=confirm_insecure
        )

    async def remove_engine(self, name: str) -> None:
        """Forget an engine and its secrets. Its chats stay and ask for another engine."""
        profile = self.engine_profile(name)
        if profile.is_default:
            raise UsageError("the default engine (ollama) cannot be removed")
        if profile.host_id is not None:
            self._hosts().remove(profile.host_id)
        else:
            self.engine_registry.remove(name)
        engine = self._engine_cache().pop(name, None)
        if engine is not None:
            await _close(engine[1])

    # --- engines for sessions ---------------------------------------------------------------

    def _engine_cache(self) -> dict[str, tuple[EngineProfile, Engine]]:
        cache: dict[str, tuple[EngineProfile, Engine]] | None = getattr(self, "_engines_open", None)
        if cache is None:
            cache = {}
            self._engines_open = cache
        return cache

    def engine_by_name(self, name: str) -> Engine | None:
        """The engine called `name` (None if there is none); the default is not served here
        (each session has it over the workspace's connection)."""
        if name == DEFAULT_ENGINE:
            return None
        profile = next((p for p in self.engine_profiles() if p.name == name), None)
        cache = self._engine_cache()
        if profile is None:
            return None
        cached = cache.get(name)
        if cached is not None and cached[0] == profile:
            engine = cached[1]
        else:
            engine = self._open_engine(profile)
            cache[name] = (profile, engine)
        if isinstance(engine, OpenAIEngine):
            engine.stall_timeout = self.stall_timeout
        elif isinstance(engine, OllamaEngine):
            engine.client.stall_timeout = self.stall_timeout
        return engine

    def _open_engine(self, profile: EngineProfile) -> Engine:
        if profile.kind == "ollama" and profile.host_id is not None:
            client = self._hosts().client(profile.host_id)
            return OllamaEngine(Connection(client), name=profile.name)
        return OpenAIEngine(profile.name, self.engine_registry.config(profile))

    async def close_engines(self) -> None:
        cache = self._engine_cache()
        for _profile, engine in list(cache.values()):
            await _close(engine)
        cache.clear()

    # --- testing and models -----------------------------------------------------------------

    async def engine_models(self, name: str, *, all_models: bool = False) -> list[RemoteModel]:
        """The models engine `name` offers: the Phi-4 family by default, every one with
        `all_models`. Each says its context length when the server or the catalog knows it."""
        self.engine_profile(name)
        engine = self.connection_engine() if name == DEFAULT_ENGINE else self.engine_by_name(name)
        assert engine is not None
        if isinstance(engine, OpenAIEngine):
            models = await engine.list_models(refresh=True)
        else:
            assert isinstance(engine, OllamaEngine)
            catalog = default_catalog()
            models = []
            for installed in await engine.client.list_models():
                entry = catalog_entry_for(installed.name, catalog)
                match = catalog.lookup(installed.name)
                family = match.entry if match else entry
                models.append(
                    RemoteModel(
                        id=installed.name,
                        phi4=family is not None or is_phi4(installed.name),
                        catalog_name=family.name if family else None,
                        trained_context=family.context_length if family else None,
                    )
                )
        return models if all_models else [m for m in models if m.phi4]

    def connection_engine(self) -> OllamaEngine:
        return OllamaEngine(self.connection, name=DEFAULT_ENGINE)

    async def test_engine(self, name: str) -> EngineCheck:
        """Connect to the engine and count its models (raises its one-sentence error)."""
        models = await self.engine_models(name, all_models=True)
        return EngineCheck(name, len(models), sum(1 for m in models if m.phi4))

    async def chat_window(self, chat_id: int) -> int | None:
        """The context window a turn of the chat would use on its engine; None when neither
        the server nor the catalog tells it and the chat sets no num_ctx."""
        chat = await self.chat(chat_id)
        session = self.session(chat_id)
        engine = session.find_engine(chat.engine)
        if engine is None:
            return None
        info = await session.model_info(chat.model)
        return engine.window(chat.settings.num_ctx, info)

    async def set_chat_engine(self, chat_id: int, engine: str, model: str) -> Chat:
        """Answer the chat with `model` on `engine` from now on."""
        self.engine_profile(engine)
        chat = await self.write(lambda: self.db.update_chat(chat_id, engine=engine, model=model))
        self._chats(ChatChange.UPDATED, chat_id)
        return chat


async def _close(engine: Engine) -> None:
    try:
        if isinstance(engine, OpenAIEngine):
            await engine.aclose()
        elif isinstance(engine, OllamaEngine):
            await engine.connection.aclose()
    except Exception:
        log.exception("closing engine %s failed", engine.name)
