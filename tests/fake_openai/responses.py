"""POST /v1/responses (plain and streamed, with conversations) and GET /v1/responses/{id}."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .conversations import (
    ConversationState,
    StoredResponse,
    check_unlocked,
    item_text,
    normalize_items,
    store_of,
)
from .hosted import hosted_output
from .profiles import check_chaining
from .response_events import stream_response
from .script import Fail, ModelCall, RunEnds, Step, Text, ToolCalls, count_tokens, echo_reply
from .state import Core
from .wire import ApiError, bad_request, body_of, core_of, missing, not_found, reply

_DEFAULT_ERROR = {"code": "server_error", "message": "The model failed to generate a response."}
_DEFAULT_INCOMPLETE = {"reason": "max_output_tokens"}


def _check_tools(tools: Any) -> list[dict[str, Any]]:
    """Accept flat function tools only (a Chat-style nested `function` is refused like OpenAI)."""
    if tools is None:
        return []
    checked = []
    for index, tool in enumerate(tools):
        if tool.get("type") == "function":
            if not tool.get("name"):
                raise missing(f"tools[{index}].name")
            tool = {"description": None, "parameters": None, "strict": True, **tool}
        checked.append(tool)
    return checked


def _check_tool_outputs(history: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Every function_call_output answers a known call; every earlier call gets an answer."""
    calls = [item["call_id"] for item in history + new if item["type"] == "function_call"]
    answered = {item["call_id"] for item in history + new if item["type"] == "function_call_output"}
    for item in new:
        if item["type"] == "function_call_output" and item["call_id"] not in calls:
            raise bad_request(
                f"No tool call found for function call output with call_id {item['call_id']}.",
                param="input",
            )
    for call_id in calls:
        if call_id not in answered:
            raise bad_request(f"No tool output found for function call {call_id}.", param="input")


def _check_input_files(core: Core, items: list[dict[str, Any]]) -> None:
    """An `input_file` by `file_id` must name an uploaded file, as on OpenAI."""
    for item in items:
        parts = item.get("content") if item["type"] == "message" else None
        for part in parts if isinstance(parts, list) else []:
            file_id = part.get("file_id") if isinstance(part, dict) else None
            if file_id and part.get("type") == "input_file" and file_id not in core.files:
                raise bad_request(f"File {file_id} not found.", param="input")


def _fit(
    core: Core, body: dict[str, Any], items: list[dict[str, Any]], fixed: int
) -> list[tuple[str, str]]:
    """Apply the context window: drop the oldest items with truncation=auto, else refuse."""
    window = core.settings.context_window
    context = [item_text(item) for item in items]
    if window is None:
        return context
    instructions = body.get("instructions") or ""
    while count_tokens(instructions, *(t for _, t in context)) > window:
        if body.get("truncation") != "auto" or len(context) <= fixed:
            raise bad_request(
                "Your input exceeds the context window of this model. Please adjust your input "
                "and try again.",
                param="input",
                code="context_length_exceeded",
            )
        context.pop(0)
    return context


