"""Contract tests of the fake OpenAI server: the real SDK drives it, the spec checks it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.lib.streaming import AsyncAssistantEventHandler
from openai.types.beta import AssistantStreamEvent

from tests.fake_openai import Citation, Fail, FakeOpenAI, RunEnds, Text, ToolCalls
from tests.fake_openai.spec import fix_schema, require_spec, shared_validator

pytestmark = pytest.mark.filterwarnings(
    # The SDK marks every Assistants method deprecated ("deprecated" alone on assistants.*);
    # these tests use them on purpose.
    r"ignore:(The Assistants API is deprecated|deprecated$):DeprecationWarning"
)
ASSISTANT = "asst_test"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    """A validating fake with one assistant; every body it sent must match the spec."""
    async with FakeOpenAI(validate=True, assistant_ids=[ASSISTANT], seed=1) as server:
        yield server
        assert server.schema_violations == []


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    """The real SDK pointed at the fake, without retries."""
    sdk = openai.AsyncOpenAI(base_url=fake.base_url, api_key="test-key", max_retries=0)
    yield sdk
    await sdk.close()


def assert_valid(fake: FakeOpenAI, *schemas: str) -> None:
    """Assert that no body broke the spec and that each schema was checked at least once."""
    assert fake.schema_violations == []
    require_spec()
    missing = [name for name in schemas if not fake.validated.get(name)]
    assert missing == [], f"never validated: {missing} (validated: {fake.validated})"


class Recorder(AsyncAssistantEventHandler):
    """An SDK event handler that keeps event names and text deltas."""

    def __init__(self) -> None:
        """Start with nothing recorded."""
        super().__init__()
        self.events: list[str] = []
        self.text = ""

    async def on_event(self, event: AssistantStreamEvent) -> None:
        """Keep the event name."""
        self.events.append(event.event)

    async def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        """Join the text deltas, as a bot would."""
        self.text += delta.value


# --- the spec loader -------------------------------------------------------------------------


def test_fix_schema_rewrites_nullable_and_drops_discriminator() -> None:
    """The README's quirks are fixed: nullable becomes a null type, discriminators go."""
    assert fix_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    fixed = fix_schema({"$ref": "#/x", "nullable": True, "discriminator": {"propertyName": "t"}})
    assert fixed == {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}
    nested = fix_schema({"properties": {"description": {"type": "string", "description": "d"}}})
    assert nested == {"properties": {"description": {"type": "string"}}}


def test_validator_accepts_real_shapes_and_rejects_broken_ones() -> None:
    """The validator is strict enough to fail: a run without `status` is refused."""
    validator = shared_validator()
    error = {"error": {"message": "m", "type": "t", "param": None, "code": None}}
    assert validator.errors("ErrorResponse", error) == []
    problems = validator.errors("ErrorResponse", {"error": {"message": "m"}})
    assert problems and "required" in problems[0]
    with pytest.raises(KeyError):
        validator.errors("NoSuchSchema", {})


# --- chat completions ------------------------------------------------------------------------


async def test_chat_completion_echoes_last_user_text(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """With no script the reply is 'echo: <last user text>', with usage."""
    messages: Any = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
    ]
    completion = await client.chat.completions.create(model="gpt-test", messages=messages)
    assert completion.choices[0].message.content == "echo: hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert fake.calls[-1].messages == (("system", "be brief"), ("user", "hello there"))
    assert_valid(fake, "CreateChatCompletionResponse")


