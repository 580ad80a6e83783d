"""The ``responses`` backend, driven through the real SDK against the local fake OpenAI."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import openai
import pytest
import structlog

from bot.errors import ReplyError
from bot.settings import Settings
from helpers.backends.base import Turn, TurnImage, Usage
from helpers.backends.chat import system_prompt
from helpers.backends.responses import INTERRUPTED_OUTPUT, ResponsesBackend
from helpers.openai_client import build_client
from helpers.tools.box import ToolBox
from storage.store import Store
from tests.backend_kit import answered, toolbox
from tests.fake_openai import Fail, FakeOpenAI, RunEnds, Text, ToolCalls

CHAT = "15550001111@s.whatsapp.net"
OTHER_CHAT = "15550002222@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
SENDER = "15550001111@s.whatsapp.net"

MakeBackend = Callable[..., ResponsesBackend]


def turn(text: str, chat: str = CHAT, **extra: Any) -> Turn:
    """A one-message turn from Ann."""
    return Turn(chat=chat, chat_jid=chat, sender=SENDER, sender_name="Ann", text=text, **extra)


def item_texts(fake: FakeOpenAI, conversation_id: str) -> list[tuple[str, str]]:
    """A conversation's message items on the fake as (role, text), oldest first."""
    return [
        (item["role"], " ".join(part.get("text", "") for part in item["content"]))
        for item in fake.conversation_items(conversation_id)
        if item["type"] == "message"
    ]


def bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    """The JSON bodies of every POST /responses, oldest first."""
    return [r.json for r in fake.requests_to("/responses", "POST")]


@pytest.fixture(params=["true", "false"], ids=["streamed", "plain"])
def stream(request: pytest.FixtureRequest) -> str:
    """OPENAI_STREAM: streamed responses, or plain ones."""
    return str(request.param)


