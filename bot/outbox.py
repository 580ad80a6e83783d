"""Everything the bot sends: formatted, split, quoted in groups, remembered by id."""

from __future__ import annotations

import asyncio
import base64
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet

import structlog

from bot.errors import TransportError
from bot.messages import IncomingMessage, OutgoingMedia
from bot.transport import Transport
from helpers.backends.base import Reply
from helpers.formatting import markdown_to_whatsapp
from helpers.splitting import split_message
from storage.outgoing import Part

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

    def text_parts(self, text: str) -> list[Part]:
        """``text`` split under the limit, as the parts to record and send."""
        return [{"text": part} for part in split_message(text, self.max_chars, self.max_parts)]

    def reply_parts(self, reply: Reply) -> list[Part]:
        """A model's reply as parts: Markdown rendered for WhatsApp, text parts, then media.

        The split happens once, here, and is recorded: a resend after a crash sends exactly
        the parts that were missing, never a different cut of the same text.
        """
        parts = self.text_parts(markdown_to_whatsapp(reply.text)) if reply.text.strip() else []
        for media in reply.media:
            caption = markdown_to_whatsapp(media.caption) if media.caption else ""
            if len(caption) > self.max_chars:  # a caption is one message: cut, never split
                caption = caption[: self.max_chars - 1].rstrip() + "…"
            parts.append(
                {
                    "media": {
                        "kind": media.kind,
                        "mimetype": media.mimetype,
                        "caption": caption,
                        "file_name": media.file_name,
                        "data": base64.b64encode(media.data).decode("ascii"),
                    }
                }
            )
        return parts

    async def send_part(self, answering: IncomingMessage, part: Part, index: int) -> str | None:
        """Send one part to ``answering``'s chat (the first quotes it in groups).

        Returns its WhatsApp id, or None for media WhatsApp refused (skipped, as the text
        already went out). A failed text part raises ``TransportError``.
        """
        transport = self._transport()
        quoted = answering if answering.is_group and index == 0 else None
        media = part.get("media")
        if isinstance(media, dict):
            outgoing = OutgoingMedia(
                kind=media["kind"],
                data=base64.b64decode(media["data"]),
                mimetype=str(media["mimetype"]),
                caption=str(media.get("caption") or ""),
                file_name=media.get("file_name"),
            )
            try:
                wa_id = await transport.send_media(answering.chat_jid, outgoing, quoted=quoted)
            except TransportError as exc:
                log.warning("reply.media_failed", error=str(exc))
                return None
        else:
            wa_id = await transport.send_text(answering.chat_jid, str(part["text"]), quoted=quoted)
        self.remember(wa_id)
        return wa_id

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
