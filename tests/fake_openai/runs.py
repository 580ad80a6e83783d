"""Assistants runs: create (plain or streamed), retrieve, list, steps, cancel, tool outputs."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .assistants import (
    AssistantsStore,
    Event,
    RunControl,
    ThreadState,
    file_search_stores,
    make_message,
    store_of,
)
from .run_driver import RunDriver
from .script import Fail, Step
from .sse import EventStream
from .state import Core, now, page
from .wire import ApiError, bad_request, body_of, core_of, missing, reply

_STREAM_ENDS = frozenset(
    {
        "thread.run.completed",
        "thread.run.requires_action",
        "thread.run.failed",
        "thread.run.cancelled",
        "thread.run.expired",
        "thread.run.incomplete",
    }
)
_SCHEMA = "AssistantStreamEvent"


def build_run(
    core: Core, thread_id: str, assistant: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Return a queued run object; per-run model/tools/instructions override the assistant's."""
    instructions = params.get("instructions")
    if instructions is None:
        instructions = assistant.get("instructions") or ""
    if params.get("additional_instructions"):
        instructions = f"{instructions}\n\n{params['additional_instructions']}".strip()
    tools = params.get("tools")
    truncation = dict(params.get("truncation_strategy") or {"type": "auto"})
    truncation.setdefault("last_messages", None)
    created = now()
    return {
        "id": core.new_id("run_"),
        "object": "thread.run",
        "created_at": created,
        "assistant_id": assistant["id"],
        "thread_id": thread_id,
        "status": "queued",
        "started_at": None,
        "expires_at": created + 600,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "required_action": None,
        "last_error": None,
        "model": params.get("model") or assistant["model"],
        "instructions": instructions,
        "tools": list(tools if tools is not None else assistant["tools"]),
        "tool_resources": {},
        "metadata": params.get("metadata") or {},
        "temperature": params.get("temperature", 1.0),
        "top_p": params.get("top_p", 1.0),
        "max_completion_tokens": params.get("max_completion_tokens"),
        "max_prompt_tokens": params.get("max_prompt_tokens"),
        "truncation_strategy": truncation,
        "incomplete_details": None,
        "usage": None,
        "response_format": params.get("response_format") or "auto",
        "tool_choice": params.get("tool_choice") or "auto",
        "parallel_tool_calls": params.get("parallel_tool_calls", True),
        "reasoning_effort": params.get("reasoning_effort"),
    }


def start_run(
    core: Core,
    state: ThreadState,
    run: dict[str, Any],
    step: Step | None,
    *,
    listen: bool = False,
    stale: bool = False,
    hold: float | None = None,
) -> tuple[RunControl, asyncio.Queue[Event | None] | None]:
    """Register a run on its thread and start its driver; return a listener queue if asked."""
    control = RunControl(run=run)
    state.runs.append(control)
    queue: asyncio.Queue[Event | None] | None = None
    if listen:
        queue = asyncio.Queue()
        control.listeners.append(queue)
    driver = RunDriver(core, state, control)
    control.driver = driver
    control.task = asyncio.get_running_loop().create_task(
        driver.drive(step, hold=hold, stale=stale)
    )
    control.task.add_done_callback(driver.on_done)
    return control, queue


def start_stale_run(
    core: Core,
    store: AssistantsStore,
    thread_id: str,
    assistant_id: str | None,
    complete_after: float | None,
) -> str:
    """Leave an in-progress run on a thread (as after a crash); return its id."""
    state = store.thread(thread_id)
    if state.active_run() is not None:
        raise ValueError(f"{thread_id} already has an active run")
    if assistant_id is None:
        assistant = next(iter(store.assistants.values()), None)
        if assistant is None:
            raise ValueError("add an assistant first (FakeOpenAI(assistant_ids=...))")
    else:
        assistant = store.assistant(assistant_id)
    run = build_run(core, thread_id, assistant, {})
    run.update(status="in_progress", started_at=now())
    start_run(core, state, run, None, stale=True, hold=complete_after)
    return str(run["id"])


async def _pipe(
    request: web.Request, control: RunControl, queue: asyncio.Queue[Event | None]
) -> web.StreamResponse:
    """Stream a run's events until it completes or needs tool outputs, then `done`."""
    stream = EventStream(request)
    try:
        await stream.open()
        while not stream.client_gone:
            item = await queue.get()
            if item is None:
                break
            event, data = item
            await stream.send(data, event=event, schema=_SCHEMA, envelope=True)
            if event in _STREAM_ENDS:
                break
    finally:
        control.listeners.remove(queue)
    await stream.done(event="done", schema=_SCHEMA)
    return await stream.finish()


async def _refuse(step: Fail) -> None:
    """Answer a scripted failure at run creation/submission (the run does not change)."""
    if step.delay:
        await asyncio.sleep(step.delay)
    raise ApiError.from_fail(step)


