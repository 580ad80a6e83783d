"""The aiosqlite connection: opening, pragmas, migrations and write transactions."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
import structlog

from bot.errors import StorageError
from storage.migrations import MIGRATIONS, Migration
from storage.open_checks import explain, prepare_path, quick_check, unusable

log = structlog.get_logger("storage.db")


#: How often the WAL is checkpointed in the background.
CHECKPOINT_SECONDS = 0.5
#: The automatic in-commit checkpoint, now only a backstop (pages of 4 KiB: ~160 MB).
BACKSTOP_CHECKPOINT_PAGES = 40_000
#: A checkpointed WAL file is truncated back to at most this many bytes.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


class Database:
    """One aiosqlite connection in WAL mode; writes go through ``transaction()``."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        # One connection is shared by every coroutine: without this lock, one coroutine's
        # COMMIT could commit another's half-done transaction.
        self._write_lock = asyncio.Lock()
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, path: Path | str) -> Database:
        """Open (creating if needed) the database at ``path`` and apply pending migrations.

        Every way the file cannot be used (folder, permissions, not a database, damaged, a
        newer schema, locked) raises a ``StorageError`` of one line naming DATABASE_PATH.
        """
        memory = str(path) == ":memory:"
        if not memory:
            await asyncio.to_thread(prepare_path, Path(path))
        try:
            conn = await aiosqlite.connect(str(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise explain(path, exc) from None
        conn.row_factory = aiosqlite.Row
        db = cls(conn)
        try:
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            if not memory:
                await quick_check(conn, path)
                await db._refuse_newer_schema(path)
            await db.migrate()
            if not memory:
                await db._start_checkpoints(path)
        except sqlite3.Error as exc:
            await db.close()
            raise explain(path, exc) from None
        except BaseException:
            await db.close()
            raise
        return db

    async def _refuse_newer_schema(self, path: Path | str) -> None:
        """A database written by a newer bot (migrations table or user_version) is refused."""
        known = max((m.version for m in MIGRATIONS), default=0)
        rows = list(await self.conn.execute_fetchall("PRAGMA user_version"))
        user_version = int(rows[0][0]) if rows else 0
        current = max(await self.schema_version(), user_version)
        if current > known:
            raise unusable(
                path,
                f"its schema version {current} is newer than this bot knows ({known}): a newer "
                "version of the bot wrote it",
                "upgrade the bot, or set DATABASE_PATH to another file",
            )

    async def _start_checkpoints(self, path: Path | str) -> None:
        """Move WAL checkpoints off the write path.

        By default SQLite checkpoints inside whichever commit takes the WAL past 1,000 pages,
        and that commit waits for the copy and its fsync (up to ~300 ms in the storage
        benchmark). A second connection checkpoints passively (never blocking writers)
        every CHECKPOINT_SECONDS; the automatic checkpoint stays as a backstop, later.
        """
        await self.conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")
        await self.conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        self._checkpointer = await aiosqlite.connect(str(path), isolation_level=None)
        await self._checkpointer.execute("PRAGMA busy_timeout=5000")
        self._checkpoints = asyncio.create_task(self._checkpoint_loop(), name="wal-checkpoints")

    async def _checkpoint_loop(self) -> None:
        assert self._checkpointer is not None
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # e.g. busy: the next round or the backstop will do
                log.debug("storage.checkpoint_failed", error=str(exc))

    async def rows(self, sql: str, params: Sequence[object] = ()) -> list[aiosqlite.Row]:
        """Run a query and return all its rows."""
        return list(await self.conn.execute_fetchall(sql, params))

    async def close(self) -> None:
        """Stop the checkpoints and close the connections (SQLite checkpoints on close)."""
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            await asyncio.gather(self._checkpoints, return_exceptions=True)
            self._checkpoints = None
        if self._checkpointer is not None:
            await self._checkpointer.close()
            self._checkpointer = None
        await self.conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the block as one write transaction: all of it is committed, or none of it."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                await self.conn.execute("COMMIT")
            except BaseException:
                # Also when COMMIT itself failed (disk full): an open transaction left behind
                # would make every later BEGIN fail, long after the disk has room again.
                await self._rollback()
                raise

    async def _rollback(self) -> None:
        """Roll back whatever is open; SQLite may already have rolled back by itself."""
        if not self.conn.in_transaction:
            return
        try:
            await self.conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            # On a full disk SQLite often rolls back by itself: nothing is left to undo then.
            quiet = "no transaction is active" in str(exc)
            (log.debug if quiet else log.warning)("storage.rollback_failed", error=str(exc))

    async def write(self, sql: str, params: Sequence[object] = ()) -> aiosqlite.Cursor:
        """Run one writing statement on its own: atomic by itself (autocommit), so it needs
        no BEGIN/COMMIT round trips; the lock keeps it out of another coroutine's transaction."""
        async with self._write_lock:
            return await self.conn.execute(sql, params)

    async def schema_version(self) -> int:
        """The highest applied migration number (0 for an empty database)."""
        async with self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
        ) as cur:
            if await cur.fetchone() is None:
                return 0
        async with self.conn.execute("SELECT MAX(version) FROM schema_migrations") as cur:
            row = await cur.fetchone()
        return int(row[0] or 0) if row else 0

    async def migrate(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
        """Apply every migration the database has not recorded; return the versions applied."""
        async with self.transaction() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
        current = await self.schema_version()
        # Every migration not yet recorded, not only those above the highest: a version
        # number left free by one line of development and used later is still applied.
        async with self.conn.execute("SELECT version FROM schema_migrations") as cur:
            done = {int(row[0]) for row in await cur.fetchall()}
        known = max((m.version for m in migrations), default=0)
        if current > known:
            raise StorageError(
                f"database schema version {current} is newer than this bot knows ({known}); "
                "upgrade the bot or use another DATABASE_PATH"
            )
        applied: list[int] = []
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                continue
            async with self.transaction() as conn:
                for statement in _statements(migration.sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, time.time()),
                )
            applied.append(migration.version)
        return applied


def _statements(sql: str) -> list[str]:
    """Split a migration script into statements (our migrations hold no ';' or '--' in literals)."""
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [statement.strip() for statement in code.split(";") if statement.strip()]
