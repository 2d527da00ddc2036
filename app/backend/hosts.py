"""Connection profiles: the local Ollama and any number of remote ones.

The local profile is not stored: it is whatever `--host` / `OLLAMA_HOST` say (else Ollama's
default address). Remote profiles are stored as JSON in the config directory (`hosts.json`):
id, name, URL and whether a token exists, never the token. Tokens go only to the OS keyring
(`app.secrets.TokenStore`, service `phidesk`); with no keyring they live for this session only,
and the caller is told so. The file then says so too (`token_session_only`, not `has_token`),
and a later run that is refused (401/403) says the token was not kept and must be entered
again. Sending a token over plain `http://` to a host that is not this machine needs an
explicit `confirm_insecure=True`, because anyone on the path could read it. A user name and
password in a host URL are refused: PhiDesk sends only a token.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.backend.client import OllamaClient
from app.config import Paths, dropped_credentials, normalize_host, resolve_host
from app.errors import PhiDeskError, UsageError
from app.secrets import TokenStore

log = logging.getLogger(__name__)

LOCAL_ID = "local"
HOSTS_FILE = "hosts.json"


class InsecureTokenRefused(PhiDeskError):
    """A token would travel unencrypted to another machine and the user has not agreed."""


def is_loopback(url: str) -> bool:
    """True if `url` points at this machine (localhost, 127.0.0.0/8, ::1)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_would_travel_in_clear(url: str) -> bool:
    return urlsplit(url).scheme == "http" and not is_loopback(url)


@dataclass(frozen=True, slots=True)
class HostProfile:
    """Where an Ollama server is. `has_token` says a token is stored for it (not the token);
    `token_session_only` that one was given but, with no keyring, kept only for that session."""

    id: str
    name: str
    url: str
    has_token: bool = False
    insecure_confirmed: bool = False
    token_session_only: bool = False

    @property
    def is_local(self) -> bool:
        return self.id == LOCAL_ID


@dataclass(frozen=True, slots=True)
class TokenSaved:
    """Where a token went. `notice` is a sentence for the user when it is session-only."""

    in_keyring: bool
    notice: str | None


NO_KEYRING_NOTICE = (
    "no keyring is available on this system, so the token is kept only until PhiDesk closes; "
    "you will be asked for it again next time"
)


