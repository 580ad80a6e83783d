"""Tests for helpers.tools.registry: tool definitions, rendering, and running calls."""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import jsonschema
import pytest
import structlog
import yaml

from bot.errors import ToolError
from helpers.tools import (
    Tool,
    ToolCall,
    ToolContext,
    ToolRegistry,
    ToolResult,
    ToolRounds,
    get_tool,
    refuse_all,
    tool,
)
from tests.fake_openai.spec import require_spec


class FixedClock:
    """A clock that never moves."""

    def now(self) -> datetime:
        """A fixed instant."""
        return datetime(2026, 11, 21, 7, 30, tzinfo=UTC)

    def monotonic(self) -> float:
        """A fixed monotonic reading."""
        return 100.0

    async def sleep(self, seconds: float) -> None:
        """Tools under test must not sleep."""
        raise AssertionError("unexpected sleep")


def make_ctx(**services: Any) -> ToolContext:
    """A context for chat-a, with ``services`` for the tools under test."""
    return ToolContext(
        chat="chat-a",
        chat_jid="111@s.whatsapp.net",
        sender="111@s.whatsapp.net",
        sender_name="Ann",
        timezone="Europe/Berlin",
        clock=FixedClock(),
        services=dict(services),
    )


class Unit(enum.Enum):
    """Temperature units."""

    C = "celsius"
    F = "fahrenheit"


@dataclass
class Place:
    """A place by coordinates."""

    lat: float
    lon: float


@tool
async def weather(
    ctx: ToolContext,
    city: str,
    days: int = 1,
    unit: Unit = Unit.C,
    note: str | None = None,
    tags: Annotated[list[str], "Labels to attach."] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """Look up the weather for a city.

    Details that the model does not need.

    Args:
        city: The city name, e.g. "Paris".
        days: How many days ahead,
            from 1 to 7.
        tags: Overridden by the Annotated description.
    """
    return {"city": city, "days": days, "unit": unit, "note": note, "chat": ctx.chat}


@tool
async def echo(ctx: ToolContext, text: str) -> str:
    """Return the text unchanged."""
    return text


@tool
async def whoami(ctx: ToolContext) -> dict[str, Any]:
    """Say which chat this call acts for."""
    ctx.services["seen"].append(ctx)
    return {"chat": ctx.chat}


@tool
async def locate(ctx: ToolContext, place: Place, unit: Unit, scale: float) -> str:
    """Describe a place."""
    assert isinstance(place, Place) and isinstance(unit, Unit) and isinstance(scale, float)
    return f"{place.lat},{place.lon} {unit.value} x{scale}"


@tool
async def ping(ctx: ToolContext, name: str) -> str:
    """Set this call's event, then wait for the other's: only finishes if both run at once."""
    events: dict[str, asyncio.Event] = ctx.services["events"]
    events[name].set()
    other = "b" if name == "a" else "a"
    await events[other].wait()
    return name


@tool
async def wait_forever(ctx: ToolContext) -> str:
    """Wait for an event nobody sets."""
    await asyncio.Event().wait()
    return "never"


@tool(timeout=0.01)
async def quick_or_nothing(ctx: ToolContext) -> str:
    """Wait for an event nobody sets, with its own short timeout."""
    await asyncio.Event().wait()
    return "never"


@tool
async def fails_politely(ctx: ToolContext) -> str:
    """Raise a ToolError."""
    raise ToolError("the calendar is not connected")


@tool
async def crashes(ctx: ToolContext) -> str:
    """Raise an unexpected error whose text must not reach the model."""
    raise RuntimeError("password=hunter2")


@tool(
    name="search-notes",
    description="Search the chat's notes.",
    parameters={
        "type": "object",
        "properties": {"query": {"type": "string", "minLength": 1}},
        "required": ["query"],
    },
    timeout=3,
)
async def search_notes(ctx: ToolContext, **kwargs: Any) -> Any:
    """Ignored: the explicit description wins."""
    return {"ctx_chat": ctx.chat, "arguments": kwargs}


WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": 'The city name, e.g. "Paris".'},
        "days": {
            "anyOf": [{"type": "integer"}, {"type": "null"}],
            "description": "How many days ahead, from 1 to 7. (default: 1)",
        },
        "unit": {
            "anyOf": [{"type": "string", "enum": ["celsius", "fahrenheit"]}, {"type": "null"}],
            "description": 'Default: "celsius".',
        },
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "tags": {
            "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
            "description": "Labels to attach. (default: [])",
        },
    },
    "required": ["city", "days", "unit", "note", "tags"],
    "additionalProperties": False,
}


