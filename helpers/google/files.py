"""Files a chat sent or received recently, for ``send_email(attach_recent_files=...)``.

One narrow interface: ``RecentFiles.recent(chat)`` returns the chat's recent files, newest
first (name, mimetype, bytes). The in-memory implementation keeps the last few media a chat
sent (the pipeline adds the images it downloads); documents people upload plug in the same
way, by calling ``add`` with the document's file name.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

#: Files kept per chat, and for how long.
KEEP_PER_CHAT = 10
KEEP_FOR = timedelta(hours=24)
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "audio/ogg": "ogg"}


@dataclass(frozen=True, slots=True)
class RecentFile:
    """One file of a chat."""

    name: str
    mimetype: str
    data: bytes = field(repr=False)
    at: datetime


class RecentFiles(Protocol):
    """Where ``send_email`` finds the files it may attach."""

    def add(
        self, chat: str, data: bytes, mimetype: str, at: datetime, name: str | None = None
    ) -> RecentFile:
        """Keep a file ``chat`` sent or received (unnamed media get a name)."""
        ...

    async def recent(self, chat: str, now: datetime) -> list[RecentFile]:
        """The chat's files still recent at ``now``, newest first."""
        ...


class MemoryRecentFiles:
    """Recent files kept in memory, a few per chat, for a day (lost on restart)."""

    def __init__(self, keep: int = KEEP_PER_CHAT, keep_for: timedelta = KEEP_FOR) -> None:
        self._files: dict[str, deque[RecentFile]] = {}
        self._counts: dict[str, int] = {}
        self.keep = keep
        self.keep_for = keep_for

    def add(
        self, chat: str, data: bytes, mimetype: str, at: datetime, name: str | None = None
    ) -> RecentFile:
        """Keep a file of ``chat``; unnamed media are named ``photo-1.jpg``, ``photo-2.jpg``..."""
        if name is None:
            self._counts[chat] = self._counts.get(chat, 0) + 1
            kind = "photo" if mimetype.startswith("image/") else "file"
            ext = _EXTENSIONS.get(mimetype, mimetype.rpartition("/")[2] or "bin")
            name = f"{kind}-{self._counts[chat]}.{ext}"
        item = RecentFile(name, mimetype, data, at)
        self._files.setdefault(chat, deque(maxlen=self.keep)).append(item)
        return item

    async def recent(self, chat: str, now: datetime) -> list[RecentFile]:
        """The chat's files from the last ``keep_for``, newest first."""
        files = self._files.get(chat, ())
        return [f for f in reversed(files) if now - f.at <= self.keep_for]
