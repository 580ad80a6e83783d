"""``chat`` mode: Chat Completions, with the context rebuilt from SQLite on every turn."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import openai
import structlog
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from bot.errors import ReplyError
from bot.settings import Settings
from helpers.backends.base import Reply, ToolCallRecord, Turn, TurnDocument, Usage
from helpers.backends.common import OpenAIBackend, alternate, attributed
from helpers.backends.errors import server_words, translate
from helpers.citations import with_sources
from helpers.documents import INLINE_CHARS, TEXT_TYPES
from helpers.openai_client import is_openai, is_openai_or_azure, prompt_cache_key
from helpers.tools.box import records
from helpers.tools.registry import ToolCall, ToolResult
from storage.store import ContextEntry

log = structlog.get_logger("helpers.backends.chat")


def user_content(turn: Turn) -> str | list[dict[str, Any]]:
    """The user message of ``turn``: text (attributed in groups), plus images and documents."""
    text = attributed(turn.text, turn.sender_name, is_group=turn.is_group)
    if not turn.images and not turn.documents:
        return text
    blank = "(image)" if turn.images else "(file)"
    parts: list[dict[str, Any]] = [{"type": "text", "text": text or blank}]
    for image in turn.images:
        url = f"data:{image.mimetype};base64,{base64.b64encode(image.data).decode()}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    parts += [document_part(document) for document in turn.documents]
    return parts


def document_part(document: TurnDocument) -> dict[str, Any]:
    """A document as Chat Completions reads it: a PDF as a ``file`` part, text inlined,
    anything else as a plain note that it cannot be read in this mode."""
    if document.mimetype == "application/pdf":
        data = base64.b64encode(document.data).decode()
        file = {"filename": document.file_name, "file_data": f"data:application/pdf;base64,{data}"}
        return {"type": "file", "file": file}
    if document.mimetype in TEXT_TYPES:
        body = document.data.decode("utf-8", "replace")[:INLINE_CHARS]
        return {"type": "text", "text": f"[File {document.file_name}]\n{body}"}
    note = (
        f"[The person sent the file {document.file_name}, which cannot be read in this mode: "
        "tell them so and ask for a PDF or the text.]"
    )
    return {"type": "text", "text": note}


def history_messages(history: list[ContextEntry], *, is_group: bool) -> list[dict[str, Any]]:
    """Stored context entries as Chat Completions messages."""
    out: list[dict[str, Any]] = []
    for entry in history:
        if entry.role == "user" and is_group:
            out.append(
                {
                    "role": "user",
                    "content": attributed(entry.text, entry.sender_name, is_group=True),
                }
            )
        else:
            out.append({"role": entry.role, "content": entry.text})
    return out


def system_prompt(settings: Settings, turn: Turn) -> str:
    """The configured system prompt, with a note on attribution in group chats."""
    if not turn.is_group:
        return settings.ai_system_prompt
    return (
        f"{settings.ai_system_prompt}\n\nThis is a WhatsApp group chat. Each user message starts "
        "with the sender's name and a colon; address people by name when it helps."
    )


async def create_completion(client: AsyncOpenAI, body: dict[str, Any]) -> ChatCompletion:
    """POST /chat/completions with a body we built as plain JSON.

    ``client.chat.completions.create`` first walks the whole request through the SDK's
    TypedDict transform, which measured 5.5 ms of CPU per call with a 20-message history
    (bench/README.md, overhead scenario): more than the rest of the bot's work on a message.
    The SDK's own ``post`` sends the same request (auth, retries, timeouts, error types)
    without that walk; our messages are already plain JSON.
    """
    return await client.post("/chat/completions", body=body, cast_to=ChatCompletion)


#: The two names of the output limit, each to the other.
LIMIT_PARAMS = {"max_tokens": "max_completion_tokens", "max_completion_tokens": "max_tokens"}


def refuses_tools(exc: openai.APIStatusError) -> bool:
    """Whether a refusal of a turn's first request is about carrying ``tools`` (vLLM without
    --enable-auto-tool-choice: 400; OpenRouter models without tools: 404)."""
    return exc.status_code in (400, 404, 422) and "tool" in server_words(exc).lower()


def refuses_param(exc: openai.APIStatusError, name: str) -> bool:
    """Whether the server refused the request for the parameter ``name``."""
    return exc.status_code in (400, 422) and (exc.param == name or name in server_words(exc))


def arguments_text(arguments: object) -> str:
    """Tool-call arguments as a JSON string (some servers, Ollama among them, send an object)."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def knowledge_sources(results: list[ToolResult]) -> list[str]:
    """The file names ``search_knowledge`` returned this round (the answer's sources)."""
    names: list[str] = []
    for result in results:
        if result.name != "search_knowledge" or not result.ok:
            continue
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            names += [str(hit["file"]) for hit in json.loads(result.output)["results"]]
    return names


def cached_tokens(usage: Any) -> int:
    """Prompt tokens served from the prompt cache, when the server says."""
    details = getattr(usage, "prompt_tokens_details", None)
    return int(getattr(details, "cached_tokens", 0) or 0)


