"""Builders of realistic neonize ``MessageEv`` protobufs, as a live message arrives from Go.

Every builder fills what goneonize's ``EncodeEventTypesMessage`` fills: all of Chat, Sender,
SenderAlt, RecipientAlt and BroadcastListOwner (empty JIDs with ``IsEmpty=True``), IsFromMe,
IsGroup, AddressingMode; in ``Info`` the ID, ServerID, Type, Pushname, Timestamp (milliseconds),
Category, Multicast, MediaType and Edit; and the event flags. ``Raw`` equals ``Message`` as in
goneonize. So ``SerializeToString()`` works and ``to_json_line`` gives what replay reads.

Common keyword arguments (``Where``): ``group`` (group id or JID; private chat when None),
``sender`` (phone digits of the sender, or of the contact when ``from_me``), ``lid`` (their LID
digits), ``addressing`` ("pn" or "lid"), ``device``, ``msg_id``, ``from_me``, ``push_name``,
``timestamp`` (aware datetime; now when None).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, TypedDict, Unpack

from google.protobuf import json_format
from neonize.proto.Neonize_pb2 import (
    JID,
    AddressingMode,
    MessageInfo,
    MessageSource,
    NewsLetterMessageMeta,
)
from neonize.proto.Neonize_pb2 import Message as MessageEv
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContactMessage,
    ContextInfo,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    ImageMessage,
    LocationMessage,
    PollCreationMessage,
    ProtocolMessage,
    ReactionMessage,
    SenderKeyDistributionMessage,
    StickerMessage,
    VideoMessage,
)
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

Addressing = Literal["pn", "lid"]

BOT_PHONE = "15559990000"
BOT_LID = "199990000000001"
BOT_NAME = "Bot"
SENDER = "15550001111"
GROUP = "120363000000000001"
CHANNEL = "120363000000000099"


class Who(TypedDict, total=False):
    """Who sends, and when: keyword arguments every builder accepts."""

    sender: str
    lid: str | None
    addressing: Addressing
    device: int
    msg_id: str | None
    from_me: bool
    push_name: str
    timestamp: datetime | None


class Where(Who, total=False):
    """``Who`` plus where: ``group`` (a group id or JID; a private chat when None)."""

    group: str | None


def new_id() -> str:
    """A fresh WhatsApp-Web-style message id (``3EB0`` + 18 hex digits)."""
    return "3EB0" + secrets.token_hex(9).upper()


def lid_for(phone: str) -> str:
    """A stable made-up LID (15 digits) for a phone number."""
    return str(10**14 + int("".join(c for c in phone if c.isdigit()) or "0") % 10**14)


def jid(value: str = "", *, device: int = 0) -> JID:
    """A ``JID`` protobuf from ``user@server`` (device optional); ``""`` gives the empty JID."""
    if not value:
        return JID(User="", RawAgent=0, Device=0, Integrator=0, Server="", IsEmpty=True)
    user, _, server = value.partition("@")
    return JID(User=user, RawAgent=0, Device=device, Integrator=0, Server=server, IsEmpty=False)


def _pn(user: str) -> str:
    return f"{user}@s.whatsapp.net"


def _lid(user: str) -> str:
    return f"{user}@lid"


def _group_jid(group: str) -> str:
    return group if "@" in group else f"{group}@g.us"


def _source(where: Where) -> MessageSource:
    """The MessageSource whatsmeow's parseMessageSource would produce for ``where``."""
    addressing = where.get("addressing", "pn")
    device = where.get("device", 0)
    from_me = where.get("from_me", False)
    phone = where.get("sender", SENDER)
    lid = where.get("lid") or (lid_for(phone) if addressing == "lid" else None)

    def ids(phone_user: str, lid_user: str | None) -> tuple[str, str]:
        """(primary, alternative) JID strings for one person under this addressing mode."""
        if addressing == "lid" and lid_user:
            return _lid(lid_user), _pn(phone_user)
        return _pn(phone_user), _lid(lid_user) if lid_user else ""

    person, person_alt = ids(phone, lid)
    bot, bot_alt = ids(BOT_PHONE, BOT_LID)
    group = where.get("group")
    if group:
        chat, recipient_alt = _group_jid(group), ""
        sender, sender_alt = (bot, bot_alt) if from_me else (person, person_alt)
    elif from_me:
        chat, recipient_alt, sender, sender_alt = person, person_alt, bot, bot_alt
    else:
        chat, recipient_alt, sender, sender_alt = person, "", person, person_alt
    return MessageSource(
        Chat=jid(chat),
        Sender=jid(sender, device=device),
        IsFromMe=from_me,
        IsGroup=bool(group),
        AddressingMode=AddressingMode.Value(addressing.upper()),
        SenderAlt=jid(sender_alt),
        RecipientAlt=jid(recipient_alt),
        BroadcastListOwner=jid(),
    )


