"""The doctor's Ollama line when nothing answers and no Ollama is on this computer: offer to set
up PhiDesk's own copy (the window shows a "Set up Ollama" button, the command line the advice)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from app.backend.hosts import is_loopback
from app.backend.ollama_setup import ManagedOllama
from app.backend.server import find_ollama
from app.config import Paths

if TYPE_CHECKING:
    from app.workspace.doctor import Check

SET_UP_OLLAMA = "set-up-ollama"
SET_UP_ADVICE = (
    "no Ollama was found on this computer, so choose Set up Ollama (or run phidesk ollama "
    "install) to get PhiDesk's own copy"
)


def offer_set_up(line: Check, paths: Paths, host: str, env: Mapping[str, str]) -> Check:
    """`line` (the Ollama check, a problem) with the advice and the action to set Ollama up, when
    the host is this computer and neither an installed Ollama nor PhiDesk's own copy is found."""
    if not is_loopback(host) or ManagedOllama.for_paths(paths).current() is not None:
        return line
    if find_ollama(env) is not None:
        return line
    # "start it (ollama serve)" would send the user looking for a program that is not there.
    return replace(line, advice=SET_UP_ADVICE, action=SET_UP_OLLAMA)
