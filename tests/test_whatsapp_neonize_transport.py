"""Tests for NeonizeTransport: a real NewAClient whose Go calls are stubbed.

neonize's own message building (reply_message, build_image_message, build_document_message)
runs for real; only the calls that cross into Go (send_message, upload, download_any, ...) are
replaced, so these tests also pin down neonize behaviour we rely on.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from unittest.mock import AsyncMock

import pytest
from neonize.aioze.client import NewAClient
from neonize.exc import DownloadError, SendMessageError
from neonize.proto.Neonize_pb2 import Device, SendResponse, UploadResponse
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import AudioMessage
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage
from neonize.utils.enum import ChatPresence, ChatPresenceMedia, ReceiptType
from PIL import Image

from bot.errors import TransportError
from bot.jid import to_proto
from bot.messages import BotIdentity, IncomingMessage, OutgoingMedia
from bot.whatsapp.convert import to_incoming
from bot.whatsapp.neonize_transport import NeonizeTransport
from tests import wa_events as wa

GROUP_JID = f"{wa.GROUP}@g.us"
ALICE = "15550001111@s.whatsapp.net"


def make_client() -> NewAClient:
    """A real client with every Go call the transport makes replaced by a mock."""
    client = NewAClient("transport-test.db")
    client.send_message = AsyncMock(return_value=SendResponse(ID="SENT1"))  # type: ignore[method-assign]
    client.upload = AsyncMock(  # type: ignore[method-assign]
        return_value=UploadResponse(url="https://mmg/x", DirectPath="/x", Handle="", FileLength=3)
    )
    client.send_chat_presence = AsyncMock()  # type: ignore[method-assign]
    client.mark_read = AsyncMock()  # type: ignore[method-assign]
    client.download_any = AsyncMock(return_value=b"media bytes")  # type: ignore[method-assign]
    return client


@pytest.fixture
def client() -> NewAClient:
    """A stubbed client."""
    return make_client()


@pytest.fixture
def transport(client: NewAClient) -> NeonizeTransport:
    """A transport over the stubbed client."""
    return NeonizeTransport(client)


def sent(client: NewAClient, call: int = 0) -> tuple[object, WAMessage]:
    """(recipient, message) of the ``call``-th send_message."""
    args = client.send_message.await_args_list[call].args  # type: ignore[attr-defined]
    return args[0], args[1]


def png() -> bytes:
    """A tiny real PNG."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, format="PNG")
    return out.getvalue()


def quoted_group_message() -> IncomingMessage:
    """A group message with a mention, to be quoted."""
    return to_incoming(wa.group_text("@bot what time is it?", msg_id="Q1", mentions=[wa.BOT_PHONE]))


async def test_nothing_works_before_a_client_is_attached() -> None:
    """Before the front-end runs, every call is a TransportError."""
    transport = NeonizeTransport()
    with pytest.raises(TransportError, match="not running"):
        await transport.send_text(ALICE, "hi")
    with pytest.raises(TransportError, match="not running"):
        _ = transport.identity


def test_identity_needs_the_device(client: NewAClient) -> None:
    """Identity is unknown until Go has sent the device, then bare JID and LID."""
    transport = NeonizeTransport(client)
    with pytest.raises(TransportError, match="not known"):
        _ = transport.identity
    client.me = Device(JID=wa.jid("15559990000@s.whatsapp.net", device=3), LID=wa.jid())
    assert transport.identity == BotIdentity("15559990000@s.whatsapp.net", None)


async def test_send_text(client: NewAClient, transport: NeonizeTransport) -> None:
    """A plain text goes to the chat's JID and returns WhatsApp's message id."""
    assert await transport.send_text(ALICE, "hello") == "SENT1"
    to, message = sent(client)
    assert to == to_proto(ALICE)
    assert message == "hello"


async def test_reply_quotes_a_copy_of_the_event(
    client: NewAClient, transport: NeonizeTransport
) -> None:
    """A reply quotes the original event through neonize, without clearing our copy of it."""
    quoted = quoted_group_message()
    await transport.send_text(GROUP_JID, "noon", quoted=quoted)
    to, message = sent(client)
    assert to == to_proto(GROUP_JID)
    context = message.extendedTextMessage.contextInfo
    assert (message.extendedTextMessage.text, context.stanzaID) == ("noon", "Q1")
    assert context.participant == ALICE
    assert context.quotedMessage.extendedTextMessage.text == "@bot what time is it?"
    raw = quoted.raw
    assert isinstance(raw, wa.MessageEv)
    assert list(raw.Message.extendedTextMessage.contextInfo.mentionedJID) == [
        f"{wa.BOT_PHONE}@s.whatsapp.net"
    ]


async def test_neonize_reply_clears_the_quoted_events_context(client: NewAClient) -> None:
    """Why we pass a copy: neonize's reply_message clears the quoted contextInfo in place."""
    original = quoted_group_message().raw
    assert isinstance(original, wa.MessageEv)
    await client.reply_message("noon", original)
    assert list(original.Message.extendedTextMessage.contextInfo.mentionedJID) == []


async def test_reply_without_an_event_builds_the_quote(
    client: NewAClient, transport: NeonizeTransport
) -> None:
    """A message without a neonize event (replay, tests) is quoted by hand."""
    quoted = IncomingMessage(
        id="Q2", chat_jid=ALICE, sender_jid=ALICE, text="earlier", timestamp=datetime.now(UTC)
    )
    await transport.send_text(ALICE, "answer", quoted=quoted)
    _, message = sent(client)
    context = message.extendedTextMessage.contextInfo
    assert (context.stanzaID, context.participant) == ("Q2", ALICE)
    assert context.quotedMessage.conversation == "earlier"


