"""The ollama library, imported on first use with `OLLAMA_HOST` out of its sight.

The library builds a default client from `OLLAMA_HOST` while it is imported, and a value it
cannot parse (`http://[::1`) raises there. PhiDesk never uses that default client (every client
it builds is given the host PhiDesk resolved, which reports a bad value as a usage error when it
is the host in use), so the variable is hidden for the import and put back after it.
"""

from __future__ import annotations

import importlib
import os
import sys


def load_ollama() -> None:
    """Import the ollama library if it is not imported yet; call before `import ollama`."""
    if "ollama" in sys.modules:
        return
    value = os.environ.pop("OLLAMA_HOST", None)
    try:
        importlib.import_module("ollama")
    finally:
        if value is not None:
            os.environ["OLLAMA_HOST"] = value
