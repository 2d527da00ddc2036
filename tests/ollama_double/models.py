"""The models the Ollama double knows: what is installed by default and what the "registry" offers.

Facts (architecture, layer and head counts, trained context, capabilities, approximate download
sizes) follow docs/ollama-behaviour.md §1.7 and §7. Byte sizes and parameter counts are plausible
round figures, not the registry's exact numbers (which that file marks unverified).

Model names follow Ollama's `[host/][namespace/]model[:tag]` shape: the tag defaults to `latest`,
`registry.ollama.ai/library/` is the implied prefix, and names compare case-insensitively.
Section numbers (§) in this module are those of docs/ollama-behaviour.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

GIB = 1024**3

# Go template text in Ollama's style (authored here, not copied): ChatML with <|im_sep|> for phi4
# and phi4-reasoning, <|role|>…<|end|> for the mini models.
IM_TEMPLATE = (
    "{{- range $i, $_ := .Messages }}"
    "{{- $last := eq (len (slice $.Messages $i)) 1 -}}"
    "<|im_start|>{{ .Role }}<|im_sep|>{{ .Content }}<|im_end|>"
    '{{- if and $last (ne .Role "assistant") }}<|im_start|>assistant<|im_sep|>{{ end }}'
    "{{- end }}"
)
MINI_TEMPLATE = (
    "{{- if .System }}<|system|>{{ .System }}<|end|>{{ end }}"
    "{{- range .Messages }}<|{{ .Role }}|>{{ .Content }}<|end|>{{ end }}<|assistant|>"
)
MINI_THINKING_TEMPLATE = (
    "{{- if .System }}<|system|>{{ .System }}<|end|>{{ end }}"
    "{{- range .Messages }}<|{{ .Role }}|>"
    "{{- if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}<|end|>{{ end }}"
    "<|assistant|>"
)


def _parameters(*pairs: tuple[str, str]) -> str:
    """Modelfile PARAMETER lines as /api/show prints them (name padded to 31 columns)."""
    return "\n".join(f"{name:<31}{value}" for name, value in pairs)


IM_STOPS = (("stop", '"<|im_start|>"'), ("stop", '"<|im_end|>"'), ("stop", '"<|im_sep|>"'))
IM_PARAMETERS = _parameters(*IM_STOPS)
MINI_PARAMETERS = _parameters(
    ("stop", '"<|end|>"'), ("stop", '"<|user|>"'), ("stop", '"<|assistant|>"')
)
REASONING_PARAMETERS = _parameters(
    *IM_STOPS, ("temperature", "0.8"), ("top_k", "50"), ("top_p", "0.95")
)
REASONING_SYSTEM = (
    "You are Phi, a language model trained by Microsoft to help users. Your role as an assistant "
    "involves thoroughly exploring questions through a systematic thinking process before "
    "providing the final precise and accurate solutions. Please structure your response into two "
    "main sections: Thought and Solution using the specified format: <think> {Thought section} "
    "</think> {Solution section}."
)
MIT_LICENSE = (
    "Microsoft.\nCopyright (c) Microsoft Corporation.\n\nMIT License\n\n"
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this "
    'software and associated documentation files (the "Software"), to deal in the Software '
    "without restriction, including without limitation the rights to use, copy, modify, merge, "
    "publish, distribute, sublicense, and/or sell copies of the Software.\n"
)

# GGUF general.file_type values for the quantizations used here.
FILE_TYPES = {
    "F32": 0,
    "F16": 1,
    "Q4_0": 2,
    "Q8_0": 7,
    "Q2_K": 10,
    "Q3_K_M": 12,
    "Q4_K_S": 14,
    "Q4_K_M": 15,
    "Q5_K_M": 17,
    "Q6_K": 18,
    "BF16": 32,
}


@dataclass(frozen=True)
class Layer:
    """One blob of a model manifest (weights, template, licence, params, system)."""

    media_type: str
    digest: str  # "sha256:<64 hex>"
    size: int


@dataclass(frozen=True)
class ModelSpec:
    """Everything the double reports about one model (one registry tag)."""

    name: str  # canonical, e.g. "phi4:latest"
    architecture: str  # GGUF general.architecture: "phi3" (or "llama" for llamafied GGUFs)
    parameter_size: str  # "14.7B"
    parameter_count: int
    quantization: str  # "Q4_K_M"
    context_length: int  # trained context (<arch>.context_length)
    block_count: int
    head_count: int
    head_count_kv: int
    embedding_length: int
    rope_dimension_count: int
    size: int  # bytes on disk, all layers
    capabilities: tuple[str, ...]
    template: str
    parameters: str
    system: str = ""  # baked SYSTEM prompt, prepended when the first message is not "system"
    inline_think: bool = False  # answers start with <think>…</think> inside content
    prompt_style: str = "im"  # "im" (<|im_start|>) or "mini" (<|user|>)
    license: str = MIT_LICENSE
    layers: tuple[Layer, ...] = field(default=())

    @property
    def family(self) -> str:
        return self.architecture

    @property
    def thinking(self) -> bool:
        return "thinking" in self.capabilities

    @property
    def digest(self) -> str:
        """The manifest digest (64 hex, no prefix), as /api/tags and /api/ps show it."""
        seed = "\n".join(layer.digest for layer in self.layers)
        return hashlib.sha256(f"manifest:{seed}".encode()).hexdigest()

    @property
    def file_type(self) -> int:
        return FILE_TYPES.get(self.quantization.upper(), 15)

    def details(self) -> dict[str, object]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization,
        }

    def model_info(self, *, verbose: bool = False) -> dict[str, object]:
        arch = self.architecture
        info: dict[str, object] = {
            "general.architecture": arch,
            "general.file_type": self.file_type,
            "general.parameter_count": self.parameter_count,
            "general.quantization_version": 2,
            f"{arch}.context_length": self.context_length,
            f"{arch}.embedding_length": self.embedding_length,
            f"{arch}.block_count": self.block_count,
            f"{arch}.attention.head_count": self.head_count,
            f"{arch}.attention.head_count_kv": self.head_count_kv,
            f"{arch}.rope.dimension_count": self.rope_dimension_count,
            f"{arch}.feed_forward_length": self.embedding_length * 7 // 2,
            "tokenizer.ggml.model": "gpt2",
            # Arrays longer than 5 come back empty unless verbose (§1.7).
            "tokenizer.ggml.tokens": ["!", '"', "#", "$", "%", "&", "'"] if verbose else [],
        }
        if arch == "phi3":
            info["phi3.attention.sliding_window"] = 131072
        return info

    def full_name(self) -> str:
        """The name Ollama uses in some messages: host/namespace/model:tag."""
        return full_name(self.name)

    def kv_cache_bytes(self, num_ctx: int) -> int:
        """f16 KV cache for one slot (§8.1)."""
        head_dim = self.embedding_length // self.head_count
        return num_ctx * self.block_count * self.head_count_kv * 2 * head_dim * 2

    def weights_bytes(self) -> int:
        return sum(layer.size for layer in self.layers if layer.media_type.endswith(".model"))


def _digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def _layers(
    seed: str, size: int, *, system: str, template: str, parameters: str
) -> tuple[Layer, ...]:
    small = [
        Layer("application/vnd.ollama.image.template", _digest(f"{seed}:template"), len(template)),
        Layer(
            "application/vnd.ollama.image.license", _digest("license:mit-phi4"), len(MIT_LICENSE)
        ),
        Layer("application/vnd.ollama.image.params", _digest(f"{seed}:params"), len(parameters)),
    ]
    if system:
        small.append(
            Layer("application/vnd.ollama.image.system", _digest(f"{seed}:system"), len(system))
        )
    weights = size - sum(layer.size for layer in small)
    return (
        Layer("application/vnd.ollama.image.model", _digest(f"{seed}:weights"), weights),
        *small,
    )


def _spec(**kwargs: object) -> ModelSpec:
    spec = ModelSpec(**kwargs)  # type: ignore[arg-type]
    weights_seed = spec.name
    layers = _layers(
        weights_seed,
        spec.size,
        system=spec.system,
        template=spec.template,
        parameters=spec.parameters,
    )
    return ModelSpec(**{**kwargs, "layers": layers})  # type: ignore[arg-type]


_PHI4_SHAPE: dict[str, object] = {
    "architecture": "phi3",
    "parameter_size": "14.7B",
    "parameter_count": 14_659_507_200,
    "block_count": 40,
    "head_count": 40,
    "head_count_kv": 10,
    "embedding_length": 5120,
    "rope_dimension_count": 128,
    "template": IM_TEMPLATE,
    "prompt_style": "im",
}
_MINI_SHAPE: dict[str, object] = {
    "architecture": "phi3",
    "parameter_size": "3.8B",
    "parameter_count": 3_836_021_760,
    "block_count": 32,
    "head_count": 24,
    "head_count_kv": 8,
    "embedding_length": 3072,
    "rope_dimension_count": 96,
    "prompt_style": "mini",
}


_FAMILIES: dict[str, dict[str, object]] = {
    "phi4": {
        **_PHI4_SHAPE,
        "context_length": 16384,
        "capabilities": ("completion",),
        "parameters": IM_PARAMETERS,
    },
    "phi4-mini": {
        **_MINI_SHAPE,
        "context_length": 131072,
        "capabilities": ("completion", "tools"),
        "parameters": MINI_PARAMETERS,
        "template": MINI_TEMPLATE,
    },
    "phi4-reasoning": {
        **_PHI4_SHAPE,
        "context_length": 32768,
        "capabilities": ("completion",),
        "parameters": REASONING_PARAMETERS,
        "system": REASONING_SYSTEM,
        "inline_think": True,
    },
    "phi4-mini-reasoning": {
        **_MINI_SHAPE,
        "context_length": 131072,
        "capabilities": ("completion", "thinking"),
        "parameters": MINI_PARAMETERS,
        "template": MINI_THINKING_TEMPLATE,
    },
}

# (name, family, quantization, size in GB) — Ollama library tags observed in §7 with
# their approximate download sizes; the first tag of each family is what `latest` points at.
_LIBRARY: tuple[tuple[str, str, str, float], ...] = (
    ("phi4:14b-q4_K_M", "phi4", "Q4_K_M", 9.05),
    ("phi4:14b-q8_0", "phi4", "Q8_0", 15.58),
    ("phi4:14b-fp16", "phi4", "F16", 29.32),
    ("phi4-mini:3.8b-q4_K_M", "phi4-mini", "Q4_K_M", 2.49),
    ("phi4-mini:3.8b-q8_0", "phi4-mini", "Q8_0", 4.08),
    ("phi4-mini:3.8b-fp16", "phi4-mini", "F16", 7.67),
    ("phi4-reasoning:14b-q4_K_M", "phi4-reasoning", "Q4_K_M", 11.09),
    ("phi4-reasoning:14b-q8_0", "phi4-reasoning", "Q8_0", 15.58),
    ("phi4-reasoning:14b-fp16", "phi4-reasoning", "F16", 29.32),
    ("phi4-reasoning:14b-plus-q4_K_M", "phi4-reasoning", "Q4_K_M", 11.09),
    ("phi4-reasoning:14b-plus-q8_0", "phi4-reasoning", "Q8_0", 15.58),
    ("phi4-reasoning:14b-plus-fp16", "phi4-reasoning", "F16", 29.32),
    ("phi4-mini-reasoning:3.8b-q4_K_M", "phi4-mini-reasoning", "Q4_K_M", 3.16),
    ("phi4-mini-reasoning:3.8b-q8_0", "phi4-mini-reasoning", "Q8_0", 4.08),
    ("phi4-mini-reasoning:3.8b-fp16", "phi4-mini-reasoning", "F16", 7.67),
)
# Tags that are the same manifest as another tag.
_LIBRARY_ALIASES: dict[str, str] = {
    "phi4:latest": "phi4:14b-q4_K_M",
    "phi4:14b": "phi4:14b-q4_K_M",
    "phi4-mini:latest": "phi4-mini:3.8b-q4_K_M",
    "phi4-mini:3.8b": "phi4-mini:3.8b-q4_K_M",
    "phi4-reasoning:latest": "phi4-reasoning:14b-q4_K_M",
    "phi4-reasoning:14b": "phi4-reasoning:14b-q4_K_M",
    "phi4-reasoning:plus": "phi4-reasoning:14b-plus-q4_K_M",
    "phi4-mini-reasoning:latest": "phi4-mini-reasoning:3.8b-q4_K_M",
    "phi4-mini-reasoning:3.8b": "phi4-mini-reasoning:3.8b-q4_K_M",
}
# Hugging Face GGUF repos (§7): repo → (family, architecture, {QUANT: size in GB}).
# unsloth/phi-4-GGUF is a "llamafied" conversion (llama.* keys; unverified),
# which exercises clients that read general.architecture before composing keys.
_HUGGING_FACE: dict[str, tuple[str, str, dict[str, float]]] = {
    "bartowski/phi-4-GGUF": (
        "phi4",
        "phi3",
        {
            "F16": 29.32,
            "Q8_0": 15.58,
            "Q6_K": 12.03,
            "Q5_K_M": 10.60,
            "Q4_K_M": 9.05,
            "Q4_K_S": 8.44,
            "Q4_0": 8.41,
        },
    ),
    "unsloth/phi-4-GGUF": (
        "phi4",
        "llama",
        {
            "F16": 29.3,
            "Q2_K": 5.61,
            "Q3_K_M": 7.19,
            "Q4_K_M": 8.89,
            "Q5_K_M": 10.4,
            "Q6_K": 12.0,
            "Q8_0": 15.6,
        },
    ),
    "unsloth/Phi-4-mini-instruct-GGUF": (
        "phi4-mini",
        "phi3",
        {
            "Q2_K": 1.68,
            "Q3_K_M": 2.12,
            "Q4_K_M": 2.49,
            "Q5_K_M": 2.85,
            "Q6_K": 3.16,
            "Q8_0": 4.08,
            "BF16": 7.68,
        },
    ),
    "bartowski/microsoft_Phi-4-reasoning-GGUF": (
        "phi4-reasoning",
        "phi3",
        {"BF16": 29.32, "Q8_0": 15.58, "Q6_K": 12.03, "Q5_K_M": 10.60, "Q4_K_M": 9.05},
    ),
}


# Byte sizes other suites already rely on (kept stable since the first version of the double).
_EXACT_SIZES: dict[str, int] = {
    "phi4:14b-q4_K_M": 9_053_116_391,
    "phi4:14b-q8_0": 15_580_500_128,
    "phi4-mini:3.8b-q4_K_M": 2_491_876_774,
    "phi4-mini:3.8b-fp16": 7_668_555_360,
    "phi4-reasoning:14b-q4_K_M": 11_092_070_455,
    "phi4-reasoning:14b-plus-q4_K_M": 11_092_070_911,
    "phi4-mini-reasoning:3.8b-q4_K_M": 3_155_023_381,
    "hf.co/unsloth/phi-4-GGUF:Q5_K_M": 10_435_376_608,
}


def _size(gb: float, seed: str) -> int:
    """A byte count near `gb` gigabytes that differs per model (deterministic)."""
    if seed in _EXACT_SIZES:
        return _EXACT_SIZES[seed]
    return int(gb * 1e9) + int(hashlib.sha256(seed.encode()).hexdigest()[:6], 16)


def _build_registry() -> dict[str, ModelSpec]:
    registry: dict[str, ModelSpec] = {}
    for name, family, quant, gb in _LIBRARY:
        registry[name] = _spec(
            name=name, quantization=quant, size=_size(gb, name), **_FAMILIES[family]
        )
    for alias, target in _LIBRARY_ALIASES.items():
        registry[alias] = ModelSpec(**{**registry[target].__dict__, "name": alias})
    for repo, (family, arch, quants) in _HUGGING_FACE.items():
        for quant, gb in quants.items():
            name = f"hf.co/{repo}:{quant}"
            fields = {**_FAMILIES[family], "architecture": arch}
            registry[name] = _spec(name=name, quantization=quant, size=_size(gb, name), **fields)
        if "Q4_K_M" in quants:  # no tag: Q4_K_M when the repo has it (§5)
            default = registry[f"hf.co/{repo}:Q4_K_M"]
            registry[f"hf.co/{repo}:latest"] = ModelSpec(
                **{**default.__dict__, "name": f"hf.co/{repo}:latest"}
            )
    return registry


REGISTRY: dict[str, ModelSpec] = _build_registry()
DEFAULT_INSTALLED: tuple[str, ...] = (
    "phi4:latest",
    "phi4-mini:latest",
    "phi4-reasoning:latest",
    "phi4-mini-reasoning:latest",
)

_PART = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}"
_HOST = r"[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]{1,5})?"
_NAME_RE = re.compile(
    rf"^(?:(?P<host>{_HOST})/)?(?:(?P<namespace>{_PART})/)?(?P<model>{_PART})(?::(?P<tag>{_PART}))?$"
)


def canonical_name(name: str) -> str | None:
    """`phi4` → `phi4:latest`; `registry.ollama.ai/library/phi4:14b` → `phi4:14b`.

    Returns None for a name Ollama would reject as invalid.
    """
    name = name.strip()
    match = _NAME_RE.match(name)
    if match is None:
        return None
    host, namespace, model, tag = match.group("host", "namespace", "model", "tag")
    if host is not None and namespace is None:
        # "a/b" is namespace/model, not host/model.
        if not re.fullmatch(_PART, host):
            return None
        host, namespace = None, host
    tag = tag or "latest"
    if host is not None and host.lower() == "registry.ollama.ai":
        host = None
    if host is None and namespace is not None and namespace.lower() == "library":
        namespace = None
    prefix = ""
    if host is not None:
        prefix += host + "/"
    if namespace is not None:
        prefix += namespace + "/"
    return f"{prefix}{model}:{tag}"


def full_name(name: str) -> str:
    """`phi4:latest` → `registry.ollama.ai/library/phi4:latest`; names with a host stay."""
    parts = name.split("/")
    if len(parts) == 1:
        return f"registry.ollama.ai/library/{name}"
    if len(parts) == 2:
        return f"registry.ollama.ai/{name}"
    return name


def lookup(table: dict[str, ModelSpec], name: str) -> ModelSpec | None:
    """Find `name` in `table` (keys canonical) the way Ollama does: canonical, case-insensitive."""
    canon = canonical_name(name)
    if canon is None:
        return None
    if canon in table:
        return table[canon]
    lowered = canon.lower()
    for key, spec in table.items():
        if key.lower() == lowered:
            return spec
    return None
