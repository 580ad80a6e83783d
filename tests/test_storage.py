"""Storage: migrations, dedupe across restarts, identities, context, turns, recovery."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from bot.errors import StorageError
from storage.db import Database
from storage.migrations import MIGRATIONS, Migration
from storage.store import NewMessage, Store, ToolCallRow, UsageRow

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def new(
    chat: str = "1555@s.whatsapp.net", wa_id: str = "A1", text: str = "hi", **kw: object
) -> NewMessage:
    """A NewMessage with sensible defaults."""
    fields: dict[str, object] = {
        "chat": chat,
        "chat_jid": chat,
        "wa_id": wa_id,
        "sender": chat,
        "sender_name": "Alice",
        "kind": "text",
        "text": text,
        "is_group": False,
        "sent_at": T0,
        "received_at": T0,
    }
    fields.update(kw)
    return NewMessage(**fields)  # type: ignore[arg-type]


async def test_migrates_an_empty_database_to_the_full_schema(tmp_path: Path) -> None:
    """An empty file gets every migration, recorded, and the expected tables and indexes."""
    db = await Database.connect(tmp_path / "new.db")
    try:
        assert await db.schema_version() == MIGRATIONS[-1].version
        rows = await db.conn.execute_fetchall("SELECT version FROM schema_migrations ORDER BY 1")
        assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]
        names = {
            r[0]
            for r in await db.conn.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"
            )
        }
        assert {
            "messages",
            "replies",
            "identities",
            "threads",
            "usage",
            "tool_calls",
            "reminders",
            "chat_state",
            "bot_state",
            "threads_active",
            "messages_context",
        } <= names
        mode = await db.conn.execute_fetchall("PRAGMA journal_mode")
        assert mode[0][0] == "wal"
        assert await db.migrate() == []
    finally:
        await db.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database from a newer bot stops start-up with a clear StorageError."""
    db = await Database.connect(tmp_path / "x.db")
    await db.migrate((*MIGRATIONS, Migration(99, "future", "CREATE TABLE future (x)")))
    await db.close()
    with pytest.raises(StorageError, match="newer than this bot knows"):
        await Database.connect(tmp_path / "x.db")


async def test_dedupe_survives_a_restart(tmp_path: Path) -> None:
    """The same WhatsApp id in the same chat is stored once, even after reopening."""
    async with Store.open(tmp_path / "bot.db") as store:
        assert await store.add_message(new()) is not None
        assert await store.add_message(new()) is None
    async with Store.open(tmp_path / "bot.db") as store:
        assert await store.add_message(new()) is None
        assert await store.add_message(new(chat="other@s.whatsapp.net")) is not None
        assert len(await store.messages("1555@s.whatsapp.net")) == 1


async def test_one_person_two_ids_one_key(store: Store) -> None:
    """A phone JID and a LID seen together map to one key, whichever arrives first."""
    lid, pn = "111222333@lid", "15551234567@s.whatsapp.net"
    first = await store.canonical_sender([lid])
    assert first == lid
    assert await store.canonical_sender([pn, lid]) == lid
    assert await store.canonical_sender([pn]) == lid
    assert await store.aliases(lid) == sorted([lid, pn])
    assert await store.canonical_sender(["1999@s.whatsapp.net", "999@lid"]) == "1999@s.whatsapp.net"


async def test_two_keys_of_one_person_are_merged(store: Store) -> None:
    """When a LID-only and a phone-only history turn out to be one person, they merge."""
    lid, pn = "111@lid", "15550009999@s.whatsapp.net"
    await store.canonical_sender([pn])
    await store.add_message(new(chat=pn, wa_id="P1"))
    await store.canonical_sender([lid])
    await store.add_message(new(chat=lid, wa_id="L1", sender=lid))
    key = await store.canonical_sender([lid, pn])
    assert key == pn  # the older key wins
    assert [m.wa_id for m in await store.messages(pn)] == ["P1", "L1"]
    assert await store.canonical_sender([lid]) == pn


async def test_context_holds_only_answered_turns_in_order(store: Store) -> None:
    """Context = answered user messages and their answers, oldest first, newest N."""
    chat = "1555@s.whatsapp.net"
    for i in range(3):
        mid = await store.add_message(new(wa_id=f"M{i}", text=f"q{i}"))
        assert mid is not None
        await store.record_turn(
            chat=chat, sender=chat, message_ids=[mid], reply_text=f"a{i}", wa_ids=[f"B{i}"]
        )
    failed = await store.add_message(new(wa_id="F", text="boom"))
    assert failed is not None
    await store.record_turn(
        chat=chat,
        sender=chat,
        message_ids=[failed],
        reply_text="sorry",
        wa_ids=[],
        state="failed",
        kind="error",
    )
    await store.add_message(new(wa_id="R", text="still received"))
    entries = await store.context(chat, 4)
    assert [(e.role, e.text) for e in entries] == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2"),
    ]
    assert await store.context(chat, 0) == []
    await store.reset_context(chat)
    assert await store.context(chat, 10) == []


