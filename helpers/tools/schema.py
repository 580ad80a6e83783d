"""JSON Schemas from Python type hints and Google-style docstrings, for tool parameters.

Supported hints: ``str int float bool None``, ``X | None`` / ``Optional[X]``, other unions,
``Literal[...]``, ``Enum`` subclasses, ``list[T]``, ``Sequence[T]``, ``tuple[T, ...]``,
``tuple[A, B]``, ``dict[str, T]``, ``Any``, ``TypedDict`` and dataclass classes, and
``Annotated[T, "description"]``. Anything else is refused with ``TypeError`` when the tool is
defined, so a plugin with a type the model cannot fill in fails at start-up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, NotRequired, Required, Union

__all__ = ["from_json", "is_optional", "parse_docstring", "schema_for", "signature_schema"]

_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
}
_ARGS_HEADERS = frozenset({"Args:", "Arguments:", "Parameters:"})
_ARG_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def signature_schema(
    fn: Callable[..., Any],
    arguments: Sequence[inspect.Parameter],
    arg_docs: Mapping[str, str],
    where: str,
) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
    """The closed object schema for ``fn``'s model-visible ``arguments``.

    Returns the schema, the resolved type hints, and the optional arguments without a default
    (the tool gets None for them when the model leaves them out).
    """
    for p in arguments:
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            raise TypeError(f"{where}: parameter {p.name!r} must be a plain named parameter")
    hints = _argument_hints(fn, [p.name for p in arguments], where)
    properties: dict[str, Any] = {}
    required: list[str] = []
    fill_none: list[str] = []
    for p in arguments:
        if p.name not in hints:
            raise TypeError(f"{where}: parameter {p.name!r} needs a type hint")
        prop = schema_for(hints[p.name], where=f"{where}, parameter {p.name!r}")
        if p.name in arg_docs and "description" not in prop:
            prop["description"] = arg_docs[p.name]
        if p.default is not p.empty:
            # A default without a JSON form is simply not advertised.
            with contextlib.suppress(TypeError, ValueError):
                prop["default"] = json.loads(json.dumps(getattr(p.default, "value", p.default)))
        elif is_optional(hints[p.name]):
            fill_none.append(p.name)
        else:
            required.append(p.name)
        properties[p.name] = prop
    schema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return schema, hints, tuple(fill_none)


def schema_for(tp: Any, *, where: str = "type", _seen: tuple[type, ...] = ()) -> dict[str, Any]:
    """The JSON Schema for one type hint; ``TypeError`` for a type a model cannot send."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        schema = schema_for(args[0], where=where, _seen=_seen)
        notes = [m for m in tp.__metadata__ if isinstance(m, str)]
        if notes:
            schema["description"] = " ".join(notes)
        return schema
    if origin in (Required, NotRequired):
        return schema_for(args[0], where=where, _seen=_seen)
    if tp is Any:
        return {}
    if tp is None or (isinstance(tp, type) and tp in _JSON_TYPES):
        return {"type": _JSON_TYPES[type(None) if tp is None else tp]}
    if origin is Literal:
        return _enum_schema(list(args), where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_schema([member.value for member in tp], where)
    if origin in (Union, types.UnionType):
        return _union_schema(args, where, _seen)
    if tp in (list, Sequence) or origin in (list, Sequence):
        if not args:
            return {"type": "array"}
        return {"type": "array", "items": schema_for(args[0], where=where, _seen=_seen)}
    if tp is tuple or origin is tuple:
        if not args:
            return {"type": "array"}
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": schema_for(args[0], where=where, _seen=_seen)}
        items = [schema_for(a, where=where, _seen=_seen) for a in args]
        return {"type": "array", "prefixItems": items, "minItems": len(args), "maxItems": len(args)}
    if tp in (dict, Mapping) or origin in (dict, Mapping):
        if not args:
            return {"type": "object"}
        if args[0] is not str:
            raise TypeError(f"{where}: dictionary keys must be str, not {args[0]!r}")
        values = schema_for(args[1], where=where, _seen=_seen)
        return {"type": "object", "additionalProperties": values}
    if isinstance(tp, type) and (typing.is_typeddict(tp) or dataclasses.is_dataclass(tp)):
        if tp in _seen:
            raise TypeError(f"{where}: recursive type {tp.__name__} is not supported")
        return _object_schema(tp, where, (*_seen, tp))
    raise TypeError(f"{where}: unsupported type {tp!r}")


def is_optional(tp: Any) -> bool:
    """Whether ``tp`` admits None (``X | None``, ``Optional[X]``, ``Any``, ``None``)."""
    if typing.get_origin(tp) is Annotated:
        return is_optional(typing.get_args(tp)[0])
    if tp is Any or tp is None or tp is type(None):
        return True
    if typing.get_origin(tp) in (Union, types.UnionType):
        return any(is_optional(arm) for arm in typing.get_args(tp))
    return False


def from_json(tp: Any, value: Any) -> Any:
    """Turn a JSON value that matched ``schema_for(tp)`` into the Python type ``tp`` names."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Annotated, Required, NotRequired):
        return from_json(args[0], value)
    if value is None:
        return None
    if origin in (Union, types.UnionType):
        arms = [arm for arm in args if arm is not type(None)]
        return from_json(arms[0], value) if len(arms) == 1 else value
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (list, Sequence) and args and isinstance(value, list):
        return [from_json(args[0], item) for item in value]
    if (tp is tuple or origin is tuple) and isinstance(value, list):
        if not args:
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json(args[0], item) for item in value)
        return tuple(from_json(arg, item) for arg, item in zip(args, value, strict=False))
    if origin in (dict, Mapping) and args and isinstance(value, dict):
        return {key: from_json(args[1], item) for key, item in value.items()}
    if isinstance(tp, type) and isinstance(value, dict):
        if dataclasses.is_dataclass(tp):
            hints = typing.get_type_hints(tp, include_extras=True)
            return tp(**{key: from_json(hints[key], item) for key, item in value.items()})
        if typing.is_typeddict(tp):
            hints = typing.get_type_hints(tp, include_extras=True)
            return {key: from_json(hints.get(key, Any), item) for key, item in value.items()}
    return value


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its first paragraph and its ``Args:`` entries."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or line.strip() in _ARGS_HEADERS:
            break
        summary.append(line.strip())
    described: dict[str, str] = {}
    header_indent: int | None = None
    entry_indent: int | None = None
    current: str | None = None
    for line in lines:
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if text in _ARGS_HEADERS:
            header_indent, entry_indent, current = indent, None, None
            continue
        if header_indent is None or not text:
            continue
        if indent <= header_indent:
            # The next section (Returns:, Raises:, ...) or prose after the Args block.
            header_indent = None
            continue
        entry = _ARG_ENTRY.match(text)
        if entry and (entry_indent is None or indent <= entry_indent):
            current, entry_indent = entry.group(1), indent
            described[current] = entry.group(2).strip()
        elif current is not None:
            described[current] = f"{described[current]} {text}".strip()
    return " ".join(summary), described


def _enum_schema(values: list[Any], where: str) -> dict[str, Any]:
    """An ``enum`` of JSON scalars, with their JSON type(s)."""
    kinds: list[str] = []
    for value in values:
        kind = _JSON_TYPES.get(type(value))
        if kind is None:
            raise TypeError(f"{where}: choice {value!r} is not a JSON scalar")
        if kind not in kinds:
            kinds.append(kind)
    return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": list(values)}


def _union_schema(args: tuple[Any, ...], where: str, seen: tuple[type, ...]) -> dict[str, Any]:
    """``X | None`` as a nullable X; other unions as ``anyOf``."""
    arms = [schema_for(arm, where=where, _seen=seen) for arm in args if arm is not type(None)]
    nullable = len(arms) < len(args)
    if nullable and len(arms) == 1:
        only = arms[0]
        if isinstance(only.get("type"), str) and "enum" not in only:
            return {**only, "type": [only["type"], "null"]}
        if only == {}:
            return {}
    return {"anyOf": arms + ([{"type": "null"}] if nullable else [])}


def _object_schema(tp: type, where: str, seen: tuple[type, ...]) -> dict[str, Any]:
    """A closed object schema for a TypedDict or a dataclass."""
    hints = typing.get_type_hints(tp, include_extras=True)
    if typing.is_typeddict(tp):
        # On 3.11 __required_keys__ misses NotRequired[...] written as a string annotation.
        required_keys: frozenset[str] = getattr(tp, "__required_keys__", frozenset())
        required = [
            key
            for key, hint in hints.items()
            if typing.get_origin(hint) is Required
            or (key in required_keys and typing.get_origin(hint) is not NotRequired)
        ]
    else:
        fields = [f for f in dataclasses.fields(tp) if f.init]
        hints = {f.name: hints[f.name] for f in fields}
        required = [
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
    properties = {
        key: schema_for(hint, where=f"{where}.{key}", _seen=seen) for key, hint in hints.items()
    }
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _argument_hints(fn: Callable[..., Any], names: list[str], where: str) -> dict[str, Any]:
    """Resolve the type hints of the model-visible arguments only."""
    # ``ctx`` and the return type may name things imported under TYPE_CHECKING only, which
    # get_type_hints cannot evaluate; so resolve just the arguments, in fn's module globals.
    raw = inspect.get_annotations(fn)
    holder = types.SimpleNamespace(__annotations__={n: raw[n] for n in names if n in raw})
    globalns = getattr(inspect.unwrap(fn), "__globals__", {})
    try:
        return typing.get_type_hints(holder, globalns=globalns, include_extras=True)
    except Exception as exc:
        raise TypeError(f"{where}: cannot resolve type hints ({exc})") from exc