def test_tool_derives_schema_from_hints_and_docstring() -> None:
    """Name, first docstring paragraph, per-argument docs, defaults and requiredness."""
    spec = get_tool(weather)
    assert spec is not None
    assert spec.name == "weather"
    assert spec.description == "Look up the weather for a city."
    assert spec.parameters == WEATHER_PARAMETERS
    assert spec.timeout is None
    jsonschema.Draft202012Validator.check_schema(spec.parameters)


def test_optional_argument_without_default_may_be_null_or_left_out() -> None:
    """``X | None`` without a default is required-but-nullable; left out, the tool gets None."""

    @tool
    async def remind(ctx: ToolContext, text: str, at: str | None) -> dict[str, Any]:
        """Set a reminder."""
        return {"text": text, "at": at}

    spec = get_tool(remind)
    assert spec is not None
    assert spec.parameters["required"] == ["text", "at"]
    assert spec.bind('{"text": "tea"}') == {"text": "tea", "at": None}
    assert spec.bind('{"text": "tea", "at": null}') == {"text": "tea", "at": None}


def test_explicit_arguments_win() -> None:
    """name=, description=, parameters= and timeout= replace what would be derived."""
    spec = get_tool(search_notes)
    assert spec == Tool(
        name="search-notes",
        description="Search the chat's notes.",
        parameters={
            "type": "object",
            "properties": {"query": {"type": "string", "minLength": 1}},
            "required": ["query"],
        },
        fn=search_notes,
        timeout=3,
    )


def test_tool_only_marks_the_function() -> None:
    """The decorated function is unchanged and callable; no global registry collects it."""
    assert inspect.iscoroutinefunction(echo)
    assert asyncio.run(echo(make_ctx(), "hi")) == "hi"
    assert len(ToolRegistry()) == 0
    assert get_tool(make_ctx) is None


async def _plain_async(ctx: ToolContext) -> None:
    """A valid async function, for definitions that fail on something else."""


def _define_sync() -> None:
    """A sync function is refused."""

    def sync(ctx: ToolContext) -> str:
        """Sync."""
        return ""

    tool(sync)  # type: ignore[type-var]


def _define_without_ctx() -> None:
    """A tool that forgot ctx would turn its first argument into the context."""

    async def no_ctx(city: str) -> str:
        """No ctx."""
        return city

    tool(no_ctx)


def _define_unannotated() -> None:
    """An argument without a type hint has no schema."""

    async def bare(ctx: ToolContext, city) -> str:  # type: ignore[no-untyped-def]
        """Bare."""
        return str(city)

    tool(bare)


def _define_star_args() -> None:
    """*args cannot be filled in by keyword."""

    async def star(ctx: ToolContext, *cities: str) -> str:
        """Star."""
        return ""

    tool(star)


def _define_bad_name() -> None:
    """OpenAI refuses names outside [A-Za-z0-9_-]{1,64}."""
    tool(name="get weather")(_plain_async)


def _define_undocumented() -> None:
    """A tool needs a description for the model."""

    async def silent(ctx: ToolContext) -> str:
        return ""

    tool(silent)


def _define_bad_parameters() -> None:
    """An explicit schema must be a valid object schema."""
    tool(parameters={"type": "array"})(_plain_async)


class _Opaque:
    """A plain class: no JSON form."""


def _define_unsupported_type() -> None:
    """A type without a JSON form is refused at definition."""

    async def takes_opaque(ctx: ToolContext, ids: _Opaque) -> str:
        """Opaque."""
        return ""

    tool(takes_opaque)


@pytest.mark.parametrize(
    ("define", "error", "message"),
    [
        (_define_sync, TypeError, "must be an async function"),
        (_define_without_ctx, TypeError, "first parameter must be 'ctx: ToolContext'"),
        (_define_unannotated, TypeError, "parameter 'city' needs a type hint"),
        (_define_star_args, TypeError, "parameter 'cities' must be a plain named parameter"),
        (_define_bad_name, ValueError, "name 'get weather' must match"),
        (_define_undocumented, TypeError, "needs a docstring or description="),
        (_define_bad_parameters, ValueError, "type 'object'"),
        (_define_unsupported_type, TypeError, "parameter 'ids'.*unsupported type"),
    ],
)
def test_bad_definitions_are_refused(define: Any, error: type[Exception], message: str) -> None:
    """Mistakes in a tool definition fail when it is defined, with a reason."""
    with pytest.raises(error, match=message):
        define()


