"""Validate JSON against the component schemas of Ollama's own OpenAPI description.

The YAML is vendored in the repository as `tests/data/ollama-openapi.yaml` (its source and
licence are in `tests/data/README.md`). If it is missing, `openapi_validator()` fails the calling
test: a validation that silently does not run would hide a broken double.

OpenAPI 3.1 schemas are JSON Schema 2020-12 with a few extras; `translate` turns the 3.0-style
`nullable: true` into a `"null"` type and leaves the rest (unknown keywords such as `example` are
ignored by JSON Schema). `format: date-time` is checked with `datetime.fromisoformat`.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "data" / "ollama-openapi.yaml"
BASE_URI = "urn:ollama:openapi"


def translate(node: Any) -> Any:
    """OpenAPI schema → JSON Schema 2020-12 (nullable → null type), recursively."""
    if isinstance(node, list):
        return [translate(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: translate(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        kind = result.get("type")
        if isinstance(kind, str):
            result["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            result["type"] = [*kind, "null"]
        elif kind is None and "$ref" in result:
            result = {"anyOf": [{"$ref": result.pop("$ref")}, {"type": "null"}], **result}
    return result


_formats = FormatChecker()


@_formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    datetime.fromisoformat(value)
    return True


class OpenAPIValidator:
    """Validates instances against `#/components/schemas/<Name>` of the OpenAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = translate(document)
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(BASE_URI, resource)
        self.schema_names = set(self.document["components"]["schemas"])
        self._validators: dict[str, Draft202012Validator] = {}

    def errors(self, schema_name: str, instance: Any) -> list[str]:
        if schema_name not in self.schema_names:
            raise KeyError(f"{schema_name} is not a component schema of the OpenAPI document")
        validator = self._validators.get(schema_name)
        if validator is None:
            validator = Draft202012Validator(
                {"$ref": f"{BASE_URI}#/components/schemas/{schema_name}"},
                registry=self.registry,
                format_checker=_formats,
            )
            self._validators[schema_name] = validator
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(instance)
        ]

    def validate(self, schema_name: str, instance: Any) -> None:
        problems = self.errors(schema_name, instance)
        assert not problems, f"{schema_name} does not accept {instance!r}: {problems}"


@cache
def _load(path: Path) -> OpenAPIValidator:
    return OpenAPIValidator(yaml.safe_load(path.read_text()))


def openapi_validator() -> OpenAPIValidator:
    """The validator for tests/data/ollama-openapi.yaml; fails the test if the file is absent."""
    if not OPENAPI_PATH.is_file():
        pytest.fail(f"Ollama's OpenAPI description is missing: {OPENAPI_PATH} (see tests/data)")
    return _load(OPENAPI_PATH)