async def test_send_image_with_caption_and_quote(
    client: NewAClient, transport: NeonizeTransport
) -> None:
    """An image is uploaded and sent with its caption, quoting the question."""
    media = OutgoingMedia("image", png(), "image/png", caption="a red square")
    assert await transport.send_media(GROUP_JID, media, quoted=quoted_group_message()) == "SENT1"
    to, message = sent(client)
    assert to == to_proto(GROUP_JID)
    image = message.imageMessage
    assert (image.caption, image.mimetype, image.URL) == (
        "a red square",
        "image/png",
        "https://mmg/x",
    )
    assert image.contextInfo.stanzaID == "Q1"


async def test_send_document(client: NewAClient, transport: NeonizeTransport) -> None:
    """A document keeps its file name and mimetype; a hand-built quote is attached."""
    quoted = IncomingMessage(
        id="Q3", chat_jid=ALICE, sender_jid=ALICE, text="send it", timestamp=datetime.now(UTC)
    )
    media = OutgoingMedia("document", b"%PDF-1.4 x", "application/pdf", "here", "r.pdf")
    await transport.send_media(ALICE, media, quoted=quoted)
    _, message = sent(client)
    document = message.documentMessage
    assert (document.fileName, document.mimetype, document.caption) == (
        "r.pdf",
        "application/pdf",
        "here",
    )
    assert document.contextInfo.stanzaID == "Q3"


async def test_send_voice_note_then_its_caption(
    client: NewAClient, transport: NeonizeTransport
) -> None:
    """Opus audio goes out as a voice note; a caption follows as its own text."""
    client.build_audio_message = AsyncMock(  # type: ignore[method-assign]
        return_value=WAMessage(audioMessage=AudioMessage(mimetype="audio/ogg", seconds=3))
    )
    media = OutgoingMedia("audio", b"OggS...", "audio/ogg; codecs=opus", caption="listen")
    await transport.send_media(ALICE, media)
    assert client.build_audio_message.await_args.kwargs["ptt"] is True  # type: ignore[attr-defined]
    _, audio = sent(client, 0)
    assert audio.audioMessage.mimetype == "audio/ogg; codecs=opus"
    assert sent(client, 1)[1] == "listen"


async def test_typing(client: NewAClient, transport: NeonizeTransport) -> None:
    """Typing on is COMPOSING, off is PAUSED, both as text."""
    await transport.set_typing(ALICE, True)
    await transport.set_typing(ALICE, False)
    calls = [c.args for c in client.send_chat_presence.await_args_list]  # type: ignore[attr-defined]
    assert calls == [
        (
            to_proto(ALICE),
            ChatPresence.CHAT_PRESENCE_COMPOSING,
            ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT,
        ),
        (
            to_proto(ALICE),
            ChatPresence.CHAT_PRESENCE_PAUSED,
            ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT,
        ),
    ]


async def test_read_receipts(client: NewAClient, transport: NeonizeTransport) -> None:
    """Texts get READ, voice notes PLAYED, with bare chat and sender JIDs."""
    text = to_incoming(wa.group_text("hi", msg_id="R1", device=4))
    voice = to_incoming(wa.voice_note(msg_id="R2"))
    await transport.mark_read(text)
    await transport.mark_read(voice)
    first, second = client.mark_read.await_args_list  # type: ignore[attr-defined]
    assert first.args == ("R1",)
    assert first.kwargs == {
        "chat": to_proto(GROUP_JID),
        "sender": to_proto(ALICE),
        "receipt": ReceiptType.READ,
    }
    assert (second.args, second.kwargs["receipt"]) == (("R2",), ReceiptType.PLAYED)


async def test_download_passes_the_unwrapped_media(
    client: NewAClient, transport: NeonizeTransport
) -> None:
    """download hands neonize the inner message, even if it is still wrapped."""
    message = to_incoming(wa.wrapped("view_once_v2", "secret", unwrapped=False))
    assert await transport.download(message) == b"media bytes"
    [call] = client.download_any.await_args_list  # type: ignore[attr-defined]
    assert call.args[0].imageMessage.caption == "secret"


async def test_download_without_media_fails_early(
    client: NewAClient, transport: NeonizeTransport
) -> None:
    """A text has nothing to download; Go is not asked."""
    with pytest.raises(TransportError, match="no downloadable media"):
        await transport.download(to_incoming(wa.private_text("x")))
    client.download_any.assert_not_awaited()  # type: ignore[attr-defined]


async def test_neonize_errors_become_transport_errors(
    client: NewAClient, transport: NeonizeTransport
) -> None:
    """Errors from neonize/Go and bad JIDs surface as TransportError with the cause."""
    client.send_message.side_effect = SendMessageError("server returned error 479")  # type: ignore[attr-defined]
    with pytest.raises(TransportError, match="479") as caught:
        await transport.send_text(ALICE, "hi")
    assert isinstance(caught.value.__cause__, SendMessageError)
    client.download_any.side_effect = DownloadError("media expired")  # type: ignore[attr-defined]
    with pytest.raises(TransportError, match="media expired"):
        await transport.download(to_incoming(wa.image("x")))
    with pytest.raises(TransportError, match="invalid JID"):
        await transport.set_typing("", True)
