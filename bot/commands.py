"""Chat commands typed by people (``/help``, ``/reset``...). Never taken from model output."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from bot.clock import Clock
from bot.intake import Envelope
from bot.limits import PAUSED_FLAG, is_admin, set_paused, start_of_day
from bot.people import chat_key_named
from bot.settings import Settings
from helpers.backends.base import ReplyBackend
from storage.chats import ChatStats
from storage.google_actions import ActionRecord
from storage.store import Store

log = structlog.get_logger("bot.commands")

FORGET_CONFIRM_WINDOW = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its name, a line of help, whether only admins may use it."""

    name: str
    help: str
    admin: bool
    run: Callable[[Envelope, str], Awaitable[str]]


class Commands:
    """Parses and runs commands; used by the pipeline as its command handler."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        backend: ReplyBackend,
        clock: Clock,
        started_at: datetime,
    ) -> None:
        self.settings = settings
        self.store = store
        self.backend = backend
        self.clock = clock
        self.started_at = started_at
        self.prefix = settings.bot_command_prefix
        self._commands = {
            c.name: c
            for c in (
                Command("help", "list the commands", False, self._help),
                Command(
                    "reset",
                    "start a fresh conversation (history is kept, not used)",
                    False,
                    self._reset,
                ),
                Command(
                    "stats", "your messages and tokens today and this month", False, self._stats
                ),
                Command("forget", "delete everything stored about this chat", False, self._forget),
                Command("status", "bot status (admins)", True, self._status),
                Command(
                    "pause",
                    "pause the bot; 'here' or a number/group for one chat (admins)",
                    True,
                    self._pause,
                ),
                Command(
                    "resume",
                    "resume the bot; 'here' or a number/group for one chat (admins)",
                    True,
                    self._resume,
                ),
            )
        }

    async def __call__(self, env: Envelope) -> str | None:
        """Run the command in ``env``'s text and return the answer to send."""
        text = env.message.text.strip()[len(self.prefix) :]
        name, _, args = text.partition(" ")
        name = name.lower().split("@", 1)[0]
        command = self._commands.get(name)
        if command is None:
            return f"I don't know {self.prefix}{name}.\n\n" + await self._help(env, "")
        if command.admin and not await is_admin(env, self.settings, self.store):
            log.info("command.refused", command=name)
            return f"Sorry, {self.prefix}{name} is only for the bot's admins."
        log.info("command.run", command=name)
        return await command.run(env, args.strip())

    async def _help(self, env: Envelope, _: str) -> str:
        admin = await is_admin(env, self.settings, self.store)
        lines = [
            f"{self.prefix}{c.name} — {c.help}"
            for c in self._commands.values()
            if admin or not c.admin
        ]
        return "Commands:\n" + "\n".join(lines)

    async def _reset(self, env: Envelope, _: str) -> str:
        await self.backend.reset(env.chat)
        await self.store.reset_context(env.chat)
        return "Done: I've started a fresh conversation. Earlier messages won't be used as context."

    async def _stats(self, env: Envelope, _: str) -> str:
        now = self.clock.now()
        day = start_of_day(now, self.settings.timezone)
        month = day.replace(day=1)
        today = await self.store.stats(day, chat=env.chat)
        this_month = await self.store.stats(month, chat=env.chat)
        return (
            "This chat:\n"
            f"Today: {today.messages} messages, {today.total_tokens} tokens"
            f"{cached(today)}\n"
            f"This month: {this_month.messages} messages, {this_month.total_tokens} tokens"
            f"{cached(this_month)}"
        ) + actions_lines(await self.store.actions_since(env.chat, month), self.settings.timezone)

    async def _forget(self, env: Envelope, args: str) -> str:
        if env.message.is_group and not await is_admin(env, self.settings, self.store):
            return f"In a group, only the bot's admins can use {self.prefix}forget."
        now = self.clock.now()
        state = await self.store.chat_state(env.chat)
        asked = state.forget_asked_at
        if args.lower() != "confirm" or asked is None or now - asked > FORGET_CONFIRM_WINDOW:
            await self.store.update_chat_state(env.chat, forget_asked_at=now)
            return (
                "This deletes everything I have stored about this chat, here and on the AI "
                f"server (only today's token count stays until midnight, for the daily limit). "
                f"To go ahead, send {self.prefix}forget confirm within 2 minutes."
            )
        await self.backend.forget(env.chat)
        await self.store.forget_chat(
            env.chat, keep_usage_since=start_of_day(now, self.settings.timezone)
        )
        log.info("chat.forgotten")
        return "Done: everything stored about this chat has been deleted."

    async def _status(self, env: Envelope, _: str) -> str:
        now = self.clock.now()
        today = await self.store.stats(start_of_day(now, self.settings.timezone))
        paused = await self.store.get_flag(PAUSED_FLAG)
        uptime = now - self.started_at
        hours, rest = divmod(int(uptime.total_seconds()), 3600)
        return (
            "Bot status:\n"
            f"Uptime: {hours}h {rest // 60}m\n"
            f"Mode: {self.settings.openai_api_mode}, model: {self.settings.openai_model}\n"
            f"State: {'paused' if paused else 'running'}\n"
            f"Chats: {await self.store.chat_count()}\n"
            f"Today: {today.messages} messages, {today.failed} errors, "
            f"{today.total_tokens} tokens"
        )

    async def _target(self, env: Envelope, args: str) -> str | None:
        """The chat key a pause/resume names: None = the whole bot."""
        if not args or args.lower() == "all":
            return None
        if args.lower() == "here":
            return env.chat
        return await chat_key_named(self.store, args)

    async def _pause(self, env: Envelope, args: str) -> str:
        target = await self._target(env, args)
        await set_paused(self.store, target, True, self.clock.now())
        if target is None:
            return f"Paused: I won't answer anyone (except admins) until {self.prefix}resume."
        return f"Paused for {target}."

    async def _resume(self, env: Envelope, args: str) -> str:
        target = await self._target(env, args)
        await set_paused(self.store, target, False, self.clock.now())
        if target is None:
            return "Resumed: I'm answering again."
        return f"Resumed for {target}."


def cached(stats: ChatStats) -> str:
    """``" (N from the prompt cache)"`` when the server reported cached tokens, else nothing."""
    return f" ({stats.cached_tokens} from the prompt cache)" if stats.cached_tokens else ""


def actions_lines(actions: Sequence[ActionRecord], timezone: str) -> str:
    """The Google actions executed for a chat this month, the last five listed (or nothing)."""
    if not actions:
        return ""
    zone = ZoneInfo(timezone)
    lines = [
        f"- {a.executed_at.astimezone(zone):%d %b %H:%M} {a.tool}: {a.summary}"
        + (
            f" (id {a.result_id})"
            if a.ok and a.result_id
            else ""
            if a.ok
            else f" — failed: {a.error}"
        )
        for a in actions[-5:]
    ]
    return f"\nGoogle actions this month: {len(actions)}\n" + "\n".join(lines)
