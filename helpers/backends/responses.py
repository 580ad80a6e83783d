"""``responses`` mode: the Responses API on one server-side conversation per chat.

A turn: ``responses.create(model, conversation=<id>, instructions, input=[user message],
tools, truncation="auto")``; function calls are run concurrently and answered with
``function_call_output`` items on the same conversation until a final message (bounded
rounds). One response at a time per conversation: ``conversation_locked`` is waited out.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import openai
import structlog

from bot.errors import ReplyError
from helpers.backends.base import Reply, ToolCallRecord, Turn, Usage
from helpers.backends.chat import system_prompt
from helpers.backends.common import attributed
from helpers.backends.errors import translate
from helpers.backends.server_side import ServerSideBackend, vanished
from helpers.tools.box import records
from helpers.tools.registry import ToolCall
from storage.store import ContextEntry

log = structlog.get_logger("helpers.backends.responses")

#: Waits between retries while another response holds the conversation (seconds).
LOCKED_BACKOFF = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0)
#: A conversation still holding function calls nobody answered (an interrupted turn).
UNANSWERED_CALL = re.compile(r"No tool output found for function call (call_\w+)")
#: At most this many such calls are closed before a turn gives up.
MAX_UNANSWERED = 32
INTERRUPTED_OUTPUT = json.dumps({"error": "interrupted: this tool result was lost"})


def user_item(turn: Turn) -> dict[str, Any]:
    """The turn's user message as a Responses input item (text and any images)."""
    text = attributed(turn.text, turn.sender_name, is_group=turn.is_group)
    if not turn.images:
        return {"type": "message", "role": "user", "content": text or "(empty message)"}
    content: list[dict[str, Any]] = [{"type": "input_text", "text": text or "(image)"}]
    for image in turn.images:
        data = base64.b64encode(image.data).decode()
        content.append({"type": "input_image", "image_url": f"data:{image.mimetype};base64,{data}"})
    return {"type": "message", "role": "user", "content": content}


def seed_items(seed: list[ContextEntry], *, is_group: bool) -> list[dict[str, Any]]:
    """Local history as conversation items (to carry context over a mode switch)."""
    items: list[dict[str, Any]] = []
    for entry in seed:
        if entry.role == "user":
            text = attributed(entry.text, entry.sender_name, is_group=is_group)
            items.append({"type": "message", "role": "user", "content": text})
        else:
            items.append({"type": "message", "role": "assistant", "content": entry.text})
    return items


class ResponsesBackend(ServerSideBackend):
    """Answers turns with ``responses.create`` on the chat's conversation."""

    mode = "responses"

    async def _create_remote(self, seed: list[ContextEntry], turn: Turn) -> str:
        conversation = await self.client.conversations.create(
            items=seed_items(seed, is_group=turn.is_group),  # type: ignore[arg-type]
            metadata={"chat": turn.chat[:512]},
        )
        return conversation.id

    async def reply(self, turn: Turn) -> Reply:
        """Answer ``turn`` on the chat's conversation, running tools until a final message."""
        try:
            conversation = await self.remote_id(turn)
            try:
                return await self._converse(conversation, turn)
            except _Vanished:
                conversation = await self.replace_remote(turn, conversation)
                return await self._converse(conversation, turn)
        except ReplyError:
            raise
        except Exception as exc:
            raise translate(exc) from exc

    async def _converse(self, conversation: str, turn: Turn) -> Reply:
        usage: list[Usage] = []
        calls_made: list[ToolCallRecord] = []
        items: list[dict[str, Any]] = [user_item(turn)]
        rounds = self.tools.max_rounds if self.tools is not None else 0
        for round_no in range(rounds + 1):
            try:
                response = await self._create(conversation, items, turn, last=round_no == rounds)
            except openai.NotFoundError as exc:
                # Only before any tool ran: a retry on a new conversation must not repeat them.
                if round_no == 0 and vanished(exc, conversation):
                    raise _Vanished from exc
                raise
            if response.usage is not None:
                u = response.usage
                usage.append(
                    Usage(
                        response.model or self.settings.openai_model,
                        u.input_tokens,
                        u.output_tokens,
                        u.total_tokens,
                    )
                )
            if response.status in ("failed", "cancelled"):
                raise ReplyError(
                    f"response {response.status}: {response.error}",
                    cause=f"response_{response.status}",
                )
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls or self.tools is None:
                text = response.output_text
                if response.status == "incomplete":
                    log.warning("responses.incomplete", detail=str(response.incomplete_details))
                if not text.strip():
                    raise ReplyError(
                        f"no answer (status {response.status})", cause=f"response_{response.status}"
                    )
                return Reply(text=text, usage=tuple(usage), tool_calls=tuple(calls_made))
            results = await self.tools.run(
                [ToolCall(c.call_id, c.name, c.arguments) for c in calls], turn
            )
            calls_made += records(results)
            items = [
                {"type": "function_call_output", "call_id": r.call_id, "output": r.output}
                for r in results
            ]
        raise ReplyError("the model kept calling tools past the round limit", cause="tool_rounds")

    async def _create(
        self, conversation: str, items: list[dict[str, Any]], turn: Turn, *, last: bool
    ) -> Any:
        """One ``responses.create``, waiting out ``conversation_locked``."""
        options: dict[str, Any] = {
            "model": self.settings.openai_model,
            "conversation": conversation,
            "instructions": system_prompt(self.settings, turn),
            "input": items,
            "truncation": "auto",
        }
        if self.tools is not None and len(self.tools):
            options["tools"] = self.tools.definitions("responses")
            if last:
                options["tool_choice"] = "none"
        if self.settings.openai_max_completion_tokens:
            options["max_output_tokens"] = self.settings.openai_max_completion_tokens
        waits = iter(LOCKED_BACKOFF)
        closed: list[str] = []
        while True:
            try:
                if self.settings.openai_stream:
                    return await self._streamed(options)
                return await self.client.responses.create(**options)
            except openai.BadRequestError as exc:
                if exc.code == "conversation_locked":
                    wait = next(waits, None)
                    if wait is None:
                        raise
                    log.info("responses.conversation_locked", conversation=conversation, wait=wait)
                    await asyncio.sleep(wait)
                    continue
                unanswered = UNANSWERED_CALL.search(exc.message or "")
                if unanswered is None or len(closed) >= MAX_UNANSWERED:
                    raise
                call_id = unanswered.group(1)
                if call_id in closed:
                    raise
                # An earlier turn failed between a function call and its output; until the
                # call is answered every response on the conversation would be refused.
                closed.append(call_id)
                log.warning("responses.unanswered_call_closed", call_id=call_id)
                output = {"type": "function_call_output", "call_id": call_id}
                options["input"] = [{**output, "output": INTERRUPTED_OUTPUT}, *options["input"]]

    async def _streamed(self, options: dict[str, Any]) -> Any:
        """Create the response as a stream and return it as soon as it is complete."""
        stream = await self.client.responses.create(stream=True, **options)
        async with stream:
            async for event in stream:
                if event.type in ("response.completed", "response.incomplete", "response.failed"):
                    return event.response
                if event.type == "error":
                    raise ReplyError(
                        f"stream error: {event.message}", cause=event.code or "stream_error"
                    )
        raise ReplyError("the response stream ended early", cause="stream_error")


class _Vanished(Exception):
    """The chat's conversation is gone from the server (before this turn changed anything)."""