class HostProfiles:
    """The known Ollama hosts, their stored profiles and their tokens."""

    def __init__(
        self,
        paths: Paths,
        *,
        tokens: TokenStore | None = None,
        local_url: str | None = None,
    ) -> None:
        self._file = paths.config / HOSTS_FILE
        self._tokens = tokens or TokenStore()
        self.local = HostProfile(LOCAL_ID, "This computer", local_url or resolve_host(None))
        self._remote: dict[str, HostProfile] = self._read()

    # --- storage --------------------------------------------------------------------------

    def _read(self) -> dict[str, HostProfile]:
        try:
            raw = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self._file, exc)
            return {}
        profiles: dict[str, HostProfile] = {}
        for item in raw.get("hosts", []) if isinstance(raw, dict) else []:
            try:
                profile = HostProfile(
                    id=str(item["id"]),
                    name=str(item["name"]),
                    url=normalize_host(str(item["url"])),
                    has_token=bool(item.get("has_token", False)),
                    insecure_confirmed=bool(item.get("insecure_confirmed", False)),
                    token_session_only=bool(item.get("token_session_only", False)),
                )
            except (KeyError, TypeError, UsageError) as exc:
                log.warning("ignoring a damaged host entry in %s: %s", self._file, exc)
                continue
            profiles[profile.id] = profile
        return profiles

    def _write(self) -> None:
        # A token kept for this session only is not "had" by the next run.
        data: dict[str, Any] = {
            "hosts": [
                {**asdict(p), "has_token": p.has_token and not p.token_session_only}
                for p in self._remote.values()
            ]
        }
        self._file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".hosts-", dir=self._file.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --- queries --------------------------------------------------------------------------

    def all(self) -> list[HostProfile]:
        return [self.local, *self._remote.values()]

    def get(self, host_id: str) -> HostProfile:
        if host_id == LOCAL_ID:
            return self.local
        try:
            return self._remote[host_id]
        except KeyError:
            raise UsageError(f"there is no host profile {host_id!r}") from None

    def find_by_url(self, url: str) -> HostProfile | None:
        wanted = normalize_host(url)
        for profile in self._remote.values():
            if profile.url == wanted:
                return profile
        return self.local if self.local.url == wanted else None

    def token(self, host_id: str) -> str | None:
        profile = self.get(host_id)
        wanted = profile.has_token or profile.token_session_only
        return self._tokens.load(host_id) if wanted else None

    def missing_token(self, host_id: str) -> str | None:
        """The sentence to end a 401/403 with when the host was given a token that is not
        available now (so none is sent), else None."""
        profile = self.get(host_id)
        if self.token(host_id) is not None:
            return None
        if profile.token_session_only:
            return (
                f"the access token of {profile.name} was kept only until PhiDesk closed, because "
                "this system has no keyring to keep it, so none was sent: enter it again"
            )
        if profile.has_token:
            return (
                f"the access token of {profile.name} could not be read from the keyring, so "
                "none was sent: unlock the keyring, or enter the token again"
            )
        return None

    def client(self, host_id: str, **options: Any) -> OllamaClient:
        profile = self.get(host_id)
        return OllamaClient(
            profile.url,
            token=self.token(host_id),
            auth_note=self.missing_token(host_id),
            **options,
        )

    def client_for_url(self, url: str, **options: Any) -> OllamaClient:
        """A client for `url`, with the token of the profile at that URL if there is one."""
        profile = self.find_by_url(url)
        if profile is None or profile.is_local:
            return OllamaClient(normalize_host(url), **options)
        return self.client(profile.id, **options)

    # --- changes --------------------------------------------------------------------------

    def add(
        self,
        name: str,
        url: str,
        *,
        token: str | None = None,
        confirm_insecure: bool = False,
    ) -> tuple[HostProfile, TokenSaved | None]:
        if not name.strip():
            raise UsageError("a host needs a name")
        if dropped_credentials(url) is not None:
            raise UsageError(
                "a host URL cannot carry a user name and password, because PhiDesk sends only "
                "an access token; leave them out of the URL and give the token"
            )
        profile = HostProfile(
            id=f"host-{uuid.uuid4().hex[:12]}", name=name.strip(), url=normalize_host(url)
        )
        self._remote[profile.id] = profile
        saved = None
        if token:
            try:
                saved = self.set_token(profile.id, token, confirm_insecure=confirm_insecure)
            except InsecureTokenRefused:
                del self._remote[profile.id]
                raise
        else:
            self._write()
        return self.get(profile.id), saved

    def set_token(self, host_id: str, token: str, *, confirm_insecure: bool = False) -> TokenSaved:
        profile = self.get(host_id)
        if profile.is_local:
            raise UsageError("the local host does not take a token; add it as a remote host")
        if not token.strip():
            raise UsageError("the token is empty")
        if token_would_travel_in_clear(profile.url) and not confirm_insecure:
            raise InsecureTokenRefused(
                f"{profile.url} uses plain http:// to another machine, so the token would be "
                "readable on the network; use https://, or confirm that you accept this"
            )
        in_keyring = self._tokens.save(host_id, token.strip())
        self._remote[host_id] = replace(
            profile,
            has_token=True,
            token_session_only=not in_keyring,
            insecure_confirmed=profile.insecure_confirmed or confirm_insecure,
        )
        self._write()
        if not in_keyring:
            log.warning("no keyring available; token for host %s kept for this session", host_id)
        return TokenSaved(in_keyring=in_keyring, notice=None if in_keyring else NO_KEYRING_NOTICE)

    def clear_token(self, host_id: str) -> None:
        profile = self.get(host_id)
        self._tokens.delete(host_id)
        if not profile.is_local:
            self._remote[host_id] = replace(profile, has_token=False, token_session_only=False)
            self._write()

    def remove(self, host_id: str) -> None:
        if host_id == LOCAL_ID:
            raise UsageError("the local host cannot be removed")
        self.get(host_id)
        self._tokens.delete(host_id)
        del self._remote[host_id]
        self._write()
