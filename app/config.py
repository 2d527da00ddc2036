"""Where PhiDesk keeps its files, which Ollama it talks to, and the user's settings.

Everything PhiDesk writes goes under one data directory when `--data-dir` or `PHIDESK_DATA_DIR`
is given; otherwise each kind of file goes where the platform expects it (platformdirs).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from app.errors import UsageError

APP_NAME = "PhiDesk"
APP_ID = "phidesk"
DATA_DIR_ENV = "PHIDESK_DATA_DIR"
DEFAULT_OLLAMA_PORT = 11434
DEFAULT_HOST = f"http://127.0.0.1:{DEFAULT_OLLAMA_PORT}"


@dataclass(frozen=True)
class Paths:
    """The directories PhiDesk writes to. All of them exist once `ensure()` has run."""

    data: Path
    config: Path
    logs: Path
    cache: Path

    @classmethod
    def resolve(cls, data_dir: str | os.PathLike[str] | None = None) -> Paths:
        chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
        if chosen is not None:
            root = Path(chosen).expanduser().absolute()
            return cls(data=root, config=root, logs=root / "logs", cache=root / "cache")
        return cls(
            data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            config=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            logs=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
            cache=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        )

    def ensure(self) -> Paths:
        for directory in (self.data, self.config, self.logs, self.cache):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(
                    f"cannot create the directory {directory} ({exc.strerror}); "
                    "choose another one with --data-dir"
                ) from exc
        return self

    @property
    def database(self) -> Path:
        return self.data / "phidesk.sqlite3"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def log_file(self) -> Path:
        return self.logs / "phidesk.log"

    @property
    def crash_log(self) -> Path:
        return self.logs / "crash.log"


def normalize_host(value: str) -> str:
    """Turn an `OLLAMA_HOST`-style value into a base URL a client can connect to.

    Accepts what Ollama itself accepts: `host`, `host:port`, `:port`, `http(s)://host[:port][/path]`.
    A listen-on-all address (`0.0.0.0`, `::`) means "this machine" when connecting.
    """
    text = value.strip()
    if not text:
        raise UsageError("the Ollama host is empty; give a URL such as http://127.0.0.1:11434")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"the Ollama host {value!r} must use http:// or https://")
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"the Ollama host {value!r} has an invalid port") from exc
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if port is None:
        port = DEFAULT_OLLAMA_PORT if parts.scheme == "http" else 443
    shown_host = f"[{host}]" if ":" in host else host
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{shown_host}:{port}{path}"


def resolve_host(cli_value: str | None) -> str:
    """`--host` wins, then `OLLAMA_HOST`, then Ollama's own default address."""
    if cli_value is not None:
        return normalize_host(cli_value)
    env = os.environ.get("OLLAMA_HOST", "").strip()
    return normalize_host(env) if env else DEFAULT_HOST


@dataclass
class Settings:
    """User preferences, stored as JSON in the config directory. Unknown keys are kept."""

    default_model: str = ""
    theme: str = "system"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError):
            # A damaged settings file must not stop the app; keep it for inspection.
            damaged = path.with_suffix(".json.damaged")
            path.replace(damaged)
            return cls()
        if not isinstance(raw, dict):
            return cls()
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in raw.items() if k in known}
        extra = {k: v for k, v in raw.items() if k not in known}
        settings = cls(**values)
        settings.extra = extra
        return settings

    def save(self, path: Path) -> None:
        """Write atomically: a crash mid-write leaves the previous file intact."""
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class AppContext:
    """What every command needs: where to write and which Ollama to talk to."""

    paths: Paths
    host: str
