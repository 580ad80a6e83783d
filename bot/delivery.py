"""Delivery: a reply is recorded before it is sent, and each part before it goes out.

So a crash can never make a second answer: after a restart, a turn with a recorded reply is
not asked again, and only the parts never begun are sent (``resume``). Each part is counted
as sent just before its send (WhatsApp offers no way to ask afterwards whether a message
arrived, nor to send one again under the same id), so a part is sent at most once: a kill in
the instant between that write and the send loses the part rather than doubling it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

import structlog

from bot.clock import Clock
from bot.errors import TransportError
from bot.health import StorageHealth
from bot.messages import IncomingMessage, MessageKind
from bot.observe import Observer
from bot.outbox import Outbox
from storage.outgoing import Part
from storage.store import MessageState, Store, StoredMessage, ToolCallRow, UsageRow

log = structlog.get_logger("bot.delivery")

#: Tries per part before a send failure leaves the rest of the reply to the next start.
SEND_ATTEMPTS = 3
SEND_RETRY_SECONDS = 1.0


class Delivery:
    """Records replies before sending them and completes them part by part."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        health: StorageHealth,
        clock: Clock,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.health = health
        self.clock = clock
        self.observer = observer or Observer()

    async def deliver(
        self,
        answering: IncomingMessage,
        parts: Sequence[Part],
        *,
        chat: str,
        sender: str,
        message_ids: Sequence[int],
        reply_text: str,
        usage: Sequence[UsageRow] = (),
        tool_calls: Sequence[ToolCallRow] = (),
        state: MessageState = "answered",
        reason: str | None = None,
        kind: str = "answer",
    ) -> list[str] | None:
        """Record the turn with its parts, then send them; return the ids sent.

        Returns None (nothing sent) when the turn's messages are gone (``/forget``). The
        record waits out a failing disk: nothing is sent before it is written.
        """
        reply_id = await self.health.write(
            lambda: self.store.record_turn(
                chat=chat,
                sender=sender,
                message_ids=message_ids,
                reply_text=reply_text,
                parts=parts,
                usage=usage,
                tool_calls=tool_calls,
                state=state,
                reason=reason,
                kind=kind,
                at=self.clock.now(),
            ),
            "reply.record",
        )
        if reply_id is None:
            log.info("turn.forgotten", why="the chat was forgotten meanwhile")
            return None
        self.observer.message(state, reason, len(message_ids))
        for u in usage:
            self.observer.tokens(u.mode, u.model, u.prompt_tokens, u.completion_tokens)
        return await self.send(reply_id, answering, parts, start=0, begun=True)

    async def send(
        self,
        reply_id: int,
        answering: IncomingMessage,
        parts: Sequence[Part],
        start: int,
        *,
        begun: bool = False,
    ) -> list[str]:
        """Send ``parts[start:]`` of a recorded reply, each counted as sent just before it goes
        (``begun``: the record already counted ``parts[start]``).

        A part WhatsApp refuses (after SEND_ATTEMPTS) stops the reply here: the rest stays
        recorded and the next start sends it. A part sent but not recordable (disk full) is
        retried in memory until it is written, and never followed by a failure notice.
        """
        wa_ids: list[str] = []
        for index in range(start, len(parts)):
            # Counted as sent before it goes: a kill right after the send cannot resend it.
            if not (begun and index == start):
                await self.health.write(
                    partial(self.store.part_sending, reply_id, index), "reply.part_sending"
                )
            try:
                wa_id = await self._send_part(answering, parts[index], index)
            except TransportError as exc:
                log.warning(
                    "reply.send_failed",
                    reply_id=reply_id,
                    part=index,
                    parts=len(parts),
                    error=str(exc),
                )
                await self.health.write(
                    partial(self.store.part_unsent, reply_id, index), "reply.part_unsent"
                )
                break
            if wa_id is not None:
                wa_ids.append(wa_id)
            await self.health.write(
                partial(self.store.part_sent, reply_id, index, wa_id), "reply.part_sent"
            )
        return wa_ids

    async def _send_part(self, answering: IncomingMessage, part: Part, index: int) -> str | None:
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await self.outbox.send_part(answering, part, index)
            except TransportError:
                if attempt == SEND_ATTEMPTS:
                    raise
                await self.clock.sleep(SEND_RETRY_SECONDS * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def resume(self, since: datetime | None = None) -> int:
        """Send the missing parts of replies a crash (or a send failure) cut; never re-asks.

        Replies recorded before ``since`` are closed unsent: after a long outage a late
        answer out of its conversation helps nobody (as with unanswered messages, which
        BOT_RECOVERY_WINDOW_SECONDS also bounds). Returns how many replies were resumed.
        """
        resumed = 0
        for unsent in await self.store.unsent_replies():
            stored = None
            if unsent.message_id is not None:
                stored = await self.store.message(unsent.message_id)
            too_old = since is not None and unsent.created_at < since.timestamp()
            if too_old:
                log.info("reply.expired", reply_id=unsent.id, chat=unsent.chat)
            if too_old or stored is None or unsent.parts_sent >= len(unsent.parts):
                # The chat was forgotten, or a kill came after the last part's send began:
                # that part counts as sent (at most once), so there is nothing left to send.
                await self.health.write(partial(self.store.close_reply, unsent.id), "reply.close")
                continue
            with structlog.contextvars.bound_contextvars(chat=unsent.chat, message_id=stored.wa_id):
                log.info(
                    "reply.resumed",
                    reply_id=unsent.id,
                    sent=unsent.parts_sent,
                    parts=len(unsent.parts),
                )
                await self.send(unsent.id, revive(stored), unsent.parts, unsent.parts_sent)
            resumed += 1
        return resumed


def revive(stored: StoredMessage) -> IncomingMessage:
    """Rebuild an incoming message from storage (no raw event: quotes are built by id)."""
    try:
        kind = MessageKind(stored.kind)
    except ValueError:
        kind = MessageKind.TEXT
    return IncomingMessage(
        id=stored.wa_id,
        chat_jid=stored.chat_jid,
        sender_jid=stored.sender,
        text=stored.text,
        timestamp=stored.sent_at,
        kind=kind,
        sender_name=stored.sender_name,
        is_group=stored.is_group,
    )