def test_registry_add_get_disable() -> None:
    """Registration order, lookup, disabling, duplicates and unmarked functions."""
    registry = ToolRegistry([weather, echo], disabled={"echo", "no_such_tool"})
    registry.extend([whoami, get_tool(search_notes)])  # type: ignore[list-item]
    assert registry.names() == ["weather", "whoami", "search-notes"]
    assert len(registry) == 3
    assert registry.get("weather") is get_tool(weather)
    assert registry.get("echo") is None
    assert "echo" not in registry and "whoami" in registry
    assert [spec.name for spec in registry.enabled] == registry.names()
    assert registry.unknown_disabled() == ["no_such_tool"]
    with pytest.raises(ValueError, match="already registered"):
        registry.add(weather)
    with pytest.raises(TypeError, match="not marked with @tool"):
        registry.add(make_ctx)  # type: ignore[arg-type]


def test_rendered_shapes() -> None:
    """The three API shapes, exactly."""
    registry = ToolRegistry([weather, echo], disabled={"echo"})
    function = {
        "name": "weather",
        "description": "Look up the weather for a city.",
        "parameters": WEATHER_PARAMETERS,
    }
    assert registry.for_chat_completions() == [{"type": "function", "function": function}]
    assert registry.for_assistants() == [{"type": "function", "function": function}]
    assert registry.for_responses() == [{"type": "function", **function, "strict": False}]
    json.dumps(registry.for_responses())  # plain JSON, nothing the SDK would choke on


def test_rendering_hands_out_copies() -> None:
    """Changing a rendered schema does not change the registered tool."""
    registry = ToolRegistry([weather])
    registry.for_chat_completions()[0]["function"]["parameters"]["properties"].clear()
    registry.for_responses()[0]["parameters"]["required"].append("x")
    assert get_tool(weather).parameters == WEATHER_PARAMETERS  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def openapi_components() -> dict[str, Any]:
    """The component schemas of OpenAI's published OpenAPI description."""
    with require_spec().open() as f:
        spec = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {"components": spec["components"]}


@pytest.mark.parametrize(
    ("render", "component"),
    [
        ("for_chat_completions", "ChatCompletionTool"),
        ("for_assistants", "AssistantToolsFunction"),
        ("for_responses", "FunctionTool"),
    ],
)
def test_rendered_shapes_match_openai_spec(
    openapi_components: dict[str, Any], render: str, component: str
) -> None:
    """Each rendering validates against the request schema OpenAI publishes for it."""
    registry = ToolRegistry([weather, echo, whoami, locate, search_notes])
    schema = {"$ref": f"#/components/schemas/{component}", **openapi_components}
    validator = jsonschema.Draft202012Validator(schema)
    rendered = getattr(registry, render)()
    assert len(rendered) == 5
    for item in rendered:
        validator.validate(item)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"type": "function"})  # the check can fail


async def test_calls_run_concurrently() -> None:
    """Two calls that each wait for the other finish: they run at the same time."""
    registry = ToolRegistry([ping])
    ctx = make_ctx(events={"a": asyncio.Event(), "b": asyncio.Event()})
    calls = [ToolCall("1", "ping", '{"name": "a"}'), ToolCall("2", "ping", '{"name": "b"}')]
    results = await registry.execute(calls, ctx, timeout=2)
    assert [(r.output, r.ok) for r in results] == [("a", True), ("b", True)]


async def test_results_keep_call_order_and_one_failure_spares_the_others() -> None:
    """The first call finishes last and others fail; results still follow ``calls``."""
    registry = ToolRegistry([ping, crashes, echo])
    ctx = make_ctx(events={"a": asyncio.Event(), "b": asyncio.Event()})
    calls = [
        ToolCall("1", "ping", '{"name": "a"}'),
        ToolCall("2", "crashes", "{}"),
        ToolCall("3", "echo", '{"text": "hi"}'),
        ToolCall("4", "ping", '{"name": "b"}'),
    ]
    results = await registry.execute(calls, ctx, timeout=2)
    assert [(r.call_id, r.name, r.ok) for r in results] == [
        ("1", "ping", True),
        ("2", "crashes", False),
        ("3", "echo", True),
        ("4", "ping", True),
    ]
    assert await registry.execute([], ctx, timeout=5) == []


