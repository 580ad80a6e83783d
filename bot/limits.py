"""The gate before OpenAI: pause, owner hand-off, per-user rate limit and daily token budget.

Limits are computed from what storage recorded (messages and usage), so they survive restarts.
A user who goes over a limit is told once, plainly, when they can continue; further messages
in that window are recorded and not answered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from bot.clock import Clock
from bot.intake import Envelope
from bot.people import person_users
from bot.pipeline import OPEN, GateVerdict
from bot.settings import Settings
from storage.identities import notice_flag
from storage.store import Store

log = structlog.get_logger("bot.limits")

PAUSED_FLAG = "paused"


async def is_admin(env: Envelope, settings: Settings, store: Store) -> bool:
    """Whether the sender of ``env`` is in ADMIN_NUMBERS under any id they are known by."""
    if not settings.admin_numbers:
        return False
    msg = env.message
    users = await person_users(store, env.sender, msg.sender_jid, msg.sender_alt_jid)
    return not users.isdisjoint(settings.admin_numbers)


def start_of_day(moment: datetime, timezone: str) -> datetime:
    """Local midnight (in ``timezone``) of the day ``moment`` falls on."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _human(moment: datetime, timezone: str, now: datetime) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    if local.date() == now.astimezone(ZoneInfo(timezone)).date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M") + f" ({timezone})"


class Gate:
    """Decides, per turn, whether the bot may spend an OpenAI call on it."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

    async def __call__(self, env: Envelope) -> GateVerdict:
        """The verdict for the turn ending with ``env``."""
        now = self.clock.now()
        admin = await is_admin(env, self.settings, self.store)
        if not admin and await self.store.get_flag(PAUSED_FLAG):
            return GateVerdict(False, "paused")
        state = await self.store.chat_state(env.chat)
        if state.paused and not admin:
            return GateVerdict(False, "chat_paused")
        if state.handoff_until is not None and state.handoff_until > now:
            return GateVerdict(False, "handoff")
        if admin:
            return OPEN
        until = await self._limited_until(env.sender, now)
        if until is None:
            return OPEN
        kind, resume_at = until
        notice_key = notice_flag(env.sender)
        noticed = await self.store.get_flag(notice_key)
        if noticed is not None and datetime.fromisoformat(noticed) > now:
            return GateVerdict(False, kind)
        await self.store.set_flag(notice_key, resume_at.isoformat())
        log.info("limit.reached", limit=kind, until=resume_at.isoformat())
        when = _human(resume_at, self.settings.timezone, now)
        if kind == "rate_limited":
            text = (
                f"You're sending messages faster than I can answer "
                f"({self.settings.rate_limit_per_minute} per minute). "
                f"I'll answer again from {when}."
            )
        else:
            text = f"You've used today's message budget. I'll answer again from {when}."
        return GateVerdict(False, kind, notice=text)

    async def _limited_until(self, sender: str, now: datetime) -> tuple[str, datetime] | None:
        """If ``sender`` is over a limit: which, and when they may continue."""
        per_minute = self.settings.rate_limit_per_minute
        if per_minute > 0:
            window = now - timedelta(minutes=1)
            times = await self.store.sender_messages_since(sender, window)
            if len(times) > per_minute:
                # They may continue once enough of the window's messages have aged out.
                return "rate_limited", times[len(times) - per_minute - 1] + timedelta(minutes=1)
        budget = self.settings.daily_token_budget
        if budget > 0:
            day = start_of_day(now, self.settings.timezone)
            spent = await self.store.sender_tokens_since(sender, day)
            if spent >= budget:
                return "budget_exceeded", day + timedelta(days=1)
        return None


async def set_paused(store: Store, chat: str | None, paused: bool, now: datetime) -> None:
    """Pause (or resume) one chat, or with ``chat=None`` the whole bot (admins still answered)."""
    if chat is None:
        await store.set_flag(PAUSED_FLAG, now.isoformat() if paused else None)
    else:
        await store.update_chat_state(chat, paused=paused)
