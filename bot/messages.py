"""The bot's own message types: what the WhatsApp edge hands the pipeline, and what goes back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal


class MessageKind(StrEnum):
    """What an incoming WhatsApp message is, as far as the bot cares."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    VOICE = "voice"
    DOCUMENT = "document"
    STICKER = "sticker"
    CONTACT = "contact"
    LOCATION = "location"
    POLL = "poll"
    REACTION = "reaction"
    REVOKE = "revoke"
    EDIT = "edit"
    PROTOCOL = "protocol"
    KEY_DISTRIBUTION = "key_distribution"
    OTHER = "other"


#: Kinds that are WhatsApp plumbing or annotations of other messages, never a new user turn.
NON_USER_KINDS = frozenset(
    {
        MessageKind.REACTION,
        MessageKind.REVOKE,
        MessageKind.EDIT,
        MessageKind.PROTOCOL,
        MessageKind.KEY_DISTRIBUTION,
    }
)


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """Metadata of media attached to an incoming message (the bytes are fetched on demand)."""

    kind: Literal["image", "video", "audio", "voice", "document", "sticker"]
    mimetype: str = ""
    file_name: str | None = None
    size: int | None = None
    seconds: int | None = None


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One WhatsApp message as the bot sees it, converted once at the edge.

    JIDs are strings ``user@server`` without a device part. ``chat_jid`` is where a reply goes
    (the group, or the private chat as WhatsApp addressed it). ``sender_alt_jid`` is the
    sender's other identity (phone number <-> LID) when WhatsApp told us.
    """

    id: str
    chat_jid: str
    sender_jid: str
    text: str
    timestamp: datetime
    kind: MessageKind = MessageKind.TEXT
    sender_alt_jid: str | None = None
    #: The private chat's other identity (for the bot's own messages: the recipient's).
    chat_alt_jid: str | None = None
    sender_name: str = ""
    is_group: bool = False
    is_from_me: bool = False
    mentions: tuple[str, ...] = ()
    quoted_id: str | None = None
    quoted_sender: str | None = None
    media: MediaInfo | None = None
    edited_id: str | None = None
    #: The transport's original event (for quoting and downloading); never compared or printed.
    raw: object = field(default=None, compare=False, repr=False)

    @property
    def chat_server(self) -> str:
        """The server part of the chat JID (``s.whatsapp.net``, ``lid``, ``g.us``, ...)."""
        return self.chat_jid.rpartition("@")[2]


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who the bot is on WhatsApp: its phone-number JID and, when known, its LID."""

    jid: str
    lid: str | None = None

    def users(self) -> frozenset[str]:
        """The bare user parts (digits) the bot can be addressed by."""
        return frozenset(j.partition("@")[0].partition(":")[0] for j in (self.jid, self.lid) if j)


@dataclass(frozen=True, slots=True)
class OutgoingMedia:
    """Media the bot sends: an image, an audio clip or a document, with an optional caption."""

    kind: Literal["image", "audio", "document"]
    data: bytes = field(repr=False)
    mimetype: str
    caption: str = ""
    file_name: str | None = None
