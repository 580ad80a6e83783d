"""chat mode end to end: real pipeline, real SDK, the fake OpenAI server, real SQLite."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.errors import ReplyError
from bot.pipeline import FAILURE_TEXT, Pipeline
from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from helpers.backends.base import Turn
from helpers.backends.chat import ChatBackend
from helpers.openai_client import build_client
from helpers.tools.box import ToolBox
from helpers.tools.context import ToolContext
from helpers.tools.registry import ToolRegistry, tool
from storage.store import Store
from tests import wa_events as wa
from tests.fake_openai import Fail, FakeOpenAI, Text, ToolCalls
from tests.fakes import FakeClock, FakeTransport

ALICE = "15550001111"
ALICE_JID = f"{ALICE}@s.whatsapp.net"
SEEN: list[tuple[str, str]] = []


@tool
async def lookup_weather(ctx: ToolContext, city: str) -> str:
    """Weather in a city.

    Args:
        city: The city.
    """
    SEEN.append((ctx.chat, city))
    return f"sunny in {city}"


@tool
async def explode(ctx: ToolContext) -> str:
    """A tool that fails."""
    raise RuntimeError("kaboom with secret sk-abc")


def toolbox(clock: FakeClock, max_rounds: int = 3) -> ToolBox:
    """A small registry for these tests."""
    registry = ToolRegistry([lookup_weather, explode])
    return ToolBox(registry, clock=clock, timezone="UTC", timeout=5, max_rounds=max_rounds)


@pytest.fixture
def chat_settings(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings]
) -> Callable[..., Settings]:
    """Settings pointing at the fake server, no SDK retries unless asked."""

    def make(**env: Any) -> Settings:
        base = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_MAX_RETRIES": 0}
        return make_settings(**{**base, **env})

    return make


@asynccontextmanager
async def running(
    settings: Settings, store: Store, tools: ToolBox | None = None
) -> AsyncIterator[tuple[Pipeline, FakeTransport]]:
    """A pipeline with the real chat backend."""
    transport = FakeTransport()
    backend = ChatBackend(build_client(settings), store, settings, tools)
    pipeline = Pipeline(settings=settings, store=store, backend=backend, transport=transport)
    await pipeline.start()
    try:
        yield pipeline, transport
    finally:
        await pipeline.drain(timeout=2)
        await pipeline.close()
        await backend.aclose()


async def say(pipeline: Pipeline, *texts: str, sender: str = ALICE) -> None:
    """Send texts as one person and wait for the answers."""
    for text in texts:
        pipeline.submit(to_incoming(wa.private_text(text, sender=sender)))
    await pipeline.join()


async def test_context_is_prompt_history_and_new_message(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """Each call carries the system prompt, the last N stored messages and the new one."""
    settings = chat_settings(MAX_CONVERSATION_HISTORY=4, AI_SYSTEM_PROMPT="Be brief.")
    async with running(settings, store) as (pipeline, transport):
        await say(pipeline, "one", "two", "three", "four")
    assert transport.texts() == ["echo: one", "echo: two", "echo: three", "echo: four"]
    # Six earlier messages are stored; only the last four go with the new one.
    assert fake_openai.calls[-1].messages == (
        ("system", "Be brief."),
        ("user", "two"),
        ("assistant", "echo: two"),
        ("user", "three"),
        ("assistant", "echo: three"),
        ("user", "four"),
    )


async def test_context_survives_a_restart(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """A new pipeline on the same database continues the conversation."""
    settings = chat_settings()
    async with running(settings, store) as (pipeline, _):
        await say(pipeline, "my name is Ada")
    async with running(settings, store) as (pipeline, _):
        await say(pipeline, "what is my name?")
    assert ("user", "my name is Ada") in fake_openai.calls[-1].messages
    assert ("assistant", "echo: my name is Ada") in fake_openai.calls[-1].messages


async def test_usage_is_recorded_per_turn(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """Tokens from the response's usage are stored with the mode and model."""
    async with running(chat_settings(OPENAI_MODEL="gpt-test"), store) as (pipeline, _):
        await say(pipeline, "count my tokens")
    [row] = await store.usage_rows(ALICE_JID)
    assert (row.mode, row.model) == ("chat", "gpt-test")
    assert row.total_tokens == row.prompt_tokens + row.completion_tokens > 0


