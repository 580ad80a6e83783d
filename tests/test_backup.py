"""``python main.py backup DEST``: a consistent copy of the database while the bot writes."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import run
from storage.store import NewMessage, Store


def _message(n: int) -> NewMessage:
    now = datetime.now(UTC)
    return NewMessage(
        chat="15550001111@s.whatsapp.net", chat_jid="15550001111@s.whatsapp.net",
        wa_id=f"W{n}", sender="15550001111@s.whatsapp.net", sender_name="Ada", kind="text",
        text=f"message {n}", is_group=False, sent_at=now, received_at=now,
    )  # fmt: skip


async def test_backup_copies_the_database_while_the_bot_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the store open and writing, backup makes a checked copy and names the session."""
    db = tmp_path / "bot.db"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("DATABASE_PATH", str(db))
    monkeypatch.setenv("WHATSAPP_SESSION", str(tmp_path / "wa.sqlite3"))
    async with Store.open(db) as store:
        for n in range(200):
            await store.add_message(_message(n))
        writes = asyncio.create_task(_keep_writing(store))
        code = await asyncio.to_thread(run, "backup", [str(tmp_path / "copy.db")], "none.env")
        written = await writes
    assert code == 0
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        copied = copy.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert 200 <= copied <= 200 + written
    out = capsys.readouterr().out
    assert "copy.db" in out and "wa.sqlite3" in out


async def _keep_writing(store: Store) -> int:
    """Write messages for a while beside the backup; how many were written."""
    for n in range(200, 400):
        await store.add_message(_message(n))
        await asyncio.sleep(0)
    return 200


def test_backup_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing DEST is kept unless --force; a folder DEST gets a dated file inside."""
    db = tmp_path / "bot.db"
    sqlite3.connect(db).close()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("DATABASE_PATH", str(db))
    (tmp_path / "old.db").write_text("keep me")
    assert run("backup", [str(tmp_path / "old.db")], "none.env") == 1
    assert (tmp_path / "old.db").read_text() == "keep me"
    folder = tmp_path / "backups"
    folder.mkdir()
    assert run("backup", [str(folder)], "none.env") == 0
    assert len(list(folder.glob("bot-*.db"))) == 1
