"""The pytest fixture that starts the OpenAI-compatible test double (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.openai_double.server import OpenAIDouble


@pytest.fixture
def openai_double() -> Iterator[OpenAIDouble]:
    """A started `OpenAIDouble` on a free port of 127.0.0.1 (`.url` ends with `/v1`), stopped
    after the test. Knobs: `.require_key`, `.serve`, `.script_reply`, `.set_fault`,
    `.state.usage`, `.state.reasoning_field`, `.state.props_n_ctx`; `.requests_to(path)`."""
    double = OpenAIDouble()
    double.start()
    try:
        yield double
    finally:
        double.stop()
