"""The backends' view of tools: definitions per API, and execution for a turn's chat."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Literal

from bot.clock import Clock
from helpers.backends.base import ToolCallRecord, Turn
from helpers.tools.context import ToolContext
from helpers.tools.registry import ToolCall, ToolRegistry, ToolResult

Api = Literal["chat", "responses", "assistants"]
#: Decides whether a tool exists for a turn's sender (e.g. the owner's mail tools).
Audience = Callable[[Turn], Awaitable[bool]]


class ToolBox:
    """A registry bound to the bot's services: runs a model's tool calls for one turn."""

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        clock: Clock,
        timezone: str,
        timeout: float,
        max_rounds: int,
        services: dict[str, Any] | None = None,
        audiences: Mapping[str, Audience] | None = None,
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.timezone = timezone
        self.timeout = timeout
        self.max_rounds = max_rounds
        self.services = services if services is not None else {}
        #: Tool name -> who it is offered to; tools not named here are offered to everyone.
        self.audiences: dict[str, Audience] = dict(audiences or {})

    def __len__(self) -> int:
        return len(self.registry)

    def definitions(self, api: Api, *, exclude: Collection[str] = ()) -> list[dict[str, Any]]:
        """The tool definitions in the shape ``api`` expects, minus the ``exclude`` names."""
        if api == "chat":
            defs = self.registry.for_chat_completions()
        elif api == "responses":
            defs = self.registry.for_responses()
        else:
            defs = self.registry.for_assistants()
        if not exclude:
            return defs
        return [d for d in defs if d.get("name", d.get("function", {}).get("name")) not in exclude]

    async def hidden(self, turn: Turn) -> set[str]:
        """Names of the tools that do not exist for ``turn``'s sender."""
        verdicts: dict[Audience, bool] = {}
        hidden = set()
        for name, audience in self.audiences.items():
            if audience not in verdicts:
                verdicts[audience] = await audience(turn)
            if not verdicts[audience]:
                hidden.add(name)
        return hidden

    async def offered(
        self, api: Api, turn: Turn, *, exclude: Collection[str] = ()
    ) -> list[dict[str, Any]]:
        """The definitions for ``api`` of the tools ``turn``'s sender may use, minus ``exclude``."""
        hidden = await self.hidden(turn) if self.audiences else set()
        return [d for d in self.definitions(api, exclude=exclude) if _name(d) not in hidden]

    def context(self, turn: Turn) -> ToolContext:
        """The context a tool runs in: the turn's chat and sender, never the model's say-so."""
        return ToolContext(
            chat=turn.chat,
            chat_jid=turn.chat_jid,
            sender=turn.sender,
            sender_name=turn.sender_name,
            timezone=self.timezone,
            clock=self.clock,
            services=self.services,
        )

    async def run(self, calls: Sequence[ToolCall], turn: Turn) -> list[ToolResult]:
        """Run every call of one model round concurrently for ``turn``'s chat.

        A call of a tool not offered to the turn's sender is answered as an unknown tool,
        without running it: the model may name it, it still does not exist for them.
        """
        hidden = await self.hidden(turn) if self.audiences else set()
        allowed = [c for c in calls if c.name not in hidden]
        ran = iter(await self.registry.execute(allowed, self.context(turn), timeout=self.timeout))
        results = []
        for call in calls:
            if call.name in hidden:
                reason = f"unknown tool {call.name!r}"
                output = json.dumps({"error": reason})
                results.append(ToolResult(call.id, call.name, output, False, reason))
            else:
                results.append(next(ran))
        return results


def _name(definition: dict[str, Any]) -> str:
    """The tool name in a definition of any API's shape."""
    inner = definition.get("function")
    return str(inner["name"] if isinstance(inner, dict) else definition.get("name", ""))


def records(results: Sequence[ToolResult]) -> list[ToolCallRecord]:
    """Tool results as the records a reply carries to storage."""
    return [ToolCallRecord(r.name, r.duration_ms, r.ok, r.error) for r in results]
