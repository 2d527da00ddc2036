"""`phidesk engines add|list|test|rm` and `phidesk models --engine NAME`: engine profiles from
the command line. An API key is read from stdin only (`--api-key-stdin`), never from an
argument, which other users could see in the process list."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.backend.engines import ENGINE_KINDS
from app.backend.engines.remote_models import RemoteModel
from app.cli.command import Command
from app.cli.text import safe, safe_json
from app.cli.workspace import run_with_workspace
from app.config import AppContext
from app.errors import UsageError
from app.workspace import Workspace
from app.workspace.engine_profiles import PRESETS, EngineProfile

PRESET_IDS = tuple(p.id for p in PRESETS)


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not K=V")
    return name.strip(), value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add an engine (a server that answers chats)")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--url", help="its base URL (a missing /v1 is added for kind openai)")
    add.add_argument("--kind", choices=ENGINE_KINDS, default="openai")
    add.add_argument(
        "--preset", choices=PRESET_IDS, help="fill in the URL, key header and model list"
    )
    add.add_argument(
        "--api-key-stdin", action="store_true", help="read the API key from stdin (one line)"
    )
    add.add_argument(
        "--header",
        type=_header,
        action="append",
        default=[],
        metavar="K=V",
        help="an extra header on every request (kept in the keyring); may repeat",
    )
    add.add_argument("--api-version", metavar="V", help="Azure's api-version query parameter")
    add.add_argument("--no-verify-tls", action="store_true", help="accept any TLS certificate")
    add.add_argument("--ca-bundle", metavar="PATH", help="trust the CAs in this PEM file")
    add.add_argument("--proxy", metavar="URL", help="reach the server through this proxy")
    add.add_argument(
        "--allow-insecure",
        action="store_true",
        help="send the key over plain http:// to another machine",
    )
    listing = sub.add_parser("list", help="list the engines")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    test = sub.add_parser("test", help="connect to an engine and count its models")
    test.add_argument("name", metavar="NAME")
    remove = sub.add_parser("rm", help="remove an engine and its secrets")
    remove.add_argument("name", metavar="NAME")


def _profile_json(profile: EngineProfile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "kind": profile.kind,
        "url": profile.url,
        "default": profile.is_default,
        "has_key": profile.has_key,
        "secret_headers": list(profile.secret_headers),
        "api_version": profile.api_version,
        "verify_tls": profile.verify_tls,
    }


def _run(ctx: AppContext, args: argparse.Namespace) -> int:
    action: str = args.action
    if action == "add":
        return _run_add(ctx, args)
    if action == "list":
        profiles = run_with_workspace(ctx, _profiles, readonly=True)
        if args.json:
            print(safe_json([_profile_json(p) for p in profiles]))
            return 0
        for p in profiles:
            key = "key" if p.has_key else "-"
            mark = "*" if p.is_default else " "
            print(f"{safe(p.name):<16}{mark} {p.kind:<7} {key:<4} {safe(p.url)}")
        return 0
    if action == "test":
        name: str = args.name

        async def test(workspace: Workspace) -> str:
            return (await workspace.test_engine(name)).sentence

        print(run_with_workspace(ctx, test, readonly=True))
        return 0
    gone: str = args.name

    async def remove(workspace: Workspace) -> None:
        await workspace.remove_engine(gone)

    run_with_workspace(ctx, remove)
    print(f"removed engine {safe(gone)}")
    return 0


async def _profiles(workspace: Workspace) -> list[EngineProfile]:
    return workspace.engine_profiles()


def _run_add(ctx: AppContext, args: argparse.Namespace) -> int:
    preset = next((p for p in PRESETS if p.id == args.preset), None)
    url = args.url or (preset.url if preset else None)
    if not url:
        raise UsageError("engines add needs --url URL (or --preset)")
    if "HOST" in url or "RESOURCE" in url:
        raise UsageError(f"fill in the server's address in {url} and give it with --url")
    key = sys.stdin.readline().strip() if args.api_key_stdin else None
    headers = dict(args.header)
    kind = args.kind

    async def add(workspace: Workspace) -> EngineProfile:
        return workspace.add_engine(
            args.name,
            url,
            kind=kind,
            api_key=key or None,
            headers=headers,
            key_header=preset.key_header if preset else "Authorization",
            api_version=args.api_version or (preset.api_version if preset else None),
            verify_tls=not args.no_verify_tls,
            ca_bundle=args.ca_bundle,
            proxy=args.proxy,
            models_url=preset.models_url if preset else None,
            confirm_insecure=args.allow_insecure,
        )

    profile = run_with_workspace(ctx, add)
    print(f"added engine {safe(profile.name)} ({profile.kind}, {safe(profile.url)})")
    if profile.key_session_only:
        print(
            "phidesk: warning: no keyring is available, so the key was not kept; add the "
            "engine again where a keyring runs",
            file=sys.stderr,
        )
    return 0


def model_rows(models: list[RemoteModel], engine: str) -> list[dict[str, Any]]:
    return [
        {
            "engine": engine,
            "id": m.id,
            "context_length": m.known_context,
            "context_from": "server"
            if m.context_length
            else "catalog"
            if m.known_context
            else None,
            "phi4": m.phi4,
            "family": m.catalog_name,
        }
        for m in models
    ]


def run_models(ctx: AppContext, args: argparse.Namespace) -> int:
    """`phidesk models --engine NAME [--all] [--json]`."""
    name: str = args.engine
    every: bool = args.all

    async def fetch(workspace: Workspace) -> list[RemoteModel]:
        return await workspace.engine_models(name, all_models=every)

    rows = model_rows(run_with_workspace(ctx, fetch, readonly=True), name)
    if args.json:
        print(safe_json(rows))
        return 0
    if not rows:
        print(f"engine {safe(name)} offers no Phi-4 model; --all lists every model")
        return 0
    for row in rows:
        context = str(row["context_length"] or "?")
        print(f"{safe(row['id']):<48} {context:>8}  {safe(row['family'] or '-')}")
    return 0


COMMANDS: list[Command] = [
    Command(
        name="engines",
        help="add, list, test or remove engines (Ollama hosts, OpenAI-compatible servers)",
        add_arguments=_add_arguments,
        run=_run,
    ),
]
