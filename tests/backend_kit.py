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


async def answered(
    store: Store, chat: str, text: str | list[str], answer: str, number: int
) -> None:
    """Store a user message (or several, as a debounced turn) and the one answer to them,
    as the pipeline does in chat mode."""
    now = datetime.now(UTC)
    texts = [text] if isinstance(text, str) else text
    ids = []
    for index, one in enumerate(texts):
        message_id = await store.add_message(
            NewMessage(
                chat=chat,
                chat_jid=chat,
                wa_id=f"WA{number}" if len(texts) == 1 else f"WA{number}-{index}",
                sender=SENDER,
                sender_name="Ann",
                kind="text",
                text=one,
                is_group=False,
                sent_at=now,
                received_at=now,
            )
        )
        assert message_id is not None
        ids.append(message_id)
    await store.record_turn(
        chat=chat, sender=SENDER, message_ids=ids, reply_text=answer, wa_ids=[f"B{number}"]
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
