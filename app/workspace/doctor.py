"""`phidesk doctor` and Help > Diagnose: is everything PhiDesk needs in working order?

Each check is a small function returning a `Check` (ok, warning, problem or unknown, what was
found, and what to do). `run_checks` runs them all, the slow ones (SQLite, GPU tools, the
keyring, D-Bus) on worker threads, and never raises: a check that breaks reports "unknown".

The doctor never writes anything. Folders are tested with `os.access`; the database is read
through a read-only connection, `immutable` when no other process has it open, so that not even
a `-wal` or `-shm` file appears next to it (a read-only SQLite connection creates both when a WAL
database has none). Qt-free: the window passes what only Qt knows (is there a tray?) as an
argument.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from app.backend.catalog import Catalog, default_catalog
from app.backend.client import MIN_OLLAMA_VERSION, OllamaClient, parse_version, version_warning
from app.backend.hardware import GIB, ToolRunner, probe_gpus, run_tool
from app.backend.hosts import HostProfiles, is_loopback
from app.backend.models import InstalledModel
from app.config import Paths
from app.errors import PhiDeskError
from app.resources import katex_dir, resources_dir
from app.secrets import TokenStore
from app.store import migrate
from app.workspace.desktop_probe import NO_TRAY, probe_shortcut, probe_tray
from app.workspace.doctor_setup import offer_set_up

log = logging.getLogger(__name__)

CALL_SECONDS = 10.0
"""How long one Ollama request may take before the doctor calls the server unresponsive."""
LOW_DISK_BYTES = 200 * 1000 * 1000
LOW_GPU_BYTES = GIB

MIN_VERSION_FOR_MODEL: Mapping[str, tuple[int, ...]] = {"phi4-mini": (0, 5, 13)}
"""The oldest Ollama that can load a catalog entry at all, where one is known. An older server
is a problem for that model; one older than `MIN_OLLAMA_VERSION` is a warning (the context meter
needs `/api/ps` context lengths, docs/ollama-behaviour.md §0)."""

UPDATE_OLLAMA = "update Ollama (ollama.com/download, or your package manager)"
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the diagnosis: `advice` says what to do ("" when nothing)."""

    name: str
    status: Status
    detail: str
    advice: str = ""
    action: str = ""  # a button a window may offer ("set-up-ollama"); the CLI ignores it

    def line(self) -> str:
        advice = f"; {self.advice}" if self.advice else ""
        return f"{self.status.value:<7}  {self.name}: {self.detail}{advice}"

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "advice": self.advice,
        }


def shown(text: object) -> str:
    """Text from a server or a file, with control and bidi-override characters made visible."""
    return _CONTROLS.sub("\N{REPLACEMENT CHARACTER}", str(text))


def has_problem(checks: Sequence[Check]) -> bool:
    return any(check.status is Status.PROBLEM for check in checks)


def _version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def _size(count: float) -> str:
    if count >= GIB / 10:
        return f"{count / GIB:.1f} GiB"
    return f"{count / 1e6:.0f} MB" if count >= 1e6 else f"{count / 1e3:.0f} KB"


# --- Ollama -------------------------------------------------------------------------------------


async def _ask[T](call: Awaitable[T]) -> T:
    return await asyncio.wait_for(call, CALL_SECONDS)


async def check_ollama(client: OllamaClient) -> tuple[Check, str | None]:
    """The server line, and its version when it answered."""
    try:
        version = shown(await _ask(client.version()))
    except TimeoutError:
        detail = f"the server at {client.host} did not answer within {CALL_SECONDS:g} s"
        return Check("Ollama", Status.PROBLEM, detail, "restart Ollama"), None
    except PhiDeskError as exc:  # its sentences say what happened; what to do after a ";"
        detail, _, advice = shown(exc).partition("; ")
        return Check("Ollama", Status.PROBLEM, detail, advice), None
    except ValueError:  # a body that is not JSON: a web page, a proxy's error page
        detail = f"the server at {client.host} does not look like Ollama"
        return Check("Ollama", Status.PROBLEM, detail, "check the address (--host)"), None
    if version_warning(version) is not None:
        need = _version_text(MIN_OLLAMA_VERSION)
        detail = (
            f"version {version} at {client.host} is older than {need}: the context meter and "
            "the reasoning display may be wrong"
        )
        return Check("Ollama", Status.WARNING, detail, f"update Ollama to {need} or newer"), version
    return Check("Ollama", Status.OK, f"version {version} at {client.host}"), version


def _catalog() -> Catalog | None:
    try:
        return default_catalog()
    except (PhiDeskError, OSError) as exc:
        log.warning("model catalog unavailable to the doctor: %s", exc)
        return None


