"""Bearer tokens for remote Ollama hosts, kept only in the operating system's keyring.

Tokens never go to SQLite, settings, logs or exports. When no keyring is available (a headless
Linux box without a Secret Service, say), a token is kept in memory for this session only and the
caller is told so; PhiDesk never falls back to a plaintext file.
"""

from __future__ import annotations

import logging

import keyring
import keyring.backend
import keyring.errors

SERVICE = "phidesk"
log = logging.getLogger(__name__)


def _backend_is_safe(backend: keyring.backend.KeyringBackend) -> bool:
    module = type(backend).__module__
    # keyrings.alt's file backends keep secrets in a plaintext or weakly protected file;
    # the "fail" and "null" backends keep nothing.
    return not (
        module.startswith("keyrings.alt")
        or module.startswith("keyring.backends.fail")
        or module.startswith("keyring.backends.null")
    )


class TokenStore:
    """Stores tokens by host id in the keyring, or for this session when there is none."""

    def __init__(self) -> None:
        self._session_only: dict[str, str] = {}

    @property
    def keyring_available(self) -> bool:
        return _backend_is_safe(keyring.get_keyring())

    def describe_backend(self) -> str:
        backend = keyring.get_keyring()
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def save(self, host_id: str, token: str) -> bool:
        """Store a token. True if it is in the OS keyring, False if kept for this session only."""
        if self.keyring_available:
            try:
                keyring.set_password(SERVICE, host_id, token)
            except keyring.errors.KeyringError as exc:
                log.warning("keyring refused the token for host %s: %s", host_id, exc)
            else:
                self._session_only.pop(host_id, None)
                return True
        self._session_only[host_id] = token
        return False

    def load(self, host_id: str) -> str | None:
        if host_id in self._session_only:
            return self._session_only[host_id]
        if not self.keyring_available:
            return None
        try:
            return keyring.get_password(SERVICE, host_id)
        except keyring.errors.KeyringError as exc:
            log.warning("keyring could not read the token for host %s: %s", host_id, exc)
            return None

    def delete(self, host_id: str) -> None:
        self._session_only.pop(host_id, None)
        if not self.keyring_available:
            return
        try:
            keyring.delete_password(SERVICE, host_id)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            log.warning("keyring could not delete the token for host %s: %s", host_id, exc)