def _key_chat(where: Where) -> str:
    """A MessageKey's chat as its sender wrote it: the group, or in private the other person."""
    source = _source(where)
    if source.IsGroup or source.IsFromMe:
        return f"{source.Chat.User}@{source.Chat.Server}"
    return _lid(BOT_LID) if where.get("addressing", "pn") == "lid" else _pn(BOT_PHONE)


def _types(message: WAMessage) -> tuple[str, str]:
    """(Info.Type, Info.MediaType) as whatsmeow's getTypeFromMessage/getMediaTypeFromMessage."""
    for wrapper in (
        "ephemeralMessage",
        "viewOnceMessage",
        "viewOnceMessageV2",
        "viewOnceMessageV2Extension",
        "documentWithCaptionMessage",
        "editedMessage",
    ):
        if message.HasField(wrapper):
            return _types(getattr(message, wrapper).message)
    if message.HasField("reactionMessage"):
        return "reaction", ""
    if message.HasField("pollCreationMessage"):
        return "poll", ""
    media = {
        "imageMessage": "image",
        "stickerMessage": "sticker",
        "documentMessage": "document",
        "contactMessage": "vcard",
        "locationMessage": "location",
    }
    for field, media_type in media.items():
        if message.HasField(field):
            return "media", media_type
    if message.HasField("videoMessage"):
        return "media", "gif" if message.videoMessage.gifPlayback else "video"
    if message.HasField("audioMessage"):
        return "media", "ptt" if message.audioMessage.PTT else "audio"
    return "text", ""


def event(
    content: WAMessage,
    *,
    raw: WAMessage | None = None,
    edit: str = "",
    server_id: int = 0,
    flags: Iterable[str] = (),
    source: MessageSource | None = None,
    **where: Unpack[Where],
) -> MessageEv:
    """A ``MessageEv`` around ``content`` (``raw``: the message before unwrapping, for types)."""
    timestamp = where.get("timestamp") or datetime.now(UTC)
    msg_type, media_type = _types(raw if raw is not None else content)
    from_me = where.get("from_me", False)
    info = MessageInfo(
        MessageSource=source if source is not None else _source(where),
        ID=where.get("msg_id") or new_id(),
        ServerID=server_id,
        Type=msg_type,
        Pushname=where.get("push_name", BOT_NAME if from_me else "Alice"),
        Timestamp=int(timestamp.timestamp() * 1000),
        Category="",
        Multicast=False,
        MediaType=media_type,
        Edit=edit,
    )
    names = {
        "IsEphemeral",
        "IsViewOnce",
        "IsViewOnceV2",
        "IsViewOnceV2Extension",
        "IsDocumentWithCaption",
        "IsLottieSticker",
        "IsEdit",
    }
    chosen = set(flags)
    if chosen - names:
        raise ValueError(f"unknown flags {sorted(chosen - names)}")
    return MessageEv(
        Info=info,
        Message=content,
        UnavailableRequestID="",
        RetryCount=0,
        Raw=content,
        **{name: name in chosen for name in names},
    )


def _text_message(
    text: str,
    *,
    mentions: Iterable[str] = (),
    quoted_id: str | None = None,
    quoted_sender: str | None = None,
    quoted_text: str = "earlier message",
    lid_mentions: bool = False,
) -> WAMessage:
    """``conversation`` for plain text, ``extendedTextMessage`` when there is context."""
    mentioned = [m if "@" in m else (_lid(m) if lid_mentions else _pn(m)) for m in mentions]
    if not mentioned and quoted_id is None:
        return WAMessage(conversation=text)
    context = ContextInfo(mentionedJID=mentioned)
    if quoted_id is not None:
        context.stanzaID = quoted_id
        context.participant = quoted_sender or _pn(SENDER)
        context.quotedMessage.conversation = quoted_text
    return WAMessage(extendedTextMessage=ExtendedTextMessage(text=text, contextInfo=context))


