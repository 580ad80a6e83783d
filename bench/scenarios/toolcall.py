"""Scenario 7, tool calls: validating and converting the model's arguments, per call.

Times ``Tool.bind`` (JSON text -> validated, converted keyword arguments: the path every tool
call takes before the tool runs) on the built-in tools and on a richer plugin-style tool with an
Enum, a dataclass, a list and optional arguments; and how long defining a tool takes (schema
from the signature and docstring, once per tool at start-up). No network, no event loop work.
"""

from __future__ import annotations

import enum
import json
import statistics
import time
from dataclasses import dataclass
from typing import Any

from helpers.tools import ToolContext, get_tool, tool
from helpers.tools.clock_tool import current_datetime
from helpers.tools.registry import Tool
from helpers.tools.reminders_tool import cancel_reminder, set_reminder

from .common import Metric, ScenarioResult

NAME = "toolcall"
TITLE = "Tool calls: argument validation and conversion per call (Tool.bind)"


@dataclass(frozen=True)
class Size:
    """Calls per timed repeat, and repeats (the figure is the median repeat)."""

    calls: int = 20_000
    repeats: int = 7


FULL = Size()
QUICK = Size(calls=5_000, repeats=5)
TINY = Size(calls=50, repeats=1)


class Unit(enum.Enum):
    """Temperature units."""

    C = "celsius"
    F = "fahrenheit"


@dataclass
class Place:
    """A place by coordinates."""

    lat: float
    lon: float


async def forecast(
    ctx: ToolContext,
    place: Place,
    days: int = 1,
    unit: Unit = Unit.C,
    note: str | None = None,
    tags: list[str] | None = None,
) -> str:
    """Weather forecast for a place.

    Args:
        place: Where.
        days: How many days ahead, 1 to 7.
        unit: Temperature unit.
        note: Anything to mention.
        tags: Labels to attach.
    """
    return ""


#: (tool, arguments the model sends) for each timed case.
def _cases() -> list[tuple[str, Tool, str]]:
    rich = Tool.from_function(forecast)
    return [
        ("current_datetime", _spec(current_datetime), json.dumps({"timezone": "Europe/Paris"})),
        (
            "set_reminder",
            _spec(set_reminder),
            json.dumps({"when": "2026-12-01T09:00", "text": "call mum"}),
        ),
        ("cancel_reminder", _spec(cancel_reminder), json.dumps({"reminder_id": 42})),
        (
            "forecast (enum, dataclass, list)",
            rich,
            json.dumps(
                {
                    "place": {"lat": 48.85, "lon": 2.35},
                    "days": 3,
                    "unit": "fahrenheit",
                    "tags": ["trip", "paris"],
                }
            ),
        ),
    ]


def _spec(fn: Any) -> Tool:
    spec = get_tool(fn)
    assert spec is not None
    return spec


def _per_call_us(spec: Tool, arguments: str, size: Size) -> float:
    """Median over repeats of the mean time of one ``bind``, in microseconds."""
    spec.bind(arguments)  # warm caches
    repeats = []
    for _ in range(size.repeats):
        began = time.perf_counter()
        for _ in range(size.calls):
            spec.bind(arguments)
        repeats.append((time.perf_counter() - began) / size.calls * 1e6)
    return statistics.median(repeats)


def _define_us(size: Size) -> float:
    """Median time to define the rich tool (schema from signature and docstring), in µs."""
    rounds = max(1, size.calls // 100)
    repeats = []
    for _ in range(size.repeats):
        began = time.perf_counter()
        for _ in range(rounds):
            tool(forecast)
        repeats.append((time.perf_counter() - began) / rounds * 1e6)
    return statistics.median(repeats)


def run_sync(size: Size = FULL) -> ScenarioResult:
    """Time every case."""
    result = ScenarioResult(NAME, TITLE)
    figures: dict[str, float] = {}
    for label, spec, arguments in _cases():
        figures[label] = _per_call_us(spec, arguments, size)
        result.metrics.append(Metric(f"bind {label}", figures[label], "µs"))
    define = _define_us(size)
    result.metrics.append(Metric("define a tool (forecast)", define, "µs"))
    result.details = {
        "calls_per_repeat": size.calls,
        "repeats": size.repeats,
        "bind_us": {k: round(v, 2) for k, v in figures.items()},
        "define_us": round(define, 1),
    }
    return result


async def run(size: Size = FULL) -> ScenarioResult:
    """Async entry point like the other scenarios (the work is synchronous)."""
    return run_sync(size)