class ChatBackend(OpenAIBackend):
    """Answers turns with ``chat.completions.create``; the history lives in our SQLite."""

    mode = "chat"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: OpenAI itself: send ``prompt_cache_key`` (other servers may refuse unknown fields).
        self.on_openai = is_openai(self.settings)
        #: The output limit's name: OpenAI's reasoning models refuse ``max_tokens``, some
        #: other servers (Ollama) only know ``max_tokens``. Switched once on a refusal.
        self.limit_param = (
            "max_completion_tokens" if is_openai_or_azure(self.settings) else "max_tokens"
        )
        #: Models whose server refused ``tools`` (OPENAI_TOOLS=auto), with the server's words.
        self.tools_refused: dict[str, str] = {}

    def _send_tools(self) -> bool:
        if self.tools is None or not len(self.tools) or self.settings.openai_tools == "off":
            return False
        return self.settings.openai_model not in self.tools_refused

    async def _idle_tools(self) -> set[str]:
        """Tools with nothing to work on: ``search_knowledge`` while the knowledge is empty."""
        if self.tools is None or "search_knowledge" not in self.tools.registry:
            return set()
        return set() if await self.knowledge.store_ids() else {"search_knowledge"}

    async def _post(self, body: dict[str, Any], *, first: bool) -> ChatCompletion:
        """POST the body; on a turn's first request, adapt once each to a refused output
        limit name and to a refusal of ``tools`` (OPENAI_TOOLS=auto)."""
        adapted: set[str] = set()
        while True:
            try:
                return await create_completion(self.client, body)
            except openai.APIStatusError as exc:
                if not first:
                    raise
                limit = self.limit_param
                if "limit" not in adapted and limit in body and refuses_param(exc, limit):
                    adapted.add("limit")
                    other = LIMIT_PARAMS[limit]
                    log.warning("chat.limit_param_switched", refused=limit, now=other)
                    self.limit_param = other
                    body = {k: v for k, v in body.items() if k != limit} | {other: body[limit]}
                    continue
                if "tools" in body and self.settings.openai_tools == "auto" and refuses_tools(exc):
                    model = self.settings.openai_model
                    words = server_words(exc)
                    self.tools_refused[model] = words
                    log.warning("chat.tools_unsupported", model=model, server_said=words)
                    body = {k: v for k, v in body.items() if k not in ("tools", "tool_choice")}
                    continue
                raise

    async def reply(self, turn: Turn) -> Reply:
        """Answer ``turn`` from the stored history plus the new message, running tools."""
        history = await self.store.context(turn.chat, self.settings.max_conversation_history)
        while True:
            messages: list[dict[str, Any]] = [
                {"role": "system", "content": system_prompt(self.settings, turn)},
                *alternate(
                    [
                        *history_messages(history, is_group=turn.is_group),
                        {"role": "user", "content": user_content(turn)},
                    ]
                ),
            ]
            fresh = len(messages)
            try:
                return await self._complete(messages, turn)
            except openai.BadRequestError as exc:
                # Retrying with less history is only safe before any tool has run:
                # a second attempt would run them (e.g. set_reminder) again.
                tools_ran = len(messages) > fresh
                if exc.code != "context_length_exceeded" or not history or tools_ran:
                    raise translate(exc) from exc
                history = history[len(history) // 2 + 1 :]
                log.warning("chat.context_trimmed", kept=len(history))
            except ReplyError:
                raise
            except Exception as exc:
                raise translate(exc) from exc

    async def _complete(self, messages: list[dict[str, Any]], turn: Turn) -> Reply:
        usage: list[Usage] = []
        calls_made: list[ToolCallRecord] = []
        sources: list[str] = []
        rounds = self.tools.max_rounds if self.tools else 0
        extra: dict[str, Any] = {}
        if self._send_tools() and self.tools is not None:
            idle = await self._idle_tools()
            offered = await self.tools.offered("chat", turn, exclude=idle)  # per sender
            if offered:
                extra["tools"] = offered
        if self.settings.openai_max_completion_tokens:
            extra[self.limit_param] = self.settings.openai_max_completion_tokens
        if self.on_openai:
            extra["prompt_cache_key"] = prompt_cache_key(turn.chat)
        for round_no in range(rounds + 1):
            if round_no == rounds and "tools" in extra:
                extra["tool_choice"] = "none"  # last round: the model must answer in words
            body = {"model": self.settings.openai_model, "messages": messages, **extra}
            completion = await self._post(body, first=round_no == 0)
            if round_no == 0 and "tools" in extra and self._send_tools() is False:
                extra.pop("tools")  # refused just now: the rest of the turn goes without
            if completion.usage is not None:
                usage.append(
                    Usage(
                        completion.model or self.settings.openai_model,
                        completion.usage.prompt_tokens,
                        completion.usage.completion_tokens,
                        completion.usage.total_tokens,
                        cached_tokens(completion.usage),
                    )
                )
            if not completion.choices:
                raise ReplyError("OpenAI returned no choices", cause="empty")
            message = completion.choices[0].message
            tool_calls = [c for c in (message.tool_calls or []) if c.type == "function"]
            if not tool_calls or self.tools is None:
                text = message.content or message.refusal or ""
                if not text.strip():
                    raise ReplyError("OpenAI returned an empty answer", cause="empty")
                text = with_sources(text, sources)
                return Reply(text=text, usage=tuple(usage), tool_calls=tuple(calls_made))
            messages.append(
                {
                    "role": "assistant",
                    "content": message.content,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {
                                "name": c.function.name,
                                "arguments": arguments_text(c.function.arguments),
                            },
                        }
                        for c in tool_calls
                    ],
                }
            )
            results = await self.tools.run(
                [
                    ToolCall(c.id, c.function.name, arguments_text(c.function.arguments))
                    for c in tool_calls
                ],
                turn,
            )
            calls_made += records(results)
            sources += knowledge_sources(results)
            messages += [
                {"role": "tool", "tool_call_id": r.call_id, "content": r.output} for r in results
            ]
        raise ReplyError("the model kept calling tools past the round limit", cause="tool_rounds")