class ResponseTurn:
    """One call of POST /v1/responses: its context, scripted outcome and resulting objects."""

    def __init__(self, core: Core, request: web.Request, body: dict[str, Any]) -> None:
        """Validate the request and gather the history it continues."""
        store = store_of(request)
        self.core, self.body, self.store = core, body, store
        if not body.get("model"):
            raise missing("model")
        reference = body.get("conversation")
        conversation_id = reference.get("id") if isinstance(reference, dict) else reference
        previous = body.get("previous_response_id")
        check_chaining(core, body)
        if conversation_id and previous:
            raise bad_request(
                "Mutually exclusive parameters: Ensure you are only providing one of: "
                "'previous_response_id' or 'conversation'.",
                param="conversation",
                code="mutually_exclusive_parameters",
            )
        self.tools = _check_tools(body.get("tools"))
        self.conversation: ConversationState | None = None
        history: list[dict[str, Any]] = []
        if conversation_id:
            self.conversation = store.conversation(str(conversation_id))
            history = list(self.conversation.items)
        elif previous:
            if previous not in store.responses:
                raise not_found(f"Previous response with id '{previous}' not found.")
            history = list(store.responses[previous].items)
        self.new_items = normalize_items(core, body.get("input"))
        _check_input_files(core, self.new_items)
        _check_tool_outputs(history, self.new_items)
        self.history = history
        self.step: Step | None = None
        self.context: tuple[tuple[str, str], ...] = ()
        self.id = core.new_id("resp_", 48)
        self.created_at = time.time()

    def think_context(self) -> tuple[tuple[str, str], ...]:
        """Return the (truncated) context and record the model call with its scripted step."""
        items = self.history + self.new_items
        context = tuple(_fit(self.core, self.body, items, max(1, len(self.new_items))))
        self.step = self.core.next_step()
        self.core.record_call(
            ModelCall(
                api="responses",
                model=str(self.body["model"]),
                instructions=self.body.get("instructions"),
                messages=context,
                tools=tuple(str(t.get("name", t.get("type"))) for t in self.tools),
                step=self.step,
                prompt_tokens=count_tokens(*(text for _, text in context)),
            )
        )
        self.context = context
        return context

    def outcome(self) -> tuple[str, list[dict[str, Any]]]:
        """Return the final status and output items of this turn."""
        step = self.step
        if step is None:
            step = Text(echo_reply(self.context))
        if isinstance(step, Text):
            hosted = [t for t in self.tools if t.get("type") != "function"]
            if not hosted:
                return "completed", [self._message(step.text, "completed")]
            query = next((text for role, text in reversed(self.context) if role == "user"), "")
            items, notes, text = hosted_output(self.core, hosted, step, query)
            return "completed", [*items, self._message(text, "completed", notes)]
        if isinstance(step, ToolCalls):
            return "completed", [
                {
                    "id": self.core.new_id("fc_", 48),
                    "type": "function_call",
                    "status": "completed",
                    "call_id": self.core.new_id("call_"),
                    "name": name,
                    "arguments": step.arguments(index),
                }
                for index, (name, _) in enumerate(step.calls)
            ]
        if isinstance(step, RunEnds) and step.status == "incomplete":
            return "incomplete", [self._message(echo_reply(self.context), "incomplete")]
        if isinstance(step, RunEnds) and step.status == "failed":
            return "failed", []
        raise ApiError(500, f"fake_openai: {step!r} has no Responses equivalent")

    def _message(
        self, text: str, status: str, notes: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        part = {"type": "output_text", "text": text, "annotations": notes or [], "logprobs": []}
        return {
            "id": self.core.new_id("msg_", 48),
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [part],
        }

    def response(self, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        """Return the Response object in `status` with `output`."""
        body, step = self.body, self.step
        usage = None
        if status != "in_progress":
            prompt = count_tokens(body.get("instructions") or "", *(t for _, t in self.context))
            spoken = [item_text(item)[1] for item in output]
            completion = count_tokens(*spoken) if spoken else 0
            usage = {
                "input_tokens": prompt,
                "input_tokens_details": {
                    "cached_tokens": self.core.cached_tokens(body, prompt),
                    "cache_write_tokens": 0,
                },
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt + completion,
            }
        error = None
        if status == "failed" and isinstance(step, RunEnds):
            error = dict(step.last_error or _DEFAULT_ERROR)
        incomplete = None
        if status == "incomplete" and isinstance(step, RunEnds):
            incomplete = dict(step.incomplete_details or _DEFAULT_INCOMPLETE)
        conversation = self.conversation.conversation["id"] if self.conversation else None
        response = {
            "id": self.id,
            "object": "response",
            "created_at": int(self.created_at),
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "background": False,
            "error": error,
            "incomplete_details": incomplete,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": body["model"],
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "conversation": {"id": conversation} if conversation else None,
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": self.tools,
            "top_logprobs": 0,
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "metadata": body.get("metadata") or {},
        }
        if usage is not None:  # the spec has no null usage; in-progress snapshots leave it out
            response["usage"] = usage
        return response

    def commit(self, response: dict[str, Any]) -> None:
        """Store the response; a finished turn appends its input and output to the conversation."""
        items = self.history + self.new_items + response["output"]
        self.store.responses[self.id] = StoredResponse(response=response, items=items)
        if self.conversation is not None and response["status"] in ("completed", "incomplete"):
            self.conversation.items.extend(self.new_items + response["output"])


async def create_response(request: web.Request) -> web.StreamResponse:
    """Answer POST /v1/responses; one response at a time per conversation."""
    core, body = core_of(request), body_of(request)
    turn = ResponseTurn(core, request, body)
    if turn.conversation is not None:
        check_unlocked(turn.conversation)
        turn.conversation.locked_by = turn.id
    try:
        turn.think_context()
        if isinstance(turn.step, Fail):
            await core.think(turn.step)
            raise ApiError.from_fail(turn.step)
        if body.get("stream"):
            return await stream_response(request, turn)
        await core.think(turn.step)
        status, output = turn.outcome()
        response = turn.response(status, output)
        turn.commit(response)
        return reply(request, response, "Response")
    finally:
        if turn.conversation is not None and turn.conversation.locked_by == turn.id:
            turn.conversation.locked_by = None


async def retrieve_response(request: web.Request) -> web.Response:
    """Answer GET /v1/responses/{response_id}."""
    response_id = request.match_info["response_id"]
    stored = store_of(request).responses.get(response_id)
    if stored is None:
        raise not_found(f"Response with id '{response_id}' not found.")
    return reply(request, stored.response, "Response")


async def delete_response(request: web.Request) -> web.Response:
    """Answer DELETE /v1/responses/{response_id}."""
    response_id = request.match_info["response_id"]
    if store_of(request).responses.pop(response_id, None) is None:
        raise not_found(f"Response with id '{response_id}' not found.")
    body = {"id": response_id, "object": "response.deleted", "deleted": True}
    return reply(request, body, None)


def add_routes(app: web.Application) -> None:
    """Register the response routes (the conversation routes add the shared store)."""
    app.router.add_post("/v1/responses", create_response)
    app.router.add_get("/v1/responses/{response_id}", retrieve_response)
    app.router.add_delete("/v1/responses/{response_id}", delete_response)
