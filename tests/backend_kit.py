"""Shared pieces of the server-side backend tests: stored history and a small toolbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from helpers.tools.box import ToolBox
from helpers.tools.context import ToolContext
from helpers.tools.registry import ToolRegistry, tool
from storage.store import NewMessage, Store
from tests.fakes import FakeClock

SENDER = "15550001111@s.whatsapp.net"


async def answered(store: Store, chat: str, text: str, answer: str, number: int) -> None:
    """Store a user message and its answer as the pipeline does in chat mode."""
    now = datetime.now(UTC)
    message_id = await store.add_message(
        NewMessage(
            chat=chat,
            chat_jid=chat,
            wa_id=f"WA{number}",
            sender=SENDER,
            sender_name="Ann",
            kind="text",
            text=text,
            is_group=False,
            sent_at=now,
            received_at=now,
        )
    )
    assert message_id is not None
    await store.record_turn(
        chat=chat, sender=SENDER, message_ids=[message_id], reply_text=answer, wa_ids=[f"B{number}"]
    )


def toolbox(*, max_rounds: int = 3) -> ToolBox:
    """A small registry: add, shout, and meet (which only returns once two calls are in)."""
    meeting = asyncio.Barrier(2)

    @tool
    async def add(ctx: ToolContext, a: int, b: int) -> int:
        """Add two whole numbers."""
        return a + b

    @tool
    async def shout(ctx: ToolContext, text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    @tool
    async def meet(ctx: ToolContext, name: str) -> str:
        """Wait for the other caller, then greet."""
        await meeting.wait()
        return f"met {name}"

    return ToolBox(
        ToolRegistry([add, shout, meet]),
        clock=FakeClock(),
        timezone="UTC",
        timeout=2.0,
        max_rounds=max_rounds,
    )
