"""Per-chat state and statistics: reset, forget, pause, owner hand-off, limits, /stats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.db import Database


@dataclass(frozen=True, slots=True)
class ChatStats:
    """Counts for one chat (or the whole bot) since a moment."""

    messages: int
    answered: int
    failed: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int = 0  # prompt tokens served from OpenAI's prompt cache


@dataclass(frozen=True, slots=True)
class ChatState:
    """Flags kept per chat."""

    paused: bool = False
    handoff_until: datetime | None = None
    forget_asked_at: datetime | None = None


def _opt_dt(value: object) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]


class ChatStateMixin:
    """Store methods about chats as a whole."""

    db: Database

    async def reset_context(self, chat: str) -> None:
        """Stop using ``chat``'s stored history as context (kept, but no longer sent)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE messages SET in_context = 0 WHERE chat = ?", (chat,))
            await conn.execute("UPDATE replies SET in_context = 0 WHERE chat = ?", (chat,))

    async def forget_chat(self, chat: str, *, keep_usage_since: datetime | None = None) -> None:
        """Delete everything stored about ``chat`` locally.

        With ``keep_usage_since``, token counts from then on stay (they hold no text), so
        deleting a chat cannot reset today's budget.
        """
        async with self.db.transaction() as conn:
            for table in (
                "replies",
                "tool_calls",
                "threads",
                "response_chain",
                "reminders",
                "chat_state",
                "pending_actions",
                "google_actions",
            ):
                await conn.execute(f"DELETE FROM {table} WHERE chat = ?", (chat,))
            if keep_usage_since is None:
                await conn.execute("DELETE FROM usage WHERE chat = ?", (chat,))
            else:
                await conn.execute(
                    "DELETE FROM usage WHERE chat = ? AND created_at < ?",
                    (chat, keep_usage_since.timestamp()),
                )
                await conn.execute("UPDATE usage SET message_id = NULL WHERE chat = ?", (chat,))
            await conn.execute("DELETE FROM messages WHERE chat = ?", (chat,))

    async def chat_state(self, chat: str) -> ChatState:
        """The flags of ``chat`` (defaults when none are stored)."""
        rows = await self.db.rows(
            "SELECT paused, handoff_until, forget_asked_at FROM chat_state WHERE chat = ?",
            (chat,),
        )
        if not rows:
            return ChatState()
        r = rows[0]
        return ChatState(
            paused=bool(r["paused"]),
            handoff_until=_opt_dt(r["handoff_until"]),
            forget_asked_at=_opt_dt(r["forget_asked_at"]),
        )

    async def update_chat_state(self, chat: str, **fields: object) -> None:
        """Set some of paused / handoff_until / forget_asked_at for ``chat``."""
        allowed = {"paused", "handoff_until", "forget_asked_at"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"unknown chat_state fields: {sorted(set(fields) - allowed)}")
        values = {
            k: (
                v.timestamp() if isinstance(v, datetime) else (int(v) if isinstance(v, bool) else v)
            )
            for k, v in fields.items()
        }
        cols = ", ".join(values)
        marks = ", ".join("?" * len(values))
        updates = ", ".join(f"{k} = excluded.{k}" for k in values)
        now = datetime.now(UTC).timestamp()
        async with self.db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO chat_state (chat, {cols}, updated_at) VALUES (?, {marks}, ?)"
                f" ON CONFLICT (chat) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
                (chat, *values.values(), now),
            )

    async def get_flag(self, key: str) -> str | None:
        """A bot-wide flag (e.g. ``paused``)."""
        rows = await self.db.rows("SELECT value FROM bot_state WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    async def set_flag(self, key: str, value: str | None) -> None:
        """Set or clear a bot-wide flag."""
        async with self.db.transaction() as conn:
            if value is None:
                await conn.execute("DELETE FROM bot_state WHERE key = ?", (key,))
            else:
                await conn.execute(
                    "INSERT INTO bot_state (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    async def stats(self, since: datetime, chat: str | None = None) -> ChatStats:
        """Messages and tokens since ``since``, for one chat or (``chat=None``) the whole bot."""
        where, args = ("AND chat = ?", (chat,)) if chat is not None else ("", ())
        start = since.timestamp()
        m = (
            await self.db.rows(
                "SELECT COUNT(*) AS n,"
                " COALESCE(SUM(state = 'answered'), 0) AS answered,"
                " COALESCE(SUM(state = 'failed'), 0) AS failed"
                f" FROM messages WHERE received_at >= ? AND state != 'ignored' {where}",
                (start, *args),
            )
        )[0]
        u = (
            await self.db.rows(
                "SELECT COALESCE(SUM(prompt_tokens), 0) AS p,"
                " COALESCE(SUM(completion_tokens), 0) AS c, COALESCE(SUM(total_tokens), 0) AS t,"
                " COALESCE(SUM(cached_tokens), 0) AS cached"
                f" FROM usage WHERE created_at >= ? {where}",
                (start, *args),
            )
        )[0]
        return ChatStats(
            messages=int(m["n"]),
            answered=int(m["answered"]),
            failed=int(m["failed"]),
            prompt_tokens=int(u["p"]),
            completion_tokens=int(u["c"]),
            total_tokens=int(u["t"]),
            cached_tokens=int(u["cached"]),
        )

    async def chat_count(self) -> int:
        """How many chats the bot has stored messages for."""
        rows = await self.db.rows("SELECT COUNT(DISTINCT chat) AS n FROM messages")
        return int(rows[0]["n"])

    async def sender_messages_since(self, sender: str, since: datetime) -> list[datetime]:
        """When ``sender``'s non-ignored messages arrived since ``since`` (for rate limits)."""
        rows = await self.db.rows(
            "SELECT received_at FROM messages"
            " WHERE sender = ? AND received_at >= ? AND state != 'ignored' ORDER BY received_at",
            (sender, since.timestamp()),
        )
        return [datetime.fromtimestamp(float(r["received_at"]), UTC) for r in rows]

    async def sender_tokens_since(self, sender: str, since: datetime) -> int:
        """Tokens spent on ``sender``'s turns since ``since`` (for the daily budget)."""
        rows = await self.db.rows(
            "SELECT COALESCE(SUM(total_tokens), 0) AS t FROM usage"
            " WHERE sender = ? AND created_at >= ?",
            (sender, since.timestamp()),
        )
        return int(rows[0]["t"])
