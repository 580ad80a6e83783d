"""Delivers due reminders as WhatsApp messages, on time, and late ones at start-up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

import structlog

from bot.clock import Clock
from bot.errors import TransportError
from bot.transport import Transport
from storage.reminders import Reminder
from storage.store import Store

log = structlog.get_logger("bot.reminders")

#: A reminder delivered more than this after its time is marked late.
LATE_AFTER = timedelta(seconds=60)
#: After a failed send, wait this long before trying again.
RETRY_SECONDS = 30.0
#: Upper bound on one wait, so a changed wall clock is noticed.
MAX_WAIT_SECONDS = 60.0


class ReminderService:
    """Sleeps until the next reminder is due, sends it, repeats; ``wake()`` after a change."""

    def __init__(self, store: Store, transport: Callable[[], Transport], clock: Clock) -> None:
        self.store = store
        self._transport = transport  # the front-end's, bound after wiring
        self.clock = clock
        self._changed = asyncio.Event()
        self._failed = False

    def wake(self) -> None:
        """A reminder was added or cancelled: look again at what is due next."""
        self._changed.set()

    async def deliver_due(self) -> int:
        """Send every reminder due now; return how many were sent."""
        now = self.clock.now()
        sent = 0
        self._failed = False
        for reminder in await self.store.due_reminders(now):
            if await self._deliver(reminder):
                sent += 1
            else:
                self._failed = True
        return sent

    async def _deliver(self, reminder: Reminder) -> bool:
        now = self.clock.now()
        late = now - reminder.due_at > LATE_AFTER
        text = f"⏰ Reminder: {reminder.text}"
        if late:
            text += f"\n(This was due {reminder.due_at:%Y-%m-%d %H:%M} UTC; I was offline then.)"
        # Marked sent before it goes: a crash during the send cannot deliver it twice
        # (at most once, as replies); a send WhatsApp refuses puts it back to pending.
        await self.store.mark_reminder_sent(reminder.id, at=now, late=late)
        try:
            wa_id = await self._transport().send_text(reminder.chat_jid, text)
        except TransportError as exc:
            await self.store.reopen_reminder(reminder.id)
            log.warning("reminder.send_failed", reminder=reminder.id, error=str(exc))
            return False
        await self.store.add_reply(reminder.chat, text, kind="reminder", wa_ids=[wa_id], at=now)
        log.info("reminder.sent", reminder=reminder.id, chat=reminder.chat, late=late)
        return True

    async def run(self) -> None:
        """Deliver reminders until cancelled."""
        while True:
            try:
                await self.deliver_due()
                due = await self.store.next_reminder_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reminder.loop_failed")
                due = None
            wait = MAX_WAIT_SECONDS
            if due is not None:
                wait = min(wait, max(0.0, (due - self.clock.now()).total_seconds()))
            if self._failed:
                # WhatsApp is not reachable right now: retry later, not in a tight loop.
                wait = max(wait, RETRY_SECONDS)
            self._changed.clear()
            sleeper = asyncio.create_task(self.clock.sleep(wait))
            waker = asyncio.create_task(self._changed.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleeper, waker):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
