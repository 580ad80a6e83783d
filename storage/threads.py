"""Server-side threads / conversations per chat, kept with the backend that made them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.db import Database


class ThreadsMixin:
    """Store methods for thread and conversation ids."""

    db: Database

    async def thread_for(self, chat: str, backend: str) -> str | None:
        """The active server-side thread / conversation id of ``chat`` made by ``backend``."""
        rows = await self.db.rows(
            "SELECT remote_id FROM threads WHERE chat = ? AND backend = ? AND active = 1",
            (chat, backend),
        )
        return str(rows[0]["remote_id"]) if rows else None

    async def save_thread(self, chat: str, backend: str, remote_id: str) -> None:
        """Make ``remote_id`` the active thread / conversation of ``chat`` for ``backend``."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE threads SET active = 0 WHERE chat = ? AND backend = ?", (chat, backend)
            )
            await conn.execute(
                "INSERT INTO threads (chat, backend, remote_id, created_at) VALUES (?, ?, ?, ?)",
                (chat, backend, remote_id, datetime.now(UTC).timestamp()),
            )

    async def retire_threads(self, chat: str) -> list[tuple[str, str]]:
        """Deactivate every active thread of ``chat``; return them as (backend, remote_id)."""
        async with self.db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT backend, remote_id FROM threads WHERE chat = ? AND active = 1", (chat,)
                )
            )
            await conn.execute("UPDATE threads SET active = 0 WHERE chat = ?", (chat,))
        return [(str(r["backend"]), str(r["remote_id"])) for r in rows]

    async def all_threads(self, chat: str) -> list[tuple[str, str]]:
        """Every thread / conversation ever stored for ``chat``, as (backend, remote_id)."""
        rows = await self.db.rows(
            "SELECT backend, remote_id FROM threads WHERE chat = ? ORDER BY id", (chat,)
        )
        return [(str(r["backend"]), str(r["remote_id"])) for r in rows]

    # --- responses chained with previous_response_id -------------------------------------

    async def last_response_for(self, chat: str) -> str | None:
        """The response id the next turn of ``chat`` continues from (None: start afresh)."""
        rows = await self.db.rows(
            "SELECT response_id FROM response_chain WHERE chat = ? AND active = 1"
            " ORDER BY id DESC LIMIT 1",
            (chat,),
        )
        return str(rows[0]["response_id"]) if rows else None

    async def save_response(self, chat: str, response_id: str) -> None:
        """Record ``response_id`` as the latest stored response of ``chat``'s chain."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO response_chain (chat, response_id, created_at) VALUES (?, ?, ?)",
                (chat, response_id, datetime.now(UTC).timestamp()),
            )

    async def end_response_chain(self, chat: str) -> None:
        """Start ``chat``'s next turn on a fresh chain (``/reset``); the ids stay for /forget."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE response_chain SET active = 0 WHERE chat = ?", (chat,))

    async def chained_responses(self, chat: str) -> list[str]:
        """Every stored response id of ``chat``'s chains, oldest first."""
        rows = await self.db.rows(
            "SELECT response_id FROM response_chain WHERE chat = ? ORDER BY id", (chat,)
        )
        return [str(r["response_id"]) for r in rows]

    async def drop_response_chain(self, chat: str) -> None:
        """Forget every response id of ``chat`` (after /forget deleted them on the server)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM response_chain WHERE chat = ?", (chat,))