def check_model(model: InstalledModel, capabilities: tuple[str, ...] | None, version: str) -> Check:
    """An installed model: what it can do, and whether this Ollama is new enough for it."""
    name = f"Model {shown(model.name)}"
    catalog = _catalog()
    match = catalog.lookup(model.name) if catalog is not None else None
    if match is not None:
        need = MIN_VERSION_FOR_MODEL.get(match.entry.name)
        have = parse_version(version)
        if need is not None and have and have < need:
            detail = (
                f"{match.entry.display_name} needs Ollama {_version_text(need)} or newer, but "
                f"the server runs {version}"
            )
            return Check(name, Status.PROBLEM, detail, UPDATE_OLLAMA)
    if capabilities is None:
        return Check(name, Status.UNKNOWN, "the server did not describe it (/api/show failed)")
    if not capabilities:
        return Check(name, Status.OK, f"Ollama {version} does not report what models can do")
    listed = ", ".join(shown(c) for c in capabilities)
    if "completion" not in capabilities:
        advice = "choose another model for chats"
        return Check(name, Status.WARNING, f"it cannot chat (it offers {listed})", advice)
    return Check(name, Status.OK, f"offers {listed}")


async def check_models(client: OllamaClient, version: str | None) -> list[Check]:
    if version is None:
        return [Check("Models", Status.UNKNOWN, "Ollama did not answer, so its models are unknown")]
    try:
        installed = await _ask(client.list_models())
    except (PhiDeskError, TimeoutError) as exc:
        detail = f"listing the models failed ({shown(exc) or 'no answer'})"
        return [Check("Models", Status.PROBLEM, detail, "run the doctor again")]
    if not installed:
        advice = "download one with: phidesk pull phi4-mini"
        return [Check("Models", Status.WARNING, "no model is installed", advice)]

    async def capabilities(model: InstalledModel) -> tuple[str, ...] | None:
        try:
            return (await _ask(client.show(model.name))).capabilities
        except (PhiDeskError, TimeoutError, ValueError) as exc:
            log.info("doctor: /api/show %s failed: %r", model.name, exc)
            return None

    found = await asyncio.gather(*(capabilities(model) for model in installed))
    return [check_model(m, c, version) for m, c in zip(installed, found, strict=True)]


# --- this machine -------------------------------------------------------------------------------


def check_gpu(host: str, run: ToolRunner = run_tool) -> Check:
    """The GPUs of this machine, when Ollama runs on it (`run` runs nvidia-smi and the like)."""
    if not is_loopback(host):
        detail = f"Ollama runs on another machine ({host}), whose GPU cannot be seen from here"
        return Check("GPU", Status.UNKNOWN, detail)
    probe = probe_gpus(run)
    if probe.cpu_only:
        why = "; ".join(probe.problems) or "no GPU tool answered"
        advice = "if this computer has an NVIDIA or AMD GPU, install its driver"
        return Check("GPU", Status.WARNING, f"none found ({why}): models run on the CPU", advice)
    parts = [
        f"{shown(gpu.name)} ({gpu.backend}): {_size(gpu.free_bytes)} free of "
        f"{_size(gpu.total_bytes)}"
        for gpu in probe.gpus
    ]
    if all(gpu.free_bytes < LOW_GPU_BYTES for gpu in probe.gpus):
        advice = "close programs that use the GPU, or models will run on the CPU"
        return Check("GPU", Status.WARNING, "; ".join(parts), advice)
    return Check("GPU", Status.OK, "; ".join(parts))


def _folder_problem(folder: Path) -> str | None:
    """Why PhiDesk could not write in `folder` (or create it), or None."""
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if folder.is_dir():
        return None if os.access(folder, os.W_OK | os.X_OK) else f"{folder} is not writable"
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{folder} cannot be created: {parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{folder} cannot be created: {parent} is not writable"
    return None


def check_folders(paths: Paths) -> Check:
    folders = list(dict.fromkeys((paths.data, paths.config, paths.logs, paths.cache)))
    for folder in folders:
        problem = _folder_problem(folder)
        if problem is not None:
            advice = "move that file aside, fix the permissions, or choose another --data-dir"
            return Check("Data folder", Status.PROBLEM, problem, advice)
    try:
        free = shutil.disk_usage(paths.data if paths.data.is_dir() else paths.data.parent).free
    except OSError:
        free = None
    where = f"PhiDesk can write in {paths.data}"
    if paths.config != paths.data:
        where += " and its other folders"
    if free is not None and free < LOW_DISK_BYTES:
        detail = f"{where}, but its disk has only {_size(free)} free"
        return Check("Data folder", Status.WARNING, detail, "free some disk space")
    return Check("Data folder", Status.OK, where)


def backups_of(database: Path) -> list[Path]:
    """The backups PhiDesk took beside the database (app.store.migrate.backup), oldest first."""
    try:
        found = list(database.parent.glob(f"{database.stem}.backup-*.sqlite3"))
        return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))
    except OSError:
        return []


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write, and that creates no `-wal`/`-shm`: `immutable` unless
    another process has the database open (its `-wal` exists; then plain read-only, which
    uses the files that are already there)."""
    live = Path(f"{path}-wal").exists()
    uri = f"{path.absolute().as_uri()}?mode=ro" + ("" if live else "&immutable=1")
    return sqlite3.connect(uri, uri=True, timeout=2.0)


def _integrity(path: Path, quick: bool = False) -> str:
    """SQLite's verdict: "ok", or the first thing it found wrong."""
    pragma = "quick_check(1)" if quick else "integrity_check(1)"
    connection = _read_only(path)
    try:
        row = connection.execute(f"PRAGMA {pragma}").fetchone()
    finally:
        connection.close()
    return str(row[0]).splitlines()[0] if row else "no answer"


