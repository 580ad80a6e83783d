"""Assistants API state and routes: assistants, threads and thread messages."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .state import Core, now, page
from .wire import bad_request, body_of, core_of, missing, not_found, reply

if TYPE_CHECKING:
    from .run_driver import RunDriver

ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
Event = tuple[str, dict[str, Any]]


@dataclass
class RunControl:
    """A run object plus what drives it: its task, stream listeners and pending tool calls."""

    run: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)
    listeners: list[asyncio.Queue[Event | None]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    outputs: asyncio.Future[list[dict[str, Any]]] | None = None
    pending_calls: list[str] = field(default_factory=list)
    cancel_requested: bool = False
    driver: RunDriver | None = None
    waiters: list[tuple[frozenset[str], asyncio.Future[dict[str, Any]]]] = field(
        default_factory=list
    )
    #: Vector stores file_search reads in this run (the thread's and the assistant's).
    vector_store_ids: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Tell whether the run still blocks its thread."""
        return self.run["status"] in ACTIVE

    def emit(self, event: str, data: dict[str, Any]) -> None:
        """Send an event (a snapshot of `data`) to every stream listening to this run."""
        snapshot = _copy(data)
        for queue in self.listeners:
            queue.put_nowait((event, snapshot))
        status = self.run["status"]
        for waiter in [w for w in self.waiters if status in w[0]]:
            self.waiters.remove(waiter)
            if not waiter[1].done():
                waiter[1].set_result(_copy(self.run))

    async def wait_for(self, statuses: frozenset[str]) -> dict[str, Any]:
        """Wait until the run is in one of `statuses`; return a snapshot of it."""
        if self.run["status"] in statuses:
            return _copy(self.run)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters.append((statuses, future))
        return await future


@dataclass
class ThreadState:
    """A thread, its messages (oldest first) and its runs (oldest first)."""

    thread: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    runs: list[RunControl] = field(default_factory=list)

    def active_run(self) -> RunControl | None:
        """Return the run that currently blocks the thread, if any."""
        return next((control for control in self.runs if control.active), None)

    def run(self, run_id: str) -> RunControl:
        """Return a run of this thread or raise the 404 OpenAI gives."""
        for control in self.runs:
            if control.run["id"] == run_id:
                return control
        raise not_found(f"No run found with id '{run_id}'.")


@dataclass
class AssistantsStore:
    """Every assistant and thread of one fake server."""

    assistants: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[str, ThreadState] = field(default_factory=dict)

    def assistant(self, assistant_id: str) -> dict[str, Any]:
        """Return an assistant or raise OpenAI's 404."""
        try:
            return self.assistants[assistant_id]
        except KeyError:
            raise not_found(f"No assistant found with id '{assistant_id}'.") from None

    def thread(self, thread_id: str) -> ThreadState:
        """Return a thread or raise OpenAI's 404."""
        try:
            return self.threads[thread_id]
        except KeyError:
            raise not_found(f"No thread found with id '{thread_id}'.") from None


STORE_KEY = web.AppKey("fake_openai_assistants", AssistantsStore)


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    """Deep-copy a JSON object for an event snapshot."""
    return copy.deepcopy(data)


def store_of(request: web.Request) -> AssistantsStore:
    """Return the Assistants state of the app serving `request`."""
    return request.app[STORE_KEY]


def make_assistant(
    core: Core, params: dict[str, Any], assistant_id: str | None = None
) -> dict[str, Any]:
    """Return a new assistant object from create parameters."""
    return {
        "id": assistant_id or core.new_id("asst_"),
        "object": "assistant",
        "created_at": now(),
        "name": params.get("name"),
        "description": params.get("description"),
        "model": params.get("model") or "gpt-4o-mini",
        "instructions": params.get("instructions"),
        "tools": list(params.get("tools") or []),
        "tool_resources": params.get("tool_resources") or {},
        "metadata": params.get("metadata") or {},
        "temperature": params.get("temperature", 1.0),
        "top_p": params.get("top_p", 1.0),
        "response_format": params.get("response_format") or "auto",
    }


def message_parts(content: Any, param: str) -> list[dict[str, Any]]:
    """Normalise request message content to stored content parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    if not isinstance(content, list) or not content:
        raise missing(param)
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": {"value": part["text"], "annotations": []}})
        elif kind in ("image_file", "image_url") and isinstance(part.get(kind), dict):
            parts.append({"type": kind, kind: dict(part[kind])})
        else:
            raise bad_request(
                f"Invalid value for '{param}[{index}].type'.",
                param=f"{param}[{index}].type",
                code="invalid_value",
            )
    return parts


def message_text(message: dict[str, Any]) -> str:
    """Return the text of a stored message (its text parts joined)."""
    texts = [part["text"]["value"] for part in message["content"] if part["type"] == "text"]
    return " ".join(texts)


def make_message(
    core: Core,
    thread_id: str,
    params: dict[str, Any],
    param: str = "content",
    *,
    run: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a new completed message object from create parameters."""
    role = params.get("role")
    if role not in ("user", "assistant"):
        raise bad_request(
            f"Invalid value: '{role}'. Supported values are: 'user' and 'assistant'.",
            param=param.replace("content", "role"),
            code="invalid_value",
        )
    created = now()
    return {
        "id": core.new_id("msg_"),
        "object": "thread.message",
        "created_at": created,
        "thread_id": thread_id,
        "status": "completed",
        "incomplete_details": None,
        "completed_at": created,
        "incomplete_at": None,
        "role": role,
        "content": message_parts(params.get("content"), param),
        "assistant_id": run["assistant_id"] if run else None,
        "run_id": run["id"] if run else None,
        "attachments": list(params.get("attachments") or []),
        "metadata": params.get("metadata") or {},
    }


