"""Everything the bot sends: formatted, split, quoted in groups, remembered by id."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from dataclasses import replace

import structlog

from bot.errors import TransportError
from bot.messages import IncomingMessage
from bot.transport import Transport
from helpers.backends.base import Reply
from helpers.formatting import markdown_to_whatsapp
from helpers.splitting import split_message

log = structlog.get_logger("bot.outbox")

TYPING_REFRESH_SECONDS = 10.0
SENT_IDS_KEPT = 10_000


class Outbox:
    """Sends through the bound transport and remembers what the bot sent."""

    def __init__(
        self, transport: Callable[[], Transport], max_chars: int, max_parts: int | None = None
    ) -> None:
        self._transport = transport
        self.max_chars = max_chars
        self.max_parts = max_parts
        self._sent_ids: OrderedDict[str, None] = OrderedDict()

    def remember(self, wa_id: str) -> None:
        """Record an id the bot sent (to recognise replies to the bot and its own echoes)."""
        self._sent_ids[wa_id] = None
        self._sent_ids.move_to_end(wa_id)
        while len(self._sent_ids) > SENT_IDS_KEPT:
            self._sent_ids.popitem(last=False)

    def sent(self, wa_id: str) -> bool:
        """Whether the bot sent the message with id ``wa_id`` (recently)."""
        return wa_id in self._sent_ids

    @property
    def sent_ids(self) -> AbstractSet[str]:
        """The ids of messages the bot sent recently (a live view: no copy per message)."""
        return self._sent_ids.keys()

    async def text(self, answering: IncomingMessage, text: str) -> list[str]:
        """Send ``text`` to ``answering``'s chat split under the limit; the first part quotes
        the message in groups. Returns the WhatsApp ids in order."""
        transport = self._transport()
        wa_ids: list[str] = []
        quoted: IncomingMessage | None = answering if answering.is_group else None
        for part in split_message(text, self.max_chars, self.max_parts):
            wa_id = await transport.send_text(answering.chat_jid, part, quoted=quoted)
            self.remember(wa_id)
            wa_ids.append(wa_id)
            quoted = None
        return wa_ids

    async def reply(self, answering: IncomingMessage, reply: Reply) -> list[str]:
        """Send a model's reply: Markdown rendered for WhatsApp, text parts, then media."""
        wa_ids: list[str] = []
        if reply.text.strip():
            wa_ids += await self.text(answering, markdown_to_whatsapp(reply.text))
        quoted = answering if answering.is_group and not wa_ids else None
        for media in reply.media:
            caption = markdown_to_whatsapp(media.caption) if media.caption else ""
            try:
                wa_id = await self._transport().send_media(
                    answering.chat_jid, replace(media, caption=caption), quoted=quoted
                )
            except TransportError as exc:
                log.warning("reply.media_failed", error=str(exc))
                continue
            self.remember(wa_id)
            wa_ids.append(wa_id)
            quoted = None
        return wa_ids

    async def keep_typing(self, chat_jid: str) -> None:
        """Refresh "typing..." (WhatsApp drops it after a while) until cancelled."""
        while True:
            await asyncio.sleep(TYPING_REFRESH_SECONDS)
            await quietly(self._transport().set_typing(chat_jid, True), "typing")


async def quietly(op: Awaitable[None], what: str) -> None:
    """Run a best-effort transport call (read receipt, typing): log failures, go on."""
    try:
        await op
    except Exception as exc:
        log.warning("transport.best_effort_failed", op=what, error=str(exc))
