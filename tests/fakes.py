"""Fakes at the network edges: a recording WhatsApp transport and a controllable clock."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.errors import TransportError
from bot.messages import BotIdentity, IncomingMessage, OutgoingMedia

BOT_JID = "15559990000@s.whatsapp.net"
BOT_LID = "199990000000001@lid"


@dataclass(frozen=True, slots=True)
class Sent:
    """One message the bot sent through the fake transport."""

    to: str
    text: str
    quoted_id: str | None
    wa_id: str
    media: OutgoingMedia | None = None


@dataclass
class FakeTransport:
    """Records everything the bot sends; can be told to fail."""

    me: BotIdentity = field(default_factory=lambda: BotIdentity(BOT_JID, BOT_LID))
    sent: list[Sent] = field(default_factory=list)
    typing: list[tuple[str, bool]] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    fail_sends: int = 0
    downloads: dict[str, bytes] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event | None = None

    @property
    def identity(self) -> BotIdentity:
        """The bot's identity."""
        return self.me

    def texts(self, to: str | None = None) -> list[str]:
        """The texts sent (to ``to``, if given), in order."""
        return [s.text for s in self.sent if to is None or s.to == to]

    async def _record(self, item: Sent) -> str:
        if self.fail_sends > 0:
            self.fail_sends -= 1
            raise TransportError("send failed (injected)")
        self.sent.append(item)
        if self._changed is not None:
            self._changed.set()
        return item.wa_id

    async def wait_for_sends(self, count: int) -> None:
        """Wait until at least ``count`` messages have been sent."""
        while len(self.sent) < count:
            self._changed = self._changed or asyncio.Event()
            await self._changed.wait()
            self._changed.clear()

    async def send_text(self, to: str, text: str, *, quoted: IncomingMessage | None = None) -> str:
        """Record a text message."""
        return await self._record(
            Sent(to, text, quoted.id if quoted else None, f"BOT{next(self._ids):08d}")
        )

    async def send_media(
        self, to: str, media: OutgoingMedia, *, quoted: IncomingMessage | None = None
    ) -> str:
        """Record a media message."""
        return await self._record(
            Sent(
                to, media.caption, quoted.id if quoted else None, f"BOT{next(self._ids):08d}", media
            )
        )

    async def set_typing(self, to: str, typing: bool) -> None:
        """Record a typing change."""
        self.typing.append((to, typing))

    async def mark_read(self, message: IncomingMessage) -> None:
        """Record a read receipt."""
        self.read.append(message.id)

    async def download(self, message: IncomingMessage) -> bytes:
        """Return bytes registered for the message id."""
        try:
            return self.downloads[message.id]
        except KeyError:
            raise TransportError("no media") from None


class FakeClock:
    """A clock that moves only when told; ``sleep`` waits until ``advance`` passes its time."""

    def __init__(self, start: datetime | None = None) -> None:
        # Start at the real present, so events built with "now" timestamps are not stale.
        self._now = start or datetime.now(UTC).replace(microsecond=0)
        self._mono = 1000.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        """The fake current time."""
        return self._now

    def monotonic(self) -> float:
        """The fake monotonic time."""
        return self._mono

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock is advanced past now + ``seconds``."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._mono + seconds, fut))
        await fut

    @property
    def sleepers(self) -> int:
        """How many coroutines are sleeping on this clock."""
        return sum(1 for _, f in self._sleepers if not f.done())

    async def wait_for_sleepers(self, n: int = 1) -> None:
        """Yield to the loop until at least ``n`` coroutines sleep on this clock."""
        for _ in range(10_000):
            if self.sleepers >= n:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"expected {n} sleeper(s), have {self.sleepers}")

    async def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose time has come."""
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
        for due, fut in list(self._sleepers):
            if due <= self._mono and not fut.done():
                fut.set_result(None)
        self._sleepers = [(d, f) for d, f in self._sleepers if not f.done()]
        for _ in range(20):
            await asyncio.sleep(0)
