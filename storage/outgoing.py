"""Replies on their way out: recorded before the first send, completed part by part.

A reply row written with ``parts`` (the JSON list of what is to be sent, already split) is
"unsent" until every part is out. ``parts_sent`` is raised *before* each send, so a part is
sent at most once; a start after a crash sends only ``parts[parts_sent:]``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.db import Database

#: One part of a reply as stored: ``{"text": ...}`` or ``{"media": {...}}`` (JSON-able).
Part = Mapping[str, object]

#: SQLite's primary result codes that mean "the disk or the file is in trouble right now",
#: so the write may work later: FULL, IOERR, BUSY, LOCKED, CANTOPEN, READONLY, NOMEM.
_TRANSIENT_CODES = {13, 10, 5, 6, 14, 8, 7}
_TRANSIENT_WORDS = ("disk is full", "disk i/o error", "database is locked", "unable to open")


def is_transient_write_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a storage failure worth retrying (disk full, I/O error, busy).

    Constraint violations and SQL mistakes are not: retrying them would loop forever.
    """
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(
        exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError
    ):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _TRANSIENT_CODES
    return any(word in str(exc).lower() for word in _TRANSIENT_WORDS)


@dataclass(frozen=True, slots=True)
class UnsentReply:
    """A recorded reply not completely sent: ``parts[parts_sent:]`` never began."""

    id: int
    chat: str
    message_id: int | None
    parts: tuple[Part, ...]
    parts_sent: int
    created_at: float = 0.0  # unix seconds


def encode_parts(parts: Sequence[Part] | None) -> str | None:
    """The ``parts`` column for a reply about to be sent (None when there is nothing to send)."""
    return json.dumps([dict(p) for p in parts]) if parts else None


class OutgoingMixin:
    """Store methods for replies being delivered."""

    db: Database

    async def part_sending(self, reply_id: int, index: int) -> None:
        """Part ``index`` of reply ``reply_id`` is about to go out: count it as sent *now*.

        Written before the send, so a kill right after the send can never send it twice
        (a kill between this write and the send loses the part instead: at most once).
        """
        await self.db.write(
            "UPDATE replies SET parts_sent = ?1 + 1 WHERE id = ?2 AND parts_sent = ?1",
            (index, reply_id),
        )

    async def part_unsent(self, reply_id: int, index: int) -> None:
        """Part ``index`` could not be sent after all: the next start sends it again."""
        await self.db.write(
            "UPDATE replies SET parts_sent = ?1 WHERE id = ?2 AND parts_sent = ?1 + 1",
            (index, reply_id),
        )

    async def part_sent(self, reply_id: int, index: int, wa_id: str | None) -> None:
        """Part ``index`` is out with id ``wa_id`` (None: media WhatsApp refused, skipped);
        after the last part the reply is complete."""
        await self.db.write(
            "UPDATE replies SET"
            " wa_ids = CASE WHEN ?1 IS NULL THEN wa_ids ELSE json_insert(wa_ids, '$[#]', ?1) END,"
            " parts = CASE WHEN ?2 + 1 >= json_array_length(parts) THEN NULL ELSE parts END"
            " WHERE id = ?3 AND parts IS NOT NULL",
            (wa_id, index, reply_id),
        )

    async def unsent_replies(self) -> list[UnsentReply]:
        """Replies recorded but not fully sent (cut by a crash or a send failure), oldest first."""
        rows = await self.db.rows(
            "SELECT id, chat, message_id, parts, parts_sent, created_at FROM replies"
            " WHERE parts IS NOT NULL ORDER BY id"
        )
        return [
            UnsentReply(
                id=int(r["id"]),
                chat=str(r["chat"]),
                message_id=None if r["message_id"] is None else int(r["message_id"]),
                parts=tuple(json.loads(str(r["parts"]))),
                parts_sent=int(r["parts_sent"]),
                created_at=float(r["created_at"]),
            )
            for r in rows
        ]

    async def close_reply(self, reply_id: int) -> None:
        """Stop sending reply ``reply_id``: every part went out, or its chat is gone."""
        await self.db.write("UPDATE replies SET parts = NULL WHERE id = ?", (reply_id,))
