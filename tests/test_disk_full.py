"""A full disk while running: nothing lost, nothing answered before it is stored or twice.

Runs on a real small file system (a tmpfs mounted in tmp_path, when the tests run as root and
may mount) and, always, on a fault-injecting connection that fails every write while "full".
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import sqlite3
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from structlog.testing import capture_logs

from bot.health import StorageHealth
from bot.messages import IncomingMessage
from bot.pipeline import FAILURE_TEXT, Pipeline
from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from storage.store import Store
from tests import wa_events as wa
from tests.backends import ScriptedBackend
from tests.fakes import FakeClock, FakeTransport

ADMIN = "15550009999"
CHATS = [f"1555010{i:04d}" for i in range(10)]
PER_CHAT = 5  # 10 chats x 5 = 50 messages while the disk is full


class Disk(Protocol):
    """A place for the database that the test can fill up and free again."""

    path: Path

    def fill(self) -> None:
        """Leave no room for another write."""

    def free(self) -> None:
        """Make room again."""

    def hook(self, store: Store) -> None:
        """Attach to the opened store (fault injection only)."""


class TmpfsDisk:
    """A tmpfs of a few MiB mounted in tmp_path, filled with a filler file."""

    def __init__(self, mount: Path) -> None:
        self.path = mount
        self.filler = mount / "filler"

    def fill(self) -> None:
        """Write the filler until the file system says it is full."""
        chunk = b"\0" * 65536
        with self.filler.open("wb", buffering=0) as out:
            with contextlib.suppress(OSError):
                while True:
                    out.write(chunk)
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * 512)
        probe = self.path / "probe"
        with pytest.raises(OSError) as full:
            probe.write_bytes(b"\0" * 4096)
        assert full.value.errno == errno.ENOSPC
        probe.unlink(missing_ok=True)

    def free(self) -> None:
        """Delete the filler."""
        self.filler.unlink()

    def hook(self, store: Store) -> None:
        """A real disk needs no hook."""


class FaultyDisk:
    """A fault-injecting connection: every write fails as SQLite does on a full disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.full = False

    def fill(self) -> None:
        """Fail every write from now on."""
        self.full = True

    def free(self) -> None:
        """Let writes through again."""
        self.full = False

    def hook(self, store: Store) -> None:
        """Wrap the store's write paths."""
        db = store.db
        real_write, real_transaction = db.write, db.transaction

        def check() -> None:
            if self.full:
                exc = sqlite3.OperationalError("database or disk is full")
                exc.sqlite_errorcode = 13  # type: ignore[attr-defined]
                raise exc

        async def write(sql: str, params: Any = ()) -> Any:
            check()
            return await real_write(sql, params)

        @contextlib.asynccontextmanager
        async def transaction() -> AsyncIterator[Any]:
            async with real_transaction() as conn:
                check()
                yield conn

        db.write = write  # type: ignore[method-assign]
        db.transaction = transaction  # type: ignore[method-assign]


def _mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture(params=["tmpfs", "fault-injection"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Disk]:
    """A small real file system (root only) or a fault-injecting connection."""
    if request.param == "fault-injection":
        yield FaultyDisk(tmp_path)
        return
    mount = tmp_path / "disk"
    if not _mount_tmpfs(mount):
        pytest.skip("cannot mount a tmpfs here (not root?): the fault-injection case runs")
    try:
        yield TmpfsDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


class RoomClock(FakeClock):
    """The retry backoff's clock: a retry waits until the test has made room (no sleeping)."""

    def __init__(self) -> None:
        super().__init__()
        self.room = asyncio.Event()
        self.waiting = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        """Wait for room instead of for time."""
        self.waiting.set()
        await self.room.wait()


class CheckingTransport(FakeTransport):
    """Refuses (by failing the test) to answer a message that is not stored yet."""

    store: Store | None = None
    unstored_answers: int = 0

    async def send_text(self, to: str, text: str, *, quoted: IncomingMessage | None = None) -> str:
        """Check the answered message is stored, then record the text."""
        if self.store is not None and text.startswith("re: "):
            rows = await self.store.messages(to)
            if text[4:] not in {m.text for m in rows}:
                self.unstored_answers += 1
        return await super().send_text(to, text, quoted=quoted)


async def test_fifty_messages_on_a_full_disk_are_each_answered_once_when_room_returns(
    disk: Disk, make_settings: Callable[..., Settings]
) -> None:
    """Disk full: messages wait in memory; one failing log, one admin notice; then all answered
    exactly once, in order per chat, none lost, none doubled, no Sorry."""
    settings = make_settings(DATABASE_PATH=str(disk.path / "bot.db"), ADMIN_NUMBERS=ADMIN)
    transport = CheckingTransport()
    backend = ScriptedBackend()
    retry_clock = RoomClock()
    async with Store.open(settings.database_path) as store:
        disk.hook(store)
        transport.store = store
        pipeline = Pipeline(
            settings=settings,
            store=store,
            backend=backend,
            transport=transport,
            clock=FakeClock(),
            health=StorageHealth(retry_clock),
        )
        await pipeline.start()
        try:
            with capture_logs() as logs:
                disk.fill()
                texts = {chat: [f"{chat} says {n}" for n in range(PER_CHAT)] for chat in CHATS}
                for n in range(PER_CHAT):
                    for chat in CHATS:
                        ev = wa.private_text(texts[chat][n], sender=chat, msg_id=f"{chat}-{n}")
                        pipeline.submit(to_incoming(ev))
                await asyncio.wait_for(retry_clock.waiting.wait(), 10)
                assert pipeline.health.failing
                assert transport.texts() == [] or transport.unstored_answers == 0
                disk.free()
                retry_clock.room.set()
                await asyncio.wait_for(pipeline.join(), 30)
        finally:
            await pipeline.drain(timeout=1)
            await pipeline.close(timeout=1)
            await pipeline.health.aclose()
        answers = Counter(t for t in transport.texts() if t.startswith("re: "))
        for chat in CHATS:
            assert transport.texts(f"{chat}@s.whatsapp.net") == [f"re: {t}" for t in texts[chat]]
            stored = await store.messages(f"{chat}@s.whatsapp.net")
            assert [(m.text, m.state) for m in stored] == [(t, "answered") for t in texts[chat]]
        assert len(answers) == 50 and set(answers.values()) == {1}
        assert FAILURE_TEXT not in transport.texts()
        assert transport.unstored_answers == 0
        assert await store.unsent_replies() == []
    events = [e["event"] for e in logs]
    assert events.count("storage.failing") == 1
    assert events.count("storage.recovered") == 1
    [failing] = [e for e in logs if e["event"] == "storage.failing"]
    assert failing["log_level"] == "error" and "full" in failing["error"]
    notices = [s for s in transport.sent if s.to == f"{ADMIN}@s.whatsapp.net"]
    assert len(notices) == 1 and "database" in notices[0].text
