"""Scenario 4, storage scale: context fetch and dedupe insert on a database of 1M messages.

The database is made by the real migrations (``storage.db.Database``), then filled in one
transaction with ``executemany`` (plain ``sqlite3``, for speed): ``messages`` over ``chats``
chats, interleaved in time as live traffic is. 90 % of chats are private (every message
answered, with its reply and usage row, as ``record_turn`` writes them); 10 % are groups where
the bot answers one message in five (mentions) and files the rest as ignored.

Then, through the real async ``Store`` (aiosqlite, WAL, as the bot runs it), ``samples`` turns on
random chats, each as the pipeline makes one: ``Store.context(chat, 20)``, ``Store.add_message``
of a new message, ``Store.add_message`` of a message already stored (the dedupe path that
returns None), and ``Store.record_turn`` of the reply (untimed in the table: its writes are
what fills the WAL between checkpoints, as in the running bot).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.db import Database
from storage.records import Records
from storage.store import NewMessage, Store, UsageRow

from .common import Metric, ScenarioResult, summary_ms

NAME = "storage"
TITLE = "Storage scale: context fetch and dedupe insert on a large database"
GROUP_SHARE = 10  # one chat in ten is a group
GROUP_ANSWERED = 5  # in groups, one message in five is answered
SLOW = 0.002  # seconds: the target
ANSWER = "Sure! Here is what I found about that: " + "lorem ipsum dolor sit amet " * 10
WORDS = [
    "hello", "thanks", "please", "when", "where", "what", "could", "you", "tell", "me", "about",
    "the", "weather", "tomorrow", "meeting", "order", "delivery", "price", "today", "help",
    "again", "later", "great", "sure", "okay", "why", "how", "much",
]  # fmt: skip


@dataclass(frozen=True)
class Size:
    """How much to build and measure."""

    messages: int = 1_000_000
    chats: int = 10_000
    samples: int = 2_000


FULL = Size()
QUICK = Size(messages=200_000, chats=2_000, samples=1_000)
TINY = Size(messages=2_000, chats=20, samples=20)


def _chat(number: int) -> tuple[str, bool]:
    """The key of chat ``number`` and whether it is a group."""
    if number % GROUP_SHARE == 0:
        return f"1203630{number:011d}@g.us", True
    return f"1555{number:07d}@s.whatsapp.net", False


def _wa_id(rng: random.Random) -> str:
    return f"3EB0{rng.getrandbits(72):018X}"


def _texts(rng: random.Random, count: int, words: int) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(words // 2, words))) for _ in range(count)]


def _rows(size: Size, rng: random.Random) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Every row to insert, as (table, values), in time order."""
    asks = _texts(rng, 1000, 14)
    answers = _texts(rng, 1000, 60)
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    for chat_no in range(size.chats):
        chat, _ = _chat(chat_no)
        yield "identities", (chat, chat, start)
    for message_id in range(1, size.messages + 1):
        chat_no = rng.randrange(size.chats)
        chat, group = _chat(chat_no)
        sender = f"1555{rng.randrange(10**7):07d}@s.whatsapp.net" if group else chat
        at = start + message_id * 3.0
        answered = not group or message_id % GROUP_ANSWERED == 0
        state, reason = ("answered", None) if answered else ("ignored", "not_mentioned")
        yield "messages", (
            message_id, chat, chat, _wa_id(rng), sender, f"User {chat_no}", "text",
            asks[message_id % 1000], int(group), at - 0.5, at, state, reason,
        )  # fmt: skip
        if answered:
            yield "replies", (
                chat, message_id, "answer", answers[message_id % 1000],
                f'["BOT{message_id:012d}"]', at + 1.5,
            )  # fmt: skip
            yield "usage", (chat, sender, message_id, "chat", "gpt-4.1-mini", 700, 90, 790, at)


INSERTS = {
    "identities": "INSERT INTO identities (alias, canonical, created_at) VALUES (?, ?, ?)",
    "messages": "INSERT INTO messages (id, chat, chat_jid, wa_id, sender, sender_name, kind, text,"
    " is_group, sent_at, received_at, state, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "replies": "INSERT INTO replies (chat, message_id, kind, text, wa_ids, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?)",
    "usage": "INSERT INTO usage (chat, sender, message_id, mode, model, prompt_tokens,"
    " completion_tokens, total_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
}


