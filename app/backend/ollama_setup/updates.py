"""The update check for PhiDesk's own Ollama, without Qt: when to ask, what to offer, and when an
update may run.

- `check_due()`: at most once a day, only when the user turned the check on (`None` means not
  asked yet: the caller asks once), never offline.
- `check_for_update()`: compares the managed copy's version with the latest release and with the
  minimum the installed Phi-4 models need; any failure is silent (logged) and the check is tried
  again the next day.
- `update_blocker()`: a sentence saying why an update must wait (a pull, a streaming answer,
  another process using the server), or None. The caller supplies those facts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.backend.catalog import Catalog, default_catalog
from app.backend.client import MIN_OLLAMA_VERSION, parse_version
from app.backend.ollama_setup.errors import SetupError
from app.backend.ollama_setup.layout import ManagedOllama, read_json, write_json_atomically
from app.backend.ollama_setup.releases import fetch_latest

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

CHECK_INTERVAL = 24 * 3600.0
MODEL_MINIMUMS: dict[str, tuple[int, ...]] = {
    "phi4-mini": (0, 5, 13),
    # Same architecture and prompt format as phi4-mini, published after it.
    "phi4-mini-reasoning": (0, 5, 13),
}
"""The oldest Ollama that runs each catalog entry (by entry name); entries not listed need only
PhiDesk's own minimum, `MIN_OLLAMA_VERSION`."""


@dataclass(frozen=True, slots=True)
class CheckState:
    """What the last check found (kept in `state.json` beside the managed copy)."""

    last_check: float | None = None
    latest: str | None = None


def load_state(managed: ManagedOllama) -> CheckState:
    raw = read_json(managed.state_file) or {}
    last, latest = raw.get("last_check"), raw.get("latest")
    return CheckState(
        last_check=float(last) if isinstance(last, int | float) else None,
        latest=latest if isinstance(latest, str) and latest else None,
    )


def save_state(managed: ManagedOllama, state: CheckState) -> None:
    try:
        write_json_atomically(
            managed.state_file, {"last_check": state.last_check, "latest": state.latest}
        )
    except OSError as exc:
        log.info("could not save the update check's state: %s", exc)


def version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(n) for n in version)


def required_version(
    installed_models: Iterable[str], catalog: Catalog | None = None
) -> tuple[int, ...]:
    """The oldest Ollama that runs every installed Phi-4 model and PhiDesk itself."""
    catalog = catalog or default_catalog()
    need: tuple[int, ...] = MIN_OLLAMA_VERSION
    for name in installed_models:
        match = catalog.lookup(name)
        if match is not None:
            need = max(need, MODEL_MINIMUMS.get(match.entry.name, ()))
    return need


@dataclass(frozen=True, slots=True)
class UpdateOffer:
    current: str
    latest: str
    required: str
    """The oldest version PhiDesk and the installed models need."""

    @property
    def needed(self) -> bool:
        """The current copy is too old for PhiDesk or an installed model (not just behind)."""
        return parse_version(self.current) < parse_version(self.required)

    def sentence(self) -> str:
        if self.needed:
            return (
                f"Ollama {self.latest} is available; the installed Ollama {self.current} is older "
                f"than {self.required}, which your models need"
            )
        return f"Ollama {self.latest} is available (you have {self.current})"


def check_due(
    state: CheckState, *, enabled: bool | None, online: bool, now: float | None = None
) -> bool:
    """True when the daily check should ask now."""
    if enabled is not True or not online:
        return False
    now = time.time() if now is None else now
    return state.last_check is None or not 0 <= now - state.last_check < CHECK_INTERVAL


def check_for_update(
    managed: ManagedOllama,
    *,
    enabled: bool | None,
    online: bool,
    installed_models: Iterable[str] = (),
    now: float | None = None,
    releases_url: str | None = None,
    client: httpx.Client | None = None,
    catalog: Catalog | None = None,
) -> UpdateOffer | None:
    """An offer when the managed copy is behind the latest release; None otherwise, when the
    check is not due, or when it failed (silently: logged, and tried again the next day)."""
    copy = managed.current()
    state = load_state(managed)
    now = time.time() if now is None else now
    if copy is None or not check_due(state, enabled=enabled, online=online, now=now):
        return None
    try:
        latest = fetch_latest(releases_url, client=client).tag
    except (SetupError, OSError) as exc:
        log.info("the Ollama update check failed (tried again tomorrow): %s", exc)
        save_state(managed, CheckState(last_check=now, latest=state.latest))
        return None
    save_state(managed, CheckState(last_check=now, latest=latest))
    return offer_for(copy.version, latest, installed_models, catalog)


def offer_for(
    current: str,
    latest: str,
    installed_models: Iterable[str] = (),
    catalog: Catalog | None = None,
) -> UpdateOffer | None:
    """An offer when `latest` is newer than `current`, else None."""
    latest_version = latest[1:] if latest[:1] in ("v", "V") else latest
    if parse_version(latest_version) <= parse_version(current):
        return None
    required = version_text(required_version(installed_models, catalog))
    return UpdateOffer(current=current, latest=latest_version, required=required)


@dataclass(frozen=True, slots=True)
class UseFacts:
    """What uses the managed server now, as the caller knows it."""

    pulling: bool = False
    streaming: bool = False
    other_process: bool = False
    """Another program (or another PhiDesk) uses the server, e.g. it has a model loaded."""


def update_blocker(facts: UseFacts) -> str | None:
    """Why an update must wait now, as one sentence; None when it may run."""
    if facts.pulling:
        return "Ollama is downloading a model; update it when the download has finished"
    if facts.streaming:
        return "an answer is being written; update Ollama when it has finished"
    if facts.other_process:
        return (
            "another program is using Ollama (a model is loaded); update it when that "
            "program has finished, or stop it first"
        )
    return None


def may_update(facts: UseFacts) -> bool:
    return update_blocker(facts) is None
