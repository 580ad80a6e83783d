"""One key per person: a phone-number JID and a LID seen for the same sender map together."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.db import Database


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

    async def aliases(self, canonical: str) -> list[str]:
        """Every id recorded for the person filed under ``canonical``."""
        rows = await self.db.rows(
            "SELECT alias FROM identities WHERE canonical = ? ORDER BY alias", (canonical,)
        )
        return [str(r["alias"]) for r in rows]
