"""Actions waiting for a person's "yes" (kept across restarts, expiring), and the record of
every action that ran on the owner's Google account."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.db import Database


@dataclass(frozen=True, slots=True)
class PendingAction:
    """An action a tool prepared; it runs only on the same person's "yes" in the same chat."""

    id: int
    chat: str
    sender: str
    tool: str
    arguments: dict[str, Any]
    summary: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One action that was executed (or tried) on the owner's account."""

    tool: str
    summary: str
    result_id: str | None
    ok: bool
    error: str | None
    executed_at: datetime


def _at(value: object) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]


def _pending(r: object) -> PendingAction:
    row: dict[str, Any] = dict(r)  # type: ignore[call-overload]
    return PendingAction(
        id=int(row["id"]),
        chat=str(row["chat"]),
        sender=str(row["sender"]),
        tool=str(row["tool"]),
        arguments=json.loads(row["arguments"]),
        summary=str(row["summary"]),
        created_at=_at(row["created_at"]),
        expires_at=_at(row["expires_at"]),
    )


class GoogleActionsMixin:
    """Store methods for pending confirmations and executed actions."""

    db: Database

    async def add_pending_action(
        self,
        *,
        chat: str,
        sender: str,
        tool: str,
        arguments: dict[str, Any],
        summary: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> int:
        """Store an action awaiting confirmation; it replaces that person's earlier one here."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM pending_actions WHERE chat = ? AND sender = ?", (chat, sender)
            )
            cur = await conn.execute(
                "INSERT INTO pending_actions"
                " (chat, sender, tool, arguments, summary, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    chat,
                    sender,
                    tool,
                    json.dumps(arguments, ensure_ascii=False),
                    summary,
                    created_at.timestamp(),
                    expires_at.timestamp(),
                ),
            )
            return int(cur.lastrowid or 0)

    async def pending_action(self, chat: str, sender: str) -> PendingAction | None:
        """The action ``sender`` was asked to confirm in ``chat`` (expired ones too)."""
        rows = await self.db.rows(
            "SELECT * FROM pending_actions WHERE chat = ? AND sender = ? ORDER BY id DESC LIMIT 1",
            (chat, sender),
        )
        return _pending(rows[0]) if rows else None

    async def take_pending_action(self, action_id: int) -> bool:
        """Remove a pending action; True only for the one caller that removed it."""
        cur = await self.db.write("DELETE FROM pending_actions WHERE id = ?", (action_id,))
        return cur.rowcount == 1

    async def record_action(
        self,
        *,
        chat: str,
        sender: str,
        tool: str,
        summary: str,
        result_id: str | None,
        ok: bool,
        error: str | None,
        executed_at: datetime,
    ) -> None:
        """Record an action that ran (or failed) on the owner's account."""
        await self.db.write(
            "INSERT INTO google_actions"
            " (chat, sender, tool, summary, result_id, ok, error, executed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (chat, sender, tool, summary, result_id, int(ok), error, executed_at.timestamp()),
        )

    async def actions_since(self, chat: str, since: datetime) -> list[ActionRecord]:
        """Actions executed for ``chat`` from ``since`` on, oldest first."""
        rows = await self.db.rows(
            "SELECT tool, summary, result_id, ok, error, executed_at FROM google_actions"
            " WHERE chat = ? AND executed_at >= ? ORDER BY id",
            (chat, since.timestamp()),
        )
        return [
            ActionRecord(
                str(r["tool"]),
                str(r["summary"]),
                r["result_id"],
                bool(r["ok"]),
                r["error"],
                _at(r["executed_at"]),
            )
            for r in rows
        ]
