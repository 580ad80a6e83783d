"""OpenAI's OpenAPI component schemas, fixed for JSON-Schema validation and cached on disk."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_ENV = "OPENAI_OPENAPI_SPEC"
"""The environment variable naming OpenAI's published openapi.yaml (`.ci/run` sets it)."""

MISSING_REASON = (
    f"OpenAI's published spec is not available: set {SPEC_ENV} to its openapi.yaml "
    "(a checkout of github.com/openai/openai-openapi) to run the contract checks"
)


def spec_path() -> Path | None:
    """The spec file named by OPENAI_OPENAPI_SPEC, or None when it is unset or missing."""
    value = os.environ.get(SPEC_ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_file() else None


def require_spec() -> Path:
    """The spec's path; skips the calling test, with the reason, when it is not available."""
    path = spec_path()
    if path is None:
        import pytest

        pytest.skip(MISSING_REASON)
    return path


_CACHE_FORMAT = 2  # bump when the fixes below change, to invalidate old cache files
_ROOT_URI = "urn:openai-openapi"
# Annotation keywords that validators ignore; dropped so the cache is small and loads fast.
_ANNOTATIONS = frozenset(
    {"description", "example", "examples", "x-oaiMeta", "x-oaiExpandable", "title", "deprecated"}
)
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs"})
_SCHEMA_VALUES = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "unevaluatedProperties",
        "unevaluatedItems",
    }
)
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
# A gap in the spec, not a README quirk: OpenAI answers an empty list with `"first_id": null,
# "last_id": null`, while these schemas demand strings. The fake sends what the service sends.
_NULLABLE_CURSORS = (
    "ListMessagesResponse",
    "ListRunsResponse",
    "ListRunStepsResponse",
    "ConversationItemList",
)


def fix_schema(schema: Any) -> Any:
    """Return a copy of one schema with the README's quirks fixed (nullable, discriminator)."""
    if not isinstance(schema, Mapping):
        return schema
    fixed: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS or key in ("discriminator", "nullable"):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            fixed[key] = {name: fix_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            fixed[key] = fix_schema(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            fixed[key] = [fix_schema(sub) for sub in value]
        else:
            fixed[key] = value
    if schema.get("nullable") is True:
        fixed = _make_nullable(fixed)
    return fixed


def _make_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Turn OpenAPI 3.0's `nullable: true` into what a 3.1 validator understands."""
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
        return schema
    if isinstance(kind, list):
        if "null" not in kind:
            schema["type"] = [*kind, "null"]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _cache_file(path: Path) -> Path:
    """Name the cache file after the spec's path, size and mtime, so an edited spec is re-read."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{_CACHE_FORMAT}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"fake-openai-schemas-{digest}.json"


def _parse_yaml(path: Path) -> dict[str, Any]:
    """Parse the spec (about 1 s with libyaml) and return its fixed component schemas."""
    import yaml  # only needed on a cache miss

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as handle:
        document = yaml.load(handle, Loader=loader)
    schemas = {
        name: fix_schema(schema) for name, schema in document["components"]["schemas"].items()
    }
    for name in _NULLABLE_CURSORS:
        for key in ("first_id", "last_id"):
            schemas[name]["properties"][key] = {"type": ["string", "null"]}
    return schemas


@functools.cache
def load_schemas(path: Path) -> dict[str, Any]:
    """Return the fixed component schemas, parsed once per process and cached as JSON on disk."""
    cache = _cache_file(path)
    try:
        return dict(json.loads(cache.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
    schemas = _parse_yaml(path)
    text = json.dumps(schemas, default=str, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=cache.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, cache)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
    return dict(json.loads(text))


class SchemaValidator:
    """Validate JSON values against named component schemas of the spec."""

    def __init__(self, path: Path) -> None:
        """Load (or reuse) the fixed schemas of the spec at `path`."""
        self.schemas = load_schemas(path)
        root = {"components": {"schemas": self.schemas}}
        resource = Resource.from_contents(root, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_ROOT_URI, resource)
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}

    def _validator(self, name: str) -> jsonschema.Draft202012Validator:
        """Build (once) the validator for component schema `name`."""
        if name not in self.schemas:
            raise KeyError(f"no component schema named {name!r} in the spec")
        validator = self._validators.get(name)
        if validator is None:
            ref = {"$ref": f"{_ROOT_URI}#/components/schemas/{name}"}
            validator = jsonschema.Draft202012Validator(ref, registry=self._registry)
            self._validators[name] = validator
        return validator

    def errors(self, name: str, instance: Any) -> list[str]:
        """Return readable validation errors of `instance` against schema `name` (empty: valid)."""
        validator = self._validator(name)
        if validator.is_valid(instance):
            return []
        best = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if best is None:
            return [f"{name}: invalid"]
        best = _deepest(best)
        where = "/".join(str(part) for part in best.absolute_path) or "<root>"
        return [f"{name} at {where}: {best.message[:300]}"]

    def validate(self, name: str, instance: Any) -> None:
        """Raise AssertionError if `instance` does not match schema `name`."""
        problems = self.errors(name, instance)
        if problems:
            raise AssertionError("; ".join(problems))


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Follow a failed oneOf/anyOf into the branch that was meant (not the wrong-type ones)."""
    while error.context:
        meant = [e for e in error.context if not _wrong_branch(e)] or list(error.context)
        error = max(meant, key=lambda e: len(e.absolute_path))
    return error


def _wrong_branch(error: jsonschema.ValidationError) -> bool:
    """Tell whether an error only says the value is another variant (its `type`/`event` differ)."""
    path = list(error.relative_path)
    return error.validator in ("enum", "const") and bool(path) and path[-1] in ("type", "event")


@functools.cache
def _validator(path: Path) -> SchemaValidator:
    return SchemaValidator(path)


def shared_validator(path: Path | None = None) -> SchemaValidator:
    """Return one SchemaValidator per spec file for the whole process (skips without a spec)."""
    return _validator(path or require_spec())
