"""Tests for helpers.tools.schema: portable strict schemas and pydantic-converted arguments."""

from __future__ import annotations

import enum
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict

import jsonschema
import pytest

from bot.settings import Settings
from helpers.tools import Tool, ToolContext, ToolRegistry, get_tool, tool
from helpers.tools.builtin import build_registry
from helpers.tools.schema import is_optional, parse_docstring, strict_problems


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
    """A recursive dataclass, which the portable form cannot express."""

    child: Node | None


class Opaque:
    """A plain class without a JSON form."""


def spec_for(hint: Any, default: Any = inspect.Parameter.empty) -> Tool:
    """The Tool of a one-argument tool ``x: hint`` (with ``default`` when given)."""

    async def one(ctx: ToolContext, x: Any = default) -> Any:
        return x

    one.__annotations__ = {"ctx": ToolContext, "x": hint}
    if default is inspect.Parameter.empty:
        one.__defaults__ = None
    return Tool.from_function(one, description="One argument.")


NULL = {"type": "null"}
POINT = {
    "type": "object",
    "description": "A dataclass with a defaulted field.",
    "properties": {
        "x": {"type": "number"},
        "y": {"type": "number"},
        "label": {"anyOf": [{"type": "string"}, NULL]},
        "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, NULL]},
    },
    "required": ["x", "y", "label", "tags"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (str | None, {"anyOf": [{"type": "string"}, NULL]}),
        (Optional[int], {"anyOf": [{"type": "integer"}, NULL]}),  # noqa: UP045 - old spelling
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal["a"] | None, {"anyOf": [{"type": "string", "const": "a"}, NULL]}),
        (
            Colour,
            {
                "type": "string",
                "enum": ["red", "green"],
                "description": "A plain Enum with string values.",
            },
        ),
        (Level, {"type": "integer", "enum": [1, 2], "description": "An IntEnum."}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (Sequence[str], {"type": "array", "items": {"type": "string"}}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (datetime, {"type": "string", "format": "date-time"}),
        (Annotated[str, "A city name."], {"type": "string", "description": "A city name."}),
        (
            Address,
            {
                "type": "object",
                "description": "A TypedDict with one optional key.",
                "properties": {
                    "street": {"type": "string"},
                    "city": {"type": "string"},
                    "zip": {"anyOf": [{"type": "string"}, NULL]},
                },
                "required": ["street", "city", "zip"],
                "additionalProperties": False,
            },
        ),
        (Point, POINT),
        (
            Route,
            {
                "type": "object",
                "description": "A dataclass holding other structured types.",
                "properties": {
                    "start": POINT,
                    "stops": {"type": "array", "items": POINT},
                    "colour": {
                        "type": "string",
                        "enum": ["red", "green"],
                        "description": "A plain Enum with string values.",
                    },
                },
                "required": ["start", "stops", "colour"],
                "additionalProperties": False,
            },
        ),
    ],
)
def test_each_supported_hint_has_a_portable_strict_schema(hint: Any, expected: Any) -> None:
    """Every supported hint kind maps to the expected schema, valid and in the strict form."""
    spec = spec_for(hint)
    assert spec.parameters == {
        "type": "object",
        "properties": {"x": expected},
        "required": ["x"],
        "additionalProperties": False,
    }
    jsonschema.Draft202012Validator.check_schema(spec.parameters)
    assert strict_problems(spec.parameters) == []
    assert spec.strict


@pytest.mark.parametrize(
    ("hint", "message"),
    [(Opaque, "parameter 'x': unsupported type"), (Node, "recursive type Node")],
)
def test_types_a_model_cannot_send_are_refused(hint: Any, message: str) -> None:
    """Types without a (portable) JSON form are refused at definition, naming the place."""
    with pytest.raises(TypeError, match=message):
        spec_for(hint)


@pytest.mark.parametrize(
    ("hint", "sent", "received"),
    [
        (datetime, "2026-11-22T09:00:00Z", datetime(2026, 11, 22, 9, tzinfo=UTC)),
        (Colour, "green", Colour.GREEN),
        (tuple[Level, ...], [1, 2], (Level.LOW, Level.HIGH)),
        (dict[str, Colour], {"k": "red"}, {"k": Colour.RED}),
        (float, 2, 2.0),
        (
            Route,
            {
                "start": {"x": 1, "y": 2.5, "label": None, "tags": None},
                "stops": [{"x": 0, "y": 0, "label": "a", "tags": ["t"]}],
                "colour": "red",
            },
            Route(Point(1.0, 2.5), [Point(0.0, 0.0, "a", ["t"])], Colour.RED),
        ),
        (Address, {"street": "s", "city": "c", "zip": None}, {"street": "s", "city": "c"}),
        (list[Point] | None, [{"x": 1, "y": 2, "label": None, "tags": None}], [Point(1.0, 2.0)]),
    ],
)
def test_arguments_arrive_as_the_python_types_the_tool_asked_for(
    hint: Any, sent: Any, received: Any
) -> None:
    """pydantic converts JSON into datetimes, Enums, tuples and dataclasses; null means default."""
    kwargs = spec_for(hint).bind(json.dumps({"x": sent}))
    assert kwargs == {"x": received}
    assert type(kwargs["x"]) is type(received)


def test_null_or_nothing_means_the_default_but_not_for_required_arguments() -> None:
    """A defaulted argument sent as null or left out is left to the function's default."""
    spec = spec_for(int, default=7)
    assert spec.parameters["properties"]["x"] == {
        "anyOf": [{"type": "integer"}, NULL],
        "description": "Default: 7.",
    }
    assert (
        spec.bind('{"x": null}') == {}
        and spec.bind("{}") == {}
        and spec.bind('{"x": 3}') == {"x": 3}
    )
    with pytest.raises(Exception, match="'x' should be a valid integer"):
        spec_for(int).bind('{"x": null}')


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


@pytest.mark.parametrize(
    "doc",
    [
        """Look up the weather
        for a city.

        More prose that the model does not need.

        Args:
            city (str): The city, e.g. "Paris".
            days: How many days ahead,
                from 0 (today) to 7.

        Returns:
            units: not an argument.
        """,
        """Look up the weather
        for a city.

        Parameters
        ----------
        city : str
            The city, e.g. "Paris".
        days : int
            How many days ahead,
            from 0 (today) to 7.
        """,
        """Look up the weather for a city.

        :param city: The city, e.g. "Paris".
        :param days: How many days ahead, from 0 (today) to 7.
        """,
    ],
    ids=["google", "numpy", "rest"],
)
def test_parse_docstring_summary_and_args(doc: str) -> None:
    """The first paragraph is the summary; argument entries keep continuation lines."""
    summary, described = parse_docstring(doc)
    assert summary == "Look up the weather for a city."
    assert described == {
        "city": 'The city, e.g. "Paris".',
        "days": "How many days ahead, from 0 (today) to 7.",
    }


@pytest.mark.parametrize("doc", [None, "", "   "])
def test_parse_docstring_empty(doc: str | None) -> None:
    """A missing docstring gives no summary and no argument descriptions."""
    assert parse_docstring(doc) == ("", {})


def _list_valued_types(node: Any, at: str = "") -> list[str]:
    """Every place in ``node`` where "type" is a list, however deep."""
    found: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("type"), list):
            found.append(at or "/")
        for key, value in node.items():
            found += _list_valued_types(value, f"{at}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _list_valued_types(value, f"{at}/{index}")
    return found


def _closed_objects(node: Any, at: str = "") -> list[str]:
    """Objects with properties that are not closed or do not require every property."""
    bad: list[str] = []
    if isinstance(node, dict):
        if "properties" in node and isinstance(node["properties"], dict) and "type" in node:
            if node.get("additionalProperties") is not False:
                bad.append(f"{at}: open")
            if sorted(node.get("required", [])) != sorted(node["properties"]):
                bad.append(f"{at}: not all required")
        for key, value in node.items():
            bad += _closed_objects(value, f"{at}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            bad += _closed_objects(value, f"{at}/{index}")
    return bad


@tool
async def plan_trip(
    ctx: ToolContext,
    route: Route,
    leave_at: datetime,
    level: Level = Level.LOW,
    notes: list[str] | None = None,
    home: Address | None = None,
) -> str:
    """Plan a trip.

    Args:
        route: Where to go.
        leave_at: When to leave.
        level: How much detail.
        notes: Extra remarks.
        home: Where to return to.
    """
    return ""


def test_every_generated_schema_is_in_the_portable_form(
    tmp_path: Path, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """All three renderings of every derived tool: no list-valued "type", closed objects."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = readme.split("# myplugins/lookup.py", 1)[1].split("```", 1)[0]
    (tmp_path / "readme_plugin.py").write_text(code.split("\n", 1)[1])
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = build_registry(make_settings(TOOLS_MODULES="readme_plugin"))
    registry.add(plan_trip)
    assert len(registry) >= 6
    assert all(spec.strict for spec in registry.enabled)
    for rendered in (
        registry.for_chat_completions(),
        registry.for_assistants(),
        registry.for_responses(),
    ):
        assert _list_valued_types(rendered) == []
        assert _closed_objects(rendered) == []
        assert "$ref" not in json.dumps(rendered) and '"default"' not in json.dumps(rendered)


def test_a_tool_receives_a_datetime_an_enum_and_a_dataclass() -> None:
    """The README's promise for plugin authors: ask for a type, get that type."""
    seen: list[Any] = []

    @tool
    async def book(ctx: ToolContext, at: datetime, colour: Colour, where: Point) -> str:
        """Book something."""
        seen.extend([at, colour, where])
        return "ok"

    spec = get_tool(book)
    assert spec is not None
    kwargs = spec.bind(
        {"at": "2026-12-24T18:00:00+01:00", "colour": "red", "where": {"x": 1, "y": 2}}
    )
    assert isinstance(kwargs["at"], datetime) and kwargs["at"].utcoffset() is not None
    assert kwargs["colour"] is Colour.RED
    assert kwargs["where"] == Point(1.0, 2.0)
    assert ToolRegistry([book]).names() == ["book"]
