"""The Responses API event stream, in the order the SDK's `responses.stream()` helper expects."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .script import split_deltas
from .sse import EventStream

if TYPE_CHECKING:
    from .responses import ResponseTurn

Send = Callable[[dict[str, Any]], Awaitable[None]]
_FINAL_EVENT = {
    "completed": "response.completed",
    "failed": "response.failed",
    "incomplete": "response.incomplete",
}


async def stream_response(request: web.Request, turn: ResponseTurn) -> web.StreamResponse:
    """Stream one response: created, in_progress, the output items piece by piece, then final."""
    status, output = turn.outcome()
    stream = EventStream(request)
    numbers = itertools.count()

    async def send(event: dict[str, Any]) -> None:
        event["sequence_number"] = next(numbers)
        await stream.send(event, event=event["type"], schema="ResponseStreamEvent")

    await stream.open()
    await send({"type": "response.created", "response": turn.response("in_progress", [])})
    await send({"type": "response.in_progress", "response": turn.response("in_progress", [])})
    await turn.core.think(turn.step)
    for index, item in enumerate(output):
        if item["type"] == "message":
            await _stream_message(send, index, item)
        elif item["type"] == "function_call":
            await _stream_function_call(send, index, item)
        else:
            await _stream_hosted_call(send, index, item)
    final = turn.response(status, output)
    turn.commit(final)
    await send({"type": _FINAL_EVENT[status], "response": final})
    return await stream.finish()


async def _stream_message(send: Send, index: int, item: dict[str, Any]) -> None:
    """Emit an output message: item added, then per part: added, text deltas, done."""
    added = dict(item, status="in_progress", content=[])
    await send({"type": "response.output_item.added", "output_index": index, "item": added})
    where = {"item_id": item["id"], "output_index": index}
    for content_index, part in enumerate(item["content"]):
        at = dict(where, content_index=content_index)
        empty = dict(part, text="", annotations=[])
        await send({"type": "response.content_part.added", **at, "part": empty})
        for piece in split_deltas(part["text"]):
            await send({"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []})
        await send(
            {"type": "response.output_text.done", **at, "text": part["text"], "logprobs": []}
        )
        await send({"type": "response.content_part.done", **at, "part": part})
    await send({"type": "response.output_item.done", "output_index": index, "item": item})


async def _stream_function_call(send: Send, index: int, item: dict[str, Any]) -> None:
    """Emit a function call: item added, argument delta(s), arguments done, item done."""
    added = dict(item, status="in_progress", arguments="")
    await send({"type": "response.output_item.added", "output_index": index, "item": added})
    where = {"item_id": item["id"], "output_index": index}
    arguments = item["arguments"]
    middle = len(arguments) // 2
    for piece in (arguments[:middle], arguments[middle:]):
        if piece:
            await send({"type": "response.function_call_arguments.delta", **where, "delta": piece})
    await send(
        {
            "type": "response.function_call_arguments.done",
            **where,
            "name": item["name"],
            "arguments": arguments,
        }
    )
    await send({"type": "response.output_item.done", "output_index": index, "item": item})


async def _stream_hosted_call(send: Send, index: int, item: dict[str, Any]) -> None:
    """Emit a hosted tool's call (file search, web search...): item added, then done."""
    await send({"type": "response.output_item.added", "output_index": index, "item": item})
    await send({"type": "response.output_item.done", "output_index": index, "item": item})
