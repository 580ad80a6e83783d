"""Tests for turning neonize MessageEv events into IncomingMessage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from neonize.proto.Neonize_pb2 import Message as MessageEv
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ContextInfo,
    ExtendedTextMessage,
    FutureProofMessage,
    ImageMessage,
    ProtocolMessage,
)
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage
from neonize.utils.message import get_message_type
from structlog.testing import capture_logs

from bot.messages import NON_USER_KINDS, MediaInfo, MessageKind
from bot.whatsapp.convert import to_incoming, to_timestamp, unwrap
from tests import wa_events as wa

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
PHONE = "15550001111"
LID = "100000000000042"


def test_private_text_phone_addressed() -> None:
    """A plain private text: ids, text, name, time and the raw event come through."""
    ev = wa.private_text("hello", msg_id="ID1", push_name="Alice", timestamp=WHEN, lid=LID)
    msg = to_incoming(ev)
    assert msg.id == "ID1"
    assert msg.kind is MessageKind.TEXT
    assert msg.text == "hello"
    assert msg.chat_jid == f"{PHONE}@s.whatsapp.net"
    assert msg.sender_jid == f"{PHONE}@s.whatsapp.net"
    assert msg.sender_alt_jid == f"{LID}@lid"
    assert msg.chat_alt_jid == f"{LID}@lid"
    assert msg.sender_name == "Alice"
    assert msg.timestamp == WHEN
    assert msg.timestamp.tzinfo is UTC
    assert (msg.is_group, msg.is_from_me) == (False, False)
    assert msg.raw is ev


def test_private_text_lid_addressed() -> None:
    """In a LID-addressed chat the chat and sender are LIDs and the phone JID is the alt."""
    msg = to_incoming(wa.private_text("hi", addressing="lid", lid=LID, device=3))
    assert msg.chat_jid == f"{LID}@lid"
    assert msg.sender_jid == f"{LID}@lid"
    assert msg.sender_alt_jid == f"{PHONE}@s.whatsapp.net"
    assert msg.chat_alt_jid == f"{PHONE}@s.whatsapp.net"


def test_sender_device_is_dropped() -> None:
    """A sender on a linked device (``:12``) is reported bare."""
    ev = wa.private_text("hi", device=12)
    assert ev.Info.MessageSource.Sender.Device == 12
    assert to_incoming(ev).sender_jid == f"{PHONE}@s.whatsapp.net"


def test_no_alt_when_whatsapp_sent_none() -> None:
    """An empty SenderAlt gives ``None``, not an empty string."""
    msg = to_incoming(wa.private_text("hi"))
    assert msg.sender_alt_jid is None
    assert msg.chat_alt_jid is None


def test_own_private_message_uses_recipient_alt() -> None:
    """For the bot's own message the sender is the bot and the chat alt is the recipient's."""
    msg = to_incoming(wa.private_text("sent", from_me=True, lid=LID))
    assert msg.is_from_me is True
    assert msg.sender_jid == f"{wa.BOT_PHONE}@s.whatsapp.net"
    assert msg.sender_alt_jid == f"{wa.BOT_LID}@lid"
    assert msg.chat_jid == f"{PHONE}@s.whatsapp.net"
    assert msg.chat_alt_jid == f"{LID}@lid"


def test_empty_chat_in_private_falls_back_to_sender() -> None:
    """A private event without a Chat JID is filed under its sender."""
    ev = wa.private_text("hi")
    ev.Info.MessageSource.Chat.CopyFrom(wa.jid())
    assert to_incoming(ev).chat_jid == f"{PHONE}@s.whatsapp.net"


def test_group_text_phone_addressed() -> None:
    """A phone-addressed group: sender is the phone JID, its LID the alt, no chat alt."""
    msg = to_incoming(wa.group_text("hey all", sender_lid=LID, device=2))
    assert msg.is_group is True
    assert msg.chat_jid == f"{wa.GROUP}@g.us"
    assert msg.sender_jid == f"{PHONE}@s.whatsapp.net"
    assert msg.sender_alt_jid == f"{LID}@lid"
    assert msg.chat_alt_jid is None


def test_group_text_lid_addressed_with_mentions() -> None:
    """A LID-addressed group: sender is the LID; mentions arrive as LIDs and stay bare."""
    ev = wa.group_text(
        f"@{wa.BOT_LID} hi",
        addressing="lid",
        sender_lid=LID,
        mentions=[wa.BOT_LID, "100000000000077:5@lid", "100000000000077@lid"],
    )
    msg = to_incoming(ev)
    assert msg.sender_jid == f"{LID}@lid"
    assert msg.sender_alt_jid == f"{PHONE}@s.whatsapp.net"
    assert msg.mentions == (f"{wa.BOT_LID}@lid", "100000000000077@lid")


def test_group_mentions_by_phone_number() -> None:
    """Phone-number mentions come back as bare phone JIDs."""
    msg = to_incoming(wa.group_text(f"@{wa.BOT_PHONE} hi", mentions=[wa.BOT_PHONE]))
    assert msg.mentions == (f"{wa.BOT_PHONE}@s.whatsapp.net",)


def test_quote_fields() -> None:
    """A quoted reply gives the quoted id and the quoted sender, bare."""
    ev = wa.group_text("answer", quoted_id="Q1", quoted_sender=f"{wa.BOT_PHONE}:4@s.whatsapp.net")
    msg = to_incoming(ev)
    assert msg.quoted_id == "Q1"
    assert msg.quoted_sender == f"{wa.BOT_PHONE}@s.whatsapp.net"


def test_context_of_a_captioned_image() -> None:
    """Mentions and quotes are read from whichever sub-message carries contextInfo."""
    ev = wa.image("look @1555", group=wa.GROUP)
    image = ev.Message.imageMessage
    image.contextInfo.CopyFrom(
        ContextInfo(mentionedJID=["15559990000@s.whatsapp.net"], stanzaID="Q9", participant="")
    )
    msg = to_incoming(ev)
    assert msg.mentions == ("15559990000@s.whatsapp.net",)
    assert msg.quoted_id == "Q9"
    assert msg.quoted_sender is None


@pytest.mark.parametrize(
    "kind", ["ephemeral", "view_once", "view_once_v2", "view_once_v2_extension"]
)
@pytest.mark.parametrize("unwrapped", [True, False])
def test_wrappers_are_unwrapped(kind: wa.WrapperKind, unwrapped: bool) -> None:
    """Wrapped messages give their inner text, whether neonize unwrapped them or not."""
    msg = to_incoming(wa.wrapped(kind, "inner text", unwrapped=unwrapped))
    assert msg.text == "inner text"
    expected = MessageKind.TEXT if kind == "ephemeral" else MessageKind.IMAGE
    assert msg.kind is expected


@pytest.mark.parametrize("unwrapped", [True, False])
def test_document_with_caption(unwrapped: bool) -> None:
    """A captioned document (documentWithCaptionMessage) gives caption and file metadata."""
    msg = to_incoming(wa.wrapped("document_with_caption", "the notes", unwrapped=unwrapped))
    assert msg.kind is MessageKind.DOCUMENT
    assert msg.text == "the notes"
    assert msg.media == MediaInfo("document", "application/pdf", file_name="notes.pdf", size=2048)


def test_doubly_nested_wrappers() -> None:
    """An ephemeral view-once image is unwrapped all the way down."""
    image = WAMessage(imageMessage=ImageMessage(caption="deep", mimetype="image/png"))
    once = WAMessage(viewOnceMessageV2=FutureProofMessage(message=image))
    outer = WAMessage(ephemeralMessage=FutureProofMessage(message=once))
    msg = to_incoming(wa.event(outer, raw=outer))
    assert (msg.kind, msg.text) == (MessageKind.IMAGE, "deep")
    assert unwrap(outer) == image


@pytest.mark.parametrize("unwrapped", [True, False])
def test_edit(unwrapped: bool) -> None:
    """An edit names the original message and carries the new text."""
    msg = to_incoming(wa.edit("ORIG1", "fixed typo", unwrapped=unwrapped))
    assert msg.kind is MessageKind.EDIT
    assert msg.edited_id == "ORIG1"
    assert msg.text == "fixed typo"
    assert msg.kind in NON_USER_KINDS


def test_edit_of_extended_text_keeps_mentions() -> None:
    """Mentions of the edited text are those of the new version."""
    ev = wa.edit("ORIG2", "x")
    context = ContextInfo(mentionedJID=[f"{wa.BOT_LID}@lid"])
    ev.Message.protocolMessage.editedMessage.CopyFrom(
        WAMessage(extendedTextMessage=ExtendedTextMessage(text="@bot now", contextInfo=context))
    )
    msg = to_incoming(ev)
    assert (msg.text, msg.mentions) == ("@bot now", (f"{wa.BOT_LID}@lid",))


def test_edit_without_edited_message_is_protocol() -> None:
    """A MESSAGE_EDIT with nothing in it is plain plumbing."""
    ev = wa.edit("ORIG3", "x")
    ev.Message.protocolMessage.ClearField("editedMessage")
    assert to_incoming(ev).kind is MessageKind.PROTOCOL


def test_reaction() -> None:
    """A reaction gives its emoji and the message it reacts to."""
    msg = to_incoming(wa.reaction("T1", "❤️", target_sender=f"{PHONE}:2@s.whatsapp.net"))
    assert (msg.kind, msg.text, msg.quoted_id) == (MessageKind.REACTION, "❤️", "T1")
    assert msg.quoted_sender == f"{PHONE}@s.whatsapp.net"


def test_removed_reaction_has_empty_text() -> None:
    """Removing a reaction is a reaction with empty text."""
    msg = to_incoming(wa.reaction("T2", ""))
    assert (msg.kind, msg.text) == (MessageKind.REACTION, "")


def test_revoke() -> None:
    """A "delete for everyone" is REVOKE, naming the deleted message in ``edited_id``."""
    msg = to_incoming(wa.revoke("GONE1", group=wa.GROUP))
    assert (msg.kind, msg.edited_id, msg.text) == (MessageKind.REVOKE, "GONE1", "")


def test_other_protocol_message() -> None:
    """Other protocol messages (disappearing-messages setting) are PROTOCOL."""
    msg = to_incoming(wa.protocol(ProtocolMessage.EPHEMERAL_SETTING))
    assert msg.kind is MessageKind.PROTOCOL


def test_key_distribution_alone() -> None:
    """A lone senderKeyDistributionMessage is KEY_DISTRIBUTION."""
    msg = to_incoming(wa.key_distribution())
    assert (msg.kind, msg.text) == (MessageKind.KEY_DISTRIBUTION, "")


def test_content_beside_key_distribution_wins() -> None:
    """Text or an image next to a senderKeyDistributionMessage is the real message."""
    assert to_incoming(wa.key_distribution("first!")).kind is MessageKind.TEXT
    ev = wa.key_distribution()
    ev.Message.imageMessage.CopyFrom(ImageMessage(caption="pic", mimetype="image/jpeg"))
    assert (to_incoming(ev).kind, to_incoming(ev).text) == (MessageKind.IMAGE, "pic")


def test_neonize_get_message_type_is_fooled_by_key_distribution() -> None:
    """Why we classify ourselves: neonize returns the SKDM (field 2) before the image (3)."""
    ev = wa.key_distribution()
    ev.Message.imageMessage.CopyFrom(ImageMessage(caption="pic"))
    assert get_message_type(ev.Message) == ev.Message.senderKeyDistributionMessage


def test_voice_note_and_audio() -> None:
    """A PTT audio is a VOICE note with its length; other audio is AUDIO."""
    voice = to_incoming(wa.voice_note(seconds=9, size=4321))
    assert voice.kind is MessageKind.VOICE
    assert voice.media == MediaInfo("voice", "audio/ogg; codecs=opus", size=4321, seconds=9)
    song = to_incoming(wa.audio(seconds=200))
    assert song.kind is MessageKind.AUDIO
    assert song.media is not None and (song.media.kind, song.media.seconds) == ("audio", 200)


def test_image_video_document_sticker() -> None:
    """Media messages give caption text and metadata."""
    image = to_incoming(wa.image("a cat", mimetype="image/png", size=111))
    assert (image.kind, image.text) == (MessageKind.IMAGE, "a cat")
    assert image.media == MediaInfo("image", "image/png", size=111)
    video = to_incoming(wa.video("clip", seconds=30, size=222))
    assert (video.kind, video.text) == (MessageKind.VIDEO, "clip")
    assert video.media == MediaInfo("video", "video/mp4", size=222, seconds=30)
    doc = to_incoming(wa.document("cv.pdf", size=333))
    assert (doc.kind, doc.text) == (MessageKind.DOCUMENT, "")
    assert doc.media == MediaInfo("document", "application/pdf", file_name="cv.pdf", size=333)
    captioned = to_incoming(wa.document("cv.pdf", caption="my cv"))
    assert (captioned.kind, captioned.text) == (MessageKind.DOCUMENT, "my cv")
    sticker = to_incoming(wa.sticker())
    assert sticker.kind is MessageKind.STICKER
    assert sticker.media is not None and sticker.media.mimetype == "image/webp"


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (wa.contact, MessageKind.CONTACT),
        (wa.location, MessageKind.LOCATION),
        (wa.poll, MessageKind.POLL),
    ],
)
def test_contact_location_poll(build: Callable[[], MessageEv], kind: MessageKind) -> None:
    """Contacts, locations and polls get their kind, no text and no media."""
    msg = to_incoming(build())
    assert (msg.kind, msg.text, msg.media) == (kind, "", None)


def test_status_broadcast_and_newsletter() -> None:
    """Status updates and channel posts keep their chats so the pipeline can skip them."""
    status = to_incoming(wa.status_broadcast("on holiday"))
    assert status.chat_jid == "status@broadcast"
    assert status.sender_jid == f"{PHONE}@s.whatsapp.net"
    post = to_incoming(wa.newsletter("news"))
    assert post.chat_jid == f"{wa.CHANNEL}@newsletter"
    assert (post.kind, post.text, post.is_group) == (MessageKind.TEXT, "news", False)


@pytest.mark.parametrize(
    "value", [1767323045, 1767323045678, 1767323045678000], ids=["s", "ms", "us"]
)
def test_timestamp_units_are_normalised(value: int) -> None:
    """Seconds, milliseconds and microseconds all give the same UTC instant."""
    assert to_timestamp(value).replace(microsecond=0) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_missing_timestamp_is_now() -> None:
    """A zero or negative timestamp becomes the current time rather than 1970."""
    before = datetime.now(UTC)
    assert before - timedelta(seconds=1) <= to_timestamp(0) <= datetime.now(UTC)
    assert to_timestamp(-5) >= before - timedelta(seconds=1)


def test_message_without_content_is_other() -> None:
    """An event with an empty message is OTHER with empty text."""
    msg = to_incoming(wa.event(WAMessage()))
    assert (msg.kind, msg.text, msg.media) == (MessageKind.OTHER, "", None)


def test_empty_event_never_raises() -> None:
    """A completely empty MessageEv converts to an OTHER message with empty fields."""
    msg = to_incoming(MessageEv())
    assert (msg.kind, msg.text, msg.id, msg.chat_jid, msg.sender_jid) == (
        MessageKind.OTHER,
        "",
        "",
        "",
        "",
    )


def test_garbage_input_never_raises_and_logs() -> None:
    """Something that is not a MessageEv at all falls back to OTHER and is logged."""
    with capture_logs() as logs:
        msg = to_incoming(object())  # type: ignore[arg-type]
    assert (msg.kind, msg.text) == (MessageKind.OTHER, "")
    assert [entry["event"] for entry in logs] == ["whatsapp.convert_failed"]


def test_malformed_mention_is_skipped() -> None:
    """A mention that is not a JID is dropped instead of failing the message."""
    msg = to_incoming(wa.group_text("hi", mentions=["a@b@c", f"{PHONE}@s.whatsapp.net"]))
    assert msg.mentions == (f"{PHONE}@s.whatsapp.net",)


BUILDERS: list[Callable[[], MessageEv]] = [
    lambda: wa.private_text("x"),
    lambda: wa.private_text("x", addressing="lid", from_me=True),
    lambda: wa.group_text("x", addressing="lid", mentions=["1"], quoted_id="Q"),
    lambda: wa.wrapped("view_once_v2"),
    lambda: wa.edit("O", "n"),
    lambda: wa.reaction("T"),
    lambda: wa.revoke("T"),
    wa.key_distribution,
    wa.status_broadcast,
    wa.newsletter,
    wa.image,
    wa.voice_note,
    wa.document,
    wa.sticker,
    wa.contact,
    wa.location,
    wa.poll,
    wa.protocol,
]


@pytest.mark.parametrize("build", BUILDERS)
def test_builders_make_complete_events(build: Callable[[], MessageEv]) -> None:
    """Every builder sets all required fields, so the event serialises like a live one."""
    ev = build()
    assert ev.IsInitialized()
    assert MessageEv.FromString(ev.SerializeToString()) == ev
    assert ev.Info.Timestamp > 10**12  # milliseconds, as goneonize sends them


def test_builder_ids_are_unique() -> None:
    """Ids differ between calls unless given."""
    assert wa.private_text("a").Info.ID != wa.private_text("a").Info.ID
    assert wa.private_text("a", msg_id="X").Info.ID == "X"
