"""The backends' view of tools: definitions per API, and execution for a turn's chat."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

from bot.clock import Clock
from helpers.backends.base import ToolCallRecord, Turn
from helpers.tools.context import ToolContext
from helpers.tools.registry import ToolCall, ToolRegistry, ToolResult

Api = Literal["chat", "responses", "assistants"]


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
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.timezone = timezone
        self.timeout = timeout
        self.max_rounds = max_rounds
        self.services = services if services is not None else {}

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
        """Run every call of one model round concurrently for ``turn``'s chat."""
        return await self.registry.execute(calls, self.context(turn), timeout=self.timeout)


def records(results: Sequence[ToolResult]) -> list[ToolCallRecord]:
    """Tool results as the records a reply carries to storage."""
    return [ToolCallRecord(r.name, r.duration_ms, r.ok, r.error) for r in results]
