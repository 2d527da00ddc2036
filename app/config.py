"""Where PhiDesk keeps its files, which Ollama it talks to, and the user's settings.

Everything PhiDesk writes goes under one data directory when `--data-dir` or `PHIDESK_DATA_DIR`
is given; otherwise each kind of file goes where the platform expects it (platformdirs).

On POSIX what PhiDesk keeps is private: the folders it creates are 0700, and `Paths.ensure()`
makes its own existing files 0600 at every start (the database and its `-wal`/`-shm`, backups,
settings, `hosts.json`, logs). A folder the user chose with `--data-dir` that already existed
keeps its mode; the files PhiDesk keeps in it do not.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
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
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class Paths:
    """The directories PhiDesk writes to. All of them exist once `ensure()` has run."""

    data: Path
    config: Path
    logs: Path
    cache: Path
    chosen: bool = False
    """True when `data` is a folder the user named (`--data-dir`, `PHIDESK_DATA_DIR`)."""

    @classmethod
    def resolve(cls, data_dir: str | os.PathLike[str] | None = None) -> Paths:
        if isinstance(data_dir, str) and not data_dir.strip():
            raise UsageError(
                "--data-dir is empty; give the folder PhiDesk should keep its files in"
            )
        chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
        if chosen is not None:
            root = Path(chosen).expanduser().absolute()
            return cls(
                data=root, config=root, logs=root / "logs", cache=root / "cache", chosen=True
            )
        return cls(
            data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            config=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            logs=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
            cache=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        )

    def ensure(self) -> Paths:
        """Create the folders (private) and make PhiDesk's existing files private.

        The data and config folders must exist (a `UsageError` if they cannot be created); the
        log and cache folders are optional: without them PhiDesk runs without a log file.
        """
        for directory in (self.data, self.config):
            try:
                _private_dir(directory, tighten=not self.chosen)
            except OSError as exc:
                raise UsageError(
                    f"cannot create the directory {directory} ({exc.strerror}); "
                    "choose another one with --data-dir"
                ) from exc
        for directory in (self.logs, self.cache):
            with contextlib.suppress(OSError):  # no log file then; app.diagnostics says so
                _private_dir(directory, tighten=True)
        self.protect_files()
        return self

    def own_files(self) -> list[Path]:
        """PhiDesk's files that exist now: database (with -wal, -shm, backups), settings,
        hosts, and everything in the log folder."""
        found: list[Path] = []
        patterns = [(self.data, "phidesk.*"), (self.config, "settings.json*")]
        patterns += [(self.config, "hosts.json"), (self.logs, "*")]
        for folder, pattern in patterns:
            try:
                found += [p for p in folder.glob(pattern) if p.is_file()]
            except OSError:
                continue
        return sorted(set(found))

    def protect_files(self) -> None:
        """Make PhiDesk's existing files readable by their owner only (POSIX; best effort:
        a read-only file system or another owner's file is left as it is)."""
        if os.name != "posix":
            return
        for path in self.own_files():
            try:
                if stat.S_IMODE(path.stat().st_mode) & 0o077:
                    path.chmod(PRIVATE_FILE)
            except OSError:
                continue

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


def _private_dir(directory: Path, *, tighten: bool) -> None:
    """Create `directory` as 0700; if it exists and `tighten`, make it 0700 (POSIX)."""
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        tighten = True
    if tighten and os.name == "posix":
        try:
            if stat.S_IMODE(directory.stat().st_mode) & 0o077:
                directory.chmod(PRIVATE_DIR)
        except OSError:
            pass  # read-only, or another owner's: it stays as it is


# A host name (letters in any script, digits, dots, hyphens, underscores) or an IPv4 address;
# IPv6 addresses come in brackets and are checked by urlsplit.
_HOST_NAME = re.compile(r"[\w.-]+")


def _shown(value: str) -> str:
    """The host value as an error may quote it: without a password."""
    return repr(re.sub(r"//[^/@]*@", "//…@", value.strip()))


def normalize_host(value: str) -> str:
    """Turn an `OLLAMA_HOST`-style value into a base URL a client can connect to.

    Accepts what Ollama itself accepts: `host`, `host:port`, `:port`, `http(s)://host[:port][/path]`.
    A listen-on-all address (`0.0.0.0`, `::`) means "this machine" when connecting. A user name
    and password in the URL are left out (see `dropped_credentials`).
    """
    text = value.strip()
    if not text:
        raise UsageError("the Ollama host is empty; give a URL such as http://127.0.0.1:11434")
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
    except ValueError as exc:
        raise UsageError(
            f"the Ollama host {_shown(value)} is not a valid URL ({exc}); "
            "give one such as http://127.0.0.1:11434"
        ) from exc
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"the Ollama host {_shown(value)} must use http:// or https://")
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"the Ollama host {_shown(value)} has an invalid port") from exc
    if hostname and ":" not in hostname and not _HOST_NAME.fullmatch(hostname):
        raise UsageError(
            f"the Ollama host {_shown(value)} has an invalid host name; "
            "give one such as http://127.0.0.1:11434"
        )
    host = hostname or "127.0.0.1"
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
    if not env:
        return DEFAULT_HOST
    try:
        return normalize_host(env)
    except UsageError as exc:
        raise UsageError(
            f"{exc}; it comes from the OLLAMA_HOST environment variable, so correct or unset "
            "it, or pass --host"
        ) from exc


@contextlib.contextmanager
def unusable_ollama_host_hidden() -> Iterator[None]:
    """Hide an `OLLAMA_HOST` PhiDesk cannot use while the block runs (the entry point imports
    the command line inside it).

    The ollama library builds a default client from `OLLAMA_HOST` when it is imported, and a
    value such as `http://[::1` raises there, before PhiDesk can say what is wrong. PhiDesk never
    uses that client (it passes the host it resolved), so hiding the value costs nothing, and
    `resolve_host` still reports it as a usage error when it is the host in use.
    """
    value = os.environ.get("OLLAMA_HOST", "")
    try:
        if value.strip():
            normalize_host(value)
    except UsageError:
        del os.environ["OLLAMA_HOST"]
        try:
            yield
        finally:
            os.environ["OLLAMA_HOST"] = value
        return
    yield


def dropped_credentials(cli_value: str | None) -> str | None:
    """A sentence when the host in use (`--host`, else `OLLAMA_HOST`) carries a user name or
    password: PhiDesk does not send them, so the user must hear that they were left out."""
    given = cli_value if cli_value is not None else os.environ.get("OLLAMA_HOST", "")
    text = given.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        credentials = parts.username is not None or parts.password is not None
    except ValueError:
        return None
    if not credentials:
        return None
    source = "--host" if cli_value is not None else "OLLAMA_HOST"
    return (
        f"the user name and password in the Ollama host URL ({source}) are not sent, because "
        f"PhiDesk sends only an access token; it connects to {normalize_host(given)} without them"
    )


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
