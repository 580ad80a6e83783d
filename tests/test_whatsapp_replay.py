"""Tests for the replay front-end: reading recorded events and writing what the bot sends."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from neonize.proto.Neonize_pb2 import Message as MessageEv

from bot.errors import TransportError
from bot.messages import BotIdentity, MessageKind, OutgoingMedia
from bot.transport import Transport
from bot.whatsapp.convert import to_incoming
from bot.whatsapp.replay import ReplayTransport, parse_event_line
from tests import wa_events as wa

ME = BotIdentity(jid=f"{wa.BOT_PHONE}@s.whatsapp.net", lid=f"{wa.BOT_LID}@lid")
CHAT = "15550001111@s.whatsapp.net"


class RecordingStream(io.StringIO):
    """A text stream that counts flushes."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        """Count, then flush."""
        self.flushes += 1
        super().flush()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    """The JSON lines written so far."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    "build",
    [
        lambda: wa.private_text("hello ✓"),
        lambda: wa.group_text("hi", addressing="lid", mentions=[wa.BOT_LID], quoted_id="Q"),
        lambda: wa.edit("O", "new"),
        lambda: wa.reaction("T", "👍"),
        wa.voice_note,
        lambda: wa.document("a.pdf", caption="see"),
        wa.newsletter,
    ],
)
def test_json_line_round_trip(build: Callable[[], MessageEv]) -> None:
    """An event written by to_json_line parses back to the same event and message."""
    ev = build()
    line = wa.to_json_line(ev)
    assert "\n" not in line
    parsed = parse_event_line(line)
    assert parsed == ev
    assert to_incoming(parsed) == to_incoming(ev)


def test_json_line_is_compact() -> None:
    """The line has no pretty-printing whitespace."""
    assert ": " not in wa.to_json_line(wa.private_text("x"))
    assert '"conversation":"x"' in wa.to_json_line(wa.private_text("x"))


def test_hand_written_minimal_line() -> None:
    """A short hand-written line (required fields missing) still parses and converts."""
    line = (
        '{"Info":{"ID":"H1","Timestamp":"1767323045000","Pushname":"Bo","MessageSource":'
        '{"Chat":{"User":"15550001111","Server":"s.whatsapp.net"},'
        '"Sender":{"User":"15550001111","Server":"s.whatsapp.net"}}},'
        '"Message":{"conversation":"hi"}}'
    )
    msg = to_incoming(parse_event_line(line))
    assert (msg.id, msg.text, msg.kind, msg.chat_jid) == ("H1", "hi", MessageKind.TEXT, CHAT)
    assert msg.timestamp.year == 2026


@pytest.mark.parametrize(
    "line",
    ["", "   \n", "not json", "[1, 2]", '{"Info": {"NoSuchField": 1}}', '{"Info": 5}'],
)
def test_bad_lines_raise_value_error(line: str) -> None:
    """Blank, non-JSON and non-MessageEv lines raise ValueError with a reason."""
    with pytest.raises(ValueError, match=r"MessageEv"):
        parse_event_line(line)


async def test_send_text_writes_one_json_line_and_flushes() -> None:
    """Each text becomes one flushed JSON line with to, text and quoted_id."""
    out = RecordingStream()
    transport = ReplayTransport(ME, stream=out)
    quoted = to_incoming(wa.private_text("question", msg_id="Q1"))
    first = await transport.send_text(CHAT, "plain")
    second = await transport.send_text(CHAT, "answer", quoted=quoted)
    assert lines(out) == [
        {"to": CHAT, "text": "plain", "quoted_id": None},
        {"to": CHAT, "text": "answer", "quoted_id": "Q1"},
    ]
    assert out.flushes == 2
    assert first != second


async def test_send_media_describes_the_media() -> None:
    """Media lines carry the caption as text and kind, mimetype and size under media."""
    out = io.StringIO()
    transport = ReplayTransport(ME, stream=out)
    media = OutgoingMedia("image", b"\x89PNG1234", "image/png", caption="a chart")
    message_id = await transport.send_media(CHAT, media)
    assert lines(out) == [
        {
            "to": CHAT,
            "text": "a chart",
            "quoted_id": None,
            "media": {"kind": "image", "mimetype": "image/png", "bytes": 8},
        }
    ]
    assert message_id


async def test_typing_and_receipts_write_nothing() -> None:
    """Typing indicators and read receipts leave the output empty."""
    out = io.StringIO()
    transport = ReplayTransport(ME, stream=out)
    await transport.set_typing(CHAT, True)
    await transport.set_typing(CHAT, False)
    await transport.mark_read(to_incoming(wa.private_text("x")))
    assert out.getvalue() == ""


async def test_download_fails_cleanly() -> None:
    """There is no media in a replay: download raises TransportError."""
    transport = ReplayTransport(ME, stream=io.StringIO())
    with pytest.raises(TransportError, match="no media"):
        await transport.download(to_incoming(wa.image("x")))


async def test_identity_and_default_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """Identity is the configured one; without a stream, lines go to stdout."""
    transport: Transport = ReplayTransport(ME)
    assert transport.identity == ME
    await transport.send_text(CHAT, "to stdout")
    assert json.loads(capsys.readouterr().out) == {
        "to": CHAT,
        "text": "to stdout",
        "quoted_id": None,
    }


async def test_closed_stream_is_a_transport_error() -> None:
    """A broken output stream becomes TransportError, not a crash."""
    out = io.StringIO()
    out.close()
    with pytest.raises(TransportError, match="replay output failed"):
        await ReplayTransport(ME, stream=out).send_text(CHAT, "x")
