"""Function calling: the ``@tool`` marker, JSON Schemas from type hints, and the registry.

A tool is an ``async def`` whose first parameter is ``ctx: ToolContext`` (the chat it acts for,
chosen by the pipeline) followed by the arguments the model fills in. ``@tool`` only attaches a
``Tool`` description to the function; a ``ToolRegistry`` collects tools, renders them for each
OpenAI API and runs the calls of one model turn concurrently, turning every failure into an
error output the model can read.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import structlog
from pydantic import ValidationError

from bot.errors import ToolError
from helpers.tools.arguments import CallFailed as _CallFailed
from helpers.tools.arguments import check_against_schema, describe_invalid, parse_arguments
from helpers.tools.context import ToolContext
from helpers.tools.schema import ArgumentSpec, parse_docstring, strict_problems

__all__ = [
    "DEFAULT_MAX_TOOL_ROUNDS",
    "Tool",
    "ToolCall",
    "ToolRegistry",
    "ToolResult",
    "ToolRounds",
    "get_tool",
    "refuse_all",
    "tool",
]

log = structlog.get_logger(__name__)

ToolFunction = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=ToolFunction)

#: How many model rounds of tool calls one turn may use before the backend stops offering tools.
DEFAULT_MAX_TOOL_ROUNDS = 5
#: OpenAI's rule for function names.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: The attribute ``@tool`` sets on a function.
_MARK = "__bot_tool__"
#: Longest error reason handed back to the model.
_MAX_REASON = 300


@dataclass(frozen=True, slots=True)
class Tool:
    """One tool: its model-visible name, description and parameter schema, and the function."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: ToolFunction = field(repr=False)
    timeout: float | None = None
    #: How arguments are validated and converted; None for an explicit ``parameters=`` schema.
    arguments: ArgumentSpec | None = field(default=None, repr=False, compare=False)
    #: Whether ``parameters`` qualifies for OpenAI's ``strict`` function calling.
    strict: bool = field(default=False, compare=False)
    _validator: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """An explicit schema is checked with jsonschema (imported only for such tools)."""
        validator = None
        if self.arguments is None:
            import jsonschema

            validator = jsonschema.Draft202012Validator(self.parameters)
        object.__setattr__(self, "_validator", validator)

    @classmethod
    def from_function(
        cls,
        fn: ToolFunction,
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Tool:
        """Describe ``fn`` from its signature, type hints and docstring; explicit values win."""
        where = f"tool {getattr(fn, '__qualname__', fn)!r}"
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{where}: must be an async function (async def)")
        params = list(inspect.signature(fn).parameters.values())
        if not params or params[0].name != "ctx":
            raise TypeError(f"{where}: the first parameter must be 'ctx: ToolContext'")
        name = name or str(getattr(fn, "__name__", ""))
        if not _NAME.match(name):
            raise ValueError(f"{where}: name {name!r} must match {_NAME.pattern}")
        summary, arg_docs = parse_docstring(inspect.getdoc(fn))
        description = description or summary
        if not description:
            raise TypeError(f"{where}: needs a docstring or description=")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"{where}: timeout must be positive, not {timeout!r}")
        if parameters is not None:
            import jsonschema

            schema = copy.deepcopy(dict(parameters))
            jsonschema.Draft202012Validator.check_schema(schema)
            if schema.get("type") != "object":
                raise ValueError(f"{where}: parameters must be a JSON Schema of type 'object'")
            return cls(name, description, schema, fn, timeout, strict=not strict_problems(schema))
        spec = ArgumentSpec.from_signature(fn, params[1:], arg_docs, where)
        strict = not strict_problems(spec.schema)
        return cls(name, description, spec.schema, fn, timeout, spec, strict)

    def bind(self, arguments: str | Mapping[str, Any]) -> dict[str, Any]:
        """Parse, validate and convert the model's arguments into keyword arguments for ``fn``.

        ``arguments`` is the JSON text the model sent, or the object itself (some servers
        send the object instead of a string).
        """
        value = parse_arguments(arguments)
        if self.arguments is not None:
            try:
                return self.arguments.validate(value)
            except ValidationError as exc:
                raise _CallFailed(describe_invalid(exc)) from None
        check_against_schema(self._validator, value)
        try:
            inspect.signature(self.fn).bind(None, **value)
        except TypeError as exc:
            raise _CallFailed(f"arguments do not fit the tool: {exc}") from None
        return value