async def create_run(request: web.Request) -> web.StreamResponse:
    """Answer POST /v1/threads/{thread_id}/runs; one active run per thread."""
    core, store, body = core_of(request), store_of(request), body_of(request)
    state = store.thread(request.match_info["thread_id"])
    thread_id = state.thread["id"]
    if not body.get("assistant_id"):
        raise missing("assistant_id")
    assistant = store.assistant(body["assistant_id"])
    active = state.active_run()
    if active is not None:
        raise bad_request(f"Thread {thread_id} already has an active run {active.run['id']}.")
    step = core.next_step()
    if isinstance(step, Fail):
        await _refuse(step)
    for index, params in enumerate(body.get("additional_messages") or []):
        param = f"additional_messages[{index}].content"
        state.messages.append(make_message(core, thread_id, params, param))
    run = build_run(core, thread_id, assistant, body)
    control, queue = start_run(core, state, run, step, listen=bool(body.get("stream")))
    if any(t.get("type") == "file_search" for t in run["tools"]):
        control.vector_store_ids = file_search_stores(state.thread, assistant)
    if queue is not None:
        return await _pipe(request, control, queue)
    return reply(request, run, "RunObject")


async def retrieve_run(request: web.Request) -> web.Response:
    """Answer GET /v1/threads/{thread_id}/runs/{run_id}."""
    state = store_of(request).thread(request.match_info["thread_id"])
    control = state.run(request.match_info["run_id"])
    response = reply(request, control.run, "RunObject")
    poll_after = core_of(request).settings.poll_after_ms
    if poll_after is not None:
        response.headers["openai-poll-after-ms"] = str(poll_after)
    return response


async def list_runs(request: web.Request) -> web.Response:
    """Answer GET /v1/threads/{thread_id}/runs (newest first by default)."""
    state = store_of(request).thread(request.match_info["thread_id"])
    runs = [control.run for control in state.runs]
    return reply(request, page(runs, request.query), "ListRunsResponse")


async def list_run_steps(request: web.Request) -> web.Response:
    """Answer GET /v1/threads/{thread_id}/runs/{run_id}/steps."""
    state = store_of(request).thread(request.match_info["thread_id"])
    control = state.run(request.match_info["run_id"])
    return reply(request, page(control.steps, request.query), "ListRunStepsResponse")


async def cancel_run(request: web.Request) -> web.Response:
    """Answer POST .../runs/{run_id}/cancel: `cancelling` now, `cancelled` right after."""
    state = store_of(request).thread(request.match_info["thread_id"])
    control = state.run(request.match_info["run_id"])
    status = control.run["status"]
    if not control.active or status == "cancelling":
        raise bad_request(f"Cannot cancel run with status '{status}'.")
    control.run["status"] = "cancelling"
    control.emit("thread.run.cancelling", control.run)
    control.cancel_requested = True
    if control.task is not None:
        control.task.cancel()
    return reply(request, control.run, "RunObject")


async def submit_tool_outputs(request: web.Request) -> web.StreamResponse:
    """Answer POST .../submit_tool_outputs: every pending call answered in one submission."""
    core, body = core_of(request), body_of(request)
    state = store_of(request).thread(request.match_info["thread_id"])
    control = state.run(request.match_info["run_id"])
    status = control.run["status"]
    if status != "requires_action":
        raise bad_request(f'Runs in status "{status}" do not accept tool outputs.')
    outputs = body.get("tool_outputs")
    if not isinstance(outputs, list):
        raise missing("tool_outputs")
    given = [o.get("tool_call_id") for o in outputs if isinstance(o, dict)]
    if sorted(map(str, given)) != sorted(control.pending_calls) or len(given) != len(outputs):
        raise bad_request(
            f"Expected tool outputs for call_ids {control.pending_calls}, got {given}",
            param="tool_outputs",
        )
    step = core.next_step()
    if isinstance(step, Fail):
        await _refuse(step)
    queue: asyncio.Queue[Event | None] | None = None
    if body.get("stream"):
        queue = asyncio.Queue()
        control.listeners.append(queue)
    assert control.driver is not None
    control.driver.resume(outputs, step)
    if queue is not None:
        return await _pipe(request, control, queue)
    return reply(request, control.run, "RunObject")


def add_routes(app: web.Application) -> None:
    """Register the run routes."""
    base = "/v1/threads/{thread_id}/runs"
    app.router.add_post(base, create_run)
    app.router.add_get(base, list_runs)
    app.router.add_get(base + "/{run_id}", retrieve_run)
    app.router.add_get(base + "/{run_id}/steps", list_run_steps)
    app.router.add_post(base + "/{run_id}/cancel", cancel_run)
    app.router.add_post(base + "/{run_id}/submit_tool_outputs", submit_tool_outputs)