def _revision(path: Path) -> tuple[bool, str | None]:
    """(PhiDesk's?, schema revision) through a read-only connection."""
    connection = _read_only(path)
    try:
        tables = {
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
            )
        }
        if "alembic_version" not in tables:
            return not tables, None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        connection.close()
    return True, None if row is None else str(row[0])


def _damaged_advice(backups: Sequence[Path]) -> str:
    if backups:
        return (
            f"quit PhiDesk, move the file aside and copy the newest backup, {backups[-1].name}, "
            "in its place"
        )
    return "quit PhiDesk and move the file aside to start with an empty database (it has no backup)"


def check_database(paths: Paths) -> tuple[Check, Check]:
    """The database file's integrity and its schema version."""
    path = paths.database
    if not paths.data.is_dir():
        unusable = Check("Database", Status.UNKNOWN, f"the data folder {paths.data} is not usable")
        return unusable, replace(unusable, name="Schema")
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        fresh = Check("Database", Status.OK, "none yet: PhiDesk creates it when it first needs it")
        return fresh, Check("Schema", Status.OK, "none yet: set up with the database")
    if not path.is_file() or not os.access(path, os.R_OK | os.W_OK):
        problem = (
            Check("Database", Status.PROBLEM, f"{path} is not a file", "move it aside")
            if not path.is_file()
            else Check(
                "Database", Status.PROBLEM, f"{path} cannot be written", "fix its permissions"
            )
        )
        return problem, Check("Schema", Status.UNKNOWN, "the database cannot be read")
    size = path.stat().st_size
    was_live = Path(f"{path}-wal").exists()
    try:
        verdict = _integrity(path)
        ours, revision = _revision(path)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            busy = Check(
                "Database",
                Status.WARNING,
                f"{path} is busy: another PhiDesk is writing to it",
                "run the doctor again when it has finished",
            )
            return busy, Check("Schema", Status.UNKNOWN, "the database is busy")
        verdict, ours, revision = str(exc), True, None
    except sqlite3.DatabaseError as exc:
        verdict, ours, revision = str(exc), True, None
    if verdict != "ok":
        if not was_live and Path(f"{path}-wal").exists():
            changed = f"{path} changed while it was being checked"
            return (
                Check("Database", Status.WARNING, changed, "run the doctor again"),
                Check("Schema", Status.UNKNOWN, changed),
            )
        damaged = f"{path} is damaged ({shown(verdict)})"
        return (
            Check("Database", Status.PROBLEM, damaged, _damaged_advice(backups_of(path))),
            Check("Schema", Status.UNKNOWN, "the database is damaged"),
        )
    database = Check(
        "Database", Status.OK, f"{path} passed SQLite's integrity check ({_size(size)})"
    )
    return database, check_schema(path, ours, revision)


def check_schema(path: Path, ours: bool, revision: str | None) -> Check:
    if not ours:
        advice = "move it aside, or choose another --data-dir"
        return Check("Schema", Status.PROBLEM, f"{path} holds another program's tables", advice)
    head = migrate.head_revision()
    if revision is None:
        return Check("Schema", Status.OK, "empty: PhiDesk sets it up when it first opens it")
    if revision == head:
        return Check("Schema", Status.OK, f"revision {revision}, the newest")
    if revision in migrate.known_revisions():
        detail = (
            f"revision {revision}: PhiDesk upgrades it to {head} (after a backup) when it opens it"
        )
        return Check("Schema", Status.OK, detail)
    detail = f"revision {shown(revision)} was written by a newer PhiDesk"
    return Check("Schema", Status.PROBLEM, detail, "install that PhiDesk version or newer")


