"""The life of one Assistants run: queued -> in_progress -> requires_action | completed | ..."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from .assistants import RunControl, ThreadState, message_text
from .script import (
    Citation,
    ModelCall,
    RunEnds,
    Step,
    Text,
    ToolCalls,
    count_tokens,
    echo_reply,
    split_deltas,
)
from .state import Core, now
from .vector_stores import search

_LOG = logging.getLogger(__name__)
_DEFAULT_LAST_ERROR = {"code": "server_error", "message": "Sorry, something went wrong."}
_DEFAULT_INCOMPLETE = {"reason": "max_prompt_tokens"}
_END_FIELDS = {
    "failed": "failed_at",
    "cancelled": "cancelled_at",
    "incomplete": None,
    "expired": None,
}


class RunDriver:
    """Drive a run: think (latency), then write a message, ask for tools, or end as scripted."""

    def __init__(self, core: Core, state: ThreadState, control: RunControl) -> None:
        """Bind the driver to one run of one thread."""
        self.core = core
        self.state = state
        self.control = control
        self.run = control.run
        self.next_step: Step | None = None
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

    async def drive(
        self, step: Step | None, *, hold: float | None = None, stale: bool = False
    ) -> None:
        """Run to a final state; a stale run waits `hold` seconds (None: until cancelled) first."""
        self.next_step = step
        try:
            if stale:
                await (asyncio.sleep(hold) if hold is not None else asyncio.Event().wait())
            else:
                self.control.emit("thread.run.created", self.run)
                self.control.emit("thread.run.queued", self.run)
                await asyncio.sleep(0)
                self._set(status="in_progress", started_at=now())
                self.control.emit("thread.run.in_progress", self.run)
            while await self._turn(stale):
                stale = False
        except asyncio.CancelledError:
            if not self.control.cancel_requested:
                self._close_listeners()
                raise
            self._finish_cancel()

    def on_done(self, task: asyncio.Task[None]) -> None:
        """Settle a run whose task ended early: cancelled before it started, or a fake bug."""
        if task.cancelled():
            if self.control.cancel_requested and self.run["status"] == "cancelling":
                self._finish_cancel()
            return
        error = task.exception()
        if error is not None and self.control.active:
            _LOG.error("run %s crashed inside the fake", self.run["id"], exc_info=error)
            message = f"fake_openai internal error: {error!r}"
            self._set(status="failed", failed_at=now(), required_action=None, expires_at=None)
            self._set(last_error={"code": "server_error", "message": message})
            self.control.emit("thread.run.failed", self.run)

    async def _turn(self, stale: bool) -> bool:
        """Do one model call; return True when the run continues after tool outputs."""
        step = None if stale else self.next_step
        self.next_step = None
        context, prompt_tokens = self._context()
        if context is None:
            self._end(RunEnds("incomplete"))
            return False
        self.core.record_call(
            ModelCall(
                api="assistants",
                model=self.run["model"],
                instructions=self.run["instructions"],
                messages=context,
                tools=tuple(_tool_name(tool) for tool in self.run["tools"]),
                step=step,
                prompt_tokens=prompt_tokens,
            )
        )
        self.usage["prompt_tokens"] += prompt_tokens
        if not stale:
            await self.core.think(step)
        if step is None:
            step = Text(echo_reply(context))
        if isinstance(step, Text) and not step.citations and self.control.vector_store_ids:
            step = self._searched(step, context)
        if isinstance(step, Text):
            self._write_message(step)
            self._end(None)
            return False
        if isinstance(step, ToolCalls):
            return await self._call_tools(step)
        if isinstance(step, RunEnds):
            self._end(step)
            return False
        raise AssertionError(f"unexpected step for a run: {step!r}")

    def _context(self) -> tuple[tuple[tuple[str, str], ...] | None, int]:
        """Return what the model sees (truncated like OpenAI does), or None if nothing fits."""
        messages = [(m["role"], message_text(m)) for m in self.state.messages]
        strategy = self.run["truncation_strategy"] or {}
        if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
            messages = messages[-int(strategy["last_messages"]) :]
        for step in self.control.steps:
            for call in step["step_details"].get("tool_calls", []):
                if call["function"]["output"] is not None:
                    messages.append(("tool", str(call["function"]["output"])))
        budget = [
            limit
            for limit in (self.run["max_prompt_tokens"], self.core.settings.context_window)
            if limit is not None
        ]
        instructions = self.run["instructions"] or ""
        tokens = count_tokens(instructions, *(text for _, text in messages))
        while budget and tokens > min(budget) and messages:
            messages.pop(0)
            tokens = count_tokens(instructions, *(text for _, text in messages))
        if budget and (tokens > min(budget) or not messages):
            return None, tokens
        return tuple(messages), tokens

    def _new_step(self, kind: str, details: dict[str, Any]) -> dict[str, Any]:
        """Create a run step in progress and announce it."""
        step = {
            "id": self.core.new_id("step_"),
            "object": "thread.run.step",
            "created_at": now(),
            "run_id": self.run["id"],
            "assistant_id": self.run["assistant_id"],
            "thread_id": self.run["thread_id"],
            "type": kind,
            "status": "in_progress",
            "cancelled_at": None,
            "completed_at": None,
            "expired_at": None,
            "failed_at": None,
            "last_error": None,
            "step_details": details,
            "usage": None,
            "metadata": {},
        }
        self.control.steps.append(step)
        self.control.emit("thread.run.step.created", step)
        self.control.emit("thread.run.step.in_progress", step)
        return step

    def _complete_step(self, step: dict[str, Any], completion_tokens: int) -> None:
        prompt = self.usage["prompt_tokens"]
        step["status"], step["completed_at"] = "completed", now()
        step["usage"] = _usage(prompt, completion_tokens)
        self.control.emit("thread.run.step.completed", step)

    def _write_message(self, reply: Text) -> None:
        """Create the assistant message, stream its deltas and complete it."""
        message_id = self.core.new_id("msg_")
        details = {"type": "message_creation", "message_creation": {"message_id": message_id}}
        step = self._new_step("message_creation", details)
        message = {
            "id": message_id,
            "object": "thread.message",
            "created_at": now(),
            "thread_id": self.run["thread_id"],
            "status": "in_progress",
            "incomplete_details": None,
            "completed_at": None,
            "incomplete_at": None,
            "role": "assistant",
            "content": [],
            "assistant_id": self.run["assistant_id"],
            "run_id": self.run["id"],
            "attachments": [],
            "metadata": {},
        }
        self.state.messages.append(message)
        self.control.emit("thread.message.created", message)
        self.control.emit("thread.message.in_progress", message)
        annotations = [self._annotation(reply.text, c) for c in reply.citations]
        text_part = {"type": "text", "text": {"value": reply.text, "annotations": annotations}}
        for number, (piece, found) in enumerate(_pieces(reply.text, annotations)):
            delta_text: dict[str, Any] = {"value": piece}
            if number == 0 or found:
                delta_text["annotations"] = [dict(a, index=i) for i, a in found]
            self._message_delta(message_id, {"index": 0, "type": "text", "text": delta_text})
        content: list[dict[str, Any]] = [text_part]
        for data in reply.images:
            info = self.core.store_file(data, f"image-{len(content)}.png", "assistants_output")
            part = {"type": "image_file", "image_file": {"file_id": info["id"]}}
            self._message_delta(message_id, {"index": len(content), **part})
            content.append(part)
        completed = now()
        message.update(status="completed", completed_at=completed, content=content)
        self.control.emit("thread.message.completed", message)
        tokens = count_tokens(reply.text)
        self.usage["completion_tokens"] += tokens
        self._complete_step(step, tokens)

    def _searched(self, step: Text, context: tuple[tuple[str, str], ...]) -> Text:
        """``step`` citing, with 【n:0†source】 markers, each file file_search found."""
        query = next((text for role, text in reversed(context) if role == "user"), "")
        hits = search(self.core, self.control.vector_store_ids, query, 5)
        files = list(dict.fromkeys(hit["file_id"] for hit in hits))
        markers = [f"【{n}:0†source】" for n in range(len(files))]
        text = step.text + "".join(markers)
        citations = [Citation(m, file_id) for m, file_id in zip(markers, files, strict=True)]
        return Text(text, citations, step.images, step.delay)

    def _annotation(self, text: str, citation: Citation) -> dict[str, Any]:
        start = text.index(citation.marker)
        file_id = citation.file_id
        if file_id is None:
            file_id = self.core.store_file(b"cited source", "source.txt", "assistants")["id"]
        return {
            "type": "file_citation",
            "text": citation.marker,
            "start_index": start,
            "end_index": start + len(citation.marker),
            "file_citation": {"file_id": file_id},
        }

    def _message_delta(self, message_id: str, part: dict[str, Any]) -> None:
        delta = {"id": message_id, "object": "thread.message.delta", "delta": {"content": [part]}}
        self.control.emit("thread.message.delta", delta)

    async def _call_tools(self, reply: ToolCalls) -> bool:
        """Ask for tool outputs; wait for them (or expire); return True to continue the run."""
        calls: list[dict[str, Any]] = [
            {
                "id": self.core.new_id("call_"),
                "type": "function",
                "function": {"name": name, "arguments": reply.arguments(index)},
            }
            for index, (name, _) in enumerate(reply.calls)
        ]
        step = self._new_step("tool_calls", {"type": "tool_calls", "tool_calls": []})
        recorded = [{**c, "function": {**c["function"], "output": None}} for c in calls]
        deltas = [dict(call, index=index) for index, call in enumerate(recorded)]
        delta = {"step_details": {"type": "tool_calls", "tool_calls": deltas}}
        self.control.emit(
            "thread.run.step.delta",
            {"id": step["id"], "object": "thread.run.step.delta", "delta": delta},
        )
        step["step_details"]["tool_calls"] = recorded
        self.usage["completion_tokens"] += count_tokens(
            *(c["function"]["arguments"] for c in calls)
        )
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self.control.outputs = future
        self.control.pending_calls = [call["id"] for call in calls]
        action = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}}
        self._set(status="requires_action", required_action=action, usage=dict(self.usage))
        self.control.emit("thread.run.requires_action", self.run)
        try:
            outputs = await asyncio.wait_for(
                asyncio.shield(future), timeout=self.core.settings.run_expiry
            )
        except TimeoutError:
            step.update(status="expired", expired_at=now())
            self.control.emit("thread.run.step.expired", step)
            self._end(RunEnds("expired"))
            return False
        by_id = {o.get("tool_call_id"): o.get("output") for o in outputs}
        for call in recorded:
            call["function"]["output"] = by_id.get(call["id"])
        self._complete_step(step, 0)
        self._set(status="in_progress")
        self.control.emit("thread.run.in_progress", self.run)
        return True

    def resume(self, outputs: list[dict[str, Any]], step: Step | None) -> None:
        """Accept a complete set of tool outputs (checked by the route) and go on."""
        self.next_step = step
        self.control.pending_calls = []
        self._set(status="queued", required_action=None)
        self.control.emit("thread.run.queued", self.run)
        if self.control.outputs is not None and not self.control.outputs.done():
            self.control.outputs.set_result(outputs)

    def _end(self, step: RunEnds | None) -> None:
        """Finish the run: completed (None) or as a RunEnds step says."""
        status = "completed" if step is None else step.status
        fields: dict[str, Any] = {"status": status, "required_action": None, "expires_at": None}
        fields["usage"] = dict(self.usage, total_tokens=sum(self._tokens()))
        if status == "completed":
            fields["completed_at"] = now()
        elif stamp := _END_FIELDS[status]:
            fields[stamp] = now()
        if step is not None and status == "failed":
            fields["last_error"] = dict(step.last_error or _DEFAULT_LAST_ERROR)
        if step is not None and status == "incomplete":
            fields["incomplete_details"] = dict(step.incomplete_details or _DEFAULT_INCOMPLETE)
        self._set(**fields)
        self.control.emit(f"thread.run.{status}", self.run)

    def _finish_cancel(self) -> None:
        """Complete a requested cancellation: open steps and messages stop, the run is cancelled."""
        stamp = now()
        for step in self.control.steps:
            if step["status"] == "in_progress":
                step.update(status="cancelled", cancelled_at=stamp)
                self.control.emit("thread.run.step.cancelled", step)
        for message in self.state.messages:
            if message["run_id"] == self.run["id"] and message["status"] == "in_progress":
                message.update(
                    status="incomplete",
                    incomplete_at=stamp,
                    incomplete_details={"reason": "run_cancelled"},
                )
                self.control.emit("thread.message.incomplete", message)
        self._set(status="cancelled", cancelled_at=stamp, required_action=None, expires_at=None)
        self.control.emit("thread.run.cancelled", self.run)

    def _close_listeners(self) -> None:
        for queue in self.control.listeners:
            queue.put_nowait(None)

    def _tokens(self) -> tuple[int, int]:
        return self.usage["prompt_tokens"], self.usage["completion_tokens"]

    def _set(self, **fields: Any) -> None:
        self.run.update(fields)


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _tool_name(tool: dict[str, Any]) -> str:
    if tool.get("type") == "function":
        return str((tool.get("function") or {}).get("name", ""))
    return str(tool.get("type", ""))


def _pieces(
    text: str, annotations: list[dict[str, Any]]
) -> list[tuple[str, list[tuple[int, dict[str, Any]]]]]:
    """Split text into deltas; each citation marker is one delta carrying its annotation."""
    if not annotations:
        return [(piece, []) for piece in split_deltas(text)]
    pattern = "(" + "|".join(re.escape(a["text"]) for a in annotations) + ")"
    pieces: list[tuple[str, list[tuple[int, dict[str, Any]]]]] = []
    offset = 0
    for chunk in re.split(pattern, text):
        if not chunk:
            continue
        found = [(i, a) for i, a in enumerate(annotations) if a["start_index"] == offset]
        if found and chunk == found[0][1]["text"]:
            pieces.append((chunk, found))
        else:
            pieces.extend((piece, []) for piece in split_deltas(chunk))
        offset += len(chunk)
    return pieces or [("", [])]
