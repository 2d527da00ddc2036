"""`phidesk ollama install|update|status|uninstall`: PhiDesk's own copy of Ollama from the
command line (app.backend.ollama_setup).

install and update print a progress line on stderr (one updating line on a terminal, a line
every few seconds otherwise); Ctrl-C stops the download and keeps what arrived, and running the
command again resumes it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from app.backend.events import PullProgress
from app.backend.ollama_setup import (
    InstallResult,
    InUse,
    ManagedOllama,
    NotInstalled,
    SetupError,
    UseFacts,
    choose_ollama,
    copy_in_use,
    fetch_latest,
    install_latest,
    load_state,
    program_version,
    save_state,
    update_blocker,
)
from app.backend.ollama_setup.updates import CheckState
from app.backend.server import answers
from app.cli.command import Command
from app.cli.models import ProgressBar
from app.cli.text import safe
from app.config import AppContext
from app.workspace import SettingsStore


def _managed(ctx: AppContext) -> ManagedOllama:
    return ManagedOllama.for_paths(ctx.paths)


def _note(text: str) -> None:
    print(f"phidesk: note: {safe(text)}", file=sys.stderr)


def _running(host: str) -> bool:
    return asyncio.run(answers(host))


def _loaded_models(host: str) -> int | None:
    """How many models the server at `host` has loaded, or None when it does not say."""
    import httpx  # here, not at the top: every start of PhiDesk imports this module

    try:
        response = httpx.get(f"{host}/api/ps", timeout=5.0)
        models = response.json().get("models")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return len(models) if isinstance(models, list) else None


# --- install / update -----------------------------------------------------------------------


def _install(ctx: AppContext, managed: ManagedOllama, *, server_running: bool) -> InstallResult:
    bar = ProgressBar(sys.stderr)
    last: list[PullProgress] = []

    def progress(event: PullProgress) -> None:
        last[:] = [event]
        bar.show(event)

    try:
        result = install_latest(
            managed, progress=progress, server_running=server_running, log_dir=ctx.paths.logs
        )
    except KeyboardInterrupt:
        bar.end()
        if last:
            _note("stopped; what was downloaded is kept, and running this again resumes it")
        raise
    except SetupError:
        bar.end()
        raise
    if last:
        bar.show(last[0], force=True)
    bar.end()
    if result.changed:
        save_state(
            managed, CheckState(last_check=load_state(managed).last_check, latest=result.copy.tag)
        )
    return result


def _run_install(ctx: AppContext, args: argparse.Namespace) -> int:
    managed = _managed(ctx)
    source = SettingsStore(ctx.paths.settings_file).current.ollama.source
    other = choose_ollama("installed", managed)
    result = _install(ctx, managed, server_running=False)
    if not result.changed:
        print(f"Ollama {result.copy.version} is already installed at {result.copy.binary}")
    else:
        print(f"installed Ollama {result.copy.version} at {result.copy.binary}")
    if other.binary is not None and source == "auto":
        _note(
            f"PhiDesk uses the Ollama installed at {other.binary} first; its own copy is used "
            "when that one is gone, or when you choose it in the preferences"
        )
    return 0


def _run_update(ctx: AppContext, args: argparse.Namespace) -> int:
    managed = _managed(ctx)
    copy = managed.current()
    if copy is None:
        raise NotInstalled(
            "PhiDesk has no copy of Ollama of its own to update; set one up with "
            "phidesk ollama install"
        )
    in_use = copy_in_use(managed)
    busy = False
    if in_use is not False and _running(ctx.host):
        loaded = _loaded_models(ctx.host)
        busy = bool(loaded)
        in_use = True if in_use is None else in_use
    blocker = update_blocker(UseFacts(other_process=busy))
    if blocker is not None:
        raise InUse(blocker)
    result = _install(ctx, managed, server_running=bool(in_use))
    if not result.changed:
        print(f"Ollama {copy.version} is up to date")
        return 0
    print(f"updated Ollama from {copy.version} to {result.copy.version}")
    if in_use:
        _note(
            "the Ollama that is running now is still the old one; it runs the new one the "
            "next time PhiDesk starts it"
        )
    return 0


# --- status ---------------------------------------------------------------------------------


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.add_argument(
        "--check",
        action="store_true",
        help="ask the releases API for the latest version now (else the last one known)",
    )


def _status(ctx: AppContext, check: bool) -> dict[str, Any]:
    managed = _managed(ctx)
    source = SettingsStore(ctx.paths.settings_file).current.ollama.source
    choice = choose_ollama(source, managed)
    own = managed.current()
    state = load_state(managed)
    latest = state.latest
    if check:
        latest = fetch_latest().tag
        save_state(managed, CheckState(last_check=state.last_check, latest=latest))
    version = choice.version
    if version is None and choice.binary is not None:
        version = program_version(choice.binary)
    return {
        "managed": choice.managed,
        "version": version,
        "path": str(choice.binary) if choice.binary is not None else None,
        "running": _running(ctx.host),
        "latest": (latest[1:] if latest[:1] in ("v", "V") else latest) if latest else None,
        "source": source,
        "managed_version": own.version if own is not None else None,
        "host": ctx.host,
    }


def _run_status(ctx: AppContext, args: argparse.Namespace) -> int:
    status = _status(ctx, args.check)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    if status["path"] is None:
        print("Ollama: not installed (set it up with: phidesk ollama install)")
    else:
        whose = "PhiDesk's own copy" if status["managed"] else "installed on this computer"
        print(f"Ollama: {status['version'] or 'unknown version'}, {whose}")
        print(f"path: {safe(status['path'])}")
    print(f"running: {'yes' if status['running'] else 'no'} at {status['host']}")
    if status["latest"]:
        print(f"latest: {safe(status['latest'])}")
    return 0


# --- uninstall ------------------------------------------------------------------------------


def _uninstall_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models",
        action="store_true",
        help="also delete the models in PhiDesk's own models folder (kept otherwise)",
    )


def _run_uninstall(ctx: AppContext, args: argparse.Namespace) -> int:
    managed = _managed(ctx)
    if copy_in_use(managed):
        raise InUse(
            "PhiDesk's own Ollama is running now; quit PhiDesk (or stop that server) and try again"
        )
    with managed.locked():
        removed = managed.uninstall(models=args.models)
    if not removed:
        print("PhiDesk has no copy of Ollama of its own; nothing was removed")
        return 0
    print(f"removed PhiDesk's own Ollama from {managed.root}")
    if not args.models and managed.models.exists():
        print(f"kept the models in {managed.models} (remove them with --models)")
    return 0


# --- the command ----------------------------------------------------------------------------


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    return None


ACTIONS: list[Command] = [
    Command(
        name="install",
        help="download the latest Ollama into PhiDesk's data folder (Ctrl-C stops; "
        "running it again resumes)",
        add_arguments=_no_arguments,
        run=_run_install,
    ),
    Command(
        name="update",
        help="update PhiDesk's own Ollama to the latest release",
        add_arguments=_no_arguments,
        run=_run_update,
    ),
    Command(
        name="status",
        help="which Ollama PhiDesk uses, its version, whether it runs, and the latest release",
        add_arguments=_status_arguments,
        run=_run_status,
    ),
    Command(
        name="uninstall",
        help="remove PhiDesk's own Ollama (its models stay unless --models is given)",
        add_arguments=_uninstall_arguments,
        run=_run_uninstall,
    ),
]


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action in ACTIONS:
        child = actions.add_parser(action.name, help=action.help, description=action.help)
        action.add_arguments(child)
        child.set_defaults(ollama_run=action.run)


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    status: int = args.ollama_run(ctx, args)
    return status


COMMANDS: list[Command] = [
    Command(
        name="ollama",
        help="set up, update, check or remove PhiDesk's own copy of Ollama",
        add_arguments=_arguments,
        run=_run,
    ),
]
