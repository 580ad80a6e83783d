"""Tests for helpers.tools.schema: JSON Schemas from type hints, docstrings, JSON -> Python."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict

import jsonschema
import pytest

from helpers.tools.schema import from_json, is_optional, parse_docstring, schema_for


class Colour(enum.Enum):
    """A plain Enum with string values."""

    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    """An IntEnum."""

    LOW = 1
    HIGH = 2


class Address(TypedDict):
    """A TypedDict with one optional key."""

    street: str
    city: str
    zip: NotRequired[str]


@dataclass
class Point:
    """A dataclass with a defaulted field."""

    x: float
    y: float
    label: str = "here"
    tags: list[str] = field(default_factory=list)


@dataclass
class Route:
    """A dataclass holding other structured types."""

    start: Point
    stops: list[Point]
    colour: Colour


@dataclass
class Node:
    """A recursive dataclass, which a schema cannot express simply."""

    child: Node | None


POINT = {
    "type": "object",
    "properties": {
        "x": {"type": "number"},
        "y": {"type": "number"},
        "label": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["x", "y"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (None, {"type": "null"}),
        (type(None), {"type": "null"}),
        (Any, {}),
        (str | None, {"type": ["string", "null"]}),
        (Optional[int], {"type": ["integer", "null"]}),  # noqa: UP045 - the old spelling too
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal[1, "one"], {"type": ["integer", "string"], "enum": [1, "one"]}),
        (
            Literal["a"] | None,
            {"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "null"}]},
        ),
        (Colour, {"type": "string", "enum": ["red", "green"]}),
        (Level, {"type": "integer", "enum": [1, 2]}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (list, {"type": "array"}),
        (Sequence[str], {"type": "array", "items": {"type": "string"}}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (
            tuple[str, int],
            {
                "type": "array",
                "prefixItems": [{"type": "string"}, {"type": "integer"}],
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (dict, {"type": "object"}),
        (Annotated[str, "A city name."], {"type": "string", "description": "A city name."}),
        (
            list[Annotated[int, "A day of the month."]],
            {"type": "array", "items": {"type": "integer", "description": "A day of the month."}},
        ),
        (
            Address,
            {
                "type": "object",
                "properties": {
                    "street": {"type": "string"},
                    "city": {"type": "string"},
                    "zip": {"type": "string"},
                },
                "required": ["street", "city"],
                "additionalProperties": False,
            },
        ),
        (Point, POINT),
        (
            Route,
            {
                "type": "object",
                "properties": {
                    "start": POINT,
                    "stops": {"type": "array", "items": POINT},
                    "colour": {"type": "string", "enum": ["red", "green"]},
                },
                "required": ["start", "stops", "colour"],
                "additionalProperties": False,
            },
        ),
    ],
)
def test_schema_for_each_supported_hint(hint: Any, expected: dict[str, Any]) -> None:
    """Every supported hint kind maps to the expected, valid JSON Schema."""
    schema = schema_for(hint)
    assert schema == expected
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("hint", "message"),
    [
        (set[int], "unsupported type"),
        (object, "unsupported type"),
        (bytes, "unsupported type"),
        (dict[int, str], "keys must be str"),
        (Literal[b"x"], "not a JSON scalar"),
        (Node, "recursive type Node"),
    ],
)
def test_schema_for_refuses_what_a_model_cannot_send(hint: Any, message: str) -> None:
    """Types without a JSON form are refused with a reason that names the place."""
    with pytest.raises(TypeError, match=message) as caught:
        schema_for(hint, where="tool 'x', parameter 'y'")
    assert "tool 'x', parameter 'y'" in str(caught.value)


@pytest.mark.parametrize(
    ("hint", "optional"),
    [
        (str | None, True),
        (Optional[str], True),  # noqa: UP045 - the old spelling too
        (Annotated[int | None, "doc"], True),
        (Any, True),
        (str, False),
        (int | str, False),
        (list[str | None], False),
    ],
)
def test_is_optional(hint: Any, optional: bool) -> None:
    """Only hints that admit None count as optional."""
    assert is_optional(hint) is optional


def test_from_json_builds_enums_dataclasses_and_tuples() -> None:
    """Validated JSON values become the Python types the tool declared."""
    route = from_json(
        Route,
        {"start": {"x": 1, "y": 2.5}, "stops": [{"x": 0, "y": 0, "label": "a"}], "colour": "red"},
    )
    assert route == Route(Point(1.0, 2.5), [Point(0.0, 0.0, "a")], Colour.RED)
    assert isinstance(route.start.x, float)
    assert from_json(tuple[str, int], ["a", 1]) == ("a", 1)
    assert from_json(tuple[Level, ...], [1, 2]) == (Level.LOW, Level.HIGH)
    assert from_json(dict[str, Colour], {"k": "green"}) == {"k": Colour.GREEN}
    assert from_json(Colour | None, None) is None
    assert from_json(Annotated[Level, "doc"], 2) is Level.HIGH
    assert from_json(Address, {"street": "s", "city": "c"}) == {"street": "s", "city": "c"}
    assert from_json(float, True) is True
    assert from_json(int | str, 3) == 3


def test_parse_docstring_summary_and_args() -> None:
    """The first paragraph is the summary; Args entries keep continuation lines."""
    doc = """Look up the weather
    for a city.

    More prose that the model does not need.

    Args:
        city (str): The city, e.g. "Paris".
        days: How many days ahead,
            from 0 (today) to 7. Example: 3.
        *extra: Ignored star arguments are still parsed.

    Returns:
        units: not an argument.
    """
    summary, described = parse_docstring(doc)
    assert summary == "Look up the weather for a city."
    assert described == {
        "city": 'The city, e.g. "Paris".',
        "days": "How many days ahead, from 0 (today) to 7. Example: 3.",
        "extra": "Ignored star arguments are still parsed.",
    }


@pytest.mark.parametrize("doc", [None, "", "   "])
def test_parse_docstring_empty(doc: str | None) -> None:
    """A missing docstring gives no summary and no argument descriptions."""
    assert parse_docstring(doc) == ("", {})
