"""Model names as Ollama accepts them: `[host/][namespace/]model[:tag]`, checked before sending.

The rules follow Ollama's own parser (docs/ollama-behaviour.md §1, `types/model/name.go`): every
part starts with a letter, digit or underscore and goes on with letters, digits, `_` and `-`; the
model and tag may also hold `.`, the host may hold `.` and one `:port`. Host up to 350 characters,
the others up to 80. `hf.co/user/repo[:quant]` is an ordinary three-part name whose host is `hf.co`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.backend.errors import InvalidModelName

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_PART = {
    "host": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,349}(:[0-9]{1,5})?"),
    "namespace": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,79}"),
    "model": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}"),
    "tag": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}"),
}


@dataclass(frozen=True, slots=True)
class ModelName:
    """A parsed model name. `host`/`namespace` are None when the name left them to defaults."""

    model: str
    tag: str | None = None
    namespace: str | None = None
    host: str | None = None

    def __str__(self) -> str:
        parts = [p for p in (self.host, self.namespace, self.model) if p is not None]
        text = "/".join(parts)
        return f"{text}:{self.tag}" if self.tag is not None else text

    @property
    def display(self) -> str:
        """The name as `ollama list` shows it: defaults left out, tag always present."""
        parts: list[str] = []
        if self.host is not None and self.host != DEFAULT_HOST:
            parts.append(self.host)
            parts.append(self.namespace or DEFAULT_NAMESPACE)
        elif self.namespace is not None and self.namespace != DEFAULT_NAMESPACE:
            parts.append(self.namespace)
        parts.append(self.model)
        return "/".join(parts) + ":" + (self.tag or DEFAULT_TAG)


def _invalid(name: str, why: str) -> InvalidModelName:
    shown = name if len(name) <= 60 else name[:57] + "..."
    return InvalidModelName(
        f"{shown!r} is not a valid model name ({why}); "
        "use [host/][namespace/]model[:tag], for example phi4-mini:3.8b"
    )


def parse_model_name(name: str) -> ModelName:
    """Parse and validate a name, or raise `InvalidModelName` with one clear sentence."""
    if not isinstance(name, str) or not name.strip():
        raise _invalid(str(name), "it is empty")
    if name != name.strip() or any(ch.isspace() for ch in name):
        raise _invalid(name, "it contains spaces")
    text = name
    for scheme in ("https://", "http://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
            break
    if "@" in text:
        raise _invalid(name, "digests are not supported here")
    tag: str | None = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _PART["tag"].fullmatch(tag):
            raise _invalid(name, f"the tag {tag!r} has characters Ollama does not allow")
    parts = text.split("/")
    if len(parts) > 3:
        raise _invalid(name, "it has more than three /-separated parts")
    kinds = ("host", "namespace", "model")[3 - len(parts) :]
    values = dict(zip(kinds, parts, strict=True))
    for kind, value in values.items():
        if not value:
            raise _invalid(name, f"the {kind} part is empty")
        if not _PART[kind].fullmatch(value):
            raise _invalid(name, f"the {kind} {value!r} has characters Ollama does not allow")
    return ModelName(
        model=values["model"],
        tag=tag,
        namespace=values.get("namespace"),
        host=values.get("host"),
    )


def validate_model_name(name: str) -> str:
    """Return the name unchanged if Ollama would accept it; otherwise raise `InvalidModelName`."""
    parse_model_name(name)
    return name
