"""``OPENAI_RESPONSES_STATE``: conversations, chained responses, local history, and ``auto``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.errors import ReplyError
from bot.settings import Settings
from helpers.backends.base import Turn
from helpers.backends.responses import ResponsesBackend
from helpers.openai_client import build_client
from helpers.tools.box import ToolBox
from storage.store import Store
from tests.backend_kit import answered, toolbox
from tests.fake_openai import FakeOpenAI, Text, ToolCalls

CHAT = "15550001111@s.whatsapp.net"
SENDER = CHAT

MakeBackend = Callable[..., ResponsesBackend]


def turn(text: str) -> Turn:
    """A one-message turn from Ann."""
    return Turn(chat=CHAT, chat_jid=CHAT, sender=SENDER, sender_name="Ann", text=text)


def bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    """The JSON bodies of every POST /responses, oldest first."""
    return [r.json for r in fake.requests_to("/responses", "POST")]


def texts(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Message input items as (role, text)."""
    out = []
    for item in items:
        if item.get("type") == "message":
            content = item["content"]
            text = content if isinstance(content, str) else content[0]["text"]
            out.append((item["role"], text))
    return out


@pytest.fixture
async def make_backend(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> AsyncIterator[MakeBackend]:
    """Build ResponsesBackends on the fake (no SDK retries); close them after."""
    made: list[ResponsesBackend] = []

    def make(store: Store, tools: ToolBox | None = None, **env: Any) -> ResponsesBackend:
        """One backend on ``store``; ``env`` overrides settings."""
        settings = make_settings(
            OPENAI_BASE_URL=fake_openai.base_url,
            OPENAI_API_MODE="responses",
            OPENAI_MAX_RETRIES="0",
            **env,
        )
        backend = ResponsesBackend(build_client(settings), store, settings, tools)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


async def test_previous_response_state_chains_each_turn_and_survives_a_restart(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, tmp_path: Path
) -> None:
    """previous_response: the first turn is seeded from local history, each later one chains
    on the last response (kept in SQLite across a restart); no conversation is made."""
    async with Store.open(tmp_path / "bot.db") as store:
        await answered(store, CHAT, "my name is Ann", "Hi Ann!", 1)
        backend = make_backend(store, OPENAI_RESPONSES_STATE="previous_response")
        await backend.preflight()
        assert backend.ready_fields == {"responses_state": "previous_response"}
        first = await backend.reply(turn("I like tea"))
        last = await store.last_response_for(CHAT)
    async with Store.open(tmp_path / "bot.db") as reopened:
        backend = make_backend(reopened, OPENAI_RESPONSES_STATE="previous_response")
        second = await backend.reply(turn("what do I like?"))
    assert [first.text, second.text] == ["echo: I like tea", "echo: what do I like?"]
    one, two = bodies(fake_openai)
    assert "previous_response_id" not in one and "conversation" not in one
    assert texts(one["input"]) == [
        ("user", "my name is Ann"),
        ("assistant", "Hi Ann!"),
        ("user", "I like tea"),
    ]
    assert last is not None and two["previous_response_id"] == last
    assert texts(two["input"]) == [("user", "what do I like?")]
    assert fake_openai.calls[-1].messages[-3:] == (
        ("user", "I like tea"),
        ("assistant", "echo: I like tea"),
        ("user", "what do I like?"),
    )
    assert fake_openai.requests_to("/conversations", "POST") == []


async def test_previous_response_state_runs_tools_on_the_chain(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A tool round continues from the response that asked for the call."""
    fake_openai.script(ToolCalls([("add", {"a": 2, "b": 3})]), Text("five"))
    backend = make_backend(store, toolbox(), OPENAI_RESPONSES_STATE="previous_response")
    reply = await backend.reply(turn("2+3?"))
    assert reply.text == "five"
    _asked, answered_call = bodies(fake_openai)
    assert answered_call["previous_response_id"].startswith("resp_")
    [output] = answered_call["input"]
    assert output["type"] == "function_call_output" and output["output"] == "5"
    assert await store.last_response_for(CHAT) != answered_call["previous_response_id"]


async def test_local_state_sends_the_history_unstored_and_resends_it_in_tool_rounds(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """local: store=false, the SQLite history as input, the tool round resends it all."""
    await answered(store, CHAT, "hi", "hello", 1)
    fake_openai.script(ToolCalls([("add", {"a": 1, "b": 1})]), Text("two"))
    backend = make_backend(store, toolbox(), OPENAI_RESPONSES_STATE="local")
    assert (await backend.reply(turn("1+1?"))).text == "two"
    first, second = bodies(fake_openai)
    for body in (first, second):
        assert body["store"] is False
        assert "previous_response_id" not in body and "conversation" not in body
    assert texts(first["input"]) == [("user", "hi"), ("assistant", "hello"), ("user", "1+1?")]
    kinds = [item["type"] for item in second["input"]]
    assert kinds == ["message", "message", "message", "function_call", "function_call_output"]
    assert await store.last_response_for(CHAT) is None
    assert fake_openai.requests_to("/conversations") == []


async def test_auto_uses_conversations_when_the_server_has_them(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """auto on a server with /conversations: conversations (the probe is deleted at once)."""
    backend = make_backend(store)
    await backend.preflight()
    assert backend.ready_fields == {"responses_state": "conversation"}
    assert fake_openai.responses_store.conversations == {}


async def test_auto_without_conversations_chains_responses(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """auto on a server answering 404 on /conversations: previous_response, and it answers."""
    fake_openai.profile(conversations_enabled=False)
    backend = make_backend(store)
    await backend.preflight()
    assert backend.ready_fields == {"responses_state": "previous_response"}
    await backend.reply(turn("one"))
    assert (await backend.reply(turn("two"))).text == "echo: two"
    assert bodies(fake_openai)[-1]["previous_response_id"].startswith("resp_")


async def test_auto_falls_back_to_local_history_when_the_server_cannot_chain(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """auto on a stateless server (no /conversations, previous_response_id refused): the
    turn is answered from local history, one warning names the server's words."""
    fake_openai.profile(conversations_enabled=False, chaining=False)
    backend = make_backend(store)
    await backend.preflight()
    await backend.reply(turn("remember 42"))
    await answered(store, CHAT, "remember 42", "echo: remember 42", 1)
    with capture_logs() as logs:
        reply = await backend.reply(turn("what number?"))
        again = await backend.reply(turn("still?"))
    assert [reply.text, again.text] == ["echo: what number?", "echo: still?"]
    assert backend.state == "local"
    [warning] = [e for e in logs if e["event"] == "responses.state_fallback"]
    assert "not supported" in warning["server_said"]
    assert texts(bodies(fake_openai)[-2]["input"]) == [
        ("user", "remember 42"),
        ("assistant", "echo: remember 42"),
        ("user", "what number?"),
    ]


async def test_explicit_previous_response_on_a_server_that_cannot_chain_says_what_to_set(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """OPENAI_RESPONSES_STATE=previous_response on a stateless server: a clear ReplyError."""
    fake_openai.profile(chaining=False)
    backend = make_backend(store, OPENAI_RESPONSES_STATE="previous_response")
    await backend.reply(turn("one"))
    with pytest.raises(ReplyError, match="OPENAI_RESPONSES_STATE=local"):
        await backend.reply(turn("two"))


async def test_a_lost_chain_restarts_from_local_history(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A chained response the server no longer has (404): the turn is seeded afresh."""
    backend = make_backend(store, OPENAI_RESPONSES_STATE="previous_response")
    await backend.reply(turn("remember 42"))
    await answered(store, CHAT, "remember 42", "echo: remember 42", 1)
    fake_openai.responses_store.responses.clear()
    assert (await backend.reply(turn("what number?"))).text == "echo: what number?"
    assert texts(bodies(fake_openai)[-1]["input"]) == [
        ("user", "remember 42"),
        ("assistant", "echo: remember 42"),
        ("user", "what number?"),
    ]


async def test_reset_and_forget_in_previous_response_state(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """/reset starts a new chain; /forget deletes every chained response on the server."""
    backend = make_backend(store, OPENAI_RESPONSES_STATE="previous_response")
    await backend.reply(turn("old topic"))
    await backend.reset(CHAT)
    await backend.reply(turn("new topic"))
    assert "previous_response_id" not in bodies(fake_openai)[-1]
    stored = await store.chained_responses(CHAT)
    assert len(stored) == 2
    await backend.forget(CHAT)
    deleted = [r.path.rsplit("/", 1)[-1] for r in fake_openai.requests_to("", "DELETE")]
    assert deleted == stored
    assert fake_openai.responses_store.responses == {}
    assert await store.chained_responses(CHAT) == []
