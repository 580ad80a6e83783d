"""``responses`` mode: the Responses API on one server-side conversation per chat.

A turn: ``responses.create(model, conversation=<id>, instructions, input=[user message],
tools, truncation="auto")``; function calls are run concurrently and answered with
``function_call_output`` items on the same conversation until a final message (bounded
rounds). One response at a time per conversation: ``conversation_locked`` is waited out.

Where a chat's state lives is ``OPENAI_RESPONSES_STATE``: ``conversation`` (above),
``previous_response`` (each turn chains on the chat's last stored response), ``local`` (the
history from SQLite is sent as ``input`` with ``store=false``), or ``auto``: conversations
when the server has ``/conversations``, else chaining, else local when it cannot chain.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
import structlog

from bot.errors import ReplyError
from helpers.backends.base import Reply, ToolCallRecord, Turn, Usage
from helpers.backends.chat import system_prompt
from helpers.backends.common import alternate, attributed
from helpers.backends.errors import server_words, translate
from helpers.backends.hosted import finish, hosted_calls, hosted_tools
from helpers.backends.server_side import SEED_LIMIT, ServerSideBackend, vanished
from helpers.openai_client import is_openai, prompt_cache_key
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


def user_item(turn: Turn, file_ids: Sequence[str] = ()) -> dict[str, Any]:
    """The turn's user message as a Responses input item (text, images, uploaded files)."""
    text = attributed(turn.text, turn.sender_name, is_group=turn.is_group)
    if not turn.images and not file_ids:
        return {"type": "message", "role": "user", "content": text or "(empty message)"}
    blank = "(image)" if turn.images else "(file)"
    content: list[dict[str, Any]] = [{"type": "input_text", "text": text or blank}]
    content += [{"type": "input_file", "file_id": file_id} for file_id in file_ids]
    for image in turn.images:
        data = base64.b64encode(image.data).decode()
        url = f"data:{image.mimetype};base64,{data}"
        # OpenAI's published schema requires `detail`; "auto" lets the model choose.
        content.append({"type": "input_image", "image_url": url, "detail": "auto"})
    return {"type": "message", "role": "user", "content": content}


def seed_items(seed: list[ContextEntry], *, is_group: bool) -> list[dict[str, Any]]:
    """Local history as conversation items (to carry context over a mode switch, or as the
    whole context in ``local`` state), user and assistant strictly in turn."""
    items: list[dict[str, Any]] = []
    for entry in seed:
        if entry.role == "user":
            text = attributed(entry.text, entry.sender_name, is_group=is_group)
            items.append({"type": "message", "role": "user", "content": text})
        else:
            items.append({"type": "message", "role": "assistant", "content": entry.text})
    return alternate(items, text_part="input_text")


def refuses_chaining(exc: openai.BadRequestError, anchor: Anchor) -> bool:
    """Whether a 400 refuses the ``previous_response_id`` this request carried."""
    if "previous_response_id" not in anchor.params:
        return False
    return exc.param == "previous_response_id" or "previous_response" in server_words(exc)


@dataclass(slots=True)
class Anchor:
    """Where one turn's context lives: what each request adds, and the input so far."""

    #: ``{"conversation": id}``, ``{"previous_response_id": id}`` or ``{"store": False}``.
    params: dict[str, Any]
    #: Items sent before this round's (the seed of a new chain, or the whole local context).
    prefix: list[dict[str, Any]] = field(default_factory=list)


