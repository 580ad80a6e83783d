"""Voice notes to text with OpenAI's transcription API (WhatsApp sends Ogg/Opus)."""

from __future__ import annotations

from openai import AsyncOpenAI

from bot.errors import ReplyError
from helpers.backends.errors import translate

#: File names by mimetype: the API needs an extension it knows.
_EXTENSIONS = {"audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/wav": "wav"}


class Transcriber:
    """Turns audio bytes into text; raises ``ReplyError`` when the API fails."""

    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self.client = client
        self.model = model

    async def transcribe(self, data: bytes, mimetype: str) -> str:
        """The text spoken in ``data``."""
        base = mimetype.split(";", 1)[0].strip() or "audio/ogg"
        name = f"voice.{_EXTENSIONS.get(base, 'ogg')}"
        try:
            result = await self.client.audio.transcriptions.create(
                file=(name, data, base), model=self.model
            )
        except Exception as exc:
            raise translate(exc) from exc
        text = result.text.strip()
        if not text:
            raise ReplyError("the transcription was empty", cause="empty_transcript")
        return text

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()
