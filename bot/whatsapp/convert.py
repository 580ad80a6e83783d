"""The one place a neonize ``MessageEv`` becomes the bot's own ``IncomingMessage``.

neonize hands us ``ev.Message`` already unwrapped from ephemeral / view-once /
document-with-caption / edited wrappers, but the wrappers can still appear nested (and in
recorded or history events), so we unwrap again. The kind is decided from the fields that are
present, content first: ``senderKeyDistributionMessage`` rides along with the first group
message of a device and must not hide it (neonize's ``get_message_type`` gets this wrong).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from neonize.proto.Neonize_pb2 import Message as MessageEv
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContextInfo, ProtocolMessage
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

from bot.jid import bare_or_none, from_proto, is_group
from bot.messages import IncomingMessage, MediaInfo, MessageKind

#: Wrapper fields whose ``.message`` holds the real message, in whatsmeow's unwrap order.
_WRAPPERS = (
    "deviceSentMessage",
    "botInvokeMessage",
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "lottieStickerMessage",
    "documentWithCaptionMessage",
    "editedMessage",
)
_MAX_DEPTH = 10
_POLL_FIELDS = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV5",
    "pollCreationMessageV6",
)
_KEY_DISTRIBUTION_FIELDS = (
    "senderKeyDistributionMessage",
    "fastRatchetKeySenderKeyDistributionMessage",
)
# Timestamps above these are milliseconds / microseconds, not seconds (1e11 s is year 5138).
_MS_THRESHOLD = 10**11
_US_THRESHOLD = 10**14


def unwrap(message: WAMessage) -> WAMessage:
    """The innermost real message inside any ephemeral/view-once/caption/edited wrappers."""
    return _unwrap(message)[0]


def _unwrap(message: WAMessage) -> tuple[WAMessage, bool]:
    """Unwrap ``message``; also say whether an ``editedMessage`` wrapper was passed."""
    saw_edit = False
    for _ in range(_MAX_DEPTH):
        for name in _WRAPPERS:
            if message.HasField(name) and getattr(message, name).HasField("message"):
                saw_edit = saw_edit or name == "editedMessage"
                message = getattr(message, name).message
                break
        else:
            break
    return message, saw_edit


def to_timestamp(value: int) -> datetime:
    """An event timestamp (seconds, milliseconds or microseconds) as aware UTC; now if unusable."""
    try:
        if value <= 0:
            raise ValueError("no timestamp")
        if value >= _US_THRESHOLD:
            return datetime.fromtimestamp(value / 1_000_000, UTC)
        if value >= _MS_THRESHOLD:
            return datetime.fromtimestamp(value / 1000, UTC)
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def to_incoming(ev: MessageEv) -> IncomingMessage:
    """Convert a neonize message event; never raises (odd input gives kind OTHER, empty text)."""
    try:
        return _convert(ev)
    except Exception as exc:
        log = structlog.get_logger(__name__)  # per call: honours logging configured later
        log.warning("whatsapp.convert_failed", error=repr(exc), message_id=_safe_id(ev))
        return _fallback(ev)


def _convert(ev: MessageEv) -> IncomingMessage:
    """The real conversion; may raise on input that is not a ``MessageEv``."""
    info = ev.Info
    source = info.MessageSource
    sender = from_proto(source.Sender)
    chat = from_proto(source.Chat)
    group = bool(source.IsGroup) or is_group(chat)
    if not chat and not group:
        chat = sender  # a private chat is the conversation with its sender
    content, saw_edit = _unwrap(ev.Message)
    fields = _Fields()
    _classify(content, fields, is_edit=ev.IsEdit or saw_edit)
    context = fields.context
    sender_alt = from_proto(source.SenderAlt) or None
    if group:
        chat_alt = None
    elif source.IsFromMe:
        chat_alt = from_proto(source.RecipientAlt) or None
    else:
        chat_alt = sender_alt
    return IncomingMessage(
        id=info.ID,
        chat_jid=chat,
        sender_jid=sender,
        text=fields.text,
        timestamp=to_timestamp(info.Timestamp),
        kind=fields.kind,
        sender_alt_jid=sender_alt,
        chat_alt_jid=chat_alt,
        sender_name=info.Pushname,
        is_group=group,
        is_from_me=bool(source.IsFromMe),
        mentions=_mentions(context),
        quoted_id=fields.quoted_id or (context.stanzaID if context is not None else "") or None,
        quoted_sender=fields.quoted_sender or _participant(context),
        media=fields.media,
        edited_id=fields.edited_id,
        raw=ev,
    )


@dataclass(slots=True)
class _Fields:
    """What classification found, filled in step by step."""

    kind: MessageKind = MessageKind.OTHER
    text: str = ""
    media: MediaInfo | None = None
    context: ContextInfo | None = None
    edited_id: str | None = None
    quoted_id: str | None = None
    quoted_sender: str | None = None


def _classify(m: WAMessage, out: _Fields, *, is_edit: bool) -> None:
    """Decide kind, text, media and context of the unwrapped message ``m``; content first."""
    if _content(m, out):
        if is_edit:
            # An edit that neonize already unwrapped past its protocolMessage (odd, but seen).
            out.kind, out.media = MessageKind.EDIT, None
        return
    if m.HasField("reactionMessage"):
        reaction = m.reactionMessage
        out.kind, out.text = MessageKind.REACTION, reaction.text
        out.quoted_id = reaction.key.ID or None
        out.quoted_sender = bare_or_none(reaction.key.participant)
    elif m.HasField("encReactionMessage"):
        out.kind = MessageKind.REACTION
        out.quoted_id = m.encReactionMessage.targetMessageKey.ID or None
    elif m.HasField("protocolMessage"):
        _protocol(m.protocolMessage, out)
    elif any(m.HasField(name) for name in _KEY_DISTRIBUTION_FIELDS):
        out.kind = MessageKind.KEY_DISTRIBUTION
    elif is_edit:
        out.kind = MessageKind.EDIT


def _protocol(protocol: ProtocolMessage, out: _Fields) -> None:
    """Edits, revokes and the other protocol messages."""
    if protocol.type == ProtocolMessage.MESSAGE_EDIT and protocol.HasField("editedMessage"):
        edited = _Fields()
        _content(unwrap(protocol.editedMessage), edited)
        out.kind, out.text, out.context = MessageKind.EDIT, edited.text, edited.context
        out.edited_id = protocol.key.ID or None
    elif protocol.type == ProtocolMessage.REVOKE and protocol.HasField("key"):
        out.kind = MessageKind.REVOKE
        out.edited_id = protocol.key.ID or None
    else:
        out.kind = MessageKind.PROTOCOL


def _content(m: WAMessage, out: _Fields) -> bool:
    """Fill ``out`` from a user-content field of ``m``; False if there is none."""
    if m.HasField("conversation"):
        out.kind, out.text = MessageKind.TEXT, m.conversation
        if m.HasField("extendedTextMessage"):
            out.context = _context_of(m.extendedTextMessage)
    elif m.HasField("extendedTextMessage"):
        out.kind, out.text = MessageKind.TEXT, m.extendedTextMessage.text
        out.context = _context_of(m.extendedTextMessage)
    elif m.HasField("imageMessage"):
        image = m.imageMessage
        out.kind, out.text = MessageKind.IMAGE, image.caption
        out.media = MediaInfo("image", image.mimetype, size=_opt(image, "fileLength"))
        out.context = _context_of(image)
    elif m.HasField("videoMessage") or m.HasField("ptvMessage"):
        video = m.videoMessage if m.HasField("videoMessage") else m.ptvMessage
        out.kind, out.text = MessageKind.VIDEO, video.caption
        out.media = MediaInfo(
            "video",
            video.mimetype,
            size=_opt(video, "fileLength"),
            seconds=_opt(video, "seconds"),
        )
        out.context = _context_of(video)
    elif m.HasField("audioMessage"):
        audio = m.audioMessage
        out.kind = MessageKind.VOICE if audio.PTT else MessageKind.AUDIO
        out.media = MediaInfo(
            "voice" if audio.PTT else "audio",
            audio.mimetype,
            size=_opt(audio, "fileLength"),
            seconds=_opt(audio, "seconds"),
        )
        out.context = _context_of(audio)
    elif m.HasField("documentMessage"):
        document = m.documentMessage
        out.kind, out.text = MessageKind.DOCUMENT, document.caption
        out.media = MediaInfo(
            "document",
            document.mimetype,
            file_name=document.fileName or None,
            size=_opt(document, "fileLength"),
        )
        out.context = _context_of(document)
    elif m.HasField("stickerMessage"):
        sticker = m.stickerMessage
        out.kind = MessageKind.STICKER
        out.media = MediaInfo("sticker", sticker.mimetype, size=_opt(sticker, "fileLength"))
        out.context = _context_of(sticker)
    elif m.HasField("contactMessage") or m.HasField("contactsArrayMessage"):
        out.kind = MessageKind.CONTACT
        out.context = _first_context(m)
    elif m.HasField("locationMessage") or m.HasField("liveLocationMessage"):
        out.kind = MessageKind.LOCATION
        out.context = _first_context(m)
    elif any(m.HasField(name) for name in _POLL_FIELDS):
        out.kind = MessageKind.POLL
        out.context = _first_context(m)
    else:
        return False
    return True


def _opt(message: Any, name: str) -> int | None:
    """An optional integer field, ``None`` when WhatsApp did not send it."""
    return int(getattr(message, name)) if message.HasField(name) else None


def _context_of(message: Any) -> ContextInfo | None:
    """The ``contextInfo`` of one sub-message, if it carries one."""
    if message.HasField("contextInfo"):
        context: ContextInfo = message.contextInfo
        return context
    return None


def _first_context(m: WAMessage) -> ContextInfo | None:
    """The ``contextInfo`` of whichever sub-message of ``m`` carries one."""
    for descriptor, value in m.ListFields():
        fields = descriptor.message_type.fields_by_name if descriptor.message_type else {}
        if "contextInfo" in fields and value.HasField("contextInfo"):
            context: ContextInfo = value.contextInfo
            return context
    return None


def _mentions(context: ContextInfo | None) -> tuple[str, ...]:
    """Mentioned JIDs as bare strings, in order, without duplicates."""
    if context is None:
        return ()
    found = (bare_or_none(jid) for jid in context.mentionedJID)
    return tuple(dict.fromkeys(jid for jid in found if jid))


def _participant(context: ContextInfo | None) -> str | None:
    """The quoted message's sender as a bare JID string."""
    if context is None or not context.participant:
        return None
    return bare_or_none(context.participant)


def _safe_id(ev: object) -> str:
    """The event's message id, or ``""`` if it has none."""
    try:
        return str(ev.Info.ID)  # type: ignore[attr-defined]
    except Exception:
        return ""


def _fallback(ev: object) -> IncomingMessage:
    """The most that can be said about an event that did not convert."""
    chat = sender = ""
    try:
        source = ev.Info.MessageSource  # type: ignore[attr-defined]
        sender = from_proto(source.Sender)
        chat = from_proto(source.Chat) or sender
    except Exception:
        pass
    return IncomingMessage(
        id=_safe_id(ev),
        chat_jid=chat,
        sender_jid=sender,
        text="",
        timestamp=datetime.now(UTC),
        kind=MessageKind.OTHER,
        raw=ev,
    )