def check_backups(paths: Paths) -> Check:
    backups = backups_of(paths.database)
    if not backups:
        return Check("Backups", Status.OK, "none yet: PhiDesk takes one before each schema upgrade")
    newest = backups[-1]
    try:
        verdict = _integrity(newest, quick=True)
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    count = f"{len(backups)} beside the database"
    if verdict != "ok":
        detail = f"{count}; the newest, {newest.name}, is damaged ({shown(verdict)})"
        return Check("Backups", Status.WARNING, detail, "keep the older ones")
    return Check("Backups", Status.OK, f"{count}; the newest is {newest.name}")


def check_keyring(paths: Paths) -> Check:
    store = TokenStore()
    if store.keyring_available:
        return Check("Keyring", Status.OK, f"tokens go to {store.describe_backend()}")
    try:
        with_tokens = [p for p in HostProfiles(paths, tokens=store).all() if p.has_token]
    except (OSError, PhiDeskError):
        with_tokens = []
    detail = "none is available, so tokens for remote servers last only until PhiDesk closes"
    if with_tokens:
        detail += f"; the saved tokens of {len(with_tokens)} server(s) cannot be read"
    advice = "start a Secret Service (GNOME Keyring or KWallet) if you use remote servers"
    return Check("Keyring", Status.WARNING, detail, advice)


def check_katex() -> Check:
    try:
        found = katex_dir()
        resources = resources_dir()
    except FileNotFoundError as exc:
        return Check("KaTeX", Status.PROBLEM, str(exc), "reinstall PhiDesk")
    if found is None:
        detail = f"katex.min.js is missing from {resources / 'web'}: formulas show as TeX source"
        advice = "reinstall PhiDesk (in a source checkout, run npm ci in resources/web)"
        return Check("KaTeX", Status.WARNING, detail, advice)
    return Check("KaTeX", Status.OK, f"found in {found}")


# --- all of them --------------------------------------------------------------------------------


async def _guarded[T](name: str, work: Awaitable[T], fallback: Callable[[str], T]) -> T:
    try:
        return await work
    except Exception as exc:  # the doctor reports; it never fails
        log.warning("doctor: the %s check failed", name, exc_info=True)
        return fallback(f"the check itself failed ({type(exc).__name__}: {shown(exc)})")


def _thread[T](name: str, work: Callable[[], T], fallback: Callable[[str], T]) -> Awaitable[T]:
    return _guarded(name, asyncio.to_thread(work), fallback)


def _unknown(name: str) -> Callable[[str], Check]:
    return lambda why: Check(name, Status.UNKNOWN, why)


async def run_checks(
    paths: Paths,
    client: OllamaClient,
    *,
    tray: bool | None = None,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
) -> list[Check]:
    """Every check, in the order they are shown. `tray` is the window's own answer (Qt knows
    best); without it the environment and D-Bus are asked. Never raises, never writes."""
    env = dict(os.environ if environ is None else environ)
    system = sys.platform if platform is None else platform

    async def server() -> list[Check]:
        line, version = await check_ollama(client)
        if line.status is Status.PROBLEM:
            line = await asyncio.to_thread(offer_set_up, line, paths, client.host, env)
        return [line, *await check_models(client, version)]

    def server_failed(why: str) -> list[Check]:
        return [Check("Ollama", Status.UNKNOWN, why)]

    def database_failed(why: str) -> tuple[Check, Check]:
        return Check("Database", Status.UNKNOWN, why), Check("Schema", Status.UNKNOWN, why)

    def desktop() -> list[Check]:
        if tray is None:
            found = Check("Tray", *_finding(probe_tray(env, system)))
        elif tray:
            found = Check("Tray", Status.OK, "the desktop shows tray icons")
        else:
            found = Check("Tray", *_finding(NO_TRAY))
        return [found, Check("Global shortcut", *_finding(probe_shortcut(env, system)))]

    def desktop_failed(why: str) -> list[Check]:
        return [Check("Tray", Status.UNKNOWN, why), Check("Global shortcut", Status.UNKNOWN, why)]

    server_lines, machine, files = await asyncio.gather(
        _guarded("Ollama", server(), server_failed),
        asyncio.gather(
            _thread("GPU", lambda: check_gpu(client.host), _unknown("GPU")),
            _thread("Data folder", lambda: check_folders(paths), _unknown("Data folder")),
            _thread("Keyring", lambda: check_keyring(paths), _unknown("Keyring")),
            _thread("KaTeX", check_katex, _unknown("KaTeX")),
        ),
        asyncio.gather(
            _thread("Database", lambda: check_database(paths), database_failed),
            _thread("Backups", lambda: check_backups(paths), _unknown("Backups")),
            _thread("Desktop", desktop, desktop_failed),
        ),
    )
    gpu, folders, keys, katex = machine
    (database, schema), backups, desktop_lines = files
    return [*server_lines, gpu, folders, database, schema, backups, keys, *desktop_lines, katex]


def _finding(finding: tuple[str, str, str]) -> tuple[Status, str, str]:
    status, detail, advice = finding
    return Status(status), detail, advice