def private_text(
    text: str,
    *,
    mentions: Iterable[str] = (),
    quoted_id: str | None = None,
    quoted_sender: str | None = None,
    quoted_text: str = "earlier message",
    **where: Unpack[Who],
) -> MessageEv:
    """A text in a private chat (``addressing="lid"``: the chat and sender are LIDs)."""
    content = _text_message(
        text,
        mentions=mentions,
        quoted_id=quoted_id,
        quoted_sender=quoted_sender,
        quoted_text=quoted_text,
        lid_mentions=where.get("addressing") == "lid",
    )
    return event(content, **where)


def group_text(
    text: str,
    *,
    group: str = GROUP,
    sender_lid: str | None = None,
    mentions: Iterable[str] = (),
    quoted_id: str | None = None,
    quoted_sender: str | None = None,
    quoted_text: str = "earlier message",
    **where: Unpack[Who],
) -> MessageEv:
    """A text in a group; bare-digit ``mentions`` get the server of the addressing mode."""
    if sender_lid is not None:
        where["lid"] = sender_lid
    content = _text_message(
        text,
        mentions=mentions,
        quoted_id=quoted_id,
        quoted_sender=quoted_sender,
        quoted_text=quoted_text,
        lid_mentions=where.get("addressing") == "lid",
    )
    return event(content, group=group, **where)


WrapperKind = Literal[
    "ephemeral", "view_once", "view_once_v2", "view_once_v2_extension", "document_with_caption"
]
_WRAPPER_FIELDS: dict[str, tuple[str, str]] = {
    "ephemeral": ("ephemeralMessage", "IsEphemeral"),
    "view_once": ("viewOnceMessage", "IsViewOnce"),
    "view_once_v2": ("viewOnceMessageV2", "IsViewOnceV2"),
    "view_once_v2_extension": ("viewOnceMessageV2Extension", "IsViewOnceV2Extension"),
    "document_with_caption": ("documentWithCaptionMessage", "IsDocumentWithCaption"),
}


def wrapped(
    kind: WrapperKind = "ephemeral",
    text: str = "wrapped hello",
    *,
    inner: WAMessage | None = None,
    unwrapped: bool = True,
    **where: Unpack[Where],
) -> MessageEv:
    """A wrapped message: neonize-unwrapped with its flag set, or ``unwrapped=False``: nested."""
    if inner is None:
        if kind == "ephemeral":
            context = ContextInfo(expiration=604800)
            inner = WAMessage(
                extendedTextMessage=ExtendedTextMessage(text=text, contextInfo=context)
            )
        elif kind == "document_with_caption":
            inner = WAMessage(documentMessage=_document(text, "notes.pdf", "application/pdf", 2048))
        else:
            inner = WAMessage(imageMessage=_image(text, "image/jpeg", 4096, view_once=True))
    field, flag = _WRAPPER_FIELDS[kind]
    outer = WAMessage(**{field: FutureProofMessage(message=inner)})
    if not unwrapped:
        return event(outer, raw=outer, **where)
    flags = [flag, "IsViewOnce"] if kind.startswith("view_once_v2") else [flag]
    return event(inner, raw=outer, flags=flags, **where)


def edit(
    original_id: str, new_text: str, *, unwrapped: bool = True, **where: Unpack[Where]
) -> MessageEv:
    """An edit of ``original_id``: a MESSAGE_EDIT protocolMessage (inside editedMessage)."""
    protocol = ProtocolMessage(
        key=MessageKey(remoteJID=_key_chat(where), fromMe=True, ID=original_id),
        type=ProtocolMessage.MESSAGE_EDIT,
        editedMessage=WAMessage(conversation=new_text),
        timestampMS=int((where.get("timestamp") or datetime.now(UTC)).timestamp() * 1000),
    )
    inner = WAMessage(protocolMessage=protocol)
    outer = WAMessage(editedMessage=FutureProofMessage(message=inner))
    if not unwrapped:
        return event(outer, raw=outer, edit="1", **where)
    return event(inner, raw=outer, edit="1", flags=["IsEdit"], **where)