def build(path: Path, size: Size, rng: random.Random) -> dict[str, int]:
    """Fill a migrated database at ``path``; return the row count per table."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")  # 256 MB while building only
    counts = dict.fromkeys(INSERTS, 0)
    batches: dict[str, list[tuple[Any, ...]]] = {table: [] for table in INSERTS}
    conn.execute("BEGIN")
    for table, row in _rows(size, rng):
        batch = batches[table]
        batch.append(row)
        if len(batch) >= 20_000:
            conn.executemany(INSERTS[table], batch)
            counts[table] += len(batch)
            batch.clear()
    for table, batch in batches.items():
        conn.executemany(INSERTS[table], batch)
        counts[table] += len(batch)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return counts


def query_plans(path: Path) -> dict[str, list[str]]:
    """EXPLAIN QUERY PLAN of the statements measured here."""
    statements = {
        "context: messages": "SELECT id, text, sender_name FROM messages WHERE chat = ? AND "
        "state = 'answered' AND in_context = 1 ORDER BY id DESC LIMIT ?",
        "context: replies": "SELECT message_id, text FROM replies WHERE chat = ? AND "
        "kind = 'answer' AND in_context = 1 ORDER BY id DESC LIMIT ?",
        "add_message": "INSERT INTO messages (chat, chat_jid, wa_id, sender, sender_name, kind,"
        " text, is_group, sent_at, received_at, state, reason)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (chat, wa_id) DO NOTHING",
    }
    conn = sqlite3.connect(path)
    try:
        plans = {}
        for name, sql in statements.items():
            params = (None,) * sql.count("?")
            plans[name] = [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        return plans
    finally:
        conn.close()


def _existing(path: Path, rng: random.Random, count: int, messages: int) -> list[tuple[str, str]]:
    """(chat, wa_id) of ``count`` random stored messages."""
    conn = sqlite3.connect(path)
    try:
        ids = [rng.randrange(1, messages + 1) for _ in range(count)]
        return [
            conn.execute("SELECT chat, wa_id FROM messages WHERE id = ?", (i,)).fetchone()
            for i in ids
        ]
    finally:
        conn.close()


def _message(chat: str, wa_id: str) -> NewMessage:
    now = datetime.now(UTC)
    return NewMessage(
        chat=chat,
        chat_jid=chat,
        wa_id=wa_id,
        sender=chat,
        sender_name="Bench",
        kind="text",
        text="is this already stored?",
        is_group=chat.endswith("@g.us"),
        sent_at=now,
        received_at=now,
    )


@dataclass
class Prepared:
    """A built database and what was learnt while building it."""

    path: Path
    counts: dict[str, int]
    build_seconds: float
    db_bytes: int
    plans: dict[str, list[str]]
    duplicates: list[tuple[str, str]]


def prepare(tmp: Path, size: Size, rng: random.Random) -> Prepared:
    """Migrate and fill the database (blocking: run it in a thread)."""
    path = tmp / "bot.db"
    asyncio.run(_migrate(path))
    began = time.perf_counter()
    counts = build(path, size, rng)
    build_seconds = time.perf_counter() - began
    return Prepared(
        path=path,
        counts=counts,
        build_seconds=build_seconds,
        db_bytes=path.stat().st_size,
        plans=query_plans(path),
        duplicates=_existing(path, rng, size.samples, size.messages),
    )


async def _migrate(path: Path) -> None:
    await (await Database.connect(path)).close()


def _wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def run(size: Size = FULL) -> ScenarioResult:
    """Build the database, then time context fetches and dedupe inserts on random chats."""
    rng = random.Random(6)
    result = ScenarioResult(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        built = await asyncio.to_thread(prepare, Path(tmp), size, rng)
        context: list[float] = []
        inserts: list[float] = []
        dupes: list[float] = []
        turns: list[float] = []
        async with Store.open(built.path) as store:
            # One turn per sample, as the pipeline makes it: context, store the message, (a
            # redelivered duplicate), record the reply. The reply's writes fill the WAL too.
            for dup_chat, dup_wa_id in built.duplicates:
                chat, _ = _chat(rng.randrange(size.chats))
                t0 = time.perf_counter()
                await store.context(chat, 20)
                t1 = time.perf_counter()
                row_id = await store.add_message(_message(chat, _wa_id(rng)))
                t2 = time.perf_counter()
                duplicate = await store.add_message(_message(dup_chat, dup_wa_id))
                t3 = time.perf_counter()
                assert row_id is not None and duplicate is None
                await store.record_turn(
                    chat=chat,
                    sender=chat,
                    message_ids=[row_id],
                    reply_text=ANSWER,
                    wa_ids=[f"BOT{row_id:012d}"],
                    usage=[UsageRow("chat", "gpt-4.1-mini", 700, 90, 790)],
                )
                t4 = time.perf_counter()
                context.append(t1 - t0)
                inserts.append(t2 - t1)
                dupes.append(t3 - t2)
                turns.append(t4 - t3)
        paging, pages2, busy = await _records_figures(built.path, size, rng)
        wal_bytes = await asyncio.to_thread(_wal_bytes, built.path)
    c, i, d = summary_ms(context), summary_ms(inserts), summary_ms(dupes)
    slow = {
        name: round(sum(v > SLOW for v in values) / len(values) * 100, 2)
        for name, values in (("context", context), ("add_message_new", inserts),
                             ("add_message_duplicate", dupes), ("record_turn", turns))
    }  # fmt: skip
    db_bytes = built.db_bytes
    per_message = db_bytes / size.messages
    result.metrics += [
        Metric("context(chat, 20) p50", c["p50"], "ms"),
        Metric("context(chat, 20) p99", c["p99"], "ms", 2.0),
        Metric("add_message new p99", i["p99"], "ms", 2.0),
        Metric("add_message duplicate p99", d["p99"], "ms", 2.0),
        Metric("add_message new max", i["max"], "ms", note="WAL checkpoints land here"),
        Metric("record_turn p99", summary_ms(turns)["p99"], "ms"),
        Metric("database size per message", per_message, "B", note="with replies and usage"),
        Metric("admin messages(first: 50) p99", summary_ms(paging)["p99"], "ms", 10.0),
        Metric(
            "context p99 while admin queries run",
            summary_ms(busy)["p99"],
            "ms",
            note="full-table operator queries on Records' own read-only connection",
        ),
    ]
    result.details = {
        "rows": built.counts,
        "chats": size.chats,
        "build_seconds": round(built.build_seconds, 1),
        "database_bytes": db_bytes,
        "database_mb": round(db_bytes / 1024**2, 1),
        "bytes_per_message": round(per_message, 1),
        "wal_bytes_after_measuring": wal_bytes,
        "context_ms": c,
        "add_message_new_ms": i,
        "add_message_duplicate_ms": d,
        "record_turn_ms": summary_ms(turns),
        "percent_slower_than_2ms": slow,
        "admin_messages_first_50_ms": summary_ms(paging),
        "admin_messages_second_page_ms": summary_ms(pages2),
        "context_while_admin_queries_run_ms": summary_ms(busy),
        "query_plans": built.plans,
        "page_cache": "the OS page cache holds the file (it was just written); SQLite's own is "
        "the default 2 MB",
    }
    return result


async def _records_figures(
    path: Path, size: Size, rng: random.Random
) -> tuple[list[float], list[float], list[float]]:
    """The admin API's paging (first and second page of ``messages(chat, first: 50)``), and
    ``Store.context`` timed while big operator queries (usage per person over all time, a
    name search that scans every message) run over and over on ``Records``' connection."""
    first: list[float] = []
    second: list[float] = []
    busy: list[float] = []
    async with Records.open(path) as records, Store.open(path) as store:
        for _ in range(size.samples):
            chat, _ = _chat(rng.randrange(size.chats))
            t0 = time.perf_counter()
            page = await records.messages(chat, 50)
            t1 = time.perf_counter()
            await records.messages(chat, 50, page.end_cursor)
            first.append(t1 - t0)
            second.append(time.perf_counter() - t1)
        stop = asyncio.Event()

        async def hammer() -> None:
            epoch = datetime(2000, 1, 1, tzinfo=UTC)
            while not stop.is_set():
                await records.usage(epoch, datetime.now(UTC), "PERSON")
                await records.chats(50, None, "nobody by that name")

        load = asyncio.create_task(hammer())
        for _ in range(min(size.samples, 500)):
            chat, _ = _chat(rng.randrange(size.chats))
            t0 = time.perf_counter()
            await store.context(chat, 20)
            busy.append(time.perf_counter() - t0)
        stop.set()
        await load
    return first, second, busy
