"""Intake: every incoming message is classified, filed under its chat key and stored
before any reply work starts (a message WhatsApp delivers twice is stored once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from bot import jid, junk
from bot.clock import Clock
from bot.messages import NON_USER_KINDS, IncomingMessage
from bot.observe import Observer
from bot.outbox import Outbox
from bot.people import person_users
from bot.rules import access_verdict, classify, names_people, not_before
from bot.settings import Settings
from bot.transport import Transport
from storage.store import NewMessage, Store

log = structlog.get_logger("bot.intake")


@dataclass(frozen=True, slots=True)
class Envelope:
    """A stored incoming message on its way through a chat's queue."""

    row_id: int
    chat: str
    sender: str
    message: IncomingMessage


class Intake:
    """Turns an incoming message into a stored one (or a recorded ignore)."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        clock: Clock,
        started_at: datetime,
        outbox: Outbox,
        transport: Callable[[], Transport],
        observer: Observer | None = None,
    ) -> None:
        self.observer = observer or Observer()
        self.settings = settings
        self.store = store
        self.clock = clock
        self.started_at = started_at
        self.outbox = outbox
        self._transport = transport

    async def chat_key(self, msg: IncomingMessage) -> tuple[str, str]:
        """The chat key and the canonical sender of ``msg``."""
        if msg.is_group:
            sender = await self.store.canonical_sender([msg.sender_jid, msg.sender_alt_jid or ""])
            return msg.chat_jid, sender
        if msg.is_from_me:
            chat = await self.store.canonical_sender([msg.chat_jid, msg.chat_alt_jid or ""])
            return chat, msg.sender_jid
        ids = [msg.sender_jid, msg.sender_alt_jid or "", msg.chat_jid, msg.chat_alt_jid or ""]
        sender = await self.store.canonical_sender(ids)
        return sender, sender

    async def accept(self, msg: IncomingMessage) -> Envelope | None:
        """Classify, identify and store ``msg``; return it for answering, or None."""
        bound = structlog.contextvars.bound_contextvars(message_id=msg.id)
        with bound:
            if msg.is_from_me and self.outbox.sent(msg.id):
                return None  # our own message echoed back by WhatsApp
            verdict = classify(
                msg,
                me=self._transport().identity,
                settings=self.settings,
                not_before=not_before(self.started_at, self.settings.bot_old_message_grace_seconds),
                sent_ids=self.outbox.sent_ids,
            )
            if jid.is_status_broadcast(msg.chat_jid) or jid.is_newsletter(msg.chat_jid):
                log.debug("message.ignored", reason=verdict.reason)
                return None  # not a chat the bot takes part in: nothing to file it under
            if verdict.reason in junk.QUARANTINED:
                await self._quarantine(msg, verdict.reason)
                return None
            chat, sender = await self.chat_key(msg)
            if verdict.answer and names_people(self.settings):
                # After chat_key, so the ids this event links are known as the person's too.
                users = await person_users(self.store, sender, msg.sender_jid, msg.sender_alt_jid)
                verdict = access_verdict(users, verdict, self.settings)
            with structlog.contextvars.bound_contextvars(chat=chat):
                if msg.is_from_me:
                    await self._owner_wrote(chat, msg)
                row_id = await self._store(
                    msg, chat, sender, msg.id, verdict.answer, verdict.reason
                )
                if row_id is None:
                    log.info("message.duplicate")
                    return None
                if not verdict.answer:
                    log.info("message.ignored", reason=verdict.reason)
                    self.observer.message("ignored", verdict.reason)
                    return None
                log.info("message.received", kind=str(msg.kind), group=msg.is_group)
                self.observer.message("received")
                log.debug("message.text", text=msg.text)
                return Envelope(row_id, chat, sender, msg)

    async def _quarantine(self, msg: IncomingMessage, reason: str) -> None:
        """Store a message with malformed ids as ignored, apart from every real chat."""
        field, problem = junk.malformed(msg) or ("", "")
        log.info("message.ignored", reason=reason, field=field, problem=problem)
        self.observer.message("ignored", reason)
        quarantine = junk.QUARANTINE_CHAT
        await self._store(msg, quarantine, quarantine, junk.storage_id(msg), False, reason)

    async def _store(
        self,
        msg: IncomingMessage,
        chat: str,
        sender: str,
        wa_id: str,
        answer: bool,
        reason: str | None,
    ) -> int | None:
        """Store ``msg`` under ``chat``, to answer or as ignored (with ``reason``).
        Returns its row id, or None when the chat already has it."""
        return await self.store.add_message(
            NewMessage(
                chat=chat,
                chat_jid=msg.chat_jid,
                wa_id=wa_id,
                sender=sender,
                sender_name=msg.sender_name,
                kind=str(msg.kind),
                text=msg.text,
                is_group=msg.is_group,
                sent_at=msg.timestamp,
                received_at=self.clock.now(),
                state="received" if answer else "ignored",
                reason=reason,
            )
        )

    async def _owner_wrote(self, chat: str, msg: IncomingMessage) -> None:
        """The phone's owner typed in ``chat``: the bot steps back for HANDOFF_MINUTES."""
        if msg.kind in NON_USER_KINDS or self.settings.handoff_minutes <= 0:
            return
        if msg.timestamp < not_before(self.started_at, self.settings.bot_old_message_grace_seconds):
            return
        until = self.clock.now() + timedelta(minutes=self.settings.handoff_minutes)
        await self.store.update_chat_state(chat, handoff_until=until)
        log.info("chat.handoff", until=until.isoformat())
