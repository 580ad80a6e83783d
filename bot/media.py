"""Reading what a turn's media says: pictures for the model, voice notes as text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from bot.errors import BotError
from bot.messages import IncomingMessage, MediaInfo, MessageKind
from bot.transport import Transport
from helpers.backends.base import TurnDocument, TurnImage
from helpers.documents import document_type, file_name_for

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
    document: TurnDocument | None = None
    #: Why a document was not passed on (too large, unknown type), to tell the person.
    notice: str | None = None


class MediaReader:
    """Downloads a message's media when the model can use it."""

    def __init__(
        self,
        transport: Callable[[], Transport],
        transcriber: Transcribes | None = None,
        *,
        max_document_mb: float = 20.0,
    ) -> None:
        self._transport = transport
        self.transcriber = transcriber
        self.max_document_mb = max_document_mb

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
        if message.kind == MessageKind.DOCUMENT:
            return await self._document(message, media)
        return Read(message.text)

    async def _document(self, message: IncomingMessage, media: MediaInfo) -> Read:
        """A document the model can read, or a notice saying why it is not passed on."""
        name = media.file_name or "document"
        mimetype = document_type(media.file_name, media.mimetype)
        if mimetype is None:
            log.info("media.document_refused", why="type", mimetype=media.mimetype)
            return Read(
                message.text, notice=f"I can't read {name}: that type of file isn't supported."
            )
        limit = int(self.max_document_mb * 1024**2)
        if media.size is not None and media.size > limit:
            log.info("media.document_refused", why="size", size=media.size)
            return Read(message.text, notice=too_large(name, self.max_document_mb))
        data = await self._download(message)
        if data is None:
            return Read(
                message.text, notice=f"I couldn't download {name}. Could you send it again?"
            )
        if len(data) > limit:
            log.info("media.document_refused", why="size", size=len(data))
            return Read(message.text, notice=too_large(name, self.max_document_mb))
        file_name = file_name_for(media.file_name, mimetype)
        return Read(message.text, document=TurnDocument(data, mimetype, file_name))

    async def _download(self, message: IncomingMessage) -> bytes | None:
        try:
            return await self._transport().download(message)
        except BotError as exc:
            log.warning("media.download_failed", kind=str(message.kind), error=str(exc))
            return None


def too_large(name: str, limit_mb: float) -> str:
    """The notice for a document over MAX_DOCUMENT_MB."""
    return f"{name} is too large for me to read (the limit is {limit_mb:g} MB)."