async def test_chat_stream_parallel_tool_calls_with_usage(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """Streamed tool calls carry indexes; include_usage adds a last chunk with usage only."""
    fake.script(ToolCalls([("get_time", {"tz": "UTC"}), ("get_weather", {"city": "Oslo"})]))
    stream = await client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "time and weather"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    arguments: dict[int, str] = {}
    names: dict[int, str] = {}
    finish, usage = None, None
    async for chunk in stream:
        if not chunk.choices:
            usage = chunk.usage
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for call in choice.delta.tool_calls or []:
            assert call.function is not None
            arguments[call.index] = arguments.get(call.index, "") + (call.function.arguments or "")
            if call.function.name:
                names[call.index] = call.function.name
    assert finish == "tool_calls"
    assert names == {0: "get_time", 1: "get_weather"}
    assert json.loads(arguments[1]) == {"city": "Oslo"}
    assert usage is not None and usage.completion_tokens > 0
    assert_valid(fake, "CreateChatCompletionStreamResponse")


async def test_chat_tool_loop_and_stream_helper(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """Tool outputs answer the calls; the SDK's stream helper assembles the final text."""
    fake.script(ToolCalls([("lookup", {"q": "x"})]), Text("found it"))
    first = await client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "look up x"}]
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    messages: Any = [
        {"role": "user", "content": "look up x"},
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "x=1"},
    ]
    async with client.chat.completions.stream(model="gpt-test", messages=messages) as stream:
        final = await stream.get_final_completion()
    assert final.choices[0].message.content == "found it"
    assert fake.calls[-1].messages[-1] == ("tool", "x=1")
    with pytest.raises(openai.BadRequestError, match="did not have response messages"):
        await client.chat.completions.create(model="gpt-test", messages=messages[:2])


async def test_scripted_failure_has_openai_error_body(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """A Fail step answers with its status and OpenAI's error body; the next call succeeds."""
    fake.script(Fail(429, code="rate_limit_exceeded", message="slow down", type="requests"))
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.type == "requests"
    assert caught.value.request_id is not None
    ok = await client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi"}]
    )
    assert ok.choices[0].message.content == "echo: hi"
    assert_valid(fake, "ErrorResponse")


async def test_sdk_retries_injected_500s_then_succeeds(fake: FakeOpenAI) -> None:
    """Two injected 500s are retried by the SDK (max_retries=2) and the third try succeeds."""
    fake.fail_next(500, times=2, retry_after=0.001, path="/chat/completions")
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=2) as sdk:
        completion = await sdk.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "again"}]
        )
    assert completion.choices[0].message.content == "echo: again"
    statuses = [r.status for r in fake.requests_to("/chat/completions")]
    assert statuses == [500, 500, 200]


async def test_latency_is_measured_and_reported(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """Latency delays each model call; the server time is recorded and sent as a header."""
    fake.latency = 0.05
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "slow"}]
    )
    assert float(raw.headers["x-fake-server-ms"]) >= 50
    record = fake.requests_to("/chat/completions")[-1]
    assert record.server_seconds is not None and record.server_seconds >= 0.05
    assert record.json["messages"][0]["content"] == "slow"
    assert record.headers["authorization"] == "Bearer test-key"


async def test_context_window_refuses_long_chats(client: openai.AsyncOpenAI) -> None:
    """Beyond the context window Chat Completions answers 400 context_length_exceeded."""
    async with FakeOpenAI(context_window=3) as small:
        sdk = client.with_options(base_url=small.base_url)
        with pytest.raises(openai.BadRequestError) as caught:
            await sdk.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "one two three four"}]
            )
    assert caught.value.code == "context_length_exceeded"


# --- assistants, threads, messages -----------------------------------------------------------


