"""The one async repository over SQLite: every SQL statement of the bot lives in ``storage/``.

Open it with ``async with Store.open(path) as store:``. Times are stored as unix seconds (REAL)
and handed out as timezone-aware UTC datetimes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from storage.chats import ChatStateMixin
from storage.db import Database
from storage.google_actions import GoogleActionsMixin
from storage.identities import IdentitiesMixin
from storage.knowledge import KnowledgeMixin
from storage.outgoing import OutgoingMixin, Part, encode_parts
from storage.reminders import RemindersMixin
from storage.threads import ThreadsMixin

MessageState = Literal["received", "answered", "failed", "ignored"]


def ts(moment: datetime) -> float:
    """A datetime as unix seconds."""
    return moment.timestamp()


def dt(seconds: float) -> datetime:
    """Unix seconds as a UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """An incoming message to store (before any reply work starts)."""

    chat: str
    chat_jid: str
    wa_id: str
    sender: str
    sender_name: str
    kind: str
    text: str
    is_group: bool
    sent_at: datetime
    received_at: datetime
    state: MessageState = "received"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A stored incoming message."""

    id: int
    chat: str
    chat_jid: str
    wa_id: str
    sender: str
    sender_name: str
    kind: str
    text: str
    is_group: bool
    sent_at: datetime
    received_at: datetime
    state: MessageState
    reason: str | None


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One message of a conversation's context, oldest first when listed."""

    role: Literal["user", "assistant"]
    text: str
    sender_name: str = ""


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Tokens spent by one request, to record."""

    mode: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int = 0  # prompt tokens served from OpenAI's prompt cache


@dataclass(frozen=True, slots=True)
class ToolCallRow:
    """One tool call, to record."""

    tool: str
    duration_ms: float
    ok: bool
    error: str | None = None


def _message(row: object) -> StoredMessage:
    r: dict[str, object] = dict(row)  # type: ignore[call-overload]
    return StoredMessage(
        id=int(r["id"]),  # type: ignore[call-overload]
        chat=str(r["chat"]),
        chat_jid=str(r["chat_jid"]),
        wa_id=str(r["wa_id"]),
        sender=str(r["sender"]),
        sender_name=str(r["sender_name"]),
        kind=str(r["kind"]),
        text=str(r["text"]),
        is_group=bool(r["is_group"]),
        sent_at=dt(float(r["sent_at"])),  # type: ignore[arg-type]
        received_at=dt(float(r["received_at"])),  # type: ignore[arg-type]
        state=r["state"],  # type: ignore[arg-type]
        reason=None if r["reason"] is None else str(r["reason"]),
    )


class Store(
    IdentitiesMixin,
    ThreadsMixin,
    ChatStateMixin,
    RemindersMixin,
    OutgoingMixin,
    GoogleActionsMixin,
    KnowledgeMixin,
):
    """Messages, replies, identities, server-side thread ids, usage, tool calls, reminders."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path | str) -> AsyncIterator[Store]:
        """Open the store at ``path`` (migrating it) and close it on exit."""
        db = await Database.connect(path)
        try:
            yield cls(db)
        finally:
            await db.close()

    # --- incoming messages --------------------------------------------------------------

    async def add_message(self, msg: NewMessage) -> int | None:
        """Store an incoming message; return its row id, or None if this chat already has it."""
        cur = await self.db.write(
            "INSERT INTO messages (chat, chat_jid, wa_id, sender, sender_name, kind, text,"
            " is_group, sent_at, received_at, state, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (chat, wa_id) DO NOTHING",
            (
                msg.chat,
                msg.chat_jid,
                msg.wa_id,
                msg.sender,
                msg.sender_name,
                msg.kind,
                msg.text,
                int(msg.is_group),
                ts(msg.sent_at),
                ts(msg.received_at),
                msg.state,
                msg.reason,
            ),
        )
        return cur.lastrowid if cur.rowcount == 1 else None

    async def message(self, message_id: int) -> StoredMessage | None:
        """One stored message by row id."""
        rows = await self.db.rows("SELECT * FROM messages WHERE id = ?", (message_id,))
        return _message(rows[0]) if rows else None

    async def existing(self, message_ids: Sequence[int]) -> set[int]:
        """Which of ``message_ids`` are still stored (``/forget`` deletes a chat's rows)."""
        if not message_ids:
            return set()
        marks = ", ".join("?" * len(message_ids))
        rows = await self.db.rows(
            f"SELECT id FROM messages WHERE id IN ({marks})", list(message_ids)
        )
        return {int(r["id"]) for r in rows}

    async def messages(self, chat: str) -> list[StoredMessage]:
        """Every stored message of ``chat``, oldest first."""
        rows = await self.db.rows("SELECT * FROM messages WHERE chat = ? ORDER BY id", (chat,))
        return [_message(r) for r in rows]

    async def set_state(
        self, message_ids: Iterable[int], state: MessageState, reason: str | None = None
    ) -> None:
        """Move messages to ``state`` (answered, failed, ignored), with an optional reason."""
        ids = list(message_ids)
        if not ids:
            return
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE messages SET state = ?, reason = ? WHERE id = ?",
                [(state, reason, i) for i in ids],
            )

    async def set_message_text(self, message_id: int, text: str) -> None:
        """Replace a stored message's text (e.g. with a voice note's transcript)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE messages SET text = ? WHERE id = ?", (text, message_id))

    async def pending_messages(self, since: datetime) -> list[StoredMessage]:
        """Messages still ``received`` (a crash interrupted them) stored at or after ``since``."""
        rows = await self.db.rows(
            "SELECT * FROM messages WHERE state = 'received' AND received_at >= ? ORDER BY id",
            (ts(since),),
        )
        return [_message(r) for r in rows]

    async def expire_pending(self, before: datetime) -> int:
        """Mark ``received`` messages stored before ``before`` as failed (too old to answer)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE messages SET state = 'failed', reason = 'expired'"
                " WHERE state = 'received' AND received_at < ?",
                (ts(before),),
            )
            return cur.rowcount

    # --- replies, usage and the turn as a whole -------------------------------------------

    async def context(self, chat: str, limit: int) -> list[ContextEntry]:
        """The last ``limit`` answered user messages and answers of ``chat``, oldest first."""
        if limit <= 0:
            return []
        users = await self.db.rows(
            "SELECT id, text, sender_name FROM messages"
            " WHERE chat = ? AND state = 'answered' AND in_context = 1"
            " ORDER BY id DESC LIMIT ?",
            (chat, limit),
        )
        answers = await self.db.rows(
            "SELECT message_id, text FROM replies"
            " WHERE chat = ? AND kind = 'answer' AND in_context = 1"
            " ORDER BY id DESC LIMIT ?",
            (chat, limit),
        )
        merged: list[tuple[int, ContextEntry]] = [
            (int(r["id"]) * 2, ContextEntry("user", str(r["text"]), str(r["sender_name"])))
            for r in users
        ]
        merged += [
            (int(r["message_id"] or 0) * 2 + 1, ContextEntry("assistant", str(r["text"])))
            for r in answers
        ]
        merged.sort(key=lambda item: item[0])
        return [entry for _, entry in merged[-limit:]]

    async def record_turn(
        self,
        *,
        chat: str,
        sender: str,
        message_ids: Sequence[int],
        reply_text: str,
        wa_ids: Sequence[str] = (),
        parts: Sequence[Part] | None = None,
        usage: Sequence[UsageRow] = (),
        tool_calls: Sequence[ToolCallRow] = (),
        state: MessageState = "answered",
        reason: str | None = None,
        kind: str = "answer",
        at: datetime | None = None,
    ) -> int | None:
        """Record a turn atomically: the reply, its usage and tool calls, the messages' states.

        With ``parts`` the reply is recorded *before* it is sent: the parts stay in the row
        until every one of them is out, the first counted as begun (see ``storage.outgoing``).
        Returns the reply's row id, or None (nothing recorded) when the turn's last message
        is gone: ``/forget`` deleted the chat while its turn was running.
        """
        now = ts(at or datetime.now(UTC))
        last = message_ids[-1] if message_ids else None
        async with self.db.transaction() as conn:
            # The check rides on the insert (no extra round trip): no row when it is gone.
            cur = await conn.execute(
                "INSERT INTO replies (chat, message_id, kind, text, wa_ids, created_at, parts,"
                " parts_sent) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8"
                " WHERE ?2 IS NULL OR EXISTS (SELECT 1 FROM messages WHERE id = ?2)",
                (
                    chat,
                    last,
                    kind,
                    reply_text,
                    json.dumps(list(wa_ids)),
                    now,
                    encode_parts(parts),
                    # The first part counts as begun with the record: one write less per turn.
                    1 if parts else 0,
                ),
            )
            if cur.rowcount != 1:
                return None
            reply_id = int(cur.lastrowid or 0)
            await conn.executemany(
                "INSERT INTO usage (chat, sender, message_id, mode, model, prompt_tokens,"
                " completion_tokens, total_tokens, cached_tokens, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        chat,
                        sender,
                        last,
                        u.mode,
                        u.model,
                        u.prompt_tokens,
                        u.completion_tokens,
                        u.total_tokens,
                        u.cached_tokens,
                        now,
                    )
                    for u in usage
                ],
            )
            if tool_calls:  # most turns call no tool: skip the round trip to SQLite's thread
                await conn.executemany(
                    "INSERT INTO tool_calls (chat, message_id, tool, duration_ms, ok, error,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (chat, last, t.tool, t.duration_ms, int(t.ok), t.error, now)
                        for t in tool_calls
                    ],
                )
            await conn.executemany(
                "UPDATE messages SET state = ?, reason = ? WHERE id = ?",
                [(state, reason, i) for i in message_ids],
            )
        return reply_id

    async def add_reply(
        self,
        chat: str,
        text: str,
        *,
        kind: str,
        wa_ids: Sequence[str] = (),
        at: datetime | None = None,
    ) -> int:
        """Record an outgoing message that answers no stored turn (notice, command, reminder)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO replies (chat, message_id, kind, text, wa_ids, created_at, in_context)"
                " VALUES (?, NULL, ?, ?, ?, ?, 0)",
                (chat, kind, text, json.dumps(list(wa_ids)), ts(at or datetime.now(UTC))),
            )
            return int(cur.lastrowid or 0)

    async def replies(self, chat: str) -> list[tuple[str, str]]:
        """Every recorded outgoing message of ``chat`` as (kind, text), oldest first."""
        rows = await self.db.rows(
            "SELECT kind, text FROM replies WHERE chat = ? ORDER BY id", (chat,)
        )
        return [(str(r["kind"]), str(r["text"])) for r in rows]

    async def is_own_message(self, wa_id: str) -> bool:
        """Whether ``wa_id`` is a message the bot itself sent."""
        rows = await self.db.rows(
            "SELECT 1 FROM replies WHERE wa_ids LIKE ? LIMIT 1", (f'%"{wa_id}"%',)
        )
        return bool(rows)

    async def usage_rows(self, chat: str) -> list[UsageRow]:
        """Usage recorded for ``chat``, oldest first."""
        rows = await self.db.rows(
            "SELECT mode, model, prompt_tokens, completion_tokens, total_tokens, cached_tokens"
            " FROM usage"
            " WHERE chat = ? ORDER BY id",
            (chat,),
        )
        return [
            UsageRow(
                str(r["mode"]),
                str(r["model"]),
                int(r["prompt_tokens"]),
                int(r["completion_tokens"]),
                int(r["total_tokens"]),
                int(r["cached_tokens"]),
            )
            for r in rows
        ]

    async def tool_call_rows(self, chat: str) -> list[ToolCallRow]:
        """Tool calls recorded for ``chat``, oldest first."""
        rows = await self.db.rows(
            "SELECT tool, duration_ms, ok, error FROM tool_calls WHERE chat = ? ORDER BY id",
            (chat,),
        )
        return [
            ToolCallRow(str(r["tool"]), float(r["duration_ms"]), bool(r["ok"]), r["error"])
            for r in rows
        ]

    async def has_history(self, chat: str) -> bool:
        """Whether ``chat`` has any answered message still in context."""
        rows = await self.db.rows(
            "SELECT 1 FROM messages WHERE chat = ? AND state = 'answered' AND in_context = 1"
            " LIMIT 1",
            (chat,),
        )
        return bool(rows)