async def test_timeout_becomes_an_error_output() -> None:
    """A call that never finishes times out with the default or its own timeout."""
    registry = ToolRegistry([wait_forever, quick_or_nothing])
    calls = [ToolCall("1", "wait_forever", "{}"), ToolCall("2", "quick_or_nothing", "")]
    default_timeout = 0.01
    results = await registry.execute(calls, make_ctx(), timeout=default_timeout)
    assert [r.ok for r in results] == [False, False]
    assert json.loads(results[0].output) == {"error": "the tool timed out after 0.01 s"}
    assert results[1].error == "the tool timed out after 0.01 s"


async def test_per_tool_timeout_wins_over_the_default() -> None:
    """A tool's own short timeout applies even when the default is long."""
    registry = ToolRegistry([quick_or_nothing])
    (result,) = await registry.execute(
        [ToolCall("1", "quick_or_nothing", "{}")], make_ctx(), timeout=60
    )
    assert result.error == "the tool timed out after 0.01 s"


async def test_a_tool_that_ignores_cancellation_is_abandoned() -> None:
    """A tool swallowing the cancellation cannot hold the reply past the grace period."""
    release = asyncio.Event()

    @tool
    async def stubborn(ctx: ToolContext) -> str:
        """Refuse to stop until released."""
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()
        return "late"

    registry = ToolRegistry([stubborn])
    registry.cancel_grace = 0.01
    (result,) = await registry.execute([ToolCall("1", "stubborn", "{}")], make_ctx(), timeout=0.01)
    assert result.error == "the tool timed out after 0.01 s"
    (abandoned,) = [t for t in asyncio.all_tasks() if "stubborn" in repr(t.get_coro())]
    release.set()
    await abandoned


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (ToolCall("1", "echo", '{"text": '), "arguments are not valid JSON (Expecting value at 8)"),
        (ToolCall("1", "echo", '["hi"]'), "arguments must be a JSON object"),
        (ToolCall("1", "echo", "{}"), "invalid arguments: 'text' is required"),
        (
            ToolCall("1", "echo", '{"text": 3}'),
            "invalid arguments: 'text' should be a valid string, got 3",
        ),
        (
            ToolCall("1", "weather", '{"city": "Paris", "unit": "kelvin"}'),
            "invalid arguments: 'unit' should be 'celsius' or 'fahrenheit', got 'kelvin'",
        ),
        (
            ToolCall("1", "search-notes", '{"query": ""}'),
            "invalid arguments at 'query': '' should be non-empty",
        ),
        (
            ToolCall("1", "nope", "{}"),
            "unknown tool 'nope'; available tools: "
            "echo, weather, crashes, search-notes, fails_politely",
        ),
        (ToolCall("1", "fails_politely", "{}"), "the calendar is not connected"),
        (ToolCall("1", "crashes", "{}"), "the tool failed unexpectedly (RuntimeError)"),
    ],
)
async def test_failures_become_error_outputs(call: ToolCall, reason: str) -> None:
    """Bad JSON, schema violations, unknown tools and exceptions: an error the model reads."""
    registry = ToolRegistry([echo, weather, crashes, search_notes, fails_politely])
    (result,) = await registry.execute([call], make_ctx(), timeout=5)
    assert result == ToolResult("1", call.name, json.dumps({"error": reason}), False, reason, 0.0)
    assert "hunter2" not in result.output


async def test_model_arguments_cannot_change_the_chat() -> None:
    """ctx arrives untouched; arguments named chat or ctx never reach the tool."""
    seen: list[ToolContext] = []
    ctx = make_ctx(seen=seen)
    registry = ToolRegistry([whoami, search_notes])
    calls = [
        ToolCall("1", "whoami", '{"chat": "chat-b"}'),
        ToolCall("2", "whoami", '{"ctx": {"chat": "chat-b"}}'),
        ToolCall("3", "search-notes", '{"query": "q", "ctx": "chat-b"}'),
        ToolCall("4", "search-notes", '{"query": "q", "chat": "chat-b"}'),
        ToolCall("5", "whoami", "{}"),
    ]
    results = await registry.execute(calls, ctx, timeout=5)
    assert "'chat' is not an argument of this tool" in (results[0].error or "")
    assert "'ctx' is not an argument of this tool" in (results[1].error or "")
    assert "multiple values for argument 'ctx'" in (results[2].error or "")
    # A permissive explicit schema lets "chat" through as plain data; ctx.chat is unchanged.
    assert json.loads(results[3].output) == {
        "ctx_chat": "chat-a",
        "arguments": {"query": "q", "chat": "chat-b"},
    }
    assert json.loads(results[4].output) == {"chat": "chat-a"}
    assert [r.ok for r in results] == [False, False, False, True, True]
    assert seen == [ctx] and seen[0] is ctx


