"""pytest fixtures that start the Ollama test double (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ollama_double.fake_ollama import write_fake_ollama
from tests.ollama_double.server import OllamaDouble


@pytest.fixture
def ollama_double() -> Iterator[OllamaDouble]:
    """A started `OllamaDouble` on a free port of 127.0.0.1, stopped after the test.

    Default models are installed (phi4, phi4-mini, phi4-reasoning, phi4-mini-reasoning); use
    `.url`, `.set_fault(...)`, `.clear_faults()`, `.script_reply(...)` and `.requests`.
    """
    double = OllamaDouble()
    double.start()
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture
def fake_ollama_bin(tmp_path: Path) -> Path:
    """A directory holding only a fake `ollama` executable (prepend it to PATH).

    `ollama serve` starts the double on OLLAMA_HOST and, when PHIDESK_FAKE_OLLAMA_RECORD names a
    file, writes the OLLAMA_* (and GPU visibility) environment it got there as JSON;
    `ollama --version` prints a version. See tests.ollama_double.fake_ollama for the knobs.
    """
    directory = tmp_path / "fake-ollama-bin"
    directory.mkdir()
    write_fake_ollama(directory)
    return directory
