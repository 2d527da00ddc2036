"""Engine profiles: every server a chat can talk to, by name.

- `ollama` is the default engine: the Ollama host PhiDesk was started with (`--host`,
  `OLLAMA_HOST`). Today's remote Ollama host profiles (`hosts.json`, `app.backend.hosts`) are
  engines of kind `ollama` under their names.
- OpenAI-compatible profiles (kind `openai`) are kept in `engines.json` in the config folder,
  beside `hosts.json`: name, URL, which secrets exist (never their values), the Azure
  `api-version`, TLS verification, a CA bundle, a proxy, timeouts, per-model context lengths.
  Another process (`phidesk engines add`) may change the file: `EngineProfiles.reload()` picks
  the change up, and a write merges with what is on disk.
- The API key and every extra header's value go to the OS keyring only (service `phidesk`,
  accounts `engine:NAME` and `engine:NAME:header:HEADER`): extra headers often carry secrets
  (`api-key`, `Authorization`). Sending them over plain http to another machine needs
  `confirm_insecure=True`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.backend.engines import DEFAULT_ENGINE, ENGINE_KINDS, EngineKind
from app.backend.engines.openai_engine import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    OpenAIConfig,
)
from app.backend.hosts import InsecureTokenRefused, token_would_travel_in_clear
from app.config import Paths, dropped_credentials
from app.errors import UsageError
from app.secrets import TokenStore

log = logging.getLogger(__name__)

ENGINES_FILE = "engines.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class Preset:
    """A kind of server and the URL it usually has (HOST, RESOURCE… to be filled in)."""

    id: str
    label: str
    url: str
    key_header: str = "Authorization"
    api_version: str | None = None
    models_url: str | None = None
    needs_key: bool = False


PRESETS: tuple[Preset, ...] = (
    Preset("vllm", "vLLM", "http://HOST:8000/v1"),
    Preset("tgi", "Hugging Face TGI", "http://HOST:8080/v1"),
    Preset("llamacpp", "llama.cpp server", "http://HOST:8080/v1"),
    Preset("lmstudio", "LM Studio", "http://localhost:1234/v1"),
    Preset("openrouter", "OpenRouter", "https://openrouter.ai/api/v1", needs_key=True),
    Preset(
        "github",
        "GitHub Models",
        "https://models.github.ai/inference",
        models_url="https://models.github.ai/catalog/models",
        needs_key=True,
    ),
    Preset(
        "azure",
        "Azure AI Foundry",
        "https://RESOURCE.openai.azure.com/openai/v1",
        key_header="api-key",
        needs_key=True,
    ),
)


@dataclass(frozen=True, slots=True)
class EngineProfile:
    """One engine. `has_key` and `secret_headers` say which secrets exist, never their values."""

    name: str
    kind: EngineKind
    url: str
    has_key: bool = False
    key_header: str = "Authorization"
    secret_headers: tuple[str, ...] = ()
    api_version: str | None = None
    verify_tls: bool = True
    ca_bundle: str | None = None
    proxy: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    models_url: str | None = None
    context_lengths: dict[str, int] = field(default_factory=dict)
    insecure_confirmed: bool = False
    key_session_only: bool = False
    host_id: str | None = None
    """For a remote Ollama host profile: its id in `hosts.json`."""

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_ENGINE

    @property
    def is_local(self) -> bool:
        """Runs on this computer's Ollama (fit badges, pulls and offload apply)."""
        return self.kind == "ollama"


