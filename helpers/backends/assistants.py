"""``assistants`` mode: the legacy Assistants API, one server-side thread per chat.

OpenAI turned this API off on its own servers on 2026-08-26; the mode serves compatible
servers that still implement ``/v1/assistants`` and ``/v1/threads``. The preflight says so
clearly at start-up when the server does not.

A turn: add the user message, run the assistant (streamed, so the reply is delivered the
moment the run completes; polling at OPENAI_POLL_INTERVAL_MS where a server cannot stream),
answer every tool call of a ``requires_action`` step in one submission, repeat until the run
ends. One active run per thread: a run left over from a crash is waited out or cancelled first.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

import openai
import structlog

from bot.errors import ReplyError, StartupError
from bot.messages import OutgoingMedia
from helpers.backends.assistant_files import AssistantsFilesMixin, assistant_stores
from helpers.backends.base import Reply, ToolCallRecord, Turn, Usage
from helpers.backends.chat import system_prompt
from helpers.backends.common import attributed
from helpers.backends.errors import translate
from helpers.backends.server_side import ServerSideBackend, vanished
from helpers.citations import with_sources
from helpers.openai_client import OPENAI_DEFAULT_BASE_URL
from helpers.tools.box import records
from helpers.tools.registry import ToolCall, refuse_all
from storage.store import ContextEntry

log = structlog.get_logger("helpers.backends.assistants")

ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
#: Text up to this long travels as the caption of the run's first image.
MAX_CAPTION = 1000
CITATION = re.compile(r"【[^】]*】")
#: How long a turn waits at most for a run left over from a crash before cancelling it
#: (never longer than OPENAI_RUN_TIMEOUT_SECONDS, the bound of the turn's own run).
STALE_RUN_WAIT_SECONDS = 20.0
ACTIVE_RUN_MESSAGE = re.compile(
    r"while a run (run_\w+) is active|already has an active run (run_\w+)"
)


def clean_text(value: str, annotations: list[Any]) -> str:
    """Assistant text without citation markers such as 【4:0†source】."""
    notes = [getattr(note, "text", None) for note in annotations or []]
    marker = "|".join([*(re.escape(text) for text in notes if text), CITATION.pattern])
    # A marker takes the blanks before it along when a blank or punctuation follows
    # ("See 【1†a】 here." -> "See here.", "42 【1†a】." -> "42."), else it goes alone.
    value = re.sub(rf"[ \t]*(?:{marker})(?=[ \t.,;:!?)\]]|$)", "", value, flags=re.M)
    value = re.sub(marker, "", value)
    return re.sub(r"[ \t]+\n", "\n", value).strip()


class AssistantsBackend(AssistantsFilesMixin, ServerSideBackend):
    """Answers turns by running an assistant on the chat's thread."""

    mode = "assistants"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assistant_id = self.settings.openai_assistant_id or ""
        #: The assistant's own hosted tools (code interpreter, file search), kept in overrides;
        #: None until the assistant was fetched (by the preflight, else by the first run).
        self._hosted_tools: list[dict[str, Any]] | None = None
        #: The assistant's own knowledge stores (None until fetched); threads given ours.
        self._assistant_stores: list[str] | None = None
        self._attached: set[str] = set()

    # --- start-up ------------------------------------------------------------------------

    async def preflight(self) -> None:
        """Fetch the assistant once; explain clearly when the server lacks the API."""
        base = self.settings.openai_base_url or OPENAI_DEFAULT_BASE_URL
        try:
            assistant = await self.client.beta.assistants.retrieve(self.assistant_id)
        except openai.NotFoundError:
            if await self._api_exists():
                raise StartupError(
                    f"OPENAI_ASSISTANT_ID: the server at {base} has no assistant "
                    f"{self.assistant_id!r}. Check the id (asst_...)."
                ) from None
            raise StartupError(
                f"The server at {base} does not serve the Assistants API (404 on "
                f"/assistants/{self.assistant_id}). OpenAI turned the Assistants API off on its "
                "own servers on 2026-08-26. Fix: set OPENAI_API_MODE=responses (the successor: "
                "Responses + Conversations), or point OPENAI_BASE_URL at a server that still "
                "implements /v1/assistants and /v1/threads."
            ) from None
        except openai.AuthenticationError as exc:
            raise StartupError(f"OPENAI_API_KEY was refused by {base}: {exc.message}") from None
        except openai.APIConnectionError as exc:
            raise StartupError(f"cannot reach {base} (OPENAI_BASE_URL): {exc}") from None
        except openai.OpenAIError as exc:
            raise StartupError(
                f"checking assistant {self.assistant_id!r} at {base} failed: {exc}"
            ) from None
        await self.check_models(assistant.model)
        self._hosted_tools = hosted_tools(assistant)
        self._assistant_stores = assistant_stores(assistant)
        log.info(
            "assistants.ready", assistant=self.assistant_id, hosted_tools=len(self._hosted_tools)
        )

    async def _api_exists(self) -> bool:
        """Whether the server serves threads at all (asked only after the assistant was a 404).

        Threads are what this mode needs, and every server with the API has them (listing
        assistants is missing on some); the probe thread is deleted at once.
        """
        try:
            probe = await self.client.beta.threads.create(metadata={"purpose": "preflight"})
        except openai.NotFoundError:
            return False
        except openai.OpenAIError:
            return True
        with contextlib.suppress(openai.OpenAIError):
            await self.client.beta.threads.delete(probe.id)
        return True

    # --- threads ---------------------------------------------------------------------------

    async def _create_remote(self, seed: list[ContextEntry], turn: Turn) -> str:
        messages = [
            {
                "role": e.role,
                "content": attributed(e.text, e.sender_name, is_group=turn.is_group)
                if e.role == "user"
                else e.text,
            }
            for e in seed
        ]
        thread = await self.client.beta.threads.create(
            messages=messages,  # type: ignore[arg-type]
            metadata={"chat": turn.chat[:512]},
        )
        return thread.id

    # --- a turn ------------------------------------------------------------------------------

    async def reply(self, turn: Turn) -> Reply:
        """Add the message to the chat's thread, run the assistant, return its answer."""
        state = _RunState()
        try:
            state.thread_id = await self.remote_id(turn)
            content = await self._content(turn)
            attachments = await self._attachments(turn, state)
            try:
                await self._add_message(state.thread_id, content, attachments)
            except openai.NotFoundError as exc:
                if not vanished(exc, state.thread_id):
                    raise
                state.thread_id = await self.replace_remote(turn, state.thread_id)
                await self._add_message(state.thread_id, content, attachments)
            await self._attach_knowledge(state)
            async with asyncio.timeout(self.settings.openai_run_timeout_seconds):
                return await self._run(state, turn)
        except TimeoutError:
            await self._cancel_quietly(state.thread_id, state.run_id)
            raise ReplyError(
                f"run {state.run_id} took longer than "
                f"{self.settings.openai_run_timeout_seconds:g}s",
                cause="run_timeout",
            ) from None
        except ReplyError:
            raise
        except Exception as exc:
            raise translate(exc) from exc

    async def _content(self, turn: Turn) -> str | list[dict[str, Any]]:
        """The user message: its text (attributed in groups), plus any images, uploaded."""
        text = attributed(turn.text, turn.sender_name, is_group=turn.is_group)
        if not turn.images:
            return text or "(empty message)"
        parts: list[dict[str, Any]] = [{"type": "text", "text": text or "(image)"}]
        for number, image in enumerate(turn.images, 1):
            extension = image.mimetype.rpartition("/")[2] or "jpeg"
            uploaded = await self.client.files.create(
                file=(f"image-{number}.{extension}", image.data, image.mimetype), purpose="vision"
            )
            parts.append({"type": "image_file", "image_file": {"file_id": uploaded.id}})
        return parts

    async def _add_message(
        self,
        thread_id: str,
        content: str | list[dict[str, Any]],
        attachments: list[dict[str, Any]] | None = None,
    ) -> None:
        extra: dict[str, Any] = {"attachments": attachments} if attachments else {}
        for attempt in range(2):
            try:
                await self.client.beta.threads.messages.create(
                    thread_id,
                    role="user",
                    content=content,  # type: ignore[arg-type]
                    **extra,
                )
                return
            except openai.BadRequestError as exc:
                stale = ACTIVE_RUN_MESSAGE.search(exc.message or "")
                if stale is None or attempt:
                    raise
                await self._settle(thread_id, stale.group(1) or stale.group(2))

    async def _settle(self, thread_id: str, run_id: str) -> None:
        """Wait for a leftover active run to end; cancel it if it does not end soon."""
        log.warning("assistants.stale_run", thread=thread_id, run=run_id)
        interval = self.settings.openai_poll_interval_ms / 1000
        wait = min(STALE_RUN_WAIT_SECONDS, self.settings.openai_run_timeout_seconds)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        cancelled = False
        while True:
            run = await self.client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
            if run.status not in ACTIVE:
                return
            if not cancelled and (run.status == "requires_action" or loop.time() > deadline):
                # Nobody will ever answer its tool calls, or it is taking too long: stop it.
                await self._cancel_quietly(thread_id, run_id)
                cancelled = True
            if loop.time() > deadline + wait:
                raise ReplyError(f"run {run_id} would not end", cause="stale_run")
            await asyncio.sleep(interval)

    async def _cancel_quietly(self, thread_id: str, run_id: str | None) -> None:
        if not thread_id or not run_id:
            return
        try:
            await asyncio.shield(self.client.beta.threads.runs.cancel(run_id, thread_id=thread_id))
            log.info("assistants.run_cancelled", run=run_id)
        except Exception as exc:
            log.warning("assistants.cancel_failed", run=run_id, error=str(exc))

    async def _run_options(self, turn: Turn, needs: set[str] | None = None) -> dict[str, Any]:
        options: dict[str, Any] = {
            "assistant_id": self.assistant_id,
            # Added to the assistant's own instructions, not replacing them: the bot's prompt
            # and, in groups, how to read the "Name: text" attribution.
            "additional_instructions": system_prompt(self.settings, turn),
        }
        if self.settings.openai_model:
            options["model"] = self.settings.openai_model
        functions = self.tools is not None and len(self.tools) > 0
        if functions or needs:
            if self._hosted_tools is None:
                # An override replaces the assistant's tools: keep its hosted ones in it.
                assistant = await self.client.beta.assistants.retrieve(self.assistant_id)
                self._hosted_tools = hosted_tools(assistant)
            have = {tool["type"] for tool in self._hosted_tools}
            extra = [{"type": name} for name in sorted(needs or ()) if name not in have]
            offered = await self.tools.offered("assistants", turn) if self.tools else []
            options["tools"] = [*self._hosted_tools, *extra, *offered]
        if self.settings.openai_max_completion_tokens:
            options["max_completion_tokens"] = self.settings.openai_max_completion_tokens
        return options

    async def _run(self, state: _RunState, turn: Turn) -> Reply:
        calls_made: list[ToolCallRecord] = []
        rounds = 0
        run = await self._start_run(state, turn)
        while run.status == "requires_action":
            action = run.required_action
            pending = action.submit_tool_outputs.tool_calls if action else []
            calls = [ToolCall(c.id, c.function.name, c.function.arguments) for c in pending]
            rounds += 1
            if self.tools is None:
                results = refuse_all(calls, "no tools are available")
            elif rounds <= self.tools.max_rounds:
                results = await self.tools.run(calls, turn)
                calls_made += records(results)
            elif rounds == self.tools.max_rounds + 1:
                # A run cannot take tool_choice="none" midway: tell the model to answer instead.
                results = refuse_all(calls)
            else:
                await self._cancel_quietly(state.thread_id, run.id)
                raise ReplyError("the assistant kept calling tools", cause="tool_rounds")
            outputs = [{"tool_call_id": r.call_id, "output": r.output} for r in results]
            run = await self._submit(state, outputs)
        if run.status != "completed":
            detail = run.last_error or run.incomplete_details
            log.warning("assistants.run_ended", status=run.status, detail=str(detail))
            raise ReplyError(f"run ended {run.status}: {detail}", cause=f"run_{run.status}")
        messages = state.messages
        if not self.settings.openai_stream or not messages:
            page = await self.client.beta.threads.messages.list(
                state.thread_id, run_id=run.id, order="asc", limit=100
            )
            messages = list(page.data)
        text, media = await self._output(messages)
        usage: tuple[Usage, ...] = ()
        if run.usage is not None:
            u = run.usage
            model = run.model or self.settings.openai_model
            usage = (Usage(model, u.prompt_tokens, u.completion_tokens, u.total_tokens),)
        if not text and not media:
            raise ReplyError("the assistant answered nothing", cause="empty")
        return Reply(text=text, media=tuple(media), usage=usage, tool_calls=tuple(calls_made))

    async def _start_run(self, state: _RunState, turn: Turn) -> Any:
        options = await self._run_options(turn, state.needs)
        if not self.settings.openai_stream:
            run = await self.client.beta.threads.runs.create(state.thread_id, **options)
            state.run_id = run.id
            return await self._poll(state.thread_id, run)
        stream = await self.client.beta.threads.runs.create(state.thread_id, stream=True, **options)
        return await self._follow(stream, state)

    async def _submit(self, state: _RunState, outputs: list[dict[str, str]]) -> Any:
        run_id = state.run_id or ""
        if not self.settings.openai_stream:
            run = await self.client.beta.threads.runs.submit_tool_outputs(
                run_id,
                thread_id=state.thread_id,
                tool_outputs=outputs,  # type: ignore[arg-type]
            )
            return await self._poll(state.thread_id, run)
        stream = await self.client.beta.threads.runs.submit_tool_outputs(
            run_id,
            thread_id=state.thread_id,
            tool_outputs=outputs,  # type: ignore[arg-type]
            stream=True,
        )
        return await self._follow(stream, state)

    async def _follow(self, stream: Any, state: _RunState) -> Any:
        """Read run events until the run pauses or ends; return the last run snapshot.

        Completed assistant messages are collected from the stream itself, so the reply
        needs no further request once the run completes.
        """
        run = None
        async with stream:
            async for event in stream:
                name = event.event
                if name == "thread.message.completed":
                    state.messages.append(event.data)
                elif name.startswith("thread.run.") and not name.startswith("thread.run.step"):
                    run = event.data
                    state.run_id = run.id
                    if run.status == "requires_action" or run.status in TERMINAL:
                        break
                elif name == "error":
                    raise ReplyError(f"stream error: {event.data}", cause="stream_error")
        if run is None:
            raise ReplyError("the run stream ended without a run", cause="stream_error")
        if run.status in ACTIVE and run.status != "requires_action":
            # The stream broke off mid-run: the run goes on, so follow it by polling.
            log.warning("assistants.stream_ended_early", run=run.id, status=run.status)
            run = await self._poll(state.thread_id, run)
        return run

    async def _poll(self, thread_id: str, run: Any) -> Any:
        interval = self.settings.openai_poll_interval_ms / 1000
        while run.status in ACTIVE and run.status != "requires_action":
            await asyncio.sleep(interval)
            run = await self.client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
        return run

    async def _output(self, messages: list[Any]) -> tuple[str, list[OutgoingMedia]]:
        """All assistant text of the run, in order, and its images (text as caption)."""
        texts: list[str] = []
        media: list[OutgoingMedia] = []
        cited: list[str] = []
        for message in messages:
            if message.role != "assistant":
                continue
            for part in message.content:
                if part.type == "text":
                    cleaned = clean_text(part.text.value, list(part.text.annotations))
                    if cleaned:
                        texts.append(cleaned)
                    cited += [
                        note.file_citation.file_id
                        for note in part.text.annotations
                        if note.type == "file_citation"
                    ]
                elif part.type == "image_file":
                    content = await self.client.files.content(part.image_file.file_id)
                    media.append(OutgoingMedia("image", content.content, "image/png"))
        text = with_sources("\n\n".join(texts), await self._file_names(cited))
        if media and text and len(text) <= MAX_CAPTION:
            media[0] = OutgoingMedia("image", media[0].data, "image/png", caption=text)
            text = ""
        return text, media


def hosted_tools(assistant: Any) -> list[dict[str, Any]]:
    """The assistant's own non-function tools (code interpreter, file search) as request dicts."""
    return [t.model_dump(exclude_none=True) for t in assistant.tools if t.type != "function"]


@dataclass
class _RunState:
    """One turn's run: its thread, the run id once known, messages seen on the stream."""

    thread_id: str = ""
    run_id: str | None = None
    messages: list[Any] = field(default_factory=list)
    #: Hosted tools this turn needs in the run (knowledge, attachments).
    needs: set[str] = field(default_factory=set)