async def test_assistants_create_retrieve_and_404(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """Assistants can be created and retrieved; an unknown id is a 404."""
    made = await client.beta.assistants.create(model="gpt-test", instructions="be kind")
    again = await client.beta.assistants.retrieve(made.id)
    assert again.instructions == "be kind" and made.id.startswith("asst_")
    with pytest.raises(openai.NotFoundError, match="No assistant found"):
        await client.beta.assistants.retrieve("asst_missing")
    assert fake.requests_to(f"/assistants/{made.id}")[0].headers["openai-beta"] == "assistants=v2"
    assert_valid(fake, "AssistantObject", "ErrorResponse")


async def test_threads_and_messages_lifecycle(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    """Threads start with messages; messages list in order with limit/after; delete is final."""
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "first"}])
    assert (await client.beta.threads.retrieve(thread.id)).id == thread.id
    for text in ("second", "third"):
        await client.beta.threads.messages.create(thread.id, role="user", content=text)
    newest = await client.beta.threads.messages.list(thread.id, limit=2)
    assert [m.content[0].text.value for m in newest.data] == ["third", "second"]  # type: ignore[union-attr]
    assert newest.has_more is True
    rest = await client.beta.threads.messages.list(thread.id, after=newest.data[-1].id)
    assert [m.content[0].text.value for m in rest.data] == ["first"]  # type: ignore[union-attr]
    oldest = await client.beta.threads.messages.list(thread.id, order="asc", limit=1)
    assert oldest.data[0].content[0].text.value == "first"  # type: ignore[union-attr]
    deleted = await client.beta.threads.delete(thread.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        await client.beta.threads.retrieve(thread.id)
    assert_valid(fake, "ThreadObject", "MessageObject", "ListMessagesResponse")
    assert_valid(fake, "DeleteThreadResponse")


# --- runs ------------------------------------------------------------------------------------


async def test_run_create_and_poll_completes_with_echo(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """A polled run goes queued -> in_progress -> completed and adds the assistant message."""
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "ping"}])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=ASSISTANT, poll_interval_ms=5
    )
    assert run.status == "completed" and run.usage is not None
    replies = await client.beta.threads.messages.list(thread.id, run_id=run.id)
    assert [m.content[0].text.value for m in replies.data] == ["echo: ping"]  # type: ignore[union-attr]
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert [s.type for s in steps.data] == ["message_creation"]
    assert_valid(fake, "RunObject", "ListRunStepsResponse")


async def test_run_stream_event_sequence_citations_and_images(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """A streamed run emits the real event sequence; citations and image files come through."""
    reply = "See 【4:0†notes.txt】 here."
    fake.script(Text(reply, citations=[Citation("【4:0†notes.txt】")], images=[b"\x89PNG-bytes"]))
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "show me"}])
    handler = Recorder()
    async with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=ASSISTANT, event_handler=handler
    ) as stream:
        await stream.until_done()
    events = [e for e in handler.events if e != "thread.message.delta"]
    assert events == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    assert handler.text == reply
    message = (await handler.get_final_messages())[0]
    text, image = message.content
    assert text.type == "text" and image.type == "image_file"
    annotation = text.text.annotations[0]
    assert reply[annotation.start_index : annotation.end_index] == "【4:0†notes.txt】"
    content = await client.files.content(image.image_file.file_id)
    assert content.content == b"\x89PNG-bytes"
    assert_valid(fake, "AssistantStreamEvent")


async def test_run_parallel_tool_calls_need_one_full_submission(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """requires_action lists every call; a partial submission is a 400; a full one finishes."""
    fake.script(ToolCalls([("a", {"n": 1}), ("b", {"n": 2})]), Text("both done"))
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=ASSISTANT, poll_interval_ms=5
    )
    assert run.status == "requires_action" and run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [c.function.name for c in calls] == ["a", "b"]
    with pytest.raises(openai.BadRequestError, match="Expected tool outputs"):
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": calls[0].id, "output": "1"}]
        )
    handler = Recorder()
    outputs: Any = [{"tool_call_id": c.id, "output": f"out-{c.function.name}"} for c in calls]
    async with client.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id, thread_id=thread.id, tool_outputs=outputs, event_handler=handler
    ) as stream:
        final = await stream.get_final_run()
    assert final.status == "completed" and handler.text == "both done"
    assert ("tool", "out-b") in fake.calls[-1].messages
    assert_valid(fake, "RunObject", "AssistantStreamEvent")