@pytest.fixture
async def make_backend(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> AsyncIterator[MakeBackend]:
    """Build ResponsesBackends on the fake (no SDK retries); close them after."""
    made: list[ResponsesBackend] = []

    def make(store: Store, tools: ToolBox | None = None, **env: Any) -> ResponsesBackend:
        """One backend on ``store``; ``env`` overrides settings."""
        settings = make_settings(
            **{
                "OPENAI_BASE_URL": fake_openai.base_url,
                "OPENAI_API_MODE": "responses",
                "OPENAI_MAX_RETRIES": "0",
                **env,
            }
        )
        backend = ResponsesBackend(build_client(settings), store, settings, tools)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


# --- conversations ---------------------------------------------------------------------------


async def test_conversation_is_created_once_and_survives_a_restart(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, tmp_path: Path
) -> None:
    """One conversation per chat: made on the first turn, reused later and after a restart."""
    async with Store.open(tmp_path / "bot.db") as store:
        backend = make_backend(store)
        first = await backend.reply(turn("hello"))
        second = await backend.reply(turn("again"))
        conversation = await store.thread_for(CHAT, "responses")
    async with Store.open(tmp_path / "bot.db") as reopened:
        third = await make_backend(reopened).reply(turn("after restart"))
        assert await reopened.thread_for(CHAT, "responses") == conversation
    assert [first.text, second.text, third.text] == [
        "echo: hello",
        "echo: again",
        "echo: after restart",
    ]
    assert conversation is not None and conversation.startswith("conv_")
    assert len(fake_openai.requests_to("/conversations", "POST")) == 1
    assert [body["conversation"] for body in bodies(fake_openai)] == [conversation] * 3
    assert item_texts(fake_openai, conversation) == [
        ("user", "hello"),
        ("assistant", "echo: hello"),
        ("user", "again"),
        ("assistant", "echo: again"),
        ("user", "after restart"),
        ("assistant", "echo: after restart"),
    ]


async def test_two_chats_get_two_conversations(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """Each chat has its own conversation; neither sees the other's messages."""
    backend = make_backend(store)
    await backend.reply(turn("mine", CHAT))
    await backend.reply(turn("theirs", OTHER_CHAT))
    mine = await store.thread_for(CHAT, "responses")
    theirs = await store.thread_for(OTHER_CHAT, "responses")
    assert mine is not None and theirs is not None and mine != theirs
    assert item_texts(fake_openai, mine) == [("user", "mine"), ("assistant", "echo: mine")]
    assert item_texts(fake_openai, theirs) == [("user", "theirs"), ("assistant", "echo: theirs")]
    metadata = [r.json["metadata"] for r in fake_openai.requests_to("/conversations", "POST")]
    assert metadata == [{"chat": CHAT}, {"chat": OTHER_CHAT}]


async def test_reply_with_usage_streamed_or_plain(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str
) -> None:
    """A turn sends model, conversation, instructions, the new message only; returns usage."""
    backend = make_backend(store, OPENAI_STREAM=stream)
    reply = await backend.reply(turn("how are you"))
    assert reply.text == "echo: how are you"
    conversation = await store.thread_for(CHAT, "responses")
    (body,) = bodies(fake_openai)
    expected = {
        "model": backend.settings.openai_model,
        "conversation": conversation,
        "instructions": backend.settings.ai_system_prompt,
        "input": [{"type": "message", "role": "user", "content": "how are you"}],
        "truncation": "auto",
    }
    if stream == "true":
        expected["stream"] = True
    assert body == expected
    (stored,) = fake_openai.responses_store.responses.values()
    usage = stored.response["usage"]
    assert usage["total_tokens"] > 0
    assert reply.usage == (
        Usage(
            backend.settings.openai_model,
            usage["input_tokens"],
            usage["output_tokens"],
            usage["total_tokens"],
        ),
    )


async def test_instructions_are_sent_on_every_turn(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """Instructions do not persist in a conversation, so every call carries them."""
    backend = make_backend(store, AI_SYSTEM_PROMPT="Be a pirate.")
    await backend.reply(turn("one"))
    await backend.reply(turn("two"))
    assert [call.instructions for call in fake_openai.calls] == ["Be a pirate."] * 2


async def test_group_turn_is_attributed_and_explained(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """In a group the message carries the sender's name and the instructions explain it."""
    backend = make_backend(store)
    group_turn = turn("who am I?", GROUP, is_group=True)
    reply = await backend.reply(group_turn)
    assert reply.text == "echo: Ann: who am I?"
    assert fake_openai.calls[-1].instructions == system_prompt(backend.settings, group_turn)
    assert "group chat" in (fake_openai.calls[-1].instructions or "")


async def test_images_are_sent_as_input_images(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A photo the user sent goes along as an input_image data URL with detail "auto"."""
    photo = TurnImage(b"\xff\xd8jpeg-bytes", "image/jpeg")
    await make_backend(store).reply(turn("what is this?", images=(photo,)))
    (body,) = bodies(fake_openai)
    data = base64.b64encode(b"\xff\xd8jpeg-bytes").decode()
    assert body["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "what is this?"},
                {
                    "type": "input_image",
                    "image_url": f"data:image/jpeg;base64,{data}",
                    "detail": "auto",
                },
            ],
        }
    ]


# --- tools -----------------------------------------------------------------------------------


async def test_parallel_tool_calls_answered_in_one_request(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str
) -> None:
    """Every function call of a response runs concurrently; ONE next call carries all outputs."""
    fake_openai.script(
        ToolCalls([("add", {"a": 2, "b": 3}), ("meet", {"name": "x"}), ("meet", {"name": "y"})]),
        Text("all done"),
    )
    backend = make_backend(store, toolbox(), OPENAI_STREAM=stream)
    reply = await backend.reply(turn("use your tools"))
    assert reply.text == "all done"
    first, second = bodies(fake_openai)
    conversation = await store.thread_for(CHAT, "responses")
    assert conversation is not None
    asked = [i["call_id"] for i in fake_openai.conversation_items(conversation)[1:4]]
    assert second["input"] == [
        {"type": "function_call_output", "call_id": call_id, "output": output}
        for call_id, output in zip(asked, ["5", "met x", "met y"], strict=True)
    ]
    assert second["conversation"] == first["conversation"] == conversation
    assert [t["name"] for t in first["tools"]] == ["add", "shout", "meet"]
    assert all(t["type"] == "function" and "function" not in t for t in first["tools"])
    assert "tool_choice" not in first and "tool_choice" not in second
    assert [(c.tool, c.ok) for c in reply.tool_calls] == [("add", True), *[("meet", True)] * 2]
    assert len(reply.usage) == 2 and all(u.total_tokens > 0 for u in reply.usage)
    assert item_texts(fake_openai, conversation)[-1] == ("assistant", "all done")


async def test_unknown_tool_gets_an_error_output(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A call to a tool that does not exist is answered with an error output, not a hang."""
    fake_openai.script(ToolCalls([("teleport", {"to": "Mars"})]), Text("I cannot do that"))
    reply = await make_backend(store, toolbox()).reply(turn("beam me up"))
    assert reply.text == "I cannot do that"
    (output,) = bodies(fake_openai)[1]["input"]
    assert json.loads(output["output"]) == {
        "error": "unknown tool 'teleport'; available tools: add, shout, meet"
    }
    assert [(c.tool, c.ok) for c in reply.tool_calls] == [("teleport", False)]


async def test_last_round_forbids_more_tool_calls(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """After TOOLS_MAX_ROUNDS rounds the next call says tool_choice none: answer in words."""
    fake_openai.script(ToolCalls([("add", {"a": 1, "b": 1})]), Text("two"))
    reply = await make_backend(store, toolbox(max_rounds=1)).reply(turn("1+1?"))
    assert reply.text == "two"
    first, second = bodies(fake_openai)
    assert "tool_choice" not in first and second["tool_choice"] == "none"


async def test_interrupted_tool_round_does_not_break_the_conversation(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A turn that failed between a function call and its output leaves the chat usable."""
    backend = make_backend(store, toolbox())
    fake_openai.script(ToolCalls([("add", {"a": 1, "b": 2}), ("shout", {"text": "x"})]), Fail(500))
    with pytest.raises(ReplyError) as caught:
        await backend.reply(turn("add please"))
    assert caught.value.cause == "server_error"
    conversation = await store.thread_for(CHAT, "responses")
    assert conversation is not None
    items = fake_openai.conversation_items(conversation)
    calls = [i["call_id"] for i in items if i["type"] == "function_call"]
    assert len(calls) == 2 and not any(i["type"] == "function_call_output" for i in items)
    reply = await backend.reply(turn("are you there?"))
    assert reply.text == "echo: are you there?"
    statuses = [r.status for r in fake_openai.requests_to("/responses")]
    assert statuses == [200, 500, 400, 400, 200]
    assert [i for i in bodies(fake_openai)[-1]["input"] if i["type"] != "message"] == [
        {"type": "function_call_output", "call_id": call_id, "output": INTERRUPTED_OUTPUT}
        for call_id in reversed(calls)
    ]


async def test_model_ignoring_tool_choice_none_is_a_reply_error(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A model that calls tools past the last round ends the turn (tool_rounds), not a loop."""
    backend = make_backend(store, toolbox(max_rounds=1))
    fake_openai.script(*[ToolCalls([("add", {"a": 1, "b": 1})])] * 2)
    with pytest.raises(ReplyError) as caught:
        await backend.reply(turn("add forever"))
    assert caught.value.cause == "tool_rounds"
    assert len(bodies(fake_openai)) == 2
    assert (await backend.reply(turn("hello?"))).text == "echo: hello?"


# --- responses that end badly ----------------------------------------------------------------


async def test_failed_response_is_a_reply_error(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str
) -> None:
    """A response that ends failed raises ReplyError(response_failed)."""
    fake_openai.script(RunEnds("failed"))
    backend = make_backend(store, OPENAI_STREAM=stream)
    with pytest.raises(ReplyError) as caught:
        await backend.reply(turn("doomed"))
    assert caught.value.cause == "response_failed"
    assert (await backend.reply(turn("next"))).text == "echo: next"


async def test_incomplete_response_still_answers(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str
) -> None:
    """A response cut short (incomplete) still delivers the text it has."""
    fake_openai.script(RunEnds("incomplete"))
    reply = await make_backend(store, OPENAI_STREAM=stream).reply(turn("long story"))
    assert reply.text == "echo: long story"


async def test_conversation_locked_is_waited_out(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, stream: str
) -> None:
    """A second response while one holds the conversation waits (400 locked) and then succeeds."""
    backend = make_backend(store, OPENAI_STREAM=stream)
    await backend.reply(turn("start"))
    locked = asyncio.Event()

    def spot(_logger: Any, _method: str, event: Any) -> Any:
        """Flag the lock-wait log event as it is logged."""
        if event.get("event") == "responses.conversation_locked":
            locked.set()
        return event

    gate = fake_openai.hold()
    with structlog.testing.capture_logs(processors=[spot]):
        first = asyncio.create_task(backend.reply(turn("one")))
        await asyncio.wait_for(gate.entered(1), 5)
        second = asyncio.create_task(backend.reply(turn("two")))
        await asyncio.wait_for(locked.wait(), 5)
        gate.release()
        replies = await asyncio.gather(first, second)
    assert [r.text for r in replies] == ["echo: one", "echo: two"]
    statuses = [r.status for r in fake_openai.requests_to("/responses")]
    assert statuses[:3] == [200, 200, 400] and statuses[-1] == 200
    conversation = await store.thread_for(CHAT, "responses")
    assert conversation is not None
    assert item_texts(fake_openai, conversation)[2:] == [
        ("user", "one"),
        ("assistant", "echo: one"),
        ("user", "two"),
        ("assistant", "echo: two"),
    ]


# --- context carried over a mode switch ------------------------------------------------------


async def test_local_history_seeds_the_new_conversation_once(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """Switching from chat mode: the new conversation starts with the history, seeded once."""
    await answered(store, CHAT, "my name is Ann", "Nice to meet you, Ann!", 1)
    await answered(store, CHAT, "I like tea", "Noted: tea.", 2)
    backend = make_backend(store)
    await backend.reply(turn("what do I like?"))
    conversation = await store.thread_for(CHAT, "responses")
    assert conversation is not None
    seeded = [
        ("user", "my name is Ann"),
        ("assistant", "Nice to meet you, Ann!"),
        ("user", "I like tea"),
        ("assistant", "Noted: tea."),
    ]
    assert fake_openai.calls[-1].messages == (*seeded, ("user", "what do I like?"))
    await answered(store, CHAT, "what do I like?", "echo: what do I like?", 3)
    await backend.reply(turn("and my name?"))
    assert item_texts(fake_openai, conversation) == [
        *seeded,
        ("user", "what do I like?"),
        ("assistant", "echo: what do I like?"),
        ("user", "and my name?"),
        ("assistant", "echo: and my name?"),
    ]
    assert len(fake_openai.requests_to("/conversations", "POST")) == 1


async def test_mode_switch_never_reuses_a_thread_id(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A chat with an assistants thread gets its own conversation; the thread id stays."""
    await store.save_thread(CHAT, "assistants", "thread_from_assistants_mode")
    await answered(store, CHAT, "hi", "hello from the assistant", 1)
    await make_backend(store).reply(turn("still there?"))
    conversation = await store.thread_for(CHAT, "responses")
    assert conversation is not None and conversation.startswith("conv_")
    assert await store.thread_for(CHAT, "assistants") == "thread_from_assistants_mode"
    assert all("thread_" not in json.dumps(r.body) + r.path for r in fake_openai.requests)
    assert item_texts(fake_openai, conversation)[:2] == [
        ("user", "hi"),
        ("assistant", "hello from the assistant"),
    ]


async def test_vanished_conversation_is_replaced_with_a_seeded_one(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """A conversation the server lost (404) is replaced, seeded with local history."""
    backend = make_backend(store)
    await backend.reply(turn("remember 42"))
    await answered(store, CHAT, "remember 42", "echo: remember 42", 1)
    lost = await store.thread_for(CHAT, "responses")
    assert lost is not None
    del fake_openai.responses_store.conversations[lost]
    reply = await backend.reply(turn("what number?"))
    assert reply.text == "echo: what number?"
    fresh = await store.thread_for(CHAT, "responses")
    assert fresh is not None and fresh != lost
    assert item_texts(fake_openai, fresh)[:3] == [
        ("user", "remember 42"),
        ("assistant", "echo: remember 42"),
        ("user", "what number?"),
    ]


# --- forget, reset and failures --------------------------------------------------------------


async def test_forget_deletes_the_conversation_on_the_server(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """/forget deletes the remote conversation; the next turn starts a new one."""
    backend = make_backend(store)
    await backend.reply(turn("secret"))
    conversation = await store.thread_for(CHAT, "responses")
    assert conversation is not None
    await backend.forget(CHAT)
    assert conversation not in fake_openai.responses_store.conversations
    deleted = fake_openai.requests_to(f"/conversations/{conversation}", "DELETE")
    assert [r.status for r in deleted] == [200]
    assert await store.thread_for(CHAT, "responses") is None
    await backend.reply(turn("new start"))
    assert await store.thread_for(CHAT, "responses") not in (None, conversation)


async def test_reset_starts_a_fresh_conversation(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store
) -> None:
    """/reset retires the conversation; the next turn gets a new, empty one."""
    backend = make_backend(store)
    await backend.reply(turn("old topic"))
    old = await store.thread_for(CHAT, "responses")
    await backend.reset(CHAT)
    await backend.reply(turn("new topic"))
    new = await store.thread_for(CHAT, "responses")
    assert old is not None and new is not None and new != old
    assert item_texts(fake_openai, new) == [("user", "new topic"), ("assistant", "echo: new topic")]


@pytest.mark.parametrize("path", ["/conversations", "/responses"])
async def test_api_failures_become_reply_errors(
    fake_openai: FakeOpenAI, make_backend: MakeBackend, store: Store, path: str
) -> None:
    """500s anywhere in a turn surface as ReplyError(server_error), never an SDK exception."""
    backend = make_backend(store)
    fake_openai.fail_next(500, times=3, path=path, method="POST")
    with pytest.raises(ReplyError) as caught:
        await backend.reply(turn("boom"))
    assert not isinstance(caught.value, openai.OpenAIError)
    assert (caught.value.cause, caught.value.retryable) == ("server_error", True)
    assert isinstance(caught.value.__cause__, openai.InternalServerError)
    assert len(fake_openai.requests_to(path, "POST")) == 1  # OPENAI_MAX_RETRIES=0