async def test_arguments_become_python_types_and_results_json() -> None:
    """Enums, dataclasses and floats reach the tool typed; non-str results are JSON."""
    registry = ToolRegistry([locate, weather, echo])
    calls = [
        ToolCall(
            "1", "locate", '{"place": {"lat": 1, "lon": 2}, "unit": "fahrenheit", "scale": 2}'
        ),
        ToolCall("2", "weather", '{"city": "Zürich", "unit": "fahrenheit"}'),
        ToolCall("3", "echo", '{"text": "{not json either"}'),
    ]
    results = await registry.execute(calls, make_ctx(), timeout=5)
    assert results[0].output == "1.0,2.0 fahrenheit x2.0"
    assert results[1].output == (
        '{"city": "Zürich", "days": 1, "unit": "Unit.F", "note": null, "chat": "chat-a"}'
    )
    assert results[2].output == "{not json either"


async def test_a_tool_cancelling_itself_is_an_error_not_a_cancelled_turn() -> None:
    """A CancelledError raised inside a tool does not cancel the caller."""

    @tool
    async def self_cancel(ctx: ToolContext) -> str:
        """Raise CancelledError without being cancelled."""
        raise asyncio.CancelledError

    registry = ToolRegistry([self_cancel, echo])
    calls = [ToolCall("1", "self_cancel", "{}"), ToolCall("2", "echo", '{"text": "ok"}')]
    results = await registry.execute(calls, make_ctx(), timeout=5)
    assert [(r.ok, r.error) for r in results] == [(False, "the tool was cancelled"), (True, None)]


async def test_cancelling_execute_cancels_the_tools() -> None:
    """When the turn is cancelled, running tools are cancelled too and execute re-raises."""
    started, cancelled = asyncio.Event(), asyncio.Event()

    @tool
    async def slow(ctx: ToolContext) -> str:
        """Wait until cancelled."""
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    registry = ToolRegistry([slow])
    running = asyncio.create_task(
        registry.execute([ToolCall("1", "slow", "")], make_ctx(), timeout=60)
    )
    await started.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await cancelled.wait()


async def test_logs_name_duration_and_outcome_but_not_arguments() -> None:
    """tool.called / tool.failed carry tool, duration_ms and ok; arguments only at debug."""
    registry = ToolRegistry([echo, fails_politely])
    calls = [ToolCall("1", "echo", '{"text": "secret"}'), ToolCall("2", "fails_politely", "{}")]
    with structlog.testing.capture_logs() as logs:
        await registry.execute(calls, make_ctx(), timeout=5)
    info = [e for e in logs if e["log_level"] != "debug"]
    assert info == [
        {
            "event": "tool.called",
            "tool": "echo",
            "duration_ms": 0.0,
            "ok": True,
            "log_level": "info",
        },
        {
            "event": "tool.failed",
            "tool": "fails_politely",
            "duration_ms": 0.0,
            "ok": False,
            "error": "the calendar is not connected",
            "exc_info": None,
            "log_level": "warning",
        },
    ]
    assert "secret" not in repr(info)


def test_tool_rounds_and_refusals() -> None:
    """ToolRounds allows ``limit`` rounds; refuse_all answers every call with an error."""
    rounds = ToolRounds(limit=2)
    assert [rounds.take(), rounds.exhausted, rounds.take(), rounds.exhausted] == [
        True,
        False,
        True,
        True,
    ]
    assert rounds.take() is False
    results = refuse_all([ToolCall("1", "echo", "{}"), ToolCall("2", "ping", "{}")])
    assert [(r.call_id, r.name, r.ok) for r in results] == [
        ("1", "echo", False),
        ("2", "ping", False),
    ]
    assert json.loads(results[0].output)["error"].startswith("tool call limit reached")
