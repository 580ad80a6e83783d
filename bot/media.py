"""Reading what a turn's media says: pictures for the model, voice notes as text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from bot.errors import BotError
from bot.messages import IncomingMessage, MessageKind
from bot.transport import Transport
from helpers.backends.base import TurnImage

log = structlog.get_logger("bot.media")

AUDIO_KINDS = frozenset({MessageKind.VOICE, MessageKind.AUDIO})


class Transcribes(Protocol):
    """Something that turns audio into text (``helpers.transcription.Transcriber``)."""

    async def transcribe(self, data: bytes, mimetype: str) -> str:
        """The text spoken in ``data``."""
        ...


@dataclass(frozen=True, slots=True)
class Read:
    """What one message contributes to a turn."""

    text: str
    image: TurnImage | None = None
    transcribed: bool = False


class MediaReader:
    """Downloads a message's media when the model can use it."""

    def __init__(
        self, transport: Callable[[], Transport], transcriber: Transcribes | None = None
    ) -> None:
        self._transport = transport
        self.transcriber = transcriber

    async def read(self, message: IncomingMessage) -> Read:
        """The message's text, plus its picture, or its voice note transcribed."""
        media = message.media
        if media is None or message.raw is None:  # no media, or a message revived from disk
            return Read(message.text)
        if message.kind == MessageKind.IMAGE:
            data = await self._download(message)
            if data is None:
                return Read(message.text)
            return Read(message.text, TurnImage(data, media.mimetype or "image/jpeg"))
        if message.kind in AUDIO_KINDS and self.transcriber is not None and not message.text:
            data = await self._download(message)
            if data is None:
                return Read("")
            try:
                text = await self.transcriber.transcribe(data, media.mimetype or "audio/ogg")
            except BotError as exc:
                log.warning("media.transcription_failed", error=str(exc))
                return Read("")
            log.info("media.transcribed", seconds=media.seconds, chars=len(text))
            return Read(text, transcribed=True)
        return Read(message.text)

    async def _download(self, message: IncomingMessage) -> bytes | None:
        try:
            return await self._transport().download(message)
        except BotError as exc:
            log.warning("media.download_failed", kind=str(message.kind), error=str(exc))
            return None
