"""A reply backend whose answers the test controls (for pipeline tests without OpenAI)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from bot.errors import ReplyError
from helpers.backends.base import Reply, Turn, Usage


class ScriptedBackend:
    """Answers ``re: <text>``; can hold a chat's turns on an Event, or fail chosen texts."""

    mode = "chat"

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.holds: dict[str, asyncio.Event] = {}
        self.entered: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.failing: set[str] = set()
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight_per_chat = 0
        self.resets: list[str] = []
        self.forgotten: list[str] = []
        #: Prompt tokens each answer reports as served from the prompt cache.
        self.cached_tokens = 0

    def hold(self, chat: str) -> asyncio.Event:
        """Make turns of ``chat`` wait until the returned Event is set."""
        self.holds[chat] = asyncio.Event()
        return self.holds[chat]

    async def preflight(self) -> None:
        """Nothing to check."""

    async def reply(self, turn: Turn) -> Reply:
        """Record the turn, wait if held, then answer or fail."""
        self.turns.append(turn)
        self.in_flight[turn.chat] += 1
        self.max_in_flight_per_chat = max(self.max_in_flight_per_chat, self.in_flight[turn.chat])
        self.entered[turn.text].set()
        try:
            hold = self.holds.get(turn.chat)
            if hold is not None:
                await hold.wait()
            if turn.text in self.failing:
                raise ReplyError("injected failure", cause="server_error")
            usage = Usage("fake-model", 3, 4, 7, self.cached_tokens)
            return Reply(text=f"re: {turn.text}", usage=(usage,))
        finally:
            self.in_flight[turn.chat] -= 1

    async def reset(self, chat: str) -> None:
        """Record a reset."""
        self.resets.append(chat)

    async def forget(self, chat: str) -> None:
        """Record a forget."""
        self.forgotten.append(chat)

    async def aclose(self) -> None:
        """Nothing to close."""