async def test_record_turn_is_atomic(store: Store) -> None:
    """A failure inside record_turn leaves no reply, no usage and the message received."""
    mid = await store.add_message(new())
    assert mid is not None
    with pytest.raises(sqlite3.IntegrityError):
        await store.record_turn(
            chat="1555@s.whatsapp.net",
            sender="s",
            message_ids=[mid],
            reply_text="x",
            wa_ids=[],
            usage=[UsageRow("chat", "m", 1, 1, 2)],
            tool_calls=[ToolCallRow("t", 1.0, True)],
            state="bogus",  # type: ignore[arg-type]
        )
    stored = await store.message(mid)
    assert stored is not None and stored.state == "received"
    assert await store.replies("1555@s.whatsapp.net") == []
    assert await store.usage_rows("1555@s.whatsapp.net") == []


async def test_pending_and_expired_after_a_crash(store: Store) -> None:
    """Received messages inside the window are pending; older ones are marked failed."""
    old = await store.add_message(new(wa_id="OLD", received_at=T0 - timedelta(hours=2)))
    young = await store.add_message(new(wa_id="NEW", received_at=T0 - timedelta(minutes=5)))
    cut = T0 - timedelta(hours=1)
    assert await store.expire_pending(before=cut) == 1
    assert [m.id for m in await store.pending_messages(since=cut)] == [young]
    stored = await store.message(old or 0)
    assert stored is not None and (stored.state, stored.reason) == ("failed", "expired")


async def test_threads_are_per_chat_and_backend(store: Store) -> None:
    """A thread id is kept per chat and backend; a new one retires the old."""
    await store.save_thread("c1", "assistants", "thread_1")
    await store.save_thread("c1", "responses", "conv_1")
    await store.save_thread("c2", "assistants", "thread_2")
    assert await store.thread_for("c1", "assistants") == "thread_1"
    assert await store.thread_for("c1", "responses") == "conv_1"
    await store.save_thread("c1", "assistants", "thread_3")
    assert await store.thread_for("c1", "assistants") == "thread_3"
    assert sorted(await store.retire_threads("c1")) == [
        ("assistants", "thread_3"),
        ("responses", "conv_1"),
    ]
    assert await store.thread_for("c1", "assistants") is None
    assert await store.thread_for("c2", "assistants") == "thread_2"


async def test_forget_deletes_everything_of_one_chat(store: Store) -> None:
    """forget_chat removes the chat's rows and leaves other chats alone."""
    a = await store.add_message(new(chat="a@s.whatsapp.net"))
    b = await store.add_message(new(chat="b@s.whatsapp.net"))
    for chat, mid in (("a@s.whatsapp.net", a), ("b@s.whatsapp.net", b)):
        await store.record_turn(
            chat=chat,
            sender=chat,
            message_ids=[mid or 0],
            reply_text="r",
            wa_ids=["x"],
            usage=[UsageRow("chat", "m", 1, 2, 3)],
        )
        await store.save_thread(chat, "responses", f"conv_{chat}")
    await store.forget_chat("a@s.whatsapp.net")
    assert await store.messages("a@s.whatsapp.net") == []
    assert await store.replies("a@s.whatsapp.net") == []
    assert await store.usage_rows("a@s.whatsapp.net") == []
    assert await store.thread_for("a@s.whatsapp.net", "responses") is None
    assert len(await store.messages("b@s.whatsapp.net")) == 1


async def test_reminders_due_and_cancel(store: Store) -> None:
    """Reminders come due in order, can be cancelled only from their own chat."""
    r1 = await store.add_reminder(chat="c1", chat_jid="c1", sender="s", text="one", due_at=T0)
    r2 = await store.add_reminder(
        chat="c1", chat_jid="c1", sender="s", text="two", due_at=T0 + timedelta(hours=1)
    )
    assert await store.cancel_reminder("other-chat", r1.id) is False
    assert [r.text for r in await store.due_reminders(T0)] == ["one"]
    assert await store.next_reminder_due() == T0
    await store.mark_reminder_sent(r1.id, at=T0, late=False)
    assert await store.cancel_reminder("c1", r2.id) is True
    assert await store.due_reminders(T0 + timedelta(days=1)) == []


async def test_a_migration_number_left_free_and_used_later_is_still_applied(tmp_path: Path) -> None:
    """A database that got 1 and 3 gets 2 when a later version of the bot brings it."""
    one, three = (
        Migration(1, "one", "CREATE TABLE one (x)"),
        Migration(3, "t", "CREATE TABLE t (x)"),
    )
    first, later = (one, three), (one, Migration(2, "two", "CREATE TABLE two (x)"), three)
    db = Database(await aiosqlite.connect(":memory:", isolation_level=None))
    try:
        assert await db.migrate(first) == [1, 3]
        assert await db.migrate(later) == [2]
        assert await db.rows("SELECT name FROM sqlite_master WHERE name = 'two'")
    finally:
        await db.close()
