"""The Phi-4 catalog: its data's shape, the loader, and name lookup of installed models."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from app.backend.catalog import (
    CATALOG_FILE,
    Catalog,
    CatalogError,
    architecture_for,
    catalog_dir,
    default_catalog,
    estimate_variant,
    load_catalog,
    normalize_model_name,
    parse_catalog,
)
from app.backend.hardware import Gpu, GpuVendor
from app.backend.memory import GIB, KIB, MIB, Fit, kv_bytes_per_token
from app.resources import resources_dir

CATALOG_PATH = resources_dir() / "catalog" / CATALOG_FILE
SCHEMA_PATH = resources_dir() / "catalog" / "catalog.schema.json"


def shipped_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return document


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


# --- the data ------------------------------------------------------------------------------------


def test_catalog_is_found_in_resources() -> None:
    assert catalog_dir() == resources_dir() / "catalog"
    assert CATALOG_PATH.is_file()


def test_shipped_catalog_matches_its_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(shipped_document(), schema())


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("models", 0, "variants", 0, "source"), "civitai"),
        (("models", 0, "context_length"), "16K"),
        (("models", 1, "architecture", "head_count_kv"), 0),
        (("models", 2, "variants"), []),
        (("models", 3, "good_for"), "x" * 300),
    ],
)
def test_schema_rejects_a_broken_catalog(path: tuple[str | int, ...], value: object) -> None:
    document = copy.deepcopy(shipped_document())
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema())


def test_the_whole_family_is_there_with_trained_contexts() -> None:
    catalog = default_catalog()
    contexts = {entry.name: entry.context_length for entry in catalog.entries}
    assert contexts == {
        "phi4": 16384,
        "phi4-mini": 131072,
        "phi4-reasoning": 32768,
        "phi4-reasoning-plus": 32768,
        "phi4-mini-reasoning": 131072,
    }
    for entry in catalog.entries:
        assert entry.licence == "MIT"
        assert entry.good_for.strip() and "\n" not in entry.good_for
        assert entry.architecture.architecture == "phi3"
    assert "tools" in catalog.entry("phi4-mini").capabilities  # type: ignore[union-attr]


def test_every_member_has_the_three_library_quantizations() -> None:
    for entry in default_catalog().entries:
        library = entry.variants_from("ollama")
        assert {v.quantization for v in library} == {"Q4_K_M", "Q8_0", "F16"}
        assert all(v.name.startswith(f"{entry.ollama_model}:") for v in library)
        sizes = {v.quantization: v.size_bytes for v in library}
        assert sizes["Q4_K_M"] < sizes["Q8_0"] < sizes["F16"]  # type: ignore[operator]
        recommended = [v for v in entry.variants if v.recommended]
        assert recommended == [entry.recommended_variant]
        assert entry.recommended_variant.quantization == "Q4_K_M"


def test_hugging_face_variants_are_pull_names_with_a_quantization_tag() -> None:
    hf = [v for entry in default_catalog().entries for v in entry.variants_from("huggingface")]
    assert len(hf) >= 20
    for variant in hf:
        assert re.fullmatch(r"hf\.co/[\w.-]+/[\w.-]+:[\w-]+", variant.name), variant.name
        assert variant.name.endswith(f":{variant.quantization}")
    quants = {v.quantization for v in hf}
    assert {"Q3_K_M", "Q5_K_M", "Q6_K"} <= quants


def test_sizes_are_marked_approximate_and_match_the_reference() -> None:
    catalog = default_catalog()
    for entry in catalog.entries:
        for variant in entry.variants:
            assert variant.size_approximate
    sizes = {v.name: v.size_bytes for e in catalog.entries for v in e.variants}
    assert sizes["phi4:14b-q4_K_M"] == 9_100_000_000
    assert sizes["phi4-mini:3.8b-q4_K_M"] == 2_500_000_000
    assert sizes["phi4-reasoning:14b-q8_0"] == 16_000_000_000
    assert sizes["hf.co/bartowski/phi-4-GGUF:Q6_K"] == 12_030_000_000
    assert sizes["hf.co/unsloth/Phi-4-mini-instruct-GGUF:Q3_K_M"] == 2_120_000_000
    assert sizes["hf.co/unsloth/Phi-4-reasoning-plus-GGUF:UD-Q4_K_XL"] is None


def test_catalog_architecture_gives_the_reference_kv_sizes() -> None:
    catalog = default_catalog()
    per_token = {e.name: kv_bytes_per_token(e.architecture) for e in catalog.entries}
    assert per_token == {
        "phi4": 200 * KIB,
        "phi4-reasoning": 200 * KIB,
        "phi4-reasoning-plus": 200 * KIB,
        "phi4-mini": 128 * KIB,
        "phi4-mini-reasoning": 128 * KIB,
    }


# --- lookup --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("installed", "entry", "variant"),
    [
        ("phi4", "phi4", "phi4:14b-q4_K_M"),
        ("phi4:latest", "phi4", "phi4:14b-q4_K_M"),
        ("phi4:14b", "phi4", "phi4:14b-q4_K_M"),
        ("phi4:14b-q8_0", "phi4", "phi4:14b-q8_0"),
        ("Phi4:14B-FP16", "phi4", "phi4:14b-fp16"),
        ("registry.ollama.ai/library/phi4-mini:latest", "phi4-mini", "phi4-mini:3.8b-q4_K_M"),
        ("phi4-reasoning:plus", "phi4-reasoning-plus", "phi4-reasoning:14b-plus-q4_K_M"),
        ("phi4-reasoning:14b", "phi4-reasoning", "phi4-reasoning:14b-q4_K_M"),
        ("phi4-mini-reasoning:3.8b-q8_0", "phi4-mini-reasoning", "phi4-mini-reasoning:3.8b-q8_0"),
        (
            "hf.co/bartowski/phi-4-GGUF:Q5_K_M",
            "phi4",
            "hf.co/bartowski/phi-4-GGUF:Q5_K_M",
        ),
        ("hf.co/bartowski/phi-4-GGUF", "phi4", "hf.co/bartowski/phi-4-GGUF:Q4_K_M"),
        (
            "huggingface.co/unsloth/Phi-4-mini-instruct-GGUF:q6_k",
            "phi4-mini",
            "hf.co/unsloth/Phi-4-mini-instruct-GGUF:Q6_K",
        ),
    ],
)
def test_installed_names_resolve_to_entry_and_variant(
    installed: str, entry: str, variant: str
) -> None:
    match = default_catalog().lookup(installed)
    assert match is not None
    assert match.entry.name == entry
    assert match.variant is not None and match.variant.name == variant


@pytest.mark.parametrize(
    ("installed", "entry"),
    [
        ("phi4:my-system-prompt", "phi4"),
        ("phi4-reasoning:14b-plus-q5_K_M", "phi4-reasoning-plus"),
        ("phi4-reasoning:14b-q5_K_M", "phi4-reasoning"),
        ("hf.co/bartowski/phi-4-GGUF:IQ2_M", "phi4"),
    ],
)
def test_unlisted_tags_of_a_known_model_find_the_entry_only(installed: str, entry: str) -> None:
    match = default_catalog().lookup(installed)
    assert match is not None
    assert match.entry.name == entry
    assert match.variant is None


@pytest.mark.parametrize(
    "installed", ["llama3.2", "mario:latest", "phi3:mini", "hf.co/someone/other-GGUF:Q4_K_M", ""]
)
def test_models_not_in_the_catalog_are_fine(installed: str) -> None:
    assert default_catalog().lookup(installed) is None


def test_variant_for_quantization_prefers_the_library() -> None:
    phi4 = default_catalog().entry("phi4")
    assert phi4 is not None
    library = phi4.variant_for_quantization("q4_K_M")
    assert library is not None and library.name == "phi4:14b-q4_K_M"
    hf = phi4.variant_for_quantization("Q4_K_M", source="huggingface")
    assert hf is not None and hf.source == "huggingface"
    only_hf = phi4.variant_for_quantization("Q6_K")
    assert only_hf is not None and only_hf.name.startswith("hf.co/")
    assert phi4.variant_for_quantization("Q1_0") is None


def test_normalized_names() -> None:
    assert normalize_model_name(" Phi4 ") == "phi4:latest"
    assert normalize_model_name("library/phi4:14b") == "phi4:14b"
    assert normalize_model_name("localhost:5000/team/phi4") == "localhost:5000/team/phi4:latest"
    assert normalize_model_name("HuggingFace.co/A/B:Q4_K_M") == "hf.co/a/b:q4_k_m"


# --- loader errors -------------------------------------------------------------------------------


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_loader_reads_other_files_too(tmp_path: Path) -> None:
    document = shipped_document()
    document["models"] = document["models"][:1]
    catalog = load_catalog([write(tmp_path, document)])
    assert [entry.name for entry in catalog.entries] == ["phi4"]


def test_newer_format_is_refused_with_a_clear_sentence(tmp_path: Path) -> None:
    document = {**shipped_document(), "schema_version": 2}
    with pytest.raises(CatalogError, match="format version 2"):
        load_catalog([write(tmp_path, document)])


def test_malformed_json_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text('{"schema_version": 1, "models": [', encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_catalog([path])


def test_missing_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot be read"):
        load_catalog([tmp_path / "nope.json"])


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("models", 0, "variants"), [], "lists no variants"),
        (("models", 0, "architecture", "block_count"), True, "block_count"),
        (("models", 0, "variants", 0, "size_bytes"), -5, "size_bytes"),
        (("models", 0, "variants", 0, "source"), "ftp", "source"),
        (("models", 0, "reasoning"), "maybe", "reasoning"),
        (("models", 0, "display_name"), " ", "display_name"),
    ],
)
def test_loader_refuses_damaged_entries(
    path: tuple[str | int, ...], value: object, message: str
) -> None:
    document = copy.deepcopy(shipped_document())
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(CatalogError, match=message):
        parse_catalog(document)


def test_a_name_listed_twice_is_refused() -> None:
    entries = parse_catalog(shipped_document())
    with pytest.raises(CatalogError, match="twice"):
        Catalog([*entries, entries[0]])


# --- estimates from the catalog ------------------------------------------------------------------


def test_architecture_comes_from_model_info_when_installed() -> None:
    match = default_catalog().lookup("phi4-mini")
    # A model_info with a key_length the catalog does not have: the installed model's facts win.
    info = {
        "general.architecture": "phi3",
        "phi3.block_count": 32,
        "phi3.embedding_length": 3072,
        "phi3.attention.head_count": 24,
        "phi3.attention.head_count_kv": 8,
        "phi3.attention.key_length": 64,
        "phi3.attention.value_length": 64,
    }
    installed = architecture_for(info, match)
    assert installed is not None and kv_bytes_per_token(installed) == 32 * 8 * 128 * 2
    from_catalog = architecture_for(None, match)
    assert from_catalog is not None and kv_bytes_per_token(from_catalog) == 128 * KIB
    unreadable = architecture_for({"general.architecture": "phi3"}, match)
    assert unreadable == from_catalog
    assert architecture_for(None, None) is None


def test_fit_badges_for_8gb_and_24gb_gpus() -> None:
    gpu_8 = Gpu(0, "8 GB", GpuVendor.NVIDIA, 8 * GIB, 7 * GIB + 512 * MIB)
    gpu_24 = Gpu(0, "24 GB", GpuVendor.NVIDIA, 24 * GIB, 23 * GIB + 512 * MIB)
    catalog = default_catalog()

    def badge(variant_name: str, gpu: Gpu, num_ctx: int = 4096) -> Fit:
        match = catalog.lookup(variant_name)
        assert match is not None and match.variant is not None
        result = estimate_variant(match.entry, match.variant, num_ctx, gpus=[gpu])
        assert result is not None
        return result.fit

    assert badge("phi4-mini:3.8b-q4_K_M", gpu_8) is Fit.GPU
    assert badge("phi4:14b-q4_K_M", gpu_8) is Fit.PARTIAL
    assert badge("phi4:14b-q4_K_M", gpu_24, 16384) is Fit.GPU
    assert badge("phi4:14b-fp16", gpu_24) is Fit.PARTIAL
    # phi4-reasoning at 32K: 6.25 GiB of KV and ~4.2 GiB of compute on top of the weights.
    assert badge("phi4-reasoning:14b-q4_K_M", gpu_24, 32768) is Fit.GPU  # ~21 GiB
    assert badge("phi4-reasoning:14b-q8_0", gpu_24, 32768) is Fit.PARTIAL  # ~25.8 GiB


def test_no_estimate_without_a_size() -> None:
    match = default_catalog().lookup("hf.co/unsloth/Phi-4-reasoning-plus-GGUF:UD-Q4_K_XL")
    assert match is not None and match.variant is not None
    assert estimate_variant(match.entry, match.variant, 4096) is None
