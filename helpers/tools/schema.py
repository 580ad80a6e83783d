"""Tool parameters from a function's signature: pydantic validates, docstring_parser describes.

``ArgumentSpec.from_signature`` turns the model-visible parameters of a tool into a pydantic
``TypeAdapter`` (a closed ``TypedDict``: it validates the model's JSON and converts it to the
types the tool asked for: ``datetime``, ``Enum``, dataclasses, tuples...) and a JSON Schema in
the one portable form every server we talk to accepts:

- every object lists all its properties as ``required`` with ``additionalProperties: false``
  (OpenAI's ``strict`` function calling);
- an argument that may be left out is nullable, written ``anyOf: [{...}, {"type": "null"}]``,
  never with a list-valued ``"type"`` (Gemini refuses those); ``null`` means "the default";
- ``$ref`` is inlined (no ``$defs``), titles and ``default`` keywords are dropped.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import inspect
import json
import operator
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, NotRequired, Required

import docstring_parser
from pydantic import ConfigDict, Field, PydanticSchemaGenerationError, TypeAdapter
from pydantic.errors import PydanticInvalidForJsonSchema, PydanticUserError
from typing_extensions import TypedDict

__all__ = ["ArgumentSpec", "is_optional", "parse_docstring", "strict_problems"]

#: Where ``null`` stands for "use the default": property name (or ``*`` for array items) ->
#: subtree; a subtree with ``"?": True`` marks such a place.
NullTree = dict[str, Any]
_CLOSED = ConfigDict(extra="forbid")
# Typing's special forms, used here at run time on hints only known then (Any keeps mypy out).
_TYPED_DICT: Any = TypedDict
_ANNOTATED: Any = Annotated
_REQUIRED: Any = Required
_NOT_REQUIRED: Any = NotRequired


@dataclasses.dataclass(frozen=True, slots=True)
class ArgumentSpec:
    """How one tool's arguments are described to the model and checked when it calls."""

    schema: dict[str, Any]
    adapter: TypeAdapter[Any]
    #: Optional arguments without a Python default: passed as None when the model omits them.
    fill_none: tuple[str, ...]
    #: Where a ``null`` from the model means "leave it out" (the argument has a default).
    null_means_default: NullTree

    @classmethod
    def from_signature(
        cls,
        fn: Callable[..., Any],
        arguments: Sequence[inspect.Parameter],
        arg_docs: Mapping[str, str],
        where: str,
    ) -> ArgumentSpec:
        """Describe ``fn``'s model-visible ``arguments``; ``TypeError`` for what cannot be."""
        for p in arguments:
            if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                raise TypeError(f"{where}: parameter {p.name!r} must be a plain named parameter")
        hints = _argument_hints(fn, [p.name for p in arguments], where)
        fields: dict[str, Any] = {}
        fill_none: list[str] = []
        for p in arguments:
            if p.name not in hints:
                raise TypeError(f"{where}: parameter {p.name!r} needs a type hint")
            hint = _described(_compatible(hints[p.name]), arg_docs.get(p.name))
            if p.default is not p.empty:
                hint = _NOT_REQUIRED[_with_default_note(hint, p.default)]
            elif is_optional(hints[p.name]):
                fill_none.append(p.name)
                hint = _NOT_REQUIRED[hint]
            else:
                hint = _REQUIRED[hint]
            fields[p.name] = hint
        shape = _TYPED_DICT(f"{getattr(fn, '__name__', 'tool')}_arguments", fields)
        shape.__pydantic_config__ = _CLOSED
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(shape)
            raw = adapter.json_schema()
        except (PydanticUserError, PydanticSchemaGenerationError, PydanticInvalidForJsonSchema):
            raise _name_the_culprit(hints, where) from None
        nulls: NullTree = {}
        schema = _portable(raw, raw.get("$defs", {}), (), where, nulls)
        schema.pop("description", None)  # the TypedDict's own (empty) docstring
        return cls(schema, adapter, tuple(fill_none), nulls)

    def validate(self, value: dict[str, Any]) -> dict[str, Any]:
        """The model's JSON arguments as converted keyword arguments (``ValidationError``)."""
        if self.null_means_default:
            value = _drop_nulls(value, self.null_means_default)
        kwargs: dict[str, Any] = self.adapter.validate_python(value)
        for name in self.fill_none:
            kwargs.setdefault(name, None)
        return kwargs


