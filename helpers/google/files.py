"""Files a chat sent or received recently, for ``send_email(attach_recent_files=...)``.

One narrow interface: ``RecentFiles.recent(chat)`` returns the chat's recent files, newest
first (name, mimetype, bytes). The in-memory implementation keeps the last few media a chat
sent (the pipeline adds the images it downloads); documents people upload plug in the same
way, by calling ``add`` with the document's file name.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

#: Files kept per chat, and for how long.
KEEP_PER_CHAT = 10
KEEP_FOR = timedelta(hours=24)
#: Bytes kept across all chats: past it, the chats heard from longest ago are forgotten first.
KEEP_BYTES = 64 * 1024 * 1024
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

    def __init__(
        self, keep: int = KEEP_PER_CHAT, keep_for: timedelta = KEEP_FOR, max_bytes: int = KEEP_BYTES
    ) -> None:
        self._files: OrderedDict[str, deque[RecentFile]] = OrderedDict()
        self._counts: dict[str, int] = {}
        self.keep = keep
        self.keep_for = keep_for
        self.max_bytes = max_bytes
        self._bytes = 0

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
        files = self._files.setdefault(chat, deque())
        self._files.move_to_end(chat)
        files.append(item)
        self._bytes += len(data)
        if len(files) > self.keep:
            self._bytes -= len(files.popleft().data)
        self._evict(at)
        return item

    def _evict(self, now: datetime) -> None:
        """Forget expired files, then whole chats (least recent first) past ``max_bytes``."""
        for chat in list(self._files):
            files = self._files[chat]
            while files and now - files[0].at > self.keep_for:
                self._bytes -= len(files.popleft().data)
            if not files:
                del self._files[chat]
        while self._bytes > self.max_bytes and len(self._files) > 1:
            _, oldest = self._files.popitem(last=False)
            self._bytes -= sum(len(f.data) for f in oldest)

    async def recent(self, chat: str, now: datetime) -> list[RecentFile]:
        """The chat's files from the last ``keep_for``, newest first."""
        files = self._files.get(chat, ())
        return [f for f in reversed(files) if now - f.at <= self.keep_for]
