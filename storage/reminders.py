"""Reminders: scheduled WhatsApp messages back to a chat, kept across restarts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.db import Database


@dataclass(frozen=True, slots=True)
class Reminder:
    """One reminder."""

    id: int
    chat: str
    chat_jid: str
    sender: str
    text: str
    due_at: datetime
    state: str
    late: bool = False


def _reminder(r: object) -> Reminder:
    row: dict[str, object] = dict(r)  # type: ignore[call-overload]
    return Reminder(
        id=int(row["id"]),  # type: ignore[call-overload]
        chat=str(row["chat"]),
        chat_jid=str(row["chat_jid"]),
        sender=str(row["sender"]),
        text=str(row["text"]),
        due_at=datetime.fromtimestamp(float(row["due_at"]), UTC),  # type: ignore[arg-type]
        state=str(row["state"]),
        late=bool(row["late"]),
    )


class RemindersMixin:
    """Store methods for reminders."""

    db: Database

    async def add_reminder(
        self, *, chat: str, chat_jid: str, sender: str, text: str, due_at: datetime
    ) -> Reminder:
        """Schedule a reminder and return it."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO reminders (chat, chat_jid, sender, text, due_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (chat, chat_jid, sender, text, due_at.timestamp(), datetime.now(UTC).timestamp()),
            )
            rid = int(cur.lastrowid or 0)
        return Reminder(rid, chat, chat_jid, sender, text, due_at, "pending")

    async def reminders_for(self, chat: str) -> list[Reminder]:
        """Pending reminders of ``chat``, soonest first."""
        rows = await self.db.rows(
            "SELECT * FROM reminders WHERE chat = ? AND state = 'pending' ORDER BY due_at, id",
            (chat,),
        )
        return [_reminder(r) for r in rows]

    async def cancel_reminder(self, chat: str, reminder_id: int) -> bool:
        """Cancel one pending reminder of ``chat``; False if there is none with that id there."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE reminders SET state = 'cancelled'"
                " WHERE id = ? AND chat = ? AND state = 'pending'",
                (reminder_id, chat),
            )
            return cur.rowcount == 1

    async def due_reminders(self, now: datetime) -> list[Reminder]:
        """Pending reminders due at or before ``now``, oldest first."""
        rows = await self.db.rows(
            "SELECT * FROM reminders WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, id",
            (now.timestamp(),),
        )
        return [_reminder(r) for r in rows]

    async def next_reminder_due(self) -> datetime | None:
        """When the next pending reminder is due, if any."""
        rows = await self.db.rows("SELECT MIN(due_at) AS d FROM reminders WHERE state = 'pending'")
        value = rows[0]["d"]
        return None if value is None else datetime.fromtimestamp(float(value), UTC)

    async def mark_reminder_sent(self, reminder_id: int, *, at: datetime, late: bool) -> None:
        """Record that a reminder was delivered (``late`` when after its time)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE reminders SET state = 'sent', sent_at = ?, late = ? WHERE id = ?",
                (at.timestamp(), int(late), reminder_id),
            )

    async def reopen_reminder(self, reminder_id: int) -> None:
        """Put a reminder whose send failed back to pending, to be tried again."""
        await self.db.write(
            "UPDATE reminders SET state = 'pending', sent_at = NULL, late = 0"
            " WHERE id = ? AND state = 'sent'",
            (reminder_id,),
        )

    async def reminder(self, reminder_id: int) -> Reminder | None:
        """One reminder by id, whatever its state."""
        rows = await self.db.rows("SELECT * FROM reminders WHERE id = ?", (reminder_id,))
        return _reminder(rows[0]) if rows else None
