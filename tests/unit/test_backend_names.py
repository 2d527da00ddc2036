"""Model names are checked before anything is sent, with Ollama's own rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.backend.errors import InvalidModelName
from app.backend.names import ModelName, parse_model_name, validate_model_name


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("phi4", ModelName("phi4")),
        ("phi4-mini:3.8b", ModelName("phi4-mini", "3.8b")),
        ("phi4-reasoning:14b-plus-q8_0", ModelName("phi4-reasoning", "14b-plus-q8_0")),
        ("zac/phi4-tools", ModelName("phi4-tools", None, "zac")),
        (
            "hf.co/bartowski/phi-4-GGUF:Q4_K_M",
            ModelName("phi-4-GGUF", "Q4_K_M", "bartowski", "hf.co"),
        ),
        (
            "hf.co/unsloth/Phi-4-mini-instruct-GGUF:Phi-4-mini-instruct.Q8_0.gguf",
            ModelName(
                "Phi-4-mini-instruct-GGUF", "Phi-4-mini-instruct.Q8_0.gguf", "unsloth", "hf.co"
            ),
        ),
        ("localhost:5000/team/phi4:latest", ModelName("phi4", "latest", "team", "localhost:5000")),
    ],
)
def test_valid_names_parse(name: str, parsed: ModelName) -> None:
    assert parse_model_name(name) == parsed
    assert validate_model_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "phi4 mini",
        "phi4:",
        ":latest",
        "-phi4",
        "phi4:-x",
        "a/b/c/d",
        "name.space/model",
        "phi4@sha256:abc",
        "phi4;rm -rf",
        "phi4:tag/with",
        "x" * 81,
        "ph\u00ef4",
    ],
)
def test_invalid_names_are_refused_with_one_sentence(name: str) -> None:
    with pytest.raises(InvalidModelName) as caught:
        validate_model_name(name)
    message = str(caught.value)
    assert "\n" not in message
    assert "not a valid model name" in message


def test_display_fills_the_defaults_like_ollama_list() -> None:
    assert parse_model_name("phi4").display == "phi4:latest"
    assert parse_model_name("library/phi4:14b").display == "phi4:14b"
    assert parse_model_name("hf.co/u/r:Q8_0").display == "hf.co/u/r:Q8_0"


@given(st.text(max_size=30))
def test_any_string_is_either_valid_or_refused_cleanly(text: str) -> None:
    try:
        parsed = parse_model_name(text)
    except InvalidModelName as exc:
        message = str(exc)
    else:
        assert str(parsed) == text.removeprefix("https://").removeprefix("http://")
        return
    assert "\n" not in message
