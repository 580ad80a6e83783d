"""The replay transport: recorded ``MessageEv`` JSON lines in, what the bot sends as JSON lines out.

Input lines are ``google.protobuf.json_format`` renderings of neonize ``MessageEv``s (one per
line, as ``tests/wa_events.to_json_line`` writes them). Each message the bot sends becomes one
line on the output stream::

    {"to": "<chat jid>", "text": "...", "quoted_id": "<id>" | null}
    {"to": ..., "text": "<caption>", "quoted_id": ...,
     "media": {"kind": "image" | "audio" | "document", "mimetype": "...", "bytes": N}}

Typing indicators and read receipts write nothing. An input line may carry the bytes of its
media as an extra top-level key ``"mediaBase64"`` (so a document or a photo can be fed end to
end); without it a download fails, as for any recorded event.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from typing import Any, TextIO

from google.protobuf import json_format
from neonize.proto.Neonize_pb2 import Message as MessageEv

from bot.errors import TransportError
from bot.messages import BotIdentity, IncomingMessage, OutgoingMedia


def parse_event_line(line: str) -> MessageEv:
    """Parse one JSON line into a ``MessageEv``; ``ValueError`` says what is wrong with it."""
    if not line.strip():
        raise ValueError("empty line: expected a MessageEv JSON object")
    try:
        return json_format.Parse(line, MessageEv())
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise ValueError(f"not a MessageEv JSON line: {exc}") from exc


def parse_replay_line(line: str) -> tuple[MessageEv, bytes | None]:
    """Parse one replay input line: the ``MessageEv`` and the media bytes it carries, if any."""
    try:
        raw = json.loads(line)
    except ValueError:
        return parse_event_line(line), None  # parse_event_line says what is wrong
    if not isinstance(raw, dict) or "mediaBase64" not in raw:
        return parse_event_line(line), None
    encoded = raw.pop("mediaBase64")
    try:
        media = base64.b64decode(str(encoded), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"mediaBase64 is not base64: {exc}") from exc
    return parse_event_line(json.dumps(raw)), media


class ReplayTransport:
    """A ``Transport`` that writes each outgoing message as one JSON line (stdout by default)."""

    def __init__(
        self, identity: BotIdentity, stream: TextIO | None = None, *, id_prefix: str = "REPLAY"
    ) -> None:
        self._identity = identity
        self._out = stream if stream is not None else sys.stdout
        self._id_prefix = id_prefix
        self._sent = 0
        self._media: dict[str, bytes] = {}

    def add_media(self, message_id: str, data: bytes) -> None:
        """Make ``data`` the media of message ``message_id`` (from its input line)."""
        self._media[message_id] = data

    @property
    def identity(self) -> BotIdentity:
        """The bot's JID and LID, as configured."""
        return self._identity

    async def send_text(self, to: str, text: str, *, quoted: IncomingMessage | None = None) -> str:
        """Write ``{"to", "text", "quoted_id"}``; return a generated id."""
        return self._write({"to": to, "text": text, "quoted_id": _quoted_id(quoted)})

    async def send_media(
        self, to: str, media: OutgoingMedia, *, quoted: IncomingMessage | None = None
    ) -> str:
        """Write the caption as ``text`` plus a ``media`` summary (kind, mimetype, size)."""
        summary = {"kind": media.kind, "mimetype": media.mimetype, "bytes": len(media.data)}
        if media.file_name:
            summary["file_name"] = media.file_name
        line = {"to": to, "text": media.caption, "quoted_id": _quoted_id(quoted), "media": summary}
        return self._write(line)

    async def set_typing(self, to: str, typing: bool) -> None:
        """Nothing to show in a replay."""

    async def mark_read(self, message: IncomingMessage) -> None:
        """Nothing to acknowledge in a replay."""

    async def download(self, message: IncomingMessage) -> bytes:
        """The bytes its input line carried; fails for a line without ``mediaBase64``."""
        data = self._media.pop(message.id, None)
        if data is None:
            raise TransportError(f"replay has no media to download (message {message.id})")
        return data

    def _write(self, line: dict[str, Any]) -> str:
        """Write one JSON line, flush, and return the next generated id."""
        try:
            self._out.write(json.dumps(line) + "\n")
            self._out.flush()
        except (OSError, ValueError) as exc:
            raise TransportError(f"replay output failed: {exc}") from exc
        self._sent += 1
        return f"{self._id_prefix}-{self._sent:06d}"


def _quoted_id(quoted: IncomingMessage | None) -> str | None:
    """The id of the quoted message, if any."""
    return quoted.id if quoted is not None else None
