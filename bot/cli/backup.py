"""Copy the database consistently while the bot runs: ``backup DEST`` (a file or a folder)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import CliContext


def backup_database(source: Path, dest: Path) -> int:
    """Copy ``source`` to ``dest`` with SQLite's online backup API; return the page count.

    The copy is one consistent snapshot: in WAL mode the read it needs never blocks the bot's
    writes, and the bot's writes never tear the copy.
    """
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"the copy fails its check: {check}")
        finally:
            dst.close()
    finally:
        src.close()
    return pages


def main(argv: list[str], ctx: CliContext) -> int:
    """Back up DATABASE_PATH to DEST and name the WhatsApp session file to keep with it."""
    parser = argparse.ArgumentParser(prog="main.py backup", description=__doc__)
    parser.add_argument("dest", type=Path, help="a file to write, or a folder to write into")
    parser.add_argument("--force", action="store_true", help="overwrite DEST if it exists")
    args = parser.parse_args(argv)
    settings = ctx.settings()
    source = Path(settings.database_path)
    if not source.is_file():
        print(f"backup: no database at {source} (DATABASE_PATH)", file=sys.stderr)
        return 1
    dest: Path = args.dest
    if dest.is_dir():
        dest = dest / f"bot-{datetime.now(UTC):%Y%m%d-%H%M%S}.db"
    if dest.exists() and not args.force:
        print(f"backup: {dest} exists (use --force to overwrite it)", file=sys.stderr)
        return 1
    if dest.exists():
        dest.unlink()
    began = time.monotonic()
    try:
        pages = backup_database(source, dest)
    except (sqlite3.Error, OSError) as exc:
        print(f"backup: failed: {exc}", file=sys.stderr)
        dest.unlink(missing_ok=True)
        return 1
    print(f"backup: {source} -> {dest} ({pages} pages, {time.monotonic() - began:.1f} s)")
    session = settings.whatsapp_session
    if session.startswith("postgres"):
        print("WhatsApp session: in PostgreSQL (WHATSAPP_SESSION): back it up with pg_dump.")
    else:
        print(
            f"WhatsApp session: keep {session} (WHATSAPP_SESSION) with this copy; copy it while "
            "the bot is stopped, or re-pair after a restore."
        )
    return 0
