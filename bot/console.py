"""The console front-end: chat with the bot in a terminal as one WhatsApp user."""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from bot import jid
from bot.lines import BadLine, LineReader
from bot.messages import BotIdentity, IncomingMessage, OutgoingMedia

if TYPE_CHECKING:
    from bot.app import Bot, FrontEnd

log = structlog.get_logger("bot.console")


class ConsoleTransport:
    """Prints what the bot sends; typing and receipts are shown as nothing."""

    def __init__(self, identity: BotIdentity, out: TextIO | None = None) -> None:
        self._identity = identity
        self.out = out or sys.stdout
        self._ids = itertools.count(1)

    @property
    def identity(self) -> BotIdentity:
        """The bot's own identity."""
        return self._identity

    async def send_text(self, to: str, text: str, *, quoted: IncomingMessage | None = None) -> str:
        """Print a text message, every line marked as the bot's."""
        print(f"\n{mark(text)}\n", file=self.out, flush=True)
        return f"CONSOLE{next(self._ids):06d}"

    async def send_media(
        self, to: str, media: OutgoingMedia, *, quoted: IncomingMessage | None = None
    ) -> str:
        """Print a line describing the media."""
        about = f"[{media.kind} {media.mimetype}, {len(media.data)} bytes] {media.caption}"
        print(f"\n{mark(about)}\n", file=self.out, flush=True)
        return f"CONSOLE{next(self._ids):06d}"

    async def set_typing(self, to: str, typing: bool) -> None:
        """Nothing to show."""

    async def mark_read(self, message: IncomingMessage) -> None:
        """Nothing to show."""

    async def download(self, message: IncomingMessage) -> bytes:
        """The console sends no media."""
        return b""


def mark(text: str) -> str:
    """``text`` with every line marked ``bot> ``, so replies stand apart from what you type."""
    return "\n".join(f"bot> {line}" for line in text.splitlines() or [""])


async def run_console(
    bot: Bot,
    front: FrontEnd,
    stop: asyncio.Event,
    serve: Callable[[Bot, Any], Awaitable[asyncio.Task[None] | None]],
    stop_reminders: Callable[[asyncio.Task[None] | None], Awaitable[None]],
) -> int:
    """Read lines from stdin as messages from ``front.console_sender`` until EOF or a signal."""
    sender = jid.bare(front.console_sender)
    transport = ConsoleTransport(BotIdentity(front.me, front.me_lid))
    reminders = await serve(bot, transport)
    print(f"Chatting as {sender}. Type a message, /help for commands, Ctrl-D to quit.")
    reader = LineReader("-")
    prompt = sys.stdin.isatty()  # a prompt only for a person typing, not for a pipe
    try:
        while True:
            if prompt:
                print("you> ", end="", flush=True)
            try:
                line = await reader.next(stop)
            except BadLine as bad:
                log.warning("console.bad_line", line=bad.number, error=bad.reason)
                print(f"(line {bad.number} skipped: {bad.reason})", file=sys.stderr)
                continue
            if line is None:
                break
            if not line.strip():
                continue
            bot.pipeline.submit(
                IncomingMessage(
                    id=uuid.uuid4().hex[:20].upper(),
                    chat_jid=sender,
                    sender_jid=sender,
                    text=line.rstrip("\r\n"),
                    timestamp=bot.pipeline.clock.now(),
                    sender_name="console",
                )
            )
            await bot.pipeline.join()
    finally:
        await stop_reminders(reminders)
        await bot.pipeline.drain(bot.settings.bot_shutdown_timeout_seconds)
        await bot.pipeline.close()
    return 0
