"""Start-up checks of DATABASE_PATH: every way the database cannot be used, in one clear line.

Each problem becomes a ``StorageError`` whose message names DATABASE_PATH, the path, what is
wrong and what to do, so ``main.py`` can print it as is and exit 2 without a traceback.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import aiosqlite

from bot.errors import StorageError

#: How many problems ``PRAGMA quick_check`` reports at most (the first one is shown).
QUICK_CHECK_ROWS = 5


def where(path: Path | str) -> str:
    """How messages name the database: the setting, then the path."""
    return f"DATABASE_PATH {str(path)!r}"


def unusable(path: Path | str, problem: str, fix: str) -> StorageError:
    """One line: which setting, which path, what is wrong, what to do."""
    return StorageError(f"{where(path)}: {problem}; {fix}")


def prepare_path(path: Path) -> None:
    """Create the folder if needed and check that the folder and file are writable.

    Blocking (file system calls): run it in a thread from async code.
    """
    folder = path.parent
    blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise unusable(
            path,
            f"the folder {str(folder)!r} cannot be created: {str(blocker)!r} is a file",
            "set DATABASE_PATH to a file in a folder (or move that file away)",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable(
            path,
            f"the folder {str(folder)!r} does not exist and cannot be created "
            f"({exc.strerror or type(exc).__name__})",
            "create it, or set DATABASE_PATH to a file in a folder the bot may write to",
        ) from None
    if path.is_dir():
        raise unusable(path, "this is a folder, not a file", "set DATABASE_PATH to a file name")
    # access() also reports a read-only mount (EROFS) and an immutable file, even for root.
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise unusable(
            path,
            "the file is read-only for the bot",
            "make it readable and writable by the user the bot runs as",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise unusable(
            path,
            f"the folder {str(folder)!r} is read-only for the bot (SQLite creates its -wal and "
            "-shm files beside the database)",
            "make the folder writable by the user the bot runs as, or move the database",
        )


def explain(path: Path | str, exc: sqlite3.Error) -> StorageError:
    """Turn an SQLite error met while opening into one line saying what to do."""
    name: str = getattr(exc, "sqlite_errorname", None) or ""
    detail = str(exc)
    if name == "SQLITE_NOTADB" or "not a database" in detail:
        return unusable(
            path,
            "the file is not an SQLite database",
            "point DATABASE_PATH at the bot's database, or move this file away to start afresh",
        )
    if name.startswith("SQLITE_CORRUPT") or "malformed" in detail:
        return corrupted(path, detail)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in detail:
        return unusable(
            path,
            f"the database is locked by another process ({detail})",
            "stop the other program using this file (another bot?), or wait and start again",
        )
    if name.startswith("SQLITE_READONLY") or "readonly" in detail:
        return unusable(
            path,
            f"the database cannot be written ({detail})",
            "make the file and its folder writable by the user the bot runs as",
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in detail:
        return unusable(
            path,
            f"SQLite cannot open the file ({detail})",
            "check that the folder exists and is writable by the user the bot runs as",
        )
    if name.startswith("SQLITE_FULL") or "disk is full" in detail:
        return unusable(path, "the disk is full", "free some space and start again")
    return unusable(
        path,
        f"SQLite failed to open it ({name or type(exc).__name__}: {detail})",
        "check the file, or set DATABASE_PATH to another file",
    )


def corrupted(path: Path | str, problem: str) -> StorageError:
    """The database is damaged."""
    return unusable(
        path,
        f"the database is damaged (quick_check: {problem})",
        "stop the bot, restore the file from a backup (or salvage it with "
        "`sqlite3 OLD .recover | sqlite3 NEW`) and point DATABASE_PATH at the result",
    )


async def quick_check(conn: aiosqlite.Connection, path: Path | str) -> None:
    """Run ``PRAGMA quick_check``; raise a clear ``StorageError`` if the file is damaged."""
    rows = await conn.execute_fetchall(f"PRAGMA quick_check({QUICK_CHECK_ROWS})")
    problems = [line.strip() for row in rows for line in str(row[0]).splitlines() if line.strip()]
    if problems != ["ok"]:
        first = next((p for p in problems if not p.startswith("***")), "no answer")
        raise corrupted(path, first)
