"""What the operator can do to the running bot: status, pause, resume, reset, send, ask.

Shared by the GraphQL mutations and the dashboard's buttons; the rules are those of the chat
commands (``/pause``, ``/reset``) and of the owner writing from the phone (hand-off).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from bot import jid
from bot.limits import PAUSED_FLAG, set_paused
from bot.messages import IncomingMessage
from bot.people import chat_key_named
from storage.records import Records

if TYPE_CHECKING:
    from bot.app import Bot

log = structlog.get_logger("bot.admin")


@dataclass(frozen=True, slots=True)
class Status:
    """The bot as ``/status`` and the dashboard show it."""

    connected: bool
    jid: str | None
    lid: str | None
    mode: str
    model: str
    uptime_seconds: float
    intake_queue: int
    chat_queue: int
    turns_in_flight: int
    paused: bool
    storage_failing: bool
    reconnects: int
    pairing_qr: str | None
    pairing_code: str | None


@dataclass(frozen=True, slots=True)
class AskResult:
    """What ``ask`` got back: the message's state, why, and the reply text."""

    state: str
    reason: str | None
    reply: str


class Operations:
    """The operator's actions on one running bot."""

    def __init__(self, bot: Bot, records: Records) -> None:
        self.bot = bot
        self.records = records
        #: When /readyz last wrote its probe row (monotonic seconds): probes are spaced out.
        self.last_write_probe = float("-inf")

    async def status(self) -> Status:
        """Connection, identity, mode, uptime, queues and storage state."""
        bot = self.bot
        pipeline = bot.pipeline
        identity = None
        with contextlib.suppress(RuntimeError):  # the live front-end is not connected yet
            identity = pipeline.transport.identity
        intake, queued, in_flight = pipeline.load()
        live = bot.liveness
        return Status(
            connected=live.connected,
            jid=identity.jid if identity else None,
            lid=identity.lid if identity else None,
            mode=bot.settings.openai_api_mode,
            model=bot.settings.openai_model,
            uptime_seconds=(pipeline.clock.now() - pipeline.started_at).total_seconds(),
            intake_queue=intake,
            chat_queue=queued,
            turns_in_flight=in_flight,
            paused=await bot.store.get_flag(PAUSED_FLAG) is not None,
            storage_failing=pipeline.health.failing,
            reconnects=live.reconnects,
            pairing_qr=live.pairing_qr,
            pairing_code=live.pairing_code,
        )

    async def chat_key(self, chat: str) -> str:
        """The stored chat key ``chat`` names (a JID, a phone number or a LID)."""
        return await chat_key_named(self.bot.store, chat)

    async def pause(self, chat: str | None) -> str:
        """Pause one chat, or (``None``) the whole bot; return what was paused."""
        key = None if chat is None else await self.chat_key(chat)
        await set_paused(self.bot.store, key, True, self.bot.pipeline.clock.now())
        log.info("admin.paused", chat=key or "all")
        return key or "all"

    async def resume(self, chat: str | None) -> str:
        """Resume one chat, or (``None``) the whole bot; return what was resumed."""
        key = None if chat is None else await self.chat_key(chat)
        await set_paused(self.bot.store, key, False, self.bot.pipeline.clock.now())
        log.info("admin.resumed", chat=key or "all")
        return key or "all"

    async def reset(self, chat: str) -> str:
        """Start a fresh conversation in ``chat``, as its ``/reset`` does."""
        key = await self.chat_key(chat)
        await self.bot.backend.reset(key)
        await self.bot.store.reset_context(key)
        log.info("admin.reset", chat=key)
        return key

    async def send(self, chat: str, text: str) -> list[str]:
        """Send ``text`` to ``chat`` as the owner; the bot steps back for HANDOFF_MINUTES."""
        key = await self.chat_key(chat)
        to = await self.records.chat_jid(key) or key
        pipeline = self.bot.pipeline
        wa_id = await pipeline.transport.send_text(to, text)
        pipeline.outbox.remember(wa_id)
        now = pipeline.clock.now()
        await self.bot.store.add_reply(key, text, kind="owner", wa_ids=[wa_id], at=now)
        minutes = self.bot.settings.handoff_minutes
        if minutes > 0:  # as if the owner had written from the phone
            await self.bot.store.update_chat_state(
                key, handoff_until=now + timedelta(minutes=minutes)
            )
        log.info("admin.sent", chat=key, handoff_minutes=minutes)
        return [wa_id]

    async def ask(self, sender: str, text: str, timeout: float) -> AskResult:
        """Run ``text`` through the pipeline as a private message from ``sender``; the reply."""
        pipeline = self.bot.pipeline
        who = jid.bare(sender if "@" in sender else f"{''.join(filter(str.isdigit, sender))}"
                       "@s.whatsapp.net")  # fmt: skip
        message = IncomingMessage(
            id=f"ADMIN{uuid.uuid4().hex[:16].upper()}",
            chat_jid=who,
            sender_jid=who,
            text=text,
            timestamp=pipeline.clock.now(),
            sender_name="admin",
        )
        pipeline.submit(message)
        log.info("admin.ask", sender=who)
        await asyncio.wait_for(pipeline.join(), timeout)
        key = await self.chat_key(who)
        found = await self.records.reply_to(key, message.id)
        if found is None:
            return AskResult("ignored", "not stored", "")
        state, reason, reply = found
        return AskResult(state, reason, reply)
