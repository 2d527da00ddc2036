"""What the model manager's tabs share: the workspace, the catalog, this machine's GPUs, the
current server's installed and loaded models with their architectures and measured speeds, the
context the estimates use, and the one way a tab runs an Ollama call.

No client is kept here: each call leases `workspace.connection` at the moment it starts, so after
a host switch the next call goes to the new server. A call that started on the old server and
ends after the switch is dropped quietly, results and failures alike.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence

from app.backend.catalog import Catalog, CatalogMatch, normalize_model_name
from app.backend.client import OllamaClient
from app.backend.hardware import Gpu
from app.backend.memory import Estimate, KvCacheType, ModelArchitecture, estimate
from app.backend.models import InstalledModel, LoadedModel
from app.backend.offload import OffloadPreferences
from app.errors import PhiDeskError
from app.gui.tasks import Tasks
from app.workspace import Scope, Workspace, sentence

log = logging.getLogger(__name__)

CONTEXT_CHOICES = (2048, 4096, 8192, 16384, 32768, 65536, 131072)
DEFAULT_CONTEXT = 4096


class ManagerState:
    """Shared by the window and its tabs; changed only on the GUI thread."""

    def __init__(
        self, workspace: Workspace, catalog: Catalog, gpus: Sequence[Gpu] | None = None
    ) -> None:
        self.workspace = workspace
        self.catalog = catalog
        self.tasks = Tasks()
        self.gpus: list[Gpu] | None = list(gpus) if gpus is not None else None
        self.installed: list[InstalledModel] = []
        self.installed_by_key: dict[str, InstalledModel] = {}
        self.architectures: dict[str, ModelArchitecture] = {}
        self.loaded: list[LoadedModel] = []
        self.speeds: dict[str, float] = {}
        """Tokens/s measured in past answers, by model name, read in the refresh task."""
        self.num_ctx = DEFAULT_CONTEXT
        self._last_error: str | None = None

    # --- what the workspace holds -------------------------------------------------------

    @property
    def client(self) -> OllamaClient:
        """The current client: ask again at each call."""
        return self.workspace.client

    @property
    def offload(self) -> OffloadPreferences:
        return self.workspace.offload

    @property
    def default_model(self) -> str:
        return self.workspace.prefs.default_model

    @property
    def kv_cache_type(self) -> KvCacheType:
        return self.offload.server.kv_cache_type

    # --- the server's models ------------------------------------------------------------

    def set_installed(self, models: list[InstalledModel]) -> None:
        self.installed = models
        self.installed_by_key = {normalize_model_name(m.name): m for m in models}

    def forget_server(self) -> None:
        """The host changed: nothing known about the old server's models holds any more."""
        self.set_installed([])
        self.architectures.clear()
        self.loaded = []
        self.speeds = {}

    def speed_names(self) -> list[str]:
        """Every name a speed may have been recorded under: installed models and the catalog's
        variants."""
        names = [m.name for m in self.installed]
        names += [n for e in self.catalog.entries for v in e.variants for n in v.names]
        return list(dict.fromkeys(names))

    def match(self, name: str) -> CatalogMatch | None:
        return self.catalog.lookup(name)

    def architecture(self, name: str) -> ModelArchitecture | None:
        arch = self.architectures.get(normalize_model_name(name))
        if arch is not None:
            return arch
        match = self.match(name)
        return match.entry.architecture if match is not None else None

    def estimate_for(self, name: str, num_ctx: int) -> Estimate | None:
        """The estimate for an installed model at `num_ctx` on this machine's GPUs."""
        model = self.installed_by_key.get(normalize_model_name(name))
        arch = self.architecture(name)
        if model is None or arch is None or model.size <= 0:
            return None
        return estimate(arch, model.size, num_ctx, self.kv_cache_type, 1, self.gpus or ())

    # --- running calls ------------------------------------------------------------------

    def run(self, what: str, work: Awaitable[None]) -> None:
        """Start `work` as a task; a failure becomes one sentence on the notices."""
        self.tasks.start(self.guarded(what, work), name=what)

    async def guarded(self, what: str, work: Awaitable[None]) -> None:
        client = self.client
        try:
            await work
        except PhiDeskError as exc:
            if self.client is client:
                self.error(str(exc))
            else:
                log.info("model manager: %s on the previous host: %s", what, exc)
        except Exception:
            log.exception("model manager: %s failed", what)
            if self.client is client:
                self.error(f"{what} failed unexpectedly; see the log file for details")

    def error(self, text: str) -> None:
        """Tell the user, once: the same sentence again is not posted until a call succeeds or
        the user asks again (`forget_error()`)."""
        shaped = sentence(text)
        if shaped == self._last_error:
            return
        self._last_error = shaped
        self.workspace.notices.error(shaped, scope=Scope.ENGINE)

    def forget_error(self) -> None:
        """A call succeeded, or the user asked again: the next failure is told again."""
        self._last_error = None

    def is_current(self, client: OllamaClient) -> bool:
        """False when the host was switched since `client` was leased: its answer is about
        another server."""
        return client is self.client


__all__ = ["CONTEXT_CHOICES", "DEFAULT_CONTEXT", "ManagerState"]
