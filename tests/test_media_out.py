"""Media in replies: captions within MAX_MESSAGE_CHARS, files after the text, replay media."""

from __future__ import annotations

import base64
import io
import json

import pytest

from bot.errors import TransportError
from bot.messages import BotIdentity, OutgoingMedia
from bot.outbox import Outbox
from bot.whatsapp.convert import to_incoming
from bot.whatsapp.replay import ReplayTransport, parse_replay_line
from helpers.backends.base import Reply
from tests import wa_events as wa


def test_a_long_caption_is_cut_to_one_message_and_files_follow_the_text_in_order() -> None:
    """A caption over the limit ends with an ellipsis; parts: text, then each file."""
    outbox = Outbox(lambda: None, max_chars=200)  # type: ignore[arg-type, return-value]
    chart = OutgoingMedia("image", b"png", "image/png", caption="x" * 500)
    table = OutgoingMedia("document", b"a,b", "text/csv", file_name="t.csv")
    parts = outbox.reply_parts(Reply(text="Here.", media=(chart, table)))
    assert parts[0] == {"text": "Here."}
    first, second = parts[1]["media"], parts[2]["media"]
    assert isinstance(first, dict) and isinstance(second, dict)
    assert len(first["caption"]) == 200 and first["caption"].endswith("…")
    assert second["file_name"] == "t.csv" and second["kind"] == "document"


async def test_replay_input_can_carry_media_bytes_for_its_message() -> None:
    """A line's mediaBase64 is what download returns for that message (once)."""
    ev = wa.document("a.pdf", sender="15550001111")
    line = json.loads(wa.to_json_line(ev))
    line["mediaBase64"] = base64.b64encode(b"%PDF").decode()
    parsed, media = parse_replay_line(json.dumps(line))
    assert media == b"%PDF"
    transport = ReplayTransport(BotIdentity("1@s.whatsapp.net"), io.StringIO())
    transport.add_media(parsed.Info.ID, media)
    message = to_incoming(parsed)
    assert message is not None
    assert await transport.download(message) == b"%PDF"
    with pytest.raises(TransportError):
        await transport.download(message)
    with pytest.raises(ValueError, match="not base64"):
        parse_replay_line(json.dumps({**line, "mediaBase64": "***"}))
