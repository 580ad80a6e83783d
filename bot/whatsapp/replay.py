"""The replay transport: recorded ``MessageEv`` JSON lines in, what the bot sends as JSON lines out.

Input lines are ``google.protobuf.json_format`` renderings of neonize ``MessageEv``s (one per
line, as ``tests/wa_events.to_json_line`` writes them). Each message the bot sends becomes one
line on the output stream::

    {"to": "<chat jid>", "text": "...", "quoted_id": "<id>" | null}
    {"to": ..., "text": "<caption>", "quoted_id": ...,
     "media": {"kind": "image" | "audio" | "document", "mimetype": "...", "bytes": N}}

Typing indicators and read receipts write nothing; there is no media to download.
"""

from __future__ import annotations

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


class ReplayTransport:
    """A ``Transport`` that writes each outgoing message as one JSON line (stdout by default)."""

    def __init__(
        self, identity: BotIdentity, stream: TextIO | None = None, *, id_prefix: str = "REPLAY"
    ) -> None:
        self._identity = identity
        self._out = stream if stream is not None else sys.stdout
        self._id_prefix = id_prefix
        self._sent = 0

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
        line = {"to": to, "text": media.caption, "quoted_id": _quoted_id(quoted), "media": summary}
        return self._write(line)

    async def set_typing(self, to: str, typing: bool) -> None:
        """Nothing to show in a replay."""

    async def mark_read(self, message: IncomingMessage) -> None:
        """Nothing to acknowledge in a replay."""

    async def download(self, message: IncomingMessage) -> bytes:
        """Always fails: recorded events carry no media bytes."""
        raise TransportError(f"replay has no media to download (message {message.id})")

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
