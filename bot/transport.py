"""The one interface between the pipeline and a WhatsApp front-end (live, replay, console)."""

from __future__ import annotations

from typing import Protocol

from bot.messages import BotIdentity, IncomingMessage, OutgoingMedia


class Transport(Protocol):
    """Sends to and reads from WhatsApp. Every method may raise ``TransportError``."""

    @property
    def identity(self) -> BotIdentity:
        """The bot's own JID and LID."""
        ...

    async def send_text(self, to: str, text: str, *, quoted: IncomingMessage | None = None) -> str:
        """Send a text message to chat ``to``, optionally quoting ``quoted``; return its id."""
        ...

    async def send_media(
        self, to: str, media: OutgoingMedia, *, quoted: IncomingMessage | None = None
    ) -> str:
        """Send an image, audio or document (caption in ``media.caption``); return its id."""
        ...

    async def set_typing(self, to: str, typing: bool) -> None:
        """Show or clear "typing..." in chat ``to``."""
        ...

    async def mark_read(self, message: IncomingMessage) -> None:
        """Send a read receipt for ``message``."""
        ...

    async def download(self, message: IncomingMessage) -> bytes:
        """Fetch the bytes of the media attached to ``message``."""
        ...
