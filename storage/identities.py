"""One key per person: a phone-number JID and a LID seen for the same sender map together."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from storage.db import Database

log = structlog.get_logger("storage.identities")

#: Prefix of the bot_state flag that remembers a person was told about a limit; it is kept
#: per person key, so it moves with the person when two keys are merged.
NOTICE_FLAG_PREFIX = "notice:"


def notice_flag(key: str) -> str:
    """The bot_state key recording until when the person filed under ``key`` was told of a limit."""
    return NOTICE_FLAG_PREFIX + key


class IdentitiesMixin:
    """Store methods for identities."""

    db: Database

    async def canonical_sender(self, ids: Sequence[str]) -> str:
        """The one key for a person seen under ``ids`` (phone JID and/or LID), recording aliases.

        The first id ever seen for a person stays their key; ids learnt later map to it. When
        two known keys turn out to be one person, the younger one is merged into the older.
        """
        ids = [i for i in dict.fromkeys(ids) if i]
        if not ids:
            raise ValueError("canonical_sender needs at least one id")
        marks = ",".join("?" * len(ids))
        rows = await self.db.rows(
            f"SELECT alias, canonical, created_at FROM identities WHERE alias IN ({marks})",
            ids,
        )
        found = {str(r["alias"]): (str(r["canonical"]), float(r["created_at"])) for r in rows}
        if len(found) == len(ids) and len({c for c, _ in found.values()}) == 1:
            return next(iter(found.values()))[0]
        now = datetime.now(UTC).timestamp()
        async with self.db.transaction() as conn:
            if found:
                canonical = min(found.values(), key=lambda item: item[1])[0]
                for other in {c for c, _ in found.values()} - {canonical}:
                    await self._merge_identity(other, canonical)
                    log.info("identity.merged", key=canonical, merged=other)
            else:
                phones = [i for i in ids if i.endswith("@s.whatsapp.net")]
                canonical = phones[0] if phones else ids[0]
            await conn.executemany(
                "INSERT INTO identities (alias, canonical, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (alias) DO UPDATE SET canonical = excluded.canonical",
                [(i, canonical, now) for i in ids],
            )
        return canonical

    async def _merge_identity(self, old: str, new: str) -> None:
        """File everything stored under key ``old`` under ``new`` (inside a transaction)."""
        conn = self.db.conn
        await conn.execute("UPDATE identities SET canonical = ? WHERE canonical = ?", (new, old))
        await conn.execute(
            "UPDATE OR IGNORE messages SET chat = ? WHERE chat = ? AND is_group = 0", (new, old)
        )
        await conn.execute("UPDATE messages SET sender = ? WHERE sender = ?", (new, old))
        await conn.execute("UPDATE replies SET chat = ? WHERE chat = ?", (new, old))
        await conn.execute("UPDATE usage SET chat = ? WHERE chat = ?", (new, old))
        await conn.execute("UPDATE usage SET sender = ? WHERE sender = ?", (new, old))
        await conn.execute("UPDATE threads SET active = 0 WHERE chat = ?", (old,))
        await conn.execute("UPDATE threads SET chat = ? WHERE chat = ?", (new, old))
        await conn.execute("UPDATE reminders SET chat = ? WHERE chat = ?", (new, old))
        await conn.execute("UPDATE tool_calls SET chat = ? WHERE chat = ?", (new, old))
        # A pause or owner hand-off given under either key holds for the person: keep the
        # stronger of the two (paused wins, the later hand-off end wins).
        await conn.execute(
            "INSERT INTO chat_state (chat, paused, handoff_until, updated_at)"
            " SELECT ?, paused, handoff_until, updated_at FROM chat_state WHERE chat = ?"
            " ON CONFLICT (chat) DO UPDATE SET"
            " paused = max(chat_state.paused, excluded.paused),"
            " handoff_until = CASE WHEN chat_state.handoff_until IS NULL"
            " OR excluded.handoff_until > chat_state.handoff_until"
            " THEN excluded.handoff_until ELSE chat_state.handoff_until END,"
            " updated_at = excluded.updated_at",
            (new, old),
        )
        await conn.execute("DELETE FROM chat_state WHERE chat = ?", (old,))
        # The person was told of a limit under the old key: they are not told again.
        await conn.execute(
            "UPDATE OR IGNORE bot_state SET key = ? WHERE key = ?",
            (notice_flag(new), notice_flag(old)),
        )
        await conn.execute("DELETE FROM bot_state WHERE key = ?", (notice_flag(old),))

    async def known_key(self, ids: Sequence[str]) -> str | None:
        """The key of the person the first known of ``ids`` belongs to; records nothing."""
        ids = [i for i in ids if i]
        if not ids:
            return None
        marks = ",".join("?" * len(ids))
        rows = await self.db.rows(
            f"SELECT alias, canonical FROM identities WHERE alias IN ({marks})", ids
        )
        found = {str(r["alias"]): str(r["canonical"]) for r in rows}
        return next((found[i] for i in ids if i in found), None)

    async def aliases(self, canonical: str) -> list[str]:
        """Every id recorded for the person filed under ``canonical``."""
        rows = await self.db.rows(
            "SELECT alias FROM identities WHERE canonical = ? ORDER BY alias", (canonical,)
        )
        return [str(r["alias"]) for r in rows]
