"""Function calling through the fake server in all three modes, with one shared registry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.errors import ReplyError
from bot.settings import Settings
from helpers.backends.base import Reply, ReplyBackend, Turn
from helpers.backends.factory import build_backend
from helpers.tools.box import ToolBox
from helpers.tools.context import ToolContext
from helpers.tools.registry import ToolRegistry, tool
from storage.store import Store
from tests.fake_openai import FakeOpenAI, Text, ToolCalls
from tests.fakes import FakeClock

MODES = ["chat", "responses", "assistants"]
CHAT = "15550001111@s.whatsapp.net"


@tool
async def add(ctx: ToolContext, a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: First number.
        b: Second number.
    """
    return a + b


@tool
async def whose_chat(ctx: ToolContext) -> str:
    """The chat this call runs for."""
    return ctx.chat


@tool
async def explode(ctx: ToolContext) -> str:
    """Always fails."""
    raise RuntimeError("internal detail")


@tool(timeout=0.05)
async def hang(ctx: ToolContext) -> str:
    """Never finishes."""
    await asyncio.Event().wait()
    return "unreachable"


def make_backend(
    mode: str, settings_for: Callable[..., Settings], store: Store, rounds: int = 3
) -> ReplyBackend:
    """The backend for ``mode`` with this module's tools."""
    settings = settings_for(OPENAI_API_MODE=mode)
    registry = ToolRegistry([add, whose_chat, explode, hang])
    box = ToolBox(registry, clock=FakeClock(), timezone="UTC", timeout=5, max_rounds=rounds)
    return build_backend(settings, store, box)


@pytest.fixture
def settings_for(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings]
) -> Callable[..., Settings]:
    """Settings against the fake, with the test assistant."""

    def make(**env: Any) -> Settings:
        return make_settings(
            OPENAI_BASE_URL=fake_openai.base_url,
            OPENAI_MAX_RETRIES=0,
            OPENAI_ASSISTANT_ID="asst_test",
            **env,
        )

    return make


async def answer(backend: ReplyBackend, text: str = "go") -> Reply:
    """One turn of CHAT through ``backend``."""
    await backend.preflight()
    try:
        return await backend.reply(
            Turn(chat=CHAT, chat_jid=CHAT, sender=CHAT, sender_name="Al", text=text)
        )
    finally:
        await backend.aclose()


def submitted_outputs(mode: str, fake: FakeOpenAI) -> list[list[str]]:
    """The tool outputs the bot sent back, one list per submission."""
    if mode == "assistants":
        return [
            [o["output"] for o in r.body["tool_outputs"]]
            for r in fake.requests_to("/submit_tool_outputs")
        ]
    if mode == "responses":
        batches = [
            [i["output"] for i in r.body["input"] if i.get("type") == "function_call_output"]
            for r in fake.requests_to("/responses", method="POST")
        ]
        return [b for b in batches if b]
    batches = []
    for r in fake.requests_to("/chat/completions"):
        outputs = [m["content"] for m in r.body["messages"] if m["role"] == "tool"]
        if outputs:
            batches.append(outputs)
    return batches


@pytest.mark.parametrize("mode", MODES)
async def test_one_round_of_every_kind_of_call_is_answered_together(
    mode: str, fake_openai: FakeOpenAI, settings_for: Callable[..., Settings], store: Store
) -> None:
    """Good, context-bound, bad-argument, unknown, raising and hanging calls: one submission."""
    fake_openai.script(
        ToolCalls(
            [
                ("add", {"a": 2, "b": 3}),
                ("whose_chat", {}),
                ("add", {"a": "two"}),
                ("no_such_tool", {}),
                ("explode", {}),
                ("hang", {}),
            ]
        ),
        Text("All done."),
    )
    reply = await answer(make_backend(mode, settings_for, store))
    assert reply.text == "All done."
    [outputs] = submitted_outputs(mode, fake_openai)
    assert outputs[:2] == ["5", CHAT]
    errors = [json.loads(o)["error"] for o in outputs[2:]]
    assert len(errors) == 4
    assert "internal detail" not in " ".join(errors)
    assert "timed out" in errors[3] or "timeout" in errors[3]
    assert [(c.tool, c.ok) for c in reply.tool_calls] == [
        ("add", True),
        ("whose_chat", True),
        ("add", False),
        ("no_such_tool", False),
        ("explode", False),
        ("hang", False),
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_tool_rounds_are_bounded_in_every_mode(
    mode: str, fake_openai: FakeOpenAI, settings_for: Callable[..., Settings], store: Store
) -> None:
    """A model that never stops calling tools ends in an honest ReplyError, not a loop."""
    fake_openai.script(*[ToolCalls([("add", {"a": 1, "b": 1})]) for _ in range(10)])
    with pytest.raises(ReplyError) as info:
        await answer(make_backend(mode, settings_for, store, rounds=2))
    assert info.value.cause == "tool_rounds"
    assert len(fake_openai.calls) <= 4