async def test_streamed_tool_call_then_polled_submission(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """A streamed run stops at requires_action; submit_tool_outputs_and_poll finishes it."""
    fake.script(ToolCalls([("lookup", {"q": "x"})]), Text("answered"))
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "q"}])
    handler = Recorder()
    async with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=ASSISTANT, event_handler=handler
    ) as stream:
        run = await stream.get_final_run()
    assert run.status == "requires_action" and run.required_action is not None
    assert handler.events[-4:] == [
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.requires_action",
    ]
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert json.loads(call.function.arguments) == {"q": "x"}
    done = await client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "x is 1"}],
        poll_interval_ms=5,
    )
    assert done.status == "completed"
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]


async def test_scripted_failure_at_run_creation(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """A Fail step refuses the run creation itself; the thread stays free."""
    fake.script(Fail(500))
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.InternalServerError):
        await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=ASSISTANT)
    assert (await client.beta.threads.runs.list(thread.id)).data == []
    await client.beta.threads.messages.create(thread.id, role="user", content="still free")


async def test_one_active_run_per_thread(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    """While a run is active, new messages and new runs get OpenAI's exact 400 messages."""
    gate = fake.hold()
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "wait"}])
    run = await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=ASSISTANT)
    await gate.entered(1)
    with pytest.raises(openai.BadRequestError) as adding:
        await client.beta.threads.messages.create(thread.id, role="user", content="more")
    assert adding.value.message.endswith(
        f"Can't add messages to {thread.id} while a run {run.id} is active."
    )
    assert adding.value.code is None and adding.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as second:
        await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=ASSISTANT)
    assert f"Thread {thread.id} already has an active run {run.id}." in second.value.message
    gate.release()
    done = await client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=5)
    assert done.status == "completed"
    await client.beta.threads.messages.create(thread.id, role="user", content="now ok")


async def test_stale_run_is_found_and_cancelled(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """A run left in progress (as after a crash) shows in runs.list and can be cancelled."""
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "crash"}])
    stale_id = fake.leave_stale_run(thread.id)
    runs = await client.beta.threads.runs.list(thread.id, limit=1)
    assert [(r.id, r.status) for r in runs.data] == [(stale_id, "in_progress")]
    cancelling = await client.beta.threads.runs.cancel(stale_id, thread_id=thread.id)
    assert cancelling.status == "cancelling"
    final = await client.beta.threads.runs.poll(stale_id, thread_id=thread.id, poll_interval_ms=5)
    assert final.status == "cancelled" and final.cancelled_at is not None
    await client.beta.threads.messages.create(thread.id, role="user", content="after")
    assert_valid(fake, "ListRunsResponse")


async def test_stale_run_can_complete_later(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    """A stale run given `complete_after` finishes by itself with the echo reply."""
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "late"}])
    stale_id = fake.leave_stale_run(thread.id, complete_after=0.02)
    final = await client.beta.threads.runs.poll(stale_id, thread_id=thread.id, poll_interval_ms=5)
    assert final.status == "completed"
    assert fake.thread_messages(thread.id)[-1]["content"][0]["text"]["value"] == "echo: late"


@pytest.mark.parametrize(
    ("step", "field", "expected"),
    [
        (RunEnds("failed"), "last_error", "server_error"),
        (RunEnds("incomplete"), "incomplete_details", "max_prompt_tokens"),
        (RunEnds("expired"), "status", "expired"),
        (RunEnds("cancelled"), "status", "cancelled"),
    ],
)
async def test_scripted_run_endings(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, step: RunEnds, field: str, expected: str
) -> None:
    """RunEnds steps end streamed runs as failed, incomplete, expired or cancelled."""
    fake.script(step)
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "x"}])
    handler = Recorder()
    async with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=ASSISTANT, event_handler=handler
    ) as stream:
        run = await stream.get_final_run()
    assert run.status == step.status and handler.events[-1] == f"thread.run.{step.status}"
    value = getattr(run, field)
    assert expected in (value if isinstance(value, str) else json.dumps(value.model_dump()))