def reaction(
    target_id: str, emoji: str = "👍", *, target_sender: str | None = None, **where: Unpack[Where]
) -> MessageEv:
    """A reaction to ``target_id`` (empty ``emoji``: the reaction was removed)."""
    key = MessageKey(remoteJID=_key_chat(where), fromMe=False, ID=target_id)
    if target_sender is not None:
        key.participant = target_sender
    ms = int((where.get("timestamp") or datetime.now(UTC)).timestamp() * 1000)
    content = WAMessage(reactionMessage=ReactionMessage(key=key, text=emoji, senderTimestampMS=ms))
    return event(content, **where)


def revoke(target_id: str, **where: Unpack[Where]) -> MessageEv:
    """A "delete for everyone" of ``target_id``."""
    key = MessageKey(remoteJID=_key_chat(where), fromMe=True, ID=target_id)
    content = WAMessage(protocolMessage=ProtocolMessage(key=key, type=ProtocolMessage.REVOKE))
    return event(content, edit="7", **where)


def protocol(
    kind: ProtocolMessage.Type.ValueType = ProtocolMessage.EPHEMERAL_SETTING,
    **where: Unpack[Where],
) -> MessageEv:
    """Some other protocolMessage (by default: disappearing messages switched on)."""
    content = WAMessage(protocolMessage=ProtocolMessage(type=kind, ephemeralExpiration=604800))
    return event(content, **where)


def key_distribution(text: str | None = None, **where: Unpack[Where]) -> MessageEv:
    """A senderKeyDistributionMessage in a group, alone or beside a text (``text``)."""
    where.setdefault("group", GROUP)
    group = _group_jid(where["group"] or GROUP)
    skdm = SenderKeyDistributionMessage(
        groupID=group, axolotlSenderKeyDistributionMessage=b"\x33" + secrets.token_bytes(32)
    )
    content = WAMessage(senderKeyDistributionMessage=skdm)
    if text is not None:
        content.conversation = text
    return event(content, **where)


def status_broadcast(text: str = "my status", **where: Unpack[Who]) -> MessageEv:
    """A text status update: chat ``status@broadcast``, sender the poster."""
    src = _source(Where(group=None, **where))
    src.Chat.CopyFrom(jid("status@broadcast"))
    src.RecipientAlt.CopyFrom(jid())
    content = WAMessage(
        extendedTextMessage=ExtendedTextMessage(text=text, backgroundArgb=0xFF7ACBA5, font=1)
    )
    return event(content, source=src, **where)


