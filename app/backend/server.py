"""A managed `ollama serve`: found, started with PhiDesk's settings, stopped only if ours.

If the host answers, PhiDesk uses that server as it is and never stops it. Otherwise, if the
host is on this machine and an `ollama` program is installed (or PhiDesk's own copy: which one
is `app.backend.ollama_setup.choose_ollama`'s choice), `ManagedServer.start()` runs
`ollama serve` with the settings below, writes its output to `ollama-serve.log` in the logs
directory, and waits until it answers. `stop()` ends it only if this object started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from app.backend.hosts import is_loopback
from app.config import DEFAULT_HOST
from app.errors import PhiDeskError

log = logging.getLogger(__name__)

SERVE_LOG = "ollama-serve.log"
KV_CACHE_TYPES = ("f16", "q8_0", "q4_0")
# Variables that say which GPUs a server may use: NVIDIA, AMD (two), Vulkan.
GPU_VISIBILITY_VARS = (
    "CUDA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "GGML_VK_VISIBLE_DEVICES",
)


class OllamaNotInstalled(PhiDeskError):
    """No `ollama` program was found on this machine."""


class ServerStartFailed(PhiDeskError):
    """`ollama serve` was started but did not become healthy."""


def candidate_paths(
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> list[Path]:
    """Where installers put `ollama` on each OS, after PATH."""
    platform = platform or sys.platform
    env = os.environ if env is None else env
    home = home or Path.home()
    if platform.startswith("win"):
        places = []
        for var in ("LOCALAPPDATA", "ProgramFiles", "ProgramW6432"):
            if env.get(var):
                sub = "Programs/Ollama" if var == "LOCALAPPDATA" else "Ollama"
                places.append(Path(env[var]) / sub / "ollama.exe")
        return places
    if platform == "darwin":
        return [
            Path("/Applications/Ollama.app/Contents/Resources/ollama"),
            home / "Applications/Ollama.app/Contents/Resources/ollama",
            Path("/opt/homebrew/bin/ollama"),
            Path("/usr/local/bin/ollama"),
        ]
    return [
        Path("/usr/local/bin/ollama"),
        Path("/usr/bin/ollama"),
        Path("/usr/local/lib/ollama/bin/ollama"),
        Path("/opt/ollama/bin/ollama"),
        home / ".local/bin/ollama",
        Path("/snap/bin/ollama"),
    ]


def find_ollama(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: Path | None = None,
) -> Path | None:
    """The `ollama` program: on PATH first, then the usual install places."""
    env = os.environ if env is None else env
    found = shutil.which("ollama", path=env.get("PATH", os.defpath))
    if found:
        return Path(found)
    for place in candidate_paths(platform, env, home):
        if place.is_file() and os.access(place, os.X_OK):
            return place
    return None


@dataclass(frozen=True)
class ServerSettings:
    """What PhiDesk tells an `ollama serve` it starts. None leaves Ollama's own default."""

    host: str = DEFAULT_HOST
    models_dir: Path | None = None
    flash_attention: bool | None = None
    kv_cache_type: str | None = None
    keep_alive: str | None = None
    max_loaded_models: int | None = None
    visible_gpus: str | None = None  # e.g. "0,1"; "" or "-1" means CPU only
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        parts = urlsplit(self.host)
        env["OLLAMA_HOST"] = f"{parts.hostname or '127.0.0.1'}:{parts.port or 11434}"
        if self.models_dir is not None:
            env["OLLAMA_MODELS"] = str(self.models_dir)
        if self.flash_attention is not None:
            env["OLLAMA_FLASH_ATTENTION"] = "1" if self.flash_attention else "0"
        if self.kv_cache_type is not None:
            if self.kv_cache_type not in KV_CACHE_TYPES:
                raise PhiDeskError(
                    f"the KV cache type {self.kv_cache_type!r} is not one Ollama knows; "
                    f"choose one of {', '.join(KV_CACHE_TYPES)}"
                )
            env["OLLAMA_KV_CACHE_TYPE"] = self.kv_cache_type
        if self.keep_alive is not None:
            env["OLLAMA_KEEP_ALIVE"] = self.keep_alive
        if self.max_loaded_models is not None:
            env["OLLAMA_MAX_LOADED_MODELS"] = str(self.max_loaded_models)
        if self.visible_gpus is not None:
            value = self.visible_gpus.strip() or "-1"
            for var in GPU_VISIBILITY_VARS:
                env[var] = value
        env.update(self.extra_env)
        return env


