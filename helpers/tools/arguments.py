"""From the arguments a model sent to keyword arguments: parsing, limits, error wording.

Every failure is a ``CallFailed`` whose ``reason`` is the short text the model reads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

__all__ = [
    "CallFailed",
    "check_against_schema",
    "check_numbers",
    "describe_invalid",
    "parse_arguments",
]


#: The integers a tool may receive: SQLite's (and most APIs') signed 64-bit range.
_INT_RANGE = range(-(2**63), 2**63)


def parse_arguments(arguments: str | Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as a dict of JSON values; ``CallFailed`` for anything a tool cannot take."""
    if isinstance(arguments, Mapping):
        value: Any = dict(arguments)
    else:
        try:
            value = json.loads(str(arguments).strip() or "{}")
        except json.JSONDecodeError as exc:
            raise CallFailed(f"arguments are not valid JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(value, dict):
        raise CallFailed("arguments must be a JSON object")
    check_numbers(value, "")
    return value


def check_numbers(value: Any, at: str) -> None:
    """Refuse integers beyond 64 bits and non-finite numbers, naming where they are."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and value not in _INT_RANGE:
        raise CallFailed(f"invalid arguments at {at!r}: the number is out of range")
    if isinstance(value, float) and not math.isfinite(value):
        raise CallFailed(f"invalid arguments at {at!r}: {value} is not a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            check_numbers(item, f"{at}/{key}" if at else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_numbers(item, f"{at}/{index}" if at else str(index))


def describe_invalid(exc: ValidationError) -> str:
    """Pydantic's errors as one short sentence the model can act on."""
    parts: list[str] = []
    for error in exc.errors(include_url=False)[:3]:
        at = "/".join(str(part) for part in error["loc"])
        if error["type"] == "missing":
            parts.append(f"{at!r} is required")
        elif error["type"] == "extra_forbidden":
            parts.append(f"{at!r} is not an argument of this tool")
        else:
            shown = repr(error["input"])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            message = error["msg"].removeprefix("Input ")
            message = message if message.startswith("should") else f"is invalid: {message}"
            parts.append(f"{at!r} {message}, got {shown}")
    return "invalid arguments: " + "; ".join(parts)


def check_against_schema(validator: Any, value: dict[str, Any]) -> None:
    """Check ``value`` with a jsonschema validator (tools with an explicit schema only)."""
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        at = "/".join(str(part) for part in error.absolute_path)
        raise CallFailed(f"invalid arguments{f' at {at!r}' if at else ''}: {error.message}")


class CallFailed(Exception):
    """A call that could not run; ``reason`` is what the model reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
