"""From a batch of stored messages to one ``Turn`` for the reply backend.

Media are read (voice notes transcribed and their text kept, pictures and documents taken in,
what cannot be read noted), the files a chat sends are kept for mail attachments, and notes of
actions a "yes" ran come first, so the model knows what happened.
"""

from __future__ import annotations

from bot.clock import Clock
from bot.confirmations import Confirmations
from bot.intake import Envelope
from bot.media import MediaReader
from helpers.backends.base import Turn, TurnDocument, TurnImage
from helpers.google.files import RecentFiles
from storage.store import Store


class TurnReader:
    """Reads a chat's batch of messages into the turn the backend answers."""

    def __init__(
        self,
        *,
        store: Store,
        media: MediaReader,
        clock: Clock,
        recent_files: RecentFiles | None = None,
        confirmations: Confirmations | None = None,
    ) -> None:
        self.store = store
        self.media = media
        self.clock = clock
        self.recent_files = recent_files
        self.confirmations = confirmations

    async def read(self, batch: list[Envelope]) -> tuple[Turn, list[str]]:
        """The turn of ``batch`` (its last message decides chat and sender), and the notices
        for what could not be read."""
        last = batch[-1]
        texts: list[str] = []
        images: list[TurnImage] = []
        documents: list[TurnDocument] = []
        notices: list[str] = []
        for env in batch:
            read = await self.media.read(env.message)
            if read.transcribed:  # keep what the voice note said, for the context
                await self.store.set_message_text(env.row_id, read.text)
            if read.text:
                texts.append(read.text)
            if read.image is not None:
                images.append(read.image)
                self._keep(env.chat, read.image.data, read.image.mimetype, None)
            if read.document is not None:
                documents.append(read.document)
                doc = read.document
                self._keep(env.chat, doc.data, doc.mimetype, doc.file_name)
            if read.notice is not None:
                notices.append(read.notice)
        if notices and texts:  # the model answers the rest and can say what was not read
            texts += [f"(Note: {notice})" for notice in notices]
        if self.confirmations is not None and texts:
            texts[:0] = self.confirmations.take_notes(last.chat)
        turn = Turn(
            chat=last.chat,
            chat_jid=last.message.chat_jid,
            sender=last.sender,
            sender_name=last.message.sender_name,
            text="\n".join(texts),
            is_group=last.message.is_group,
            message_ids=tuple(e.row_id for e in batch),
            images=tuple(images),
            documents=tuple(documents),
        )
        return turn, notices

    def _keep(self, chat: str, data: bytes, mimetype: str, name: str | None) -> None:
        """Keep a file the chat sent, for ``send_email(attach_recent_files=...)``."""
        if self.recent_files is not None:
            self.recent_files.add(chat, data, mimetype, self.clock.now(), name)