def newsletter(
    text: str = "channel post",
    *,
    channel: str = CHANNEL,
    server_id: int = 101,
    **where: Unpack[Who],
) -> MessageEv:
    """A channel post: chat and sender are the ``@newsletter`` JID, with a server id."""
    channel_jid = jid(channel if "@" in channel else f"{channel}@newsletter")
    src = MessageSource(
        Chat=channel_jid,
        Sender=channel_jid,
        IsFromMe=False,
        IsGroup=False,
        SenderAlt=jid(),
        RecipientAlt=jid(),
        BroadcastListOwner=jid(),
    )
    where.setdefault("push_name", "")
    ev = event(WAMessage(conversation=text), source=src, server_id=server_id, **where)
    ev.NewsLetterMeta.CopyFrom(
        NewsLetterMessageMeta(EditTS=0, OriginalTS=ev.Info.Timestamp // 1000)
    )
    return ev


def _media_fields() -> dict[str, object]:
    """The upload fields every media message carries."""
    return {
        "URL": "https://mmg.whatsapp.net/v/t62.7118-24/fake.enc",
        "directPath": "/v/t62.7118-24/fake.enc",
        "mediaKey": secrets.token_bytes(32),
        "fileSHA256": secrets.token_bytes(32),
        "fileEncSHA256": secrets.token_bytes(32),
        "mediaKeyTimestamp": int(datetime.now(UTC).timestamp()),
    }


def _image(caption: str, mimetype: str, size: int, *, view_once: bool = False) -> ImageMessage:
    return ImageMessage(
        caption=caption or None,
        mimetype=mimetype,
        fileLength=size,
        height=640,
        width=480,
        viewOnce=view_once,
        **_media_fields(),
    )


def _document(caption: str, file_name: str, mimetype: str, size: int) -> DocumentMessage:
    return DocumentMessage(
        caption=caption or None,
        fileName=file_name,
        title=file_name,
        mimetype=mimetype,
        fileLength=size,
        pageCount=1,
        **_media_fields(),
    )


def image(
    caption: str = "", *, mimetype: str = "image/jpeg", size: int = 54321, **where: Unpack[Where]
) -> MessageEv:
    """A photo, optionally captioned."""
    return event(WAMessage(imageMessage=_image(caption, mimetype, size)), **where)


def video(
    caption: str = "", *, seconds: int = 12, size: int = 765432, **where: Unpack[Where]
) -> MessageEv:
    """A video, optionally captioned."""
    content = VideoMessage(
        caption=caption or None,
        mimetype="video/mp4",
        seconds=seconds,
        fileLength=size,
        **_media_fields(),
    )
    return event(WAMessage(videoMessage=content), **where)


def voice_note(seconds: int = 7, *, size: int = 12345, **where: Unpack[Where]) -> MessageEv:
    """A push-to-talk voice note (``audioMessage.PTT``)."""
    content = AudioMessage(
        mimetype="audio/ogg; codecs=opus",
        seconds=seconds,
        PTT=True,
        fileLength=size,
        waveform=bytes(64),
        **_media_fields(),
    )
    return event(WAMessage(audioMessage=content), **where)


def audio(seconds: int = 95, *, size: int = 1234567, **where: Unpack[Where]) -> MessageEv:
    """An audio file (not a voice note)."""
    content = AudioMessage(
        mimetype="audio/mpeg",
        seconds=seconds,
        PTT=False,
        fileLength=size,
        **_media_fields(),
    )
    return event(WAMessage(audioMessage=content), **where)


def document(
    file_name: str = "report.pdf",
    *,
    caption: str = "",
    mimetype: str = "application/pdf",
    size: int = 98765,
    **where: Unpack[Where],
) -> MessageEv:
    """A document; with a caption WhatsApp wraps it in documentWithCaptionMessage."""
    doc = WAMessage(documentMessage=_document(caption, file_name, mimetype, size))
    if not caption:
        return event(doc, **where)
    outer = WAMessage(documentWithCaptionMessage=FutureProofMessage(message=doc))
    return event(doc, raw=outer, flags=["IsDocumentWithCaption"], **where)


def sticker(*, animated: bool = False, **where: Unpack[Where]) -> MessageEv:
    """A sticker (webp)."""
    content = StickerMessage(
        mimetype="image/webp",
        fileLength=23456,
        height=512,
        width=512,
        isAnimated=animated,
        **_media_fields(),
    )
    return event(WAMessage(stickerMessage=content), **where)


def contact(name: str = "Bob", phone: str = "15550002222", **where: Unpack[Where]) -> MessageEv:
    """A shared contact card."""
    vcard = f"BEGIN:VCARD\nVERSION:3.0\nFN:{name}\nTEL;waid={phone}:+{phone}\nEND:VCARD"
    content = WAMessage(contactMessage=ContactMessage(displayName=name, vcard=vcard))
    return event(content, **where)


def location(
    latitude: float = 52.52, longitude: float = 13.405, **where: Unpack[Where]
) -> MessageEv:
    """A shared location."""
    content = LocationMessage(degreesLatitude=latitude, degreesLongitude=longitude, name="Here")
    return event(WAMessage(locationMessage=content), **where)


def poll(
    question: str = "Lunch?", options: Iterable[str] = ("Pizza", "Salad"), **where: Unpack[Where]
) -> MessageEv:
    """A poll."""
    content = PollCreationMessage(
        name=question,
        options=[PollCreationMessage.Option(optionName=o) for o in options],
        selectableOptionsCount=1,
    )
    return event(WAMessage(pollCreationMessage=content), **where)


def to_json_line(ev: MessageEv) -> str:
    """``ev`` as one compact JSON line (``json_format.MessageToJson``), as replay reads it."""
    return json.dumps(json.loads(json_format.MessageToJson(ev)), separators=(",", ":"))