def is_optional(tp: Any) -> bool:
    """Whether ``tp`` admits None (``X | None``, ``Optional[X]``, ``Any``, ``None``)."""
    if typing.get_origin(tp) is Annotated:
        return is_optional(typing.get_args(tp)[0])
    if tp is Any or tp is None or tp is type(None):
        return True
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(is_optional(arm) for arm in typing.get_args(tp))
    return False


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """A docstring's first paragraph, and its per-argument descriptions (Google, NumPy, reST)."""
    if not doc or not doc.strip():
        return "", {}
    parsed = docstring_parser.parse(doc)
    summary = " ".join((parsed.description or "").split("\n\n", 1)[0].split())
    described = {
        p.arg_name.lstrip("*"): " ".join((p.description or "").split()) for p in parsed.params
    }
    return summary, described


def strict_problems(schema: Any, at: str = "") -> list[str]:
    """Why ``schema`` is not in the portable strict form (empty when it is)."""
    problems: list[str] = []
    if isinstance(schema, dict):
        if isinstance(schema.get("type"), list):
            problems.append(f"{at or '/'}: list-valued type {schema['type']}")
        if "$ref" in schema or "$defs" in schema:
            problems.append(f"{at or '/'}: $ref/$defs")
        if "default" in schema:
            problems.append(f"{at or '/'}: default")
        if not schema.keys() & {"type", "anyOf", "enum", "const"}:
            problems.append(f"{at or '/'}: no type")
        if schema.get("type") == "object":
            if schema.get("additionalProperties") is not False:
                problems.append(f"{at or '/'}: additionalProperties is not false")
            if sorted(schema.get("required", [])) != sorted(schema.get("properties", {})):
                problems.append(f"{at or '/'}: not every property is required")
        for key, sub in schema.items():
            if key == "properties":
                for name, prop in sub.items():
                    problems += strict_problems(prop, f"{at}/{name}")
            elif key in ("items", "additionalProperties"):
                problems += strict_problems(sub, f"{at}/{key}")
            elif key in ("anyOf", "prefixItems"):
                for index, arm in enumerate(sub):
                    problems += strict_problems(arm, f"{at}/{key}/{index}")
    return problems


# --- the portable form -------------------------------------------------------------------------


def _portable(
    node: Any, defs: Mapping[str, Any], seen: tuple[str, ...], where: str, nulls: NullTree
) -> Any:
    """``node`` with refs inlined, all properties required, optionals nullable, no titles."""
    if not isinstance(node, dict):
        return node
    node = dict(node)
    ref = node.pop("$ref", None)
    if ref is not None:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            raise TypeError(f"{where}: recursive type {name} is not supported")
        inlined = _portable(defs[name], defs, (*seen, name), where, nulls)
        # Siblings of the $ref (the argument's description) win over the type's own.
        return {**inlined, **{k: v for k, v in node.items() if k not in ("title", "default")}}
    for key in ("title", "$defs", "default"):
        node.pop(key, None)
    if isinstance(node.get("type"), list):
        arms = [{"type": kind} for kind in node.pop("type")]
        node["anyOf"] = arms
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if key in node:
            # The arms of ``X | None`` sit where X sits: X's defaulted places are theirs.
            node["anyOf" if key == "oneOf" else key] = [
                _portable(arm, defs, seen, where, nulls if key == "anyOf" else {})
                for arm in node.pop(key)
            ]
    if isinstance(node.get("items"), dict):
        item_nulls: NullTree = {}
        node["items"] = _portable(node["items"], defs, seen, where, item_nulls)
        if item_nulls:
            nulls["*"] = item_nulls
    if isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = _portable(
            node["additionalProperties"], defs, seen, where, {}
        )
    if "properties" in node:
        required = set(node.get("required", []))
        properties: dict[str, Any] = {}
        for name, prop in node["properties"].items():
            child: NullTree = {}
            prop = _portable(prop, defs, seen, where, child)
            if name not in required and not _nullable(prop):
                prop = _or_null(prop)
                child["?"] = True
            if child:
                nulls[name] = child
            properties[name] = prop
        node["properties"] = properties
        node["required"] = list(properties)
        node["additionalProperties"] = False
    return node


