"""``NeonizeTransport``: the bot's ``Transport`` over a live neonize ``NewAClient``.

Every neonize or Go error becomes ``TransportError``. neonize's ``reply_message`` clears the
quoted event's ``contextInfo`` in place, so it is always handed a copy; a message without a
neonize event (from replay or a test) is quoted by building the context by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from neonize.aioze.client import NewAClient
from neonize.aioze.events import MessageEv
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo, ExtendedTextMessage
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage
from neonize.utils.enum import ChatPresence, ChatPresenceMedia, ReceiptType

from bot.errors import TransportError
from bot.jid import from_proto, to_proto
from bot.messages import BotIdentity, IncomingMessage, MessageKind, OutgoingMedia
from bot.whatsapp.convert import unwrap


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn any neonize/Go error raised inside into ``TransportError``."""
    try:
        yield
    except TransportError:
        raise
    except Exception as exc:
        raise TransportError(f"WhatsApp {action} failed: {type(exc).__name__}: {exc}") from exc


def _event_copy(quoted: IncomingMessage | None) -> MessageEv | None:
    """A copy of the quoted message's neonize event (neonize mutates what it quotes)."""
    if quoted is None or not isinstance(quoted.raw, MessageEv):
        return None
    copy = MessageEv()
    copy.CopyFrom(quoted.raw)
    return copy


def _quote_context(quoted: IncomingMessage) -> ContextInfo:
    """A quote built from our own message when there is no neonize event to quote."""
    return ContextInfo(
        stanzaID=quoted.id,
        participant=quoted.sender_jid,
        quotedMessage=WAMessage(conversation=quoted.text),
    )


class NeonizeTransport:
    """``Transport`` over a live ``NewAClient``; every neonize/Go error becomes TransportError."""

    def __init__(self, client: NewAClient | None = None) -> None:
        self._client = client

    def attach(self, client: NewAClient) -> None:
        """Use ``client`` from now on (the front-end creates it inside ``run``)."""
        self._client = client

    @property
    def client(self) -> NewAClient:
        """The attached client; TransportError before the front-end runs."""
        if self._client is None:
            raise TransportError("WhatsApp client is not running yet")
        return self._client

    @property
    def identity(self) -> BotIdentity:
        """The bot's JID and LID from ``client.me`` (known once the session is up)."""
        me = self.client.me
        own = from_proto(me.JID) if me is not None else ""
        if not own:
            raise TransportError("WhatsApp identity is not known yet (not connected)")
        return BotIdentity(jid=own, lid=from_proto(me.LID) or None)

    async def send_text(self, to: str, text: str, *, quoted: IncomingMessage | None = None) -> str:
        """Send ``text`` to chat ``to``, quoting ``quoted`` if given; return the message id."""
        client = self.client
        with _translated("send_text"):
            target = to_proto(to)
            event = _event_copy(quoted)
            if event is not None:
                response = await client.reply_message(text, event, to=target)
            elif quoted is not None:
                body = ExtendedTextMessage(text=text, contextInfo=_quote_context(quoted))
                response = await client.send_message(target, WAMessage(extendedTextMessage=body))
            else:
                response = await client.send_message(target, text)
        return str(response.ID)

    async def send_media(
        self, to: str, media: OutgoingMedia, *, quoted: IncomingMessage | None = None
    ) -> str:
        """Upload and send an image, document or audio clip; return the message id.

        Audio has no caption on WhatsApp: a caption is sent as a text right after it.
        """
        client = self.client
        with _translated(f"send_media({media.kind})"):
            target = to_proto(to)
            event = _event_copy(quoted)
            caption = media.caption or None
            if media.kind == "image":
                message = await client.build_image_message(media.data, caption, quoted=event)
                part = message.imageMessage
            elif media.kind == "document":
                message = await client.build_document_message(
                    media.data,
                    caption=caption,
                    title=media.file_name,
                    filename=media.file_name,
                    mimetype=media.mimetype or None,
                    quoted=event,
                )
                part = message.documentMessage
            else:
                voice = "opus" in media.mimetype.lower()
                message = await client.build_audio_message(media.data, ptt=voice, quoted=event)
                part = message.audioMessage
                if media.mimetype:
                    part.mimetype = media.mimetype
            if quoted is not None and event is None:
                part.contextInfo.MergeFrom(_quote_context(quoted))
            response = await client.send_message(target, message)
            if media.kind == "audio" and caption:
                await client.send_message(target, caption)
        return str(response.ID)

    async def set_typing(self, to: str, typing: bool) -> None:
        """Show "typing..." (composing) or clear it (paused) in chat ``to``."""
        client = self.client
        state = (
            ChatPresence.CHAT_PRESENCE_COMPOSING if typing else ChatPresence.CHAT_PRESENCE_PAUSED
        )
        with _translated("set_typing"):
            await client.send_chat_presence(
                to_proto(to), state, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
            )

    async def mark_read(self, message: IncomingMessage) -> None:
        """Send a read receipt (``played`` for a voice note)."""
        client = self.client
        receipt = ReceiptType.PLAYED if message.kind == MessageKind.VOICE else ReceiptType.READ
        with _translated("mark_read"):
            await client.mark_read(
                message.id,
                chat=to_proto(message.chat_jid),
                sender=to_proto(message.sender_jid),
                receipt=receipt,
            )

    async def download(self, message: IncomingMessage) -> bytes:
        """Download the media attached to ``message``."""
        client = self.client
        if message.media is None or not isinstance(message.raw, MessageEv):
            raise TransportError(f"message {message.id} has no downloadable media")
        with _translated("download"):
            data = await client.download_any(unwrap(message.raw.Message))
        if not data:
            raise TransportError(f"WhatsApp download of {message.id} returned nothing")
        return bytes(data)
