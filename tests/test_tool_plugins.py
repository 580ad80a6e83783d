"""Tests for helpers.tools.plugins and the built-in current_datetime tool."""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConfigError, ToolError
from helpers.tools import ToolCall, ToolContext, ToolRegistry, get_tool
from helpers.tools.clock_tool import current_datetime
from helpers.tools.plugins import load_plugins

WritePlugin = Callable[[str, str], str]


class FixedClock:
    """A clock stopped at ``at``."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        """The fixed instant."""
        return self.at

    def monotonic(self) -> float:
        """A fixed monotonic reading."""
        return 0.0

    async def sleep(self, seconds: float) -> None:
        """Tools under test must not sleep."""
        raise AssertionError("unexpected sleep")


def make_ctx(at: datetime, timezone: str = "Europe/Berlin") -> ToolContext:
    """A context whose clock reads ``at``."""
    return ToolContext(
        chat="chat-a",
        chat_jid="111@s.whatsapp.net",
        sender="111@s.whatsapp.net",
        sender_name="Ann",
        timezone=timezone,
        clock=FixedClock(at),
        services={},
    )


@pytest.fixture
def write_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WritePlugin]:
    """Write modules of a fresh package under tmp_path; return each module's dotted name."""
    package = f"plugins_{uuid.uuid4().hex[:12]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(tmp_path)

    def write(module: str, source: str) -> str:
        """Write ``package.module`` with ``source``."""
        (tmp_path / package / f"{module}.py").write_text(textwrap.dedent(source))
        return f"{package}.{module}"

    yield write
    for name in [name for name in sys.modules if name.split(".")[0] == package]:
        del sys.modules[name]


GOOD_PLUGIN = """
    from helpers.tools import ToolContext, tool
    from helpers.tools.clock_tool import current_datetime  # imported: not this module's tool


    def helper(text: str) -> str:
        return text.upper()


    @tool
    async def shout(ctx: ToolContext, text: str) -> str:
        \"\"\"Repeat the text in capitals.\"\"\"
        return helper(text)


    @tool(name="add", timeout=2)
    async def add_numbers(ctx: ToolContext, a: int, b: int = 1) -> int:
        \"\"\"Add two numbers.\"\"\"
        return a + b
"""


async def test_plugin_tools_are_loaded_in_definition_order(write_plugin: WritePlugin) -> None:
    """Every @tool defined in the module, in order, ready to run in a registry."""
    first = write_plugin("text", GOOD_PLUGIN)
    second = write_plugin(
        "more",
        """
        from helpers.tools import ToolContext, tool

        @tool
        async def chat_name(ctx: ToolContext) -> str:
            \"\"\"Say which chat this is.\"\"\"
            return ctx.chat
        """,
    )
    tools = load_plugins([first, " ", second])
    assert [(t.name, t.timeout) for t in tools] == [
        ("shout", None),
        ("add", 2),
        ("chat_name", None),
    ]
    registry = ToolRegistry([current_datetime, *tools])
    calls = [
        ToolCall("1", "shout", '{"text": "hi"}'),
        ToolCall("2", "add", '{"a": 2}'),
        ToolCall("3", "chat_name", "{}"),
    ]
    results = await registry.execute(calls, make_ctx(datetime(2026, 1, 1, tzinfo=UTC)), timeout=5)
    assert [r.output for r in results] == ["HI", "3", "chat-a"]


def test_no_modules_means_no_tools() -> None:
    """An empty TOOLS_MODULES loads nothing."""
    assert load_plugins([]) == []
    assert load_plugins(["", "  "]) == []


def test_broken_plugins_are_reported_together(write_plugin: WritePlugin) -> None:
    """Each broken module is named with its reason in one ConfigError."""
    good = write_plugin("good", GOOD_PLUGIN)
    raising = write_plugin("raising", "raise RuntimeError('no API key for the weather service')")
    empty = write_plugin("empty", "def not_a_tool() -> None:\n    pass\n")
    sync = write_plugin(
        "sync",
        """
        from helpers.tools import ToolContext, tool

        @tool
        def blocking(ctx: ToolContext) -> str:
            \"\"\"Blocks the event loop.\"\"\"
            return ""
        """,
    )
    twin = write_plugin("twin", GOOD_PLUGIN)
    missing = good.rsplit(".", 1)[0] + ".missing"
    with pytest.raises(ConfigError) as caught:
        load_plugins([good, raising, empty, sync, missing, twin])
    assert list(caught.value.problems) == ["TOOLS_MODULES"]
    reasons = caught.value.problems["TOOLS_MODULES"].split("; ")
    assert reasons == [
        f"{raising}: cannot import (RuntimeError: no API key for the weather service)",
        f"{empty}: defines no @tool functions",
        f"{sync}: cannot import (TypeError: tool 'blocking': must be an async function"
        " (async def))",
        f"{missing}: cannot import (ModuleNotFoundError: No module named '{missing}')",
        f"{twin}: tool 'shout' is already defined in {good}",
        f"{twin}: tool 'add' is already defined in {good}",
    ]


def test_a_syntax_error_names_the_module(write_plugin: WritePlugin) -> None:
    """A plugin that does not parse is a configuration error, not a crash."""
    broken = write_plugin("broken", "async def (:\n")
    with pytest.raises(ConfigError, match=rf"{broken}: cannot import \(SyntaxError"):
        load_plugins([broken])


def test_current_datetime_schema() -> None:
    """current_datetime takes one nullable, documented timezone argument (strict form)."""
    spec = get_tool(current_datetime)
    assert spec is not None and spec.strict
    assert spec.parameters["required"] == ["timezone"]
    assert list(spec.parameters["properties"]) == ["timezone"]
    assert spec.parameters["properties"]["timezone"]["anyOf"] == [
        {"type": "string"},
        {"type": "null"},
    ]
    assert "IANA" in spec.parameters["properties"]["timezone"]["description"]


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        (
            None,
            {
                "timezone": "Europe/Berlin",
                "date": "2026-07-01",
                "time": "01:30",
                "weekday": "Wednesday",
                "iso": "2026-07-01T01:30:00+02:00",
            },
        ),
        (
            "America/New_York",
            {
                "timezone": "America/New_York",
                "date": "2026-06-30",
                "time": "19:30",
                "weekday": "Tuesday",
                "iso": "2026-06-30T19:30:00-04:00",
            },
        ),
        (
            "UTC",
            {
                "timezone": "UTC",
                "date": "2026-06-30",
                "time": "23:30",
                "weekday": "Tuesday",
                "iso": "2026-06-30T23:30:00+00:00",
            },
        ),
    ],
)
async def test_current_datetime_with_a_fixed_clock(
    timezone: str | None, expected: dict[str, str]
) -> None:
    """The user's timezone by default, another IANA zone on request; date and weekday follow."""
    ctx = make_ctx(datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    assert await current_datetime(ctx, timezone) == expected


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "Europe", "../etc/passwd"])
async def test_current_datetime_bad_timezone(timezone: str) -> None:
    """An unknown timezone is a ToolError with a hint, an error output through the registry."""
    ctx = make_ctx(datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    with pytest.raises(ToolError, match="use an IANA name such as 'Europe/London'"):
        await current_datetime(ctx, timezone)
    arguments = json.dumps({"timezone": timezone})
    registry = ToolRegistry([current_datetime])
    (result,) = await registry.execute(
        [ToolCall("1", "current_datetime", arguments)], ctx, timeout=5
    )
    assert not result.ok
    error: Any = json.loads(result.output)["error"]
    assert error.startswith(f"unknown timezone {timezone!r}")