@overload
def tool(fn: F, /) -> F: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> Callable[[F], F]: ...


def tool(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> F | Callable[[F], F]:
    """Mark an async function as a tool (bare ``@tool`` or ``@tool(name=..., ...)``)."""

    def mark(f: F) -> F:
        spec = Tool.from_function(
            f, name=name, description=description, parameters=parameters, timeout=timeout
        )
        setattr(f, _MARK, spec)
        return f

    return mark if fn is None else mark(fn)


def get_tool(obj: object) -> Tool | None:
    """The ``Tool`` that ``@tool`` attached to ``obj``, or None."""
    spec = getattr(obj, _MARK, None)
    return spec if isinstance(spec, Tool) else None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model asked for; ``arguments`` is the raw JSON string it sent."""

    id: str
    name: str
    arguments: str | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What one call produced; ``output`` is the text handed back to the model."""

    call_id: str
    name: str
    output: str
    ok: bool
    error: str | None = None
    duration_ms: float = 0.0


class ToolRegistry:
    """The tools one bot offers, rendered for each OpenAI API and run on the model's request."""

    #: Seconds a timed-out tool gets to finish after cancellation before it is abandoned.
    cancel_grace: float = 1.0

    def __init__(
        self, tools: Iterable[ToolFunction | Tool] = (), *, disabled: Iterable[str] = ()
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self.disabled = frozenset(disabled)
        self.extend(tools)

    def add(self, item: ToolFunction | Tool) -> Tool:
        """Register a ``@tool`` function or a ``Tool``; a duplicate name is refused."""
        spec = item if isinstance(item, Tool) else get_tool(item)
        if spec is None:
            raise TypeError(f"{item!r} is not marked with @tool")
        if spec.name in self._tools:
            raise ValueError(f"a tool named {spec.name!r} is already registered")
        self._tools[spec.name] = spec
        return spec

    def extend(self, items: Iterable[ToolFunction | Tool]) -> None:
        """Register several tools, in order."""
        for item in items:
            self.add(item)

    @property
    def enabled(self) -> list[Tool]:
        """The registered tools that are not disabled, in registration order."""
        return [spec for name, spec in self._tools.items() if name not in self.disabled]

    def names(self) -> list[str]:
        """Names of the enabled tools."""
        return [spec.name for spec in self.enabled]

    def get(self, name: str) -> Tool | None:
        """The enabled tool called ``name``, or None."""
        return None if name in self.disabled else self._tools.get(name)

    def unknown_disabled(self) -> list[str]:
        """Disabled names that match no registered tool (likely typos in the settings)."""
        return sorted(self.disabled - self._tools.keys())

    def __len__(self) -> int:
        """How many tools are enabled."""
        return len(self.enabled)

    def __contains__(self, name: object) -> bool:
        """Whether an enabled tool has this name."""
        return isinstance(name, str) and self.get(name) is not None

    def for_chat_completions(self) -> list[dict[str, Any]]:
        """The ``tools`` list for ``chat.completions.create``."""
        return [{"type": "function", "function": _function_object(t)} for t in self.enabled]

    def for_assistants(self) -> list[dict[str, Any]]:
        """The per-run ``tools`` override for ``beta.threads.runs.create``."""
        return [{"type": "function", "function": _function_object(t)} for t in self.enabled]

    def for_responses(self) -> list[dict[str, Any]]:
        """The ``tools`` list for ``responses.create`` (flat function tools)."""
        return [{"type": "function", **_function_object(t), "strict": False} for t in self.enabled]

    async def execute(
        self,
        calls: Sequence[ToolCall],
        ctx: ToolContext,
        *,
        timeout: float,
    ) -> list[ToolResult]:
        """Run one model turn's calls concurrently; failures become error outputs, in call order."""
        results = await asyncio.gather(*(self._run(call, ctx, timeout) for call in calls))
        return list(results)

    async def _run(self, call: ToolCall, ctx: ToolContext, default_timeout: float) -> ToolResult:
        """Run one call and never raise, except when the caller itself is cancelled."""
        started = ctx.clock.monotonic()
        spec = self.get(call.name)
        failure: BaseException | None = None
        try:
            if spec is None:
                available = ", ".join(self.names()) or "none"
                raise _CallFailed(f"unknown tool {call.name!r}; available tools: {available}")
            kwargs = spec.bind(call.arguments)
            seconds = spec.timeout or default_timeout
            value = await self._await_within(spec.fn(ctx, **kwargs), seconds)
            output = value if isinstance(value, str) else _encode(value)
            reason = None
        except _CallFailed as exc:
            reason = exc.reason
        except ToolError as exc:
            reason = str(exc) or "the tool failed"
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            reason = "the tool was cancelled"
        except Exception as exc:
            reason, failure = f"the tool failed unexpectedly ({type(exc).__name__})", exc
        duration_ms = round((ctx.clock.monotonic() - started) * 1000, 3)
        if reason is None:
            log.info("tool.called", tool=call.name, duration_ms=duration_ms, ok=True)
            log.debug("tool.arguments", tool=call.name, arguments=call.arguments)
            return ToolResult(call.id, call.name, output, True, None, duration_ms)
        reason = reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 3] + "..."
        log.warning(
            "tool.failed",
            tool=call.name,
            duration_ms=duration_ms,
            ok=False,
            error=reason,
            exc_info=failure,
        )
        output = json.dumps({"error": reason}, ensure_ascii=False)
        return ToolResult(call.id, call.name, output, False, reason, duration_ms)

    async def _await_within(self, awaitable: Awaitable[Any], seconds: float) -> Any:
        """Await a tool with a deadline; one that ignores cancellation is abandoned, not awaited."""
        task = asyncio.ensure_future(awaitable)
        try:
            done, _ = await asyncio.wait({task}, timeout=seconds)
        finally:
            if not task.done():
                task.cancel()
                task.add_done_callback(_consume)
        if not done:
            await asyncio.wait({task}, timeout=self.cancel_grace)
            raise _CallFailed(f"the tool timed out after {seconds:g} s")
        return task.result()


@dataclass(slots=True)
class ToolRounds:
    """Counts the model rounds of tool calls in one turn, up to ``limit``."""

    limit: int = DEFAULT_MAX_TOOL_ROUNDS
    used: int = 0

    def take(self) -> bool:
        """Spend one round; False once ``limit`` rounds are spent (then answer with refuse_all)."""
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    @property
    def exhausted(self) -> bool:
        """Whether every round is spent."""
        return self.used >= self.limit


def refuse_all(
    calls: Sequence[ToolCall],
    reason: str = "tool call limit reached for this message; answer with what you have",
) -> list[ToolResult]:
    """Answer every call with an error output without running it."""
    output = json.dumps({"error": reason}, ensure_ascii=False)
    return [ToolResult(call.id, call.name, output, False, reason, 0.0) for call in calls]


def _encode(value: Any) -> str:
    """A tool's non-string result as JSON; unknown objects become their ``str``."""
    return json.dumps(value, default=str, ensure_ascii=False)


def _function_object(spec: Tool) -> dict[str, Any]:
    """Name, description and a private copy of the parameter schema."""
    return {
        "name": spec.name,
        "description": spec.description,
        "parameters": copy.deepcopy(spec.parameters),
    }


def _consume(task: asyncio.Future[Any]) -> None:
    """Fetch an abandoned tool's outcome so asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()