async def test_run_expires_without_tool_outputs(client: openai.AsyncOpenAI) -> None:
    """A run waiting for tool outputs longer than `run_expiry` ends as expired."""
    async with FakeOpenAI(validate=True, assistant_ids=[ASSISTANT], run_expiry=0.02) as fake:
        sdk = client.with_options(base_url=fake.base_url)
        fake.script(ToolCalls([("slow_tool", {})]))
        thread = await sdk.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        run = await sdk.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=ASSISTANT, poll_interval_ms=5
        )
        assert run.status == "requires_action"
        await fake.wait_for_run(thread.id, run.id, "expired")
        final = await sdk.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert final.status == "expired" and final.required_action is None
        assert fake.schema_violations == []


async def test_run_overrides_and_truncation(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    """Per-run model, instructions, tools and truncation shape the run and what the model saw."""
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "old"}, {"role": "user", "content": "new"}]
    )
    tool: Any = {"type": "function", "function": {"name": "now", "parameters": {}}}
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=ASSISTANT,
        model="gpt-other",
        instructions="base",
        additional_instructions="extra",
        tools=[tool],
        truncation_strategy={"type": "last_messages", "last_messages": 1},
        poll_interval_ms=5,
    )
    assert run.model == "gpt-other" and run.tools[0].type == "function"
    assert run.instructions.startswith("base") and "extra" in run.instructions
    call = fake.calls[-1]
    assert call.messages == (("user", "new"),) and call.tools == ("now",)
    assert call.model == "gpt-other"


async def test_assistants_disabled_answers_404(client: openai.AsyncOpenAI) -> None:
    """With Assistants switched off, /assistants and /threads are 404 while chat still works."""
    async with FakeOpenAI(validate=True, assistants_enabled=False, assistant_ids=["asst_x"]) as off:
        sdk = client.with_options(base_url=off.base_url)
        with pytest.raises(openai.NotFoundError, match="Invalid URL"):
            await sdk.beta.assistants.retrieve("asst_x")
        with pytest.raises(openai.NotFoundError):
            await sdk.beta.threads.create()
        reply = await sdk.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "still here"}]
        )
        assert reply.choices[0].message.content == "echo: still here"
        assert off.schema_violations == []


# --- conversations and responses -------------------------------------------------------------