def _nullable(schema: Mapping[str, Any]) -> bool:
    """Whether ``schema`` already admits null (or anything)."""
    if not schema or schema.keys() <= {"description"}:
        return True
    return any(arm.get("type") == "null" for arm in schema.get("anyOf", ()))


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null, with the description kept outside the ``anyOf``."""
    inner = {k: v for k, v in schema.items() if k != "description"}
    outer: dict[str, Any] = {"anyOf": [inner, {"type": "null"}]}
    if "description" in schema:
        outer["description"] = schema["description"]
    return outer


def _drop_nulls(value: Any, tree: NullTree) -> Any:
    """``value`` without the nulls that stand for a default, following ``tree``."""
    if isinstance(value, list) and "*" in tree:
        return [_drop_nulls(item, tree["*"]) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        sub = tree.get(key)
        if sub is None:
            out[key] = item
        elif item is not None:
            out[key] = _drop_nulls(item, sub)
        elif not sub.get("?"):
            out[key] = None  # not a defaulted place: let validation say so
    return out


# --- type hints --------------------------------------------------------------------------------


def _compatible(tp: Any) -> Any:
    """``tp`` with ``typing.TypedDict`` classes remade as ``typing_extensions`` ones.

    pydantic needs the latter before Python 3.12; plugins may use either.
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if typing.is_typeddict(tp) and type(tp).__module__ == "typing":
        hints = typing.get_type_hints(tp, include_extras=True)
        required: frozenset[str] = getattr(tp, "__required_keys__", frozenset())
        fields: dict[str, Any] = {}
        for key, hint in hints.items():
            if typing.get_origin(hint) in (Required, NotRequired):
                fields[key] = hint
            else:
                marker = _REQUIRED if key in required else _NOT_REQUIRED
                fields[key] = marker[_compatible(hint)]
        remade = _TYPED_DICT(tp.__name__, fields)
        remade.__doc__ = tp.__doc__
        return remade
    if origin is Annotated:
        return _ANNOTATED[(_compatible(args[0]), *tp.__metadata__)]
    if origin in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, [_compatible(arm) for arm in args])
    if args and origin in (list, tuple, dict, collections.abc.Sequence, collections.abc.Mapping):
        return origin[tuple(_compatible(arg) for arg in args)]
    return tp


def _described(hint: Any, doc: str | None) -> Any:
    """``hint`` with its description: an ``Annotated`` string wins over the docstring."""
    notes: list[str] = []
    if typing.get_origin(hint) is Annotated:
        notes = [m for m in hint.__metadata__ if isinstance(m, str)]
        if notes:
            rest = tuple(m for m in hint.__metadata__ if not isinstance(m, str))
            base = typing.get_args(hint)[0]
            hint = _ANNOTATED[(base, *rest)] if rest else base
    description = " ".join(notes) or doc
    return _ANNOTATED[hint, Field(description=description)] if description else hint


def _with_default_note(hint: Any, default: Any) -> Any:
    """``hint`` whose description says what ``null`` stands for."""
    if default is None:
        return hint
    try:
        shown = json.dumps(getattr(default, "value", default))
    except (TypeError, ValueError):
        return hint
    return _ANNOTATED[hint, Field(json_schema_extra=_append_default(shown))]


def _append_default(shown: str) -> Callable[[dict[str, Any]], None]:
    def extra(schema: dict[str, Any]) -> None:
        text = schema.get("description")
        schema["description"] = f"{text} (default: {shown})" if text else f"Default: {shown}."

    return extra


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


def _name_the_culprit(hints: Mapping[str, Any], where: str) -> TypeError:
    """The error naming the first argument whose type has no JSON form."""
    for name, hint in hints.items():
        try:
            TypeAdapter(hint).json_schema()
        except (PydanticUserError, PydanticSchemaGenerationError, PydanticInvalidForJsonSchema):
            return TypeError(f"{where}, parameter {name!r}: unsupported type {hint!r}")
    return TypeError(f"{where}: unsupported argument types")