async def create_assistant(request: web.Request) -> web.Response:
    """Answer POST /v1/assistants."""
    body = body_of(request)
    if not body.get("model"):
        raise missing("model")
    assistant = make_assistant(core_of(request), body)
    store_of(request).assistants[assistant["id"]] = assistant
    return reply(request, assistant, "AssistantObject")


_ASSISTANT_FIELDS = ("name", "description", "model", "instructions", "tools", "tool_resources")


async def modify_assistant(request: web.Request) -> web.Response:
    """Answer POST /v1/assistants/{assistant_id}: the given fields replace the stored ones."""
    assistant = store_of(request).assistant(request.match_info["assistant_id"])
    body = body_of(request)
    for name in (*_ASSISTANT_FIELDS, "metadata"):
        if name in body:
            assistant[name] = body[name] if body[name] is not None else assistant[name]
    return reply(request, assistant, "AssistantObject")


async def modify_thread(request: web.Request) -> web.Response:
    """Answer POST /v1/threads/{thread_id} (tool_resources, metadata)."""
    state = store_of(request).thread(request.match_info["thread_id"])
    body = body_of(request)
    for name in ("tool_resources", "metadata"):
        if body.get(name) is not None:
            state.thread[name] = body[name]
    return reply(request, state.thread, "ThreadObject")


def file_search_stores(thread: dict[str, Any], assistant: dict[str, Any]) -> list[str]:
    """The vector stores a run's file_search reads: the thread's, then the assistant's."""
    ids: list[str] = []
    for owner in (thread, assistant):
        resources = owner.get("tool_resources") or {}
        ids += list((resources.get("file_search") or {}).get("vector_store_ids") or [])
    return list(dict.fromkeys(ids))


async def retrieve_assistant(request: web.Request) -> web.Response:
    """Answer GET /v1/assistants/{assistant_id}."""
    assistant = store_of(request).assistant(request.match_info["assistant_id"])
    return reply(request, assistant, "AssistantObject")


async def create_thread(request: web.Request) -> web.Response:
    """Answer POST /v1/threads, with optional initial messages."""
    core, body = core_of(request), body_of(request)
    thread: dict[str, Any] = {
        "id": core.new_id("thread_"),
        "object": "thread",
        "created_at": now(),
        "metadata": body.get("metadata") or {},
        "tool_resources": body.get("tool_resources") or {},
    }
    state = ThreadState(thread=thread)
    for index, params in enumerate(body.get("messages") or []):
        state.messages.append(
            make_message(core, thread["id"], params, f"messages[{index}].content")
        )
    store_of(request).threads[thread["id"]] = state
    return reply(request, thread, "ThreadObject")


async def retrieve_thread(request: web.Request) -> web.Response:
    """Answer GET /v1/threads/{thread_id}."""
    state = store_of(request).thread(request.match_info["thread_id"])
    return reply(request, state.thread, "ThreadObject")


async def delete_thread(request: web.Request) -> web.Response:
    """Answer DELETE /v1/threads/{thread_id}; its runs stop."""
    store = store_of(request)
    state = store.thread(request.match_info["thread_id"])
    for control in state.runs:
        if control.task is not None:
            control.task.cancel()
    del store.threads[state.thread["id"]]
    body = {"id": state.thread["id"], "object": "thread.deleted", "deleted": True}
    return reply(request, body, "DeleteThreadResponse")


async def create_message(request: web.Request) -> web.Response:
    """Answer POST /v1/threads/{thread_id}/messages; refused while a run is active."""
    state = store_of(request).thread(request.match_info["thread_id"])
    thread_id = state.thread["id"]
    active = state.active_run()
    if active is not None:
        raise bad_request(
            f"Can't add messages to {thread_id} while a run {active.run['id']} is active."
        )
    message = make_message(core_of(request), thread_id, body_of(request))
    state.messages.append(message)
    return reply(request, message, "MessageObject")


async def list_messages(request: web.Request) -> web.Response:
    """Answer GET /v1/threads/{thread_id}/messages (order, limit, after, before, run_id)."""
    state = store_of(request).thread(request.match_info["thread_id"])
    messages = state.messages
    run_id = request.query.get("run_id")
    if run_id is not None:
        messages = [message for message in messages if message["run_id"] == run_id]
    return reply(request, page(messages, request.query), "ListMessagesResponse")


async def retrieve_message(request: web.Request) -> web.Response:
    """Answer GET /v1/threads/{thread_id}/messages/{message_id}."""
    state = store_of(request).thread(request.match_info["thread_id"])
    message_id = request.match_info["message_id"]
    for message in state.messages:
        if message["id"] == message_id:
            return reply(request, message, "MessageObject")
    raise not_found(f"No message found with id '{message_id}'.")


def add_routes(app: web.Application, store: AssistantsStore) -> None:
    """Register the assistant, thread and message routes."""
    app[STORE_KEY] = store
    app.router.add_post("/v1/assistants", create_assistant)
    app.router.add_get("/v1/assistants/{assistant_id}", retrieve_assistant)
    app.router.add_post("/v1/assistants/{assistant_id}", modify_assistant)
    app.router.add_post("/v1/threads", create_thread)
    app.router.add_get("/v1/threads/{thread_id}", retrieve_thread)
    app.router.add_post("/v1/threads/{thread_id}", modify_thread)
    app.router.add_delete("/v1/threads/{thread_id}", delete_thread)
    app.router.add_post("/v1/threads/{thread_id}/messages", create_message)
    app.router.add_get("/v1/threads/{thread_id}/messages", list_messages)
    app.router.add_get("/v1/threads/{thread_id}/messages/{message_id}", retrieve_message)