def normalize_url(url: str, kind: EngineKind) -> str:
    """A base URL for the kind: an OpenAI-compatible URL without a path gets `/v1`, and a
    trailing `/` goes; an Ollama URL loses a trailing `/v1` (PhiDesk uses its native API)."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises for an invalid port
    except ValueError as exc:
        raise UsageError(f"the engine URL {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"the engine URL {url!r} must start with http:// or https://")
    if dropped_credentials(text) is not None:
        raise UsageError(
            "an engine URL cannot carry a user name and password; give the key with "
            "--api-key-stdin instead"
        )
    path = parts.path.rstrip("/")
    if kind == "ollama":
        path = path.removesuffix("/v1")
    elif not path:
        path = "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"{name!r} is not a usable engine name; use letters, digits, '.', '_' and '-' "
            "(up to 64, starting with a letter or digit)"
        )
    return name


def _key_account(name: str) -> str:
    return f"engine:{name}"


def _header_account(name: str, header: str) -> str:
    return f"engine:{name}:header:{header.casefold()}"


class EngineProfiles:
    """The OpenAI-compatible profiles of `engines.json` and their secrets in the keyring."""

    def __init__(self, paths: Paths, *, secrets: TokenStore | None = None) -> None:
        self._file = paths.config / ENGINES_FILE
        self.secrets = secrets or TokenStore()
        self._stamp: tuple[int, int] | None = None
        self._profiles: dict[str, EngineProfile] = {}
        self.reload()

    # --- storage --------------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self._file.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def reload(self) -> bool:
        """Read the file again if another process changed it; True if it did."""
        stamp = self._file_stamp()
        if stamp == self._stamp and (stamp is not None or not self._profiles):
            return False
        self._stamp = stamp
        self._profiles = self._read()
        return True

    def _read(self) -> dict[str, EngineProfile]:
        try:
            raw = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self._file, exc)
            return {}
        found: dict[str, EngineProfile] = {}
        for item in raw.get("engines", []) if isinstance(raw, dict) else []:
            try:
                profile = _profile_from_json(item)
            except (KeyError, TypeError, ValueError, UsageError) as exc:
                log.warning("ignoring a damaged engine entry in %s: %s", self._file, exc)
                continue
            found[profile.name] = profile
        return found

    def _write(self) -> None:
        data = {"engines": [_profile_to_json(p) for p in self._profiles.values()]}
        self._file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".engines-", dir=self._file.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._stamp = self._file_stamp()

    # --- queries --------------------------------------------------------------------------

    def all(self) -> list[EngineProfile]:
        self.reload()
        return list(self._profiles.values())

    def get(self, name: str) -> EngineProfile | None:
        self.reload()
        return self._profiles.get(name)

    def config(self, profile: EngineProfile) -> OpenAIConfig:
        """How to reach the profile's server, its secrets read from the keyring."""
        key = self.secrets.load(_key_account(profile.name)) if profile.has_key else None
        headers: dict[str, str] = {}
        for header in profile.secret_headers:
            value = self.secrets.load(_header_account(profile.name, header))
            if value is not None:
                headers[header] = value
        note = None
        if profile.has_key and key is None:
            note = (
                f"the API key of engine {profile.name} could not be read from the keyring, so "
                "none was sent: unlock the keyring, or add the key again"
            )
        return OpenAIConfig(
            base_url=profile.url,
            api_key=key,
            key_header=profile.key_header,
            headers=headers,
            api_version=profile.api_version,
            verify_tls=profile.verify_tls,
            ca_bundle=profile.ca_bundle,
            proxy=profile.proxy,
            connect_timeout=profile.connect_timeout,
            call_timeout=profile.call_timeout,
            models_url=profile.models_url,
            context_lengths=dict(profile.context_lengths),
            auth_note=note,
        )

    # --- changes --------------------------------------------------------------------------

    def add(
        self,
        profile: EngineProfile,
        *,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
        confirm_insecure: bool = False,
    ) -> EngineProfile:
        """Save `profile` (its URL normalised) with its secrets in the keyring. Refused with
        `InsecureTokenRefused` when a secret would go over plain http to another machine."""
        self.reload()
        check_name(profile.name)
        url = normalize_url(profile.url, "openai")
        secrets = dict(headers or {})
        if (api_key or secrets) and token_would_travel_in_clear(url) and not confirm_insecure:
            raise InsecureTokenRefused(
                f"{url} uses plain http:// to another machine, so the API key would be readable "
                "on the network; use https://, or confirm that you accept this "
                "(--allow-insecure)"
            )
        saved = True
        if api_key:
            saved = self.secrets.save(_key_account(profile.name), api_key.strip()) and saved
        for header, value in secrets.items():
            saved = self.secrets.save(_header_account(profile.name, header), value) and saved
        profile = replace(
            profile,
            url=url,
            has_key=bool(api_key),
            secret_headers=tuple(secrets),
            insecure_confirmed=confirm_insecure and token_would_travel_in_clear(url),
            key_session_only=not saved,
        )
        self._profiles[profile.name] = profile
        self._write()
        return profile

    def remove(self, name: str) -> None:
        self.reload()
        profile = self._profiles.pop(name)
        self.secrets.delete(_key_account(name))
        for header in profile.secret_headers:
            self.secrets.delete(_header_account(name, header))
        self._write()


def _profile_to_json(profile: EngineProfile) -> dict[str, Any]:
    data = asdict(profile)
    data["secret_headers"] = list(profile.secret_headers)
    # A key kept for this session only is not "had" by the next run.
    data["has_key"] = profile.has_key and not profile.key_session_only
    return data


def _profile_from_json(item: Any) -> EngineProfile:
    kind = item.get("kind", "openai")
    if kind not in ENGINE_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    contexts = item.get("context_lengths") or {}
    return EngineProfile(
        name=check_name(str(item["name"])),
        kind=kind,
        url=normalize_url(str(item["url"]), kind),
        has_key=bool(item.get("has_key", False)),
        key_header=str(item.get("key_header") or "Authorization"),
        secret_headers=tuple(str(h) for h in item.get("secret_headers") or ()),
        api_version=item.get("api_version") or None,
        verify_tls=item.get("verify_tls", True) is not False,
        ca_bundle=item.get("ca_bundle") or None,
        proxy=item.get("proxy") or None,
        connect_timeout=float(item.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT),
        call_timeout=float(item.get("call_timeout") or DEFAULT_CALL_TIMEOUT),
        models_url=item.get("models_url") or None,
        context_lengths={str(k): int(v) for k, v in contexts.items() if int(v) > 0},
        insecure_confirmed=bool(item.get("insecure_confirmed", False)),
    )