class ResponsesBackend(ServerSideBackend):
    """Answers turns with ``responses.create`` on the chat's conversation, chain or history."""

    mode = "responses"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        configured = self.settings.openai_responses_state
        #: In use now; ``auto`` is resolved by the preflight (conversations until then).
        self.state: str = "conversation" if configured == "auto" else configured
        self.ready_fields = {"responses_state": self.state}
        self.on_openai = is_openai(self.settings)

    async def preflight(self) -> None:
        """Check the models; with ``auto``, find out whether the server has conversations."""
        await super().preflight()
        if self.settings.openai_responses_state == "auto":
            self.state = await self._probe_state()
        self.ready_fields = {"responses_state": self.state}

    async def _probe_state(self) -> str:
        """``conversation`` if the server makes one (deleted at once), else chaining."""
        if self.on_openai:
            return "conversation"  # OpenAI has the Conversations API: no probe needed
        try:
            probe = await self.client.conversations.create(metadata={"purpose": "preflight"})
        except openai.NotFoundError as exc:
            log.info(
                "responses.no_conversations", base_url=self.base_url, server_said=server_words(exc)
            )
            return "previous_response"
        except openai.OpenAIError as exc:
            log.warning("responses.state_probe_failed", error=str(exc))
            return "conversation"
        with contextlib.suppress(openai.OpenAIError):
            await self.client.conversations.delete(probe.id)
        return "conversation"

    async def _create_remote(self, seed: list[ContextEntry], turn: Turn) -> str:
        conversation = await self.client.conversations.create(
            items=seed_items(seed, is_group=turn.is_group),  # type: ignore[arg-type]
            metadata={"chat": turn.chat[:512]},
        )
        return conversation.id

    async def reply(self, turn: Turn) -> Reply:
        """Answer ``turn`` in the state in use, running tools until a final message."""
        try:
            if self.state == "conversation":
                return await self._in_conversation(turn)
            if self.state == "previous_response":
                try:
                    return await self._chained(turn)
                except _CannotChain as exc:
                    if self.settings.openai_responses_state != "auto":
                        raise ReplyError(
                            f"the server cannot chain responses: {exc}. Set "
                            "OPENAI_RESPONSES_STATE=local (or auto).",
                            cause="no_chaining",
                        ) from None
                    self.state = "local"
                    log.warning("responses.state_fallback", now="local", server_said=str(exc))
            return await self._converse(await self._local_anchor(turn), turn)
        except ReplyError:
            raise
        except Exception as exc:
            raise translate(exc) from exc

    async def _in_conversation(self, turn: Turn) -> Reply:
        conversation = await self.remote_id(turn)
        try:
            return await self._converse(Anchor({"conversation": conversation}), turn)
        except _Vanished:
            conversation = await self.replace_remote(turn, conversation)
            return await self._converse(Anchor({"conversation": conversation}), turn)

    async def _chained(self, turn: Turn) -> Reply:
        """A turn chained on the chat's last response; a chain the server lost (expired,
        deleted) is restarted from the local history."""
        previous = await self.store.last_response_for(turn.chat)
        if previous is None:
            return await self._converse(await self._seeded_chain(turn), turn)
        try:
            return await self._converse(Anchor({"previous_response_id": previous}), turn)
        except _Vanished:
            log.warning("responses.chain_lost", response_id=previous)
            await self.store.end_response_chain(turn.chat)
            return await self._converse(await self._seeded_chain(turn), turn)

    async def _seeded_chain(self, turn: Turn) -> Anchor:
        seed = [e for e in await self.store.context(turn.chat, SEED_LIMIT) if e.text.strip()]
        return Anchor({}, seed_items(seed, is_group=turn.is_group))

    async def _local_anchor(self, turn: Turn) -> Anchor:
        history = await self.store.context(turn.chat, self.settings.max_conversation_history)
        kept = [e for e in history if e.text.strip()]
        return Anchor({"store": False}, seed_items(kept, is_group=turn.is_group))

    async def _converse(self, anchor: Anchor, turn: Turn) -> Reply:
        usage: list[Usage] = []
        calls_made: list[ToolCallRecord] = []
        file_ids = await self.upload_documents(turn, "user_data")
        items: list[dict[str, Any]] = [user_item(turn, file_ids)]
        if anchor.prefix:
            # Strict templates: the seed must not end on the user's side before this turn.
            items = alternate([*anchor.prefix, *items], text_part="input_text")
            anchor.prefix = []
        rounds = self.tools.max_rounds if self.tools is not None else 0
        for round_no in range(rounds + 1):
            try:
                response = await self._create(anchor, items, turn, last=round_no == rounds)
            except openai.NotFoundError as exc:
                # Only before any tool ran: a retry on a new context must not repeat them.
                remote = anchor.params.get("conversation") or anchor.params.get(
                    "previous_response_id"
                )
                if round_no == 0 and remote and vanished(exc, str(remote)):
                    raise _Vanished from exc
                raise
            except openai.BadRequestError as exc:
                if round_no == 0 and refuses_chaining(exc, anchor):
                    raise _CannotChain(server_words(exc)) from exc
                raise
            sent = anchor.params.get("previous_response_id")
            if (
                round_no == 0
                and sent
                and response.previous_response_id != sent
                and self.settings.openai_responses_state == "auto"
            ):
                # A stateless server ignores the chain and answers without context.
                raise _CannotChain("the response did not continue the previous one")
            if response.usage is not None:
                u = response.usage
                details = getattr(u, "input_tokens_details", None)
                usage.append(
                    Usage(
                        response.model or self.settings.openai_model,
                        u.input_tokens,
                        u.output_tokens,
                        u.total_tokens,
                        int(getattr(details, "cached_tokens", 0) or 0),
                    )
                )
            if response.status in ("failed", "cancelled"):
                raise ReplyError(
                    f"response {response.status}: {response.error}",
                    cause=f"response_{response.status}",
                )
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls or self.tools is None:
                if response.status == "incomplete":
                    log.warning("responses.incomplete", detail=str(response.incomplete_details))
                done = await finish(self.client, response)
                if not done.text.strip() and not done.media:
                    raise ReplyError(
                        f"no answer (status {response.status})", cause=f"response_{response.status}"
                    )
                if self.state == "previous_response":
                    await self.store.save_response(turn.chat, response.id)
                return Reply(
                    text=done.text,
                    media=done.media,
                    usage=tuple(usage),
                    tool_calls=(*calls_made, *done.calls),
                )
            results = await self.tools.run(
                [ToolCall(c.call_id, c.name, c.arguments) for c in calls], turn
            )
            calls_made += records(results)
            calls_made += hosted_calls(response)
            outputs = [
                {"type": "function_call_output", "call_id": r.call_id, "output": r.output}
                for r in results
            ]
            if "conversation" in anchor.params:
                items = outputs
            elif anchor.params.get("store") is False:
                # Nothing is kept on the server: the next round resends everything.
                produced = [item.model_dump(exclude_none=True) for item in response.output]
                items = [*items, *produced, *outputs]
            else:
                anchor.params = {"previous_response_id": response.id}
                items = outputs
        raise ReplyError("the model kept calling tools past the round limit", cause="tool_rounds")

    async def _create(
        self, anchor: Anchor, items: list[dict[str, Any]], turn: Turn, *, last: bool
    ) -> Any:
        """One ``responses.create``, waiting out ``conversation_locked``."""
        conversation = anchor.params.get("conversation")
        options: dict[str, Any] = {
            "model": self.settings.openai_model,
            **anchor.params,
            "instructions": system_prompt(self.settings, turn),
            "input": items,
            "truncation": "auto",
        }
        if self.on_openai:
            options["prompt_cache_key"] = prompt_cache_key(turn.chat)
        tools = await self.tools.offered("responses", turn) if self.tools is not None else []
        tools += hosted_tools(self.settings, await self.knowledge.store_ids())
        if tools:
            options["tools"] = tools  # function tools per sender, then hosted ones
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
    """The chat's conversation (or chained response) is gone from the server, before this
    turn changed anything."""


class _CannotChain(Exception):
    """The server refused (or ignored) ``previous_response_id``: it keeps no responses."""
