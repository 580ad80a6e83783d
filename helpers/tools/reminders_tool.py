"""Built-in tools: reminders the person sets, lists and cancels through the model.

Every tool acts on ``ctx.chat`` — the chat the turn came from — never on a chat the model
names, so no prompt can read or change another person's reminders.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import ToolError
from helpers.tools.context import ToolContext
from helpers.tools.registry import tool


def _services(ctx: ToolContext) -> tuple[Any, Any]:
    store = ctx.services.get("store")
    if store is None:
        raise ToolError("reminders are not available right now")
    return store, ctx.services.get("reminders")


def _parse_when(when: str, timezone: str) -> datetime:
    try:
        moment = datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ToolError(
            f"could not read the time {when!r}; use ISO 8601 like 2026-11-22T09:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment


@tool
async def set_reminder(ctx: ToolContext, when: str, text: str) -> dict[str, Any]:
    """Schedule a WhatsApp reminder for the person in this chat.

    Args:
        when: When to remind, ISO 8601 local time like 2026-11-22T09:00 (the user's timezone
            is assumed when no offset is given). Work out relative times with current_datetime.
        text: What to remind them of, e.g. "call mum".
    """
    store, service = _services(ctx)
    due = _parse_when(when, ctx.timezone)
    now = ctx.clock.now()
    if due <= now:
        raise ToolError(f"{due.isoformat()} is in the past (it is now {now.isoformat()})")
    if not text.strip():
        raise ToolError("the reminder needs a text")
    reminder = await store.add_reminder(
        chat=ctx.chat, chat_jid=ctx.chat_jid, sender=ctx.sender, text=text.strip(), due_at=due
    )
    if service is not None:
        service.wake()
    local = due.astimezone(ZoneInfo(ctx.timezone))
    return {"id": reminder.id, "due": local.isoformat(), "text": reminder.text}


@tool
async def list_reminders(ctx: ToolContext) -> dict[str, Any]:
    """List the pending reminders of this chat."""
    store, _ = _services(ctx)
    zone = ZoneInfo(ctx.timezone)
    return {
        "reminders": [
            {"id": r.id, "due": r.due_at.astimezone(zone).isoformat(), "text": r.text}
            for r in await store.reminders_for(ctx.chat)
        ]
    }


@tool
async def cancel_reminder(ctx: ToolContext, reminder_id: int) -> dict[str, Any]:
    """Cancel one pending reminder of this chat.

    Args:
        reminder_id: The id from list_reminders or set_reminder.
    """
    store, service = _services(ctx)
    if not await store.cancel_reminder(ctx.chat, reminder_id):
        raise ToolError(f"this chat has no pending reminder with id {reminder_id}")
    if service is not None:
        service.wake()
    return {"cancelled": reminder_id}
