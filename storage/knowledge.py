"""The knowledge base's vector store and files, and the files uploaded for chats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.db import Database


@dataclass(frozen=True, slots=True)
class KnowledgeFile:
    """A file of the knowledge base, as last uploaded."""

    name: str
    sha256: str
    file_id: str
    vector_store_id: str
    bytes: int
    status: str
    error: str | None = None


class KnowledgeMixin:
    """Store methods for the knowledge base and for files uploaded on a chat's behalf."""

    db: Database

    async def knowledge_store_id(self) -> str | None:
        """The bot's own vector store id, once created."""
        rows = await self.db.rows("SELECT vector_store_id FROM knowledge_store WHERE id = 1")
        return str(rows[0]["vector_store_id"]) if rows else None

    async def save_knowledge_store_id(self, vector_store_id: str) -> None:
        """Remember the bot's vector store (replacing any earlier one)."""
        await self.db.write(
            "INSERT INTO knowledge_store (id, vector_store_id, created_at) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET vector_store_id = excluded.vector_store_id",
            (vector_store_id, datetime.now(UTC).timestamp()),
        )

    async def knowledge_files(self) -> list[KnowledgeFile]:
        """Every file of the knowledge base, by name."""
        rows = await self.db.rows(
            "SELECT name, sha256, file_id, vector_store_id, bytes, status, error"
            " FROM knowledge_files ORDER BY name"
        )
        return [
            KnowledgeFile(
                str(r["name"]),
                str(r["sha256"]),
                str(r["file_id"]),
                str(r["vector_store_id"]),
                int(r["bytes"]),
                str(r["status"]),
                None if r["error"] is None else str(r["error"]),
            )
            for r in rows
        ]

    async def has_knowledge(self) -> bool:
        """Whether the knowledge base holds any file that is not failed."""
        rows = await self.db.rows(
            "SELECT 1 FROM knowledge_files WHERE status != 'failed' AND status != 'cancelled'"
            " LIMIT 1"
        )
        return bool(rows)

    async def save_knowledge_file(self, file: KnowledgeFile) -> None:
        """Record (or replace) the knowledge file ``file.name``."""
        await self.db.write(
            "INSERT INTO knowledge_files"
            " (name, sha256, file_id, vector_store_id, bytes, status, error, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256,"
            " file_id = excluded.file_id, vector_store_id = excluded.vector_store_id,"
            " bytes = excluded.bytes, status = excluded.status, error = excluded.error,"
            " added_at = excluded.added_at",
            (
                file.name,
                file.sha256,
                file.file_id,
                file.vector_store_id,
                file.bytes,
                file.status,
                file.error,
                datetime.now(UTC).timestamp(),
            ),
        )

    async def drop_knowledge_file(self, name: str) -> None:
        """Forget the knowledge file ``name``."""
        await self.db.write("DELETE FROM knowledge_files WHERE name = ?", (name,))

    async def add_chat_file(self, chat: str, file_id: str, purpose: str, at: datetime) -> None:
        """Record a file uploaded to the server for ``chat`` (to delete it later)."""
        await self.db.write(
            "INSERT INTO chat_files (chat, file_id, purpose, created_at) VALUES (?, ?, ?, ?)",
            (chat, file_id, purpose, at.timestamp()),
        )

    async def chat_files(self, chat: str) -> list[str]:
        """The ids of the files uploaded for ``chat``, oldest first."""
        rows = await self.db.rows(
            "SELECT file_id FROM chat_files WHERE chat = ? ORDER BY id", (chat,)
        )
        return [str(r["file_id"]) for r in rows]

    async def chat_files_before(self, before: datetime) -> list[tuple[str, str]]:
        """(chat, file id) of every chat file uploaded before ``before``."""
        rows = await self.db.rows(
            "SELECT chat, file_id FROM chat_files WHERE created_at < ? ORDER BY id",
            (before.timestamp(),),
        )
        return [(str(r["chat"]), str(r["file_id"])) for r in rows]

    async def drop_chat_file(self, file_id: str) -> None:
        """Forget a chat file (deleted on the server, or gone)."""
        await self.db.write("DELETE FROM chat_files WHERE file_id = ?", (file_id,))
