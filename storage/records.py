"""Read-only records for the operator (admin API and dashboard), on a connection of their own.

The bot's ``Store`` serialises everything through one aiosqlite connection (one thread); a
big operator query there would hold up every reply. ``Records`` opens a second, read-only
connection: in WAL mode it reads a consistent snapshot while the bot goes on writing.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Literal, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import aiosqlite

T = TypeVar("T")
GroupBy = Literal["DAY", "PERSON", "MODEL"]
MAX_PAGE = 500


def encode_cursor(*parts: object) -> str:
    """An opaque cursor from a few values."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()


def decode_cursor(cursor: str | None) -> list[object] | None:
    """The values of a cursor made by ``encode_cursor`` (ValueError if it is not one)."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor this server made") from None
    if not isinstance(values, list):
        raise ValueError("not a cursor this server made")
    return values


def _time(seconds: object) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(float(seconds), UTC)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ChatRecord:
    """One chat as the operator sees it."""

    chat: str
    kind: Literal["private", "group"]
    title: str
    last_message_at: datetime | None
    mode: str
    thread_id: str | None
    paused: bool
    message_count: int


class _Details(NamedTuple):
    title: str
    last_message_at: datetime | None
    mode: str
    thread_id: str | None
    paused: bool


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One tool call of a reply."""

    tool: str
    duration_ms: float
    ok: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """One line of a conversation: a message in, or a message the bot sent."""

    id: int
    direction: Literal["in", "out"]
    at: datetime
    sender: str
    sender_name: str
    kind: str
    text: str
    state: str
    reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_calls: tuple[ToolCallRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of records and the cursor to the next (None: this was the last)."""

    items: list[T]
    end_cursor: str | None

    @property
    def has_next(self) -> bool:
        """Whether there is a next page."""
        return self.end_cursor is not None


@dataclass(slots=True)
class UsageGroup:
    """Token totals of one group (a day, a person or a model), per model for the cost."""

    key: str
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    by_model: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Failure:
    """A message that got no answer because its turn failed."""

    chat: str
    at: datetime
    reason: str


class Records:
    """The operator's queries, read-only, on their own connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path | str) -> AsyncIterator[Records]:
        """Open ``path`` (already migrated by the bot's store) read-only."""
        uri = await asyncio.to_thread(lambda: Path(path).resolve().as_uri() + "?mode=ro")
        conn = await aiosqlite.connect(uri, uri=True)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA query_only=ON")
            yield cls(conn)
        finally:
            await conn.close()

    async def _rows(self, sql: str, params: Sequence[object] = ()) -> list[aiosqlite.Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    # --- chats -------------------------------------------------------------------------------

    async def chats(
        self, first: int, after: str | None = None, search: str = ""
    ) -> Page[ChatRecord]:
        """Chats in key order, ``first`` after ``after``; ``search`` matches a key or a name."""
        first = max(1, min(first, MAX_PAGE))
        start = decode_cursor(after)
        since = str(start[0]) if start else ""
        where, args = "chat > ?", [since]
        if search:
            like = f"%{search.replace('%', '').replace('_', '')}%"
            where += (
                " AND (chat LIKE ? OR chat IN (SELECT chat FROM messages WHERE sender_name LIKE ?))"
            )
            args += [like, like]
        groups = await self._rows(
            f"SELECT chat, COUNT(*) AS n, MAX(id) AS last_id, MAX(is_group) AS grp"
            f" FROM messages WHERE {where} GROUP BY chat ORDER BY chat LIMIT ?",
            [*args, first + 1],
        )
        more = len(groups) > first
        groups = groups[:first]
        keys = [str(g["chat"]) for g in groups]
        details = await self._chat_details(keys, [int(g["last_id"]) for g in groups])
        items = [
            ChatRecord(
                chat=str(g["chat"]),
                kind="group" if g["grp"] else "private",
                message_count=int(g["n"]),
                **details[str(g["chat"])]._asdict(),
            )
            for g in groups
        ]
        return Page(items, encode_cursor(keys[-1]) if more and keys else None)

    async def chat(self, chat: str) -> ChatRecord | None:
        """One chat by key."""
        rows = await self._rows(
            "SELECT COUNT(*) AS n, MAX(id) AS last_id, MAX(is_group) AS grp"
            " FROM messages WHERE chat = ?",
            (chat,),
        )
        if not rows or not rows[0]["n"]:
            return None
        row = rows[0]
        details = await self._chat_details([chat], [int(row["last_id"])])
        return ChatRecord(
            chat=chat,
            kind="group" if row["grp"] else "private",
            message_count=int(row["n"]),
            **details[chat]._asdict(),
        )

    async def _chat_details(self, chats: list[str], last_ids: list[int]) -> dict[str, _Details]:
        """Title, last message time, mode, thread and pause state of ``chats``."""
        if not chats:
            return {}
        marks = ", ".join("?" * len(chats))
        last = {
            str(r["chat"]): r
            for r in await self._rows(
                f"SELECT chat, sender_name, received_at, is_group FROM messages"
                f" WHERE id IN ({', '.join('?' * len(last_ids))})",
                last_ids,
            )
        }
        threads = {
            str(r["chat"]): (str(r["backend"]), str(r["remote_id"]))
            for r in await self._rows(
                f"SELECT chat, backend, remote_id FROM threads"
                f" WHERE active = 1 AND chat IN ({marks}) ORDER BY id",
                chats,
            )
        }
        chains = {
            str(r["chat"]): str(r["response_id"])
            for r in await self._rows(
                f"SELECT chat, response_id FROM response_chain"
                f" WHERE active = 1 AND chat IN ({marks}) ORDER BY id",
                chats,
            )
        }
        paused = {
            str(r["chat"])
            for r in await self._rows(
                f"SELECT chat FROM chat_state WHERE paused = 1 AND chat IN ({marks})", chats
            )
        }
        out: dict[str, _Details] = {}
        for chat in chats:
            row = last.get(chat)
            name = str(row["sender_name"]) if row is not None and not row["is_group"] else ""
            mode, thread = threads.get(chat, ("chat", None))
            if chat in chains and chat not in threads:
                mode, thread = "responses", chains[chat]
            out[chat] = _Details(
                title=name or chat.partition("@")[0],
                last_message_at=_time(row["received_at"]) if row is not None else None,
                mode=mode,
                thread_id=thread,
                paused=chat in paused,
            )
        return out

    # --- one chat's conversation -----------------------------------------------------------

    async def messages(self, chat: str, first: int, after: str | None = None) -> Page[EntryRecord]:
        """``chat``'s messages in and out, newest first, ``first`` at a time after ``after``."""
        first = max(1, min(first, MAX_PAGE))
        start = decode_cursor(after)
        below_in, below_out = (int(start[0]), int(start[1])) if start else (2**62, 2**62)  # type: ignore[call-overload]
        ins = await self._rows(
            "SELECT id, sender, sender_name, kind, text, state, reason, received_at FROM messages"
            " WHERE chat = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (chat, below_in, first + 1),
        )
        outs = await self._rows(
            "SELECT id, message_id, kind, text, created_at, parts FROM replies"
            " WHERE chat = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (chat, below_out, first + 1),
        )
        tokens, tools = await self._turn_costs(chat, [r["message_id"] for r in outs])
        merged: list[tuple[float, int, EntryRecord]] = []
        for r in ins:
            merged.append((float(r["received_at"]), 0, EntryRecord(
                id=int(r["id"]), direction="in", at=_time(r["received_at"]),  # type: ignore[arg-type]
                sender=str(r["sender"]), sender_name=str(r["sender_name"]), kind=str(r["kind"]),
                text=str(r["text"]), state=str(r["state"]), reason=r["reason"],
            )))  # fmt: skip
        for r in outs:
            mid = r["message_id"]
            prompt, completion = tokens.get(mid, (0, 0)) if r["kind"] == "answer" else (0, 0)
            merged.append((float(r["created_at"]), 1, EntryRecord(
                id=int(r["id"]), direction="out", at=_time(r["created_at"]),  # type: ignore[arg-type]
                sender="bot", sender_name="bot", kind=str(r["kind"]), text=str(r["text"]),
                state="sending" if r["parts"] is not None else "sent", reason=None,
                prompt_tokens=prompt, completion_tokens=completion,
                tool_calls=tuple(tools.get(mid, ())) if r["kind"] == "answer" else (),
            )))  # fmt: skip
        merged.sort(key=lambda m: (m[0], m[1], m[2].id), reverse=True)
        page = [entry for _, _, entry in merged[:first]]
        more = len(merged) > first
        if not more:
            return Page(page, None)
        low_in = min((e.id for e in page if e.direction == "in"), default=below_in)
        low_out = min((e.id for e in page if e.direction == "out"), default=below_out)
        return Page(page, encode_cursor(low_in, low_out))

    async def _turn_costs(
        self, chat: str, message_ids: Sequence[object]
    ) -> tuple[dict[object, tuple[int, int]], dict[object, list[ToolCallRecord]]]:
        ids = [m for m in message_ids if m is not None]
        if not ids:
            return {}, {}
        marks = ", ".join("?" * len(ids))
        tokens = {
            r["message_id"]: (int(r["p"]), int(r["c"]))
            for r in await self._rows(
                f"SELECT message_id, SUM(prompt_tokens) AS p, SUM(completion_tokens) AS c"
                f" FROM usage WHERE chat = ? AND message_id IN ({marks}) GROUP BY message_id",
                [chat, *ids],
            )
        }
        tools: dict[object, list[ToolCallRecord]] = {}
        for r in await self._rows(
            f"SELECT message_id, tool, duration_ms, ok, error FROM tool_calls"
            f" WHERE chat = ? AND message_id IN ({marks}) ORDER BY id",
            [chat, *ids],
        ):
            tools.setdefault(r["message_id"], []).append(
                ToolCallRecord(str(r["tool"]), float(r["duration_ms"]), bool(r["ok"]), r["error"])
            )
        return tokens, tools

    # --- usage, failures, counts ----------------------------------------------------------

    async def usage(
        self, since: datetime, until: datetime, group_by: GroupBy, timezone: str = "UTC"
    ) -> list[UsageGroup]:
        """Token totals in [``since``, ``until``) per day (in ``timezone``), person or model."""
        # SQLite sums (on its own thread); Python only folds the few sums into groups. Days
        # are local: sums per 15 minutes (every UTC offset is a multiple of it) become days.
        key_sql = {"DAY": "CAST(created_at / 900 AS INTEGER)", "PERSON": "sender", "MODEL": "model"}
        rows = await self._rows(
            f"SELECT {key_sql[group_by]} AS k, model, COUNT(*) AS n, SUM(prompt_tokens) AS p,"
            " SUM(completion_tokens) AS c, SUM(total_tokens) AS t, SUM(cached_tokens) AS x"
            " FROM usage WHERE created_at >= ? AND created_at < ? GROUP BY k, model",
            (since.timestamp(), until.timestamp()),
        )
        zone = ZoneInfo(timezone)
        groups: dict[str, UsageGroup] = {}
        for r in rows:
            if group_by == "DAY":
                key = datetime.fromtimestamp(int(r["k"]) * 900, zone).date().isoformat()
            else:
                key = str(r["k"])
            g = groups.setdefault(key, UsageGroup(key))
            g.requests += int(r["n"])
            g.prompt_tokens += int(r["p"])
            g.completion_tokens += int(r["c"])
            g.total_tokens += int(r["t"])
            g.cached_tokens += int(r["x"])
            p, c = g.by_model.get(str(r["model"]), (0, 0))
            g.by_model[str(r["model"])] = (p + int(r["p"]), c + int(r["c"]))
        return [groups[k] for k in sorted(groups)]

    async def failures(self, limit: int = 50) -> list[Failure]:
        """The most recent failed messages with the cause of their turn's failure."""
        rows = await self._rows(
            "SELECT chat, received_at, reason FROM messages WHERE state = 'failed'"
            " ORDER BY id DESC LIMIT ?",
            (max(1, min(limit, MAX_PAGE)),),
        )
        return [
            Failure(str(r["chat"]), _time(r["received_at"]), str(r["reason"] or ""))  # type: ignore[arg-type]
            for r in rows
        ]

    async def reminders_pending(self) -> int:
        """How many reminders wait to be delivered."""
        rows = await self._rows("SELECT COUNT(*) AS n FROM reminders WHERE state = 'pending'")
        return int(rows[0]["n"])

    async def reply_to(self, chat: str, wa_id: str) -> tuple[str, str | None, str] | None:
        """The state, reason and recorded reply text of message ``wa_id`` in ``chat``."""
        rows = await self._rows(
            "SELECT m.state, m.reason, (SELECT group_concat(r.text, char(10)) FROM replies r"
            " WHERE r.message_id = m.id) AS reply FROM messages m WHERE m.chat = ? AND m.wa_id = ?",
            (chat, wa_id),
        )
        if not rows:
            return None
        r = rows[0]
        return str(r["state"]), r["reason"], str(r["reply"] or "")

    async def chat_jid(self, chat: str) -> str | None:
        """Where a message to ``chat`` goes (its last message's chat JID), if it has messages."""
        rows = await self._rows(
            "SELECT chat_jid FROM messages WHERE chat = ? ORDER BY id DESC LIMIT 1", (chat,)
        )
        return str(rows[0]["chat_jid"]) if rows else None