async def test_openai_down_gives_an_honest_message_and_a_clean_history(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """After the SDK's retries fail: one short message, turn failed, next turn clean."""
    settings = chat_settings(OPENAI_MAX_RETRIES=2)
    fake_openai.fail_next(500, times=3, retry_after=0.001)
    async with running(settings, store) as (pipeline, transport):
        await say(pipeline, "are you up?")
        await say(pipeline, "and now?")
    assert transport.texts() == [FAILURE_TEXT, "echo: and now?"]
    assert len(fake_openai.requests_to("/chat/completions")) == 4  # 3 failed tries + 1
    assert ("user", "are you up?") not in fake_openai.calls[-1].messages
    states = [(m.text, m.state, m.reason) for m in await store.messages(ALICE_JID)]
    assert states == [("are you up?", "failed", "server_error"), ("and now?", "answered", None)]


async def test_sdk_retries_transient_errors(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """Two 500s then success: the user just gets the answer."""
    fake_openai.fail_next(500, times=2, retry_after=0.001)
    async with running(chat_settings(OPENAI_MAX_RETRIES=2), store) as (pipeline, transport):
        await say(pipeline, "hello")
    assert transport.texts() == ["echo: hello"]


async def test_context_overflow_trims_history_and_retries(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """context_length_exceeded: the oldest history is dropped and the call repeated."""
    async with running(chat_settings(), store) as (pipeline, transport):
        await say(pipeline, "first", "second")
        fake_openai.script(Fail(400, code="context_length_exceeded", type="invalid_request_error"))
        await say(pipeline, "third")
    assert transport.texts()[-1] == "echo: third"
    assert ("user", "first") not in fake_openai.calls[-1].messages


async def test_one_tool_call_then_answer(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """The model calls a tool for this chat; its output goes back; the final text is sent."""
    SEEN.clear()
    fake_openai.script(ToolCalls([("lookup_weather", {"city": "Oslo"})]), Text("It is sunny."))
    async with running(chat_settings(), store, toolbox(FakeClock())) as (pipeline, transport):
        await say(pipeline, "weather in Oslo?")
    assert transport.texts() == ["It is sunny."]
    assert SEEN == [(ALICE_JID, "Oslo")]
    assert ("tool", "sunny in Oslo") in fake_openai.calls[-1].messages
    assert [(t.tool, t.ok) for t in await store.tool_call_rows(ALICE_JID)] == [
        ("lookup_weather", True)
    ]


async def test_parallel_calls_bad_arguments_unknown_tool_and_exceptions(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """Four calls at once: all answered, failures as error outputs the model reads."""
    fake_openai.script(
        ToolCalls(
            [
                ("lookup_weather", {"city": "Rome"}),
                ("lookup_weather", "{not json"),
                ("no_such_tool", {}),
                ("explode", {}),
            ]
        ),
        Text("Done."),
    )
    async with running(chat_settings(), store, toolbox(FakeClock())) as (pipeline, transport):
        await say(pipeline, "go")
    assert transport.texts() == ["Done."]
    tool_msgs = [text for role, text in fake_openai.calls[-1].messages if role == "tool"]
    assert tool_msgs[0] == "sunny in Rome"
    assert all("error" in json.loads(m) for m in tool_msgs[1:])
    assert "sk-abc" not in " ".join(tool_msgs)
    rows = await store.tool_call_rows(ALICE_JID)
    assert [(r.tool, r.ok) for r in rows] == [
        ("lookup_weather", True),
        ("lookup_weather", False),
        ("no_such_tool", False),
        ("explode", False),
    ]


async def test_tool_rounds_are_bounded(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """A model that keeps calling tools is stopped after TOOLS_MAX_ROUNDS."""
    fake_openai.script(*[ToolCalls([("lookup_weather", {"city": "X"})]) for _ in range(5)])
    settings = chat_settings()
    backend = ChatBackend(build_client(settings), store, settings, toolbox(FakeClock(), 2))
    turn = Turn(chat=ALICE_JID, chat_jid=ALICE_JID, sender=ALICE_JID, sender_name="A", text="loop")
    with pytest.raises(ReplyError) as info:
        await backend.reply(turn)
    await backend.aclose()
    assert info.value.cause == "tool_rounds"
    assert len(fake_openai.calls) == 3  # two tool rounds + the final forced answer


async def test_group_context_attributes_each_sender(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """In a group every user message carries its sender's name; the prompt says so."""
    async with running(chat_settings(GROUP_MODE="all"), store) as (pipeline, _):
        pipeline.submit(
            to_incoming(wa.group_text("hi from Bob", sender="15550002222", push_name="Bob"))
        )
        await pipeline.join()
        pipeline.submit(
            to_incoming(wa.group_text("hi from Cy", sender="15550003333", push_name="Cy"))
        )
        await pipeline.join()
    messages = fake_openai.calls[-1].messages
    assert messages[0][0] == "system" and "group chat" in messages[0][1]
    assert ("user", "Bob: hi from Bob") in messages
    assert messages[-1] == ("user", "Cy: hi from Cy")


async def test_overflow_after_a_tool_ran_is_not_retried(
    fake_openai: FakeOpenAI, chat_settings: Callable[..., Settings], store: Store
) -> None:
    """Trimming would repeat the tool calls (a second reminder): fail honestly instead."""
    SEEN.clear()
    async with running(chat_settings(), store, toolbox(FakeClock())) as (pipeline, transport):
        await say(pipeline, "earlier")  # some history that trimming could drop
        fake_openai.script(
            ToolCalls([("lookup_weather", {"city": "Lima"})]),
            Fail(400, code="context_length_exceeded", type="invalid_request_error"),
        )
        await say(pipeline, "weather in Lima?")
    assert SEEN == [(ALICE_JID, "Lima")]
    assert transport.texts()[-1] == FAILURE_TEXT
