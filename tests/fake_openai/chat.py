"""POST /v1/chat/completions, plain and streamed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from .profiles import check_chat_request, tool_arguments
from .script import (
    Fail,
    ModelCall,
    RunEnds,
    Text,
    ToolCalls,
    count_tokens,
    echo_reply,
    split_deltas,
)
from .sse import EventStream
from .state import Core, now
from .wire import ApiError, bad_request, body_of, core_of, missing, reply


def content_text(content: Any) -> str:
    """Return the text of a message content: a str, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return " ".join(texts)
    return ""


def _check_tool_messages(messages: Sequence[Any]) -> None:
    """Refuse tool messages that do not answer the preceding tool calls, as OpenAI does."""
    pending: list[str] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise missing(f"messages.[{index}].role")
        role = message["role"]
        if role == "tool":
            if message.get("tool_call_id") not in pending:
                raise bad_request(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    param=f"messages.[{index}].role",
                )
            pending.remove(message["tool_call_id"])
            continue
        if pending:
            raise _unanswered(pending, index)
        if role == "assistant":
            pending = [call.get("id") for call in message.get("tool_calls") or []]
    if pending:
        raise _unanswered(pending, len(messages))


def _unanswered(pending: list[str], index: int) -> ApiError:
    return bad_request(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to "
        "each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(pending),
        param=f"messages.[{index}].role",
    )


def _usage(prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class _Turn:
    """The outcome of one chat model call, ready to be written whole or as chunks."""

    def __init__(self, core: Core, body: dict[str, Any]) -> None:
        """Validate the request, take the scripted step and work out the reply."""
        messages = body.get("messages")
        if not body.get("model"):
            raise missing("model")
        if not isinstance(messages, list) or not messages:
            raise missing("messages")
        _check_tool_messages(messages)
        check_chat_request(core, body)
        self.core = core
        self.model = str(body["model"])
        self.context = tuple(
            (str(m["role"]), content_text(m.get("content")))
            for m in messages
            if isinstance(m, dict)
        )
        self.prompt_tokens = count_tokens(*(text for _, text in self.context))
        window = core.settings.context_window
        if window is not None and self.prompt_tokens > window:
            raise bad_request(
                f"This model's maximum context length is {window} tokens. However, your messages "
                f"resulted in {self.prompt_tokens} tokens. "
                "Please reduce the length of the messages.",
                param="messages",
                code="context_length_exceeded",
            )
        self.step = core.next_step()
        tools = tuple(
            str(tool.get("function", {}).get("name", "")) for tool in body.get("tools") or []
        )
        core.record_call(
            ModelCall(
                api="chat",
                model=self.model,
                instructions=None,
                messages=self.context,
                tools=tools,
                step=self.step,
                prompt_tokens=self.prompt_tokens,
            )
        )
        self.id = core.new_id("chatcmpl-", 29)
        self.created = now()
        self.text: str | None = None
        self.tool_calls: list[dict[str, Any]] = []
        self.finish_reason = "stop"
        step = self.step
        if isinstance(step, ToolCalls):
            self.finish_reason = "tool_calls"
            for index, (name, _) in enumerate(step.calls):
                self.tool_calls.append(
                    {
                        "id": core.new_id("call_"),
                        "type": "function",
                        "function": {"name": name, "arguments": step.arguments(index)},
                    }
                )
        elif isinstance(step, Text):
            self.text = step.text
        elif isinstance(step, RunEnds) and step.status == "incomplete":
            self.text, self.finish_reason = echo_reply(self.context), "length"
        elif isinstance(step, RunEnds):
            raise ApiError(500, f"fake_openai: {step!r} has no Chat Completions equivalent")
        elif step is None:
            self.text = echo_reply(self.context)
        limit = body.get("max_tokens")
        if not core.settings.max_tokens_only:
            limit = body.get("max_completion_tokens") or limit
        if self.text is not None and isinstance(limit, int) and count_tokens(self.text) > limit:
            self.text = " ".join(self.text.split()[:limit])
            self.finish_reason = "length"
        spoken = [self.text or ""] + [c["function"]["arguments"] for c in self.tool_calls]
        self.completion_tokens = count_tokens(*spoken)
        self.cached_tokens = core.cached_tokens(body, self.prompt_tokens)

    def usage(self) -> dict[str, Any]:
        """Return the usage block."""
        return _usage(self.prompt_tokens, self.completion_tokens, self.cached_tokens)

    def message(self) -> dict[str, Any]:
        """Return the assistant message of the non-streamed body."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.text,
            "refusal": None,
            "annotations": [],
        }
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    **call,
                    "function": {
                        **call["function"],
                        "arguments": tool_arguments(self.core, call["function"]["arguments"]),
                    },
                }
                for call in self.tool_calls
            ]
        return message

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        """Return one stream chunk carrying `delta`."""
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "service_tier": "default",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def deltas(self) -> list[dict[str, Any]]:
        """Return the stream deltas: role, then content words or tool-call pieces."""
        out: list[dict[str, Any]] = [{"role": "assistant", "content": "", "refusal": None}]
        if self.text is not None:
            out.extend({"content": piece} for piece in split_deltas(self.text))
        for index, call in enumerate(self.tool_calls):
            head = {"name": call["function"]["name"], "arguments": ""}
            first = {"index": index, "id": call["id"], "type": "function", "function": head}
            out.append({"tool_calls": [first]})
            for piece in _halves(call["function"]["arguments"]):
                out.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        return out


def _halves(text: str) -> list[str]:
    """Split tool arguments in two pieces, as a client must join them."""
    middle = len(text) // 2
    return [piece for piece in (text[:middle], text[middle:]) if piece]


async def create_chat_completion(request: web.Request) -> web.StreamResponse:
    """Answer POST /v1/chat/completions."""
    core = core_of(request)
    body = body_of(request)
    turn = _Turn(core, body)
    if isinstance(turn.step, Fail):
        await core.think(turn.step)
        raise ApiError.from_fail(turn.step)
    if not body.get("stream"):
        await core.think(turn.step)
        result = {
            "id": turn.id,
            "object": "chat.completion",
            "created": turn.created,
            "model": turn.model,
            "system_fingerprint": "fp_fake",
            "service_tier": "default",
            "choices": [
                {
                    "index": 0,
                    "message": turn.message(),
                    "logprobs": None,
                    "finish_reason": turn.finish_reason,
                }
            ],
            "usage": turn.usage(),
        }
        # Arguments as an object break OpenAI's schema on purpose (the Ollama profile).
        objects = core.settings.tool_arguments_as_objects and turn.tool_calls
        return reply(request, result, None if objects else "CreateChatCompletionResponse")
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    stream = EventStream(request)
    await stream.open()
    await core.think(turn.step)
    schema = "CreateChatCompletionStreamResponse"
    chunks = [turn.chunk(delta) for delta in turn.deltas()]
    chunks.append(turn.chunk({}, turn.finish_reason))
    for chunk in chunks:
        if include_usage:
            chunk["usage"] = None
        await stream.send(chunk, schema=schema)
    if include_usage:
        last = turn.chunk({})
        last["choices"] = []
        last["usage"] = turn.usage()
        await stream.send(last, schema=schema)
    await stream.done()
    return await stream.finish()


def add_routes(app: web.Application) -> None:
    """Register the Chat Completions route."""
    app.router.add_post("/v1/chat/completions", create_chat_completion)