async def answers(host: str, wait: float = 2.0) -> bool:
    """True if an Ollama server answers at `host` right now."""
    import httpx  # here, not at start: the window shows before the first call

    try:
        async with httpx.AsyncClient(base_url=host, timeout=wait) as http:
            response = await http.get("/")
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def port_taken(host: str, wait: float = 1.0) -> bool:
    """True when something on this computer accepts connections at `host`'s port."""
    parts = urlsplit(host)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 11434), wait
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def free_port_host(host: str) -> str:
    """`host` with a port no program on this computer listens on now."""
    parts = urlsplit(host)
    with socket.socket() as probe:
        probe.bind((parts.hostname or "127.0.0.1", 0))
        port = probe.getsockname()[1]
    name = parts.hostname or "127.0.0.1"
    netloc = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
    return urlunsplit((parts.scheme or "http", netloc, parts.path, "", ""))


class ManagedServer:
    """Starts `ollama serve` when nothing answers, and stops only what it started."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        log_dir: Path,
        binary: Path | None = None,
    ) -> None:
        self.settings = settings
        self.log_path = log_dir / SERVE_LOG
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.moved: str | None = None
        """Set when the host's port was taken by another program and the server was started
        on another port (`settings.host` is then the new address): the sentence saying so."""

    @property
    def program(self) -> Path | None:
        """The `ollama` this server would start (None: none found)."""
        return self._binary or find_ollama()

    @property
    def started_by_us(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def ensure_running(self, *, wait: float = 30.0) -> bool:
        """Make sure a server answers at the host. True if PhiDesk started it now."""
        if await answers(self.settings.host):
            log.info("Ollama already answers at %s; using it as it is", self.settings.host)
            return False
        if not is_loopback(self.settings.host):
            raise PhiDeskError(
                f"nothing answers at {self.settings.host}, and PhiDesk can only start Ollama "
                "on this computer; start it on that machine or choose another host"
            )
        if not self.started_by_us and await port_taken(self.settings.host):
            taken = urlsplit(self.settings.host).port or 11434
            host = free_port_host(self.settings.host)
            self.moved = (
                f"port {taken} on this computer is used by another program, so PhiDesk "
                f"started Ollama on port {urlsplit(host).port} instead"
            )
            log.info("%s is taken by something that is not Ollama; using %s", taken, host)
            self.settings = replace(self.settings, host=host)
        await self.start(wait=wait)
        return True

    async def start(self, *, wait: float = 30.0) -> None:
        if self.started_by_us:
            return
        binary = self._binary or find_ollama()
        if binary is None:
            raise OllamaNotInstalled(
                "Ollama is not installed on this computer; get it from ollama.com/download "
                "or with phidesk ollama install, or connect to Ollama on another machine"
            )
        process = self._process = self._spawn(binary)
        deadline = time.monotonic() + wait
        delay = 0.05
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                self.stop()
                raise ServerStartFailed(
                    f"ollama serve exited at once (status {code}); see {self.log_path}"
                    + _last_line(self.log_path)
                )
            if await answers(self.settings.host, wait=1.0):
                log.info("ollama serve (pid %s) is ready", process.pid)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
        self.stop()
        raise ServerStartFailed(
            f"ollama serve did not answer within {wait:.0f} s, so PhiDesk stopped it; "
            f"see {self.log_path}"
        )

    def _spawn(self, binary: Path) -> subprocess.Popen[bytes]:
        env = self.settings.environment()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - held open while the server runs
        self._log.write(f"--- PhiDesk starts {binary} serve at {time.ctime()}\n".encode())
        self._log.flush()
        windows = sys.platform.startswith("win")
        log.info("starting %s serve on %s", binary, env["OLLAMA_HOST"])
        return subprocess.Popen(
            [str(binary), "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group: a Ctrl-C in our terminal is not sent to it.
            start_new_session=not windows,
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) if windows else 0,
            # PhiDesk runs with umask 077 to keep its own files private; Ollama's models and
            # keys keep the modes Ollama gives them.
            umask=-1 if windows else 0o022,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """End the server if PhiDesk started it; a server it did not start is never touched."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            log.info("stopping ollama serve (pid %s), which PhiDesk started", process.pid)
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" (last line: {lines[-1].strip()[:200]})" if lines else ""