async def test_conversation_lifecycle_and_items(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """Conversations keep metadata and items; items can be listed, added and fetched."""
    conversation = await client.conversations.create(
        metadata={"chat": "123"}, items=[{"role": "user", "content": "hi"}]
    )
    assert (await client.conversations.retrieve(conversation.id)).metadata == {"chat": "123"}
    added = await client.conversations.items.create(
        conversation.id, items=[{"role": "assistant", "content": "hello"}]
    )
    listed = await client.conversations.items.list(conversation.id, order="asc")
    assert [item.role for item in listed.data] == ["user", "assistant"]  # type: ignore[union-attr]
    added_id = added.data[0].id
    assert added_id is not None
    item = await client.conversations.items.retrieve(added_id, conversation_id=conversation.id)
    assert item.id == added_id
    assert (await client.conversations.delete(conversation.id)).deleted is True
    with pytest.raises(openai.NotFoundError):
        await client.conversations.retrieve(conversation.id)
    assert_valid(fake, "ConversationResource", "ConversationItemList", "ConversationItem")
    assert_valid(fake, "DeletedConversation")


async def test_response_in_conversation_keeps_context(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """Each response appends its input and output; instructions apply per call only."""
    conversation = await client.conversations.create()
    first = await client.responses.create(
        model="gpt-test", conversation=conversation.id, instructions="terse", input="one"
    )
    assert first.output_text == "echo: one" and first.usage is not None
    await client.responses.create(model="gpt-test", conversation=conversation.id, input="two")
    assert fake.calls[0].instructions == "terse" and fake.calls[1].instructions is None
    assert fake.calls[1].messages == (
        ("user", "one"),
        ("assistant", "echo: one"),
        ("user", "two"),
    )
    assert len(fake.conversation_items(conversation.id)) == 4
    assert (await client.responses.retrieve(first.id)).id == first.id
    assert_valid(fake, "Response")


async def test_response_function_calls_round_trip(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """Parallel function_call items are answered by function_call_output items next call."""
    fake.script(ToolCalls([("f", {"x": 1}), ("g", {"y": 2})]), Text("thanks"))
    conversation = await client.conversations.create()
    tools: Any = [{"type": "function", "name": "f", "parameters": {}, "strict": False}]
    first = await client.responses.create(
        model="gpt-test", conversation=conversation.id, input="call", tools=tools
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert [c.name for c in calls] == ["f", "g"]
    with pytest.raises(openai.BadRequestError, match="No tool output found"):
        await client.responses.create(
            model="gpt-test",
            conversation=conversation.id,
            input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "1"}],
        )
    with pytest.raises(openai.BadRequestError, match="No tool call found"):
        await client.responses.create(
            model="gpt-test",
            conversation=conversation.id,
            input=[{"type": "function_call_output", "call_id": "call_nope", "output": "1"}],
        )
    outputs: Any = [
        {"type": "function_call_output", "call_id": c.call_id, "output": "ok"} for c in calls
    ]
    second = await client.responses.create(
        model="gpt-test", conversation=conversation.id, input=outputs
    )
    assert second.output_text == "thanks"


async def test_response_stream_helper(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    """The SDK's responses.stream() helper sees the full event sequence and the final text."""
    fake.script(Text("streamed reply"), ToolCalls([("f", {"a": 1})]))
    conversation = await client.conversations.create()
    async with client.responses.stream(
        model="gpt-test", conversation=conversation.id, input="hi"
    ) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert final.output_text == "streamed reply"
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert "response.output_text.delta" in kinds
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    async with client.responses.stream(model="gpt-test", input="tools please") as stream:
        final = await stream.get_final_response()
    assert final.output[0].type == "function_call"
    assert json.loads(final.output[0].arguments) == {"a": 1}
    assert_valid(fake, "ResponseStreamEvent")


async def test_conversation_is_locked_during_a_response(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    """A second response on a busy conversation gets 400 conversation_locked."""
    conversation = await client.conversations.create()
    gate = fake.hold()
    first = asyncio.create_task(
        client.responses.create(model="gpt-test", conversation=conversation.id, input="a")
    )
    await gate.entered(1)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="gpt-test", conversation=conversation.id, input="b")
    assert caught.value.code == "conversation_locked"
    gate.release()
    assert (await first).output_text == "echo: a"
    again = await client.responses.create(model="gpt-test", conversation=conversation.id, input="b")
    assert again.status == "completed"


async def test_response_truncation_and_scripted_endings(client: openai.AsyncOpenAI) -> None:
    """truncation=auto drops old items to fit; disabled refuses; RunEnds fails or cuts short."""
    async with FakeOpenAI(validate=True, context_window=8) as fake:
        sdk = client.with_options(base_url=fake.base_url)
        items: Any = [{"role": "user", "content": "one two three four five"}]
        conversation = await sdk.conversations.create(items=items)
        with pytest.raises(openai.BadRequestError) as caught:
            await sdk.responses.create(
                model="gpt-test", conversation=conversation.id, input="six seven eight nine"
            )
        assert caught.value.code == "context_length_exceeded"
        fitted = await sdk.responses.create(
            model="gpt-test",
            conversation=conversation.id,
            input="six seven eight nine",
            truncation="auto",
        )
        assert fitted.output_text == "echo: six seven eight nine"
        assert fake.calls[-1].messages == (("user", "six seven eight nine"),)
        fake.script(RunEnds("failed"), RunEnds("incomplete"))
        failed = await sdk.responses.create(model="gpt-test", input="x")
        assert failed.status == "failed" and failed.error is not None
        cut = await sdk.responses.create(model="gpt-test", input="x")
        assert cut.status == "incomplete" and cut.incomplete_details is not None
        assert fake.schema_violations == []


async def test_previous_response_id_with_conversation_is_refused(
    client: openai.AsyncOpenAI,
) -> None:
    """previous_response_id cannot be combined with conversation."""
    conversation = await client.conversations.create()
    first = await client.responses.create(model="gpt-test", input="x")
    with pytest.raises(openai.BadRequestError, match="previous_response_id"):
        await client.responses.create(
            model="gpt-test", conversation=conversation.id, previous_response_id=first.id, input="y"
        )
    chained = await client.responses.create(
        model="gpt-test", previous_response_id=first.id, input="y"
    )
    assert chained.output_text == "echo: y"


# --- files, audio, plumbing ------------------------------------------------------------------


async def test_files_upload_retrieve_content(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    """Uploaded files keep their purpose and bytes."""
    uploaded = await client.files.create(file=("photo.jpg", b"jpeg-bytes"), purpose="vision")
    assert uploaded.id.startswith("file-") and uploaded.bytes == len(b"jpeg-bytes")
    assert (await client.files.retrieve(uploaded.id)).purpose == "vision"
    assert (await client.files.content(uploaded.id)).content == b"jpeg-bytes"
    assert fake.requests_to("/files")[0].body["purpose"] == "vision"
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve("file-missing")
    assert_valid(fake, "OpenAIFile")


async def test_audio_transcription(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    """Transcriptions return a scripted text, else 'transcript of N bytes'."""
    voice = ("voice.ogg", b"OggS" * 10, "audio/ogg")
    default = await client.audio.transcriptions.create(file=voice, model="whisper-test")
    assert default.text == "transcript of 40 bytes"
    fake.script_transcripts("hello from a voice note")
    scripted = await client.audio.transcriptions.create(file=voice, model="whisper-test")
    assert scripted.text == "hello from a voice note"
    assert_valid(fake, "CreateTranscriptionResponseJson")


async def test_unknown_path_and_wrong_key(fake: FakeOpenAI) -> None:
    """Unknown paths are OpenAI's 404 'Invalid URL'; a wrong key is a 401 when one is set."""
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0) as sdk:
        with pytest.raises(openai.NotFoundError, match="Invalid URL"):
            await sdk.get("/nowhere", cast_to=object)
    async with FakeOpenAI(api_key="right") as guarded:
        sdk = openai.AsyncOpenAI(base_url=guarded.base_url, api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            await sdk.models.list()
        await sdk.close()


def test_in_thread_serves_a_synchronous_client() -> None:
    """The thread-hosted fake serves a blocking client and stops cleanly."""
    with FakeOpenAI.in_thread(latency=0.0) as fake:
        fake.script(Text("from a thread"))
        fake.add_assistant(assistant_id="asst_thread")
        with openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0) as sdk:
            reply = sdk.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "hi"}]
            )
            thread = sdk.beta.threads.create()
            stale_id = fake.leave_stale_run(thread.id)
            assert sdk.beta.threads.runs.retrieve(stale_id, thread_id=thread.id).status == (
                "in_progress"
            )
        assert reply.choices[0].message.content == "from a thread"


@pytest.mark.slow
async def test_cli_prints_url_and_serves() -> None:
    """`python -m tests.fake_openai` prints its base URL first, answers, and exits on SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fake_openai",
        "--port",
        "0",
        "--assistant-id",
        "asst_cli",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        base_url = line.decode().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        async with openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0) as sdk:
            assistant = await sdk.beta.assistants.retrieve("asst_cli")
        assert assistant.id == "asst_cli"
    finally:
        process.terminate()
        code = await asyncio.wait_for(process.wait(), timeout=20)
    assert code == 0
