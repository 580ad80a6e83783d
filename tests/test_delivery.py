"""Replies recorded before they are sent: a crash or a failing disk never doubles an answer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.commands import Commands
from bot.health import StorageHealth
from bot.messages import IncomingMessage
from bot.pipeline import FAILURE_TEXT, Pipeline
from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from helpers.splitting import split_message
from storage.store import Store
from tests import wa_events as wa
from tests.backends import ScriptedBackend
from tests.fakes import FakeClock, FakeTransport

ALICE = "15550001111"
ALICE_JID = f"{ALICE}@s.whatsapp.net"
LONG = " ".join(f"word{i:03d}" for i in range(60))  # about 480 characters: 3 parts of 200


def disk_full() -> sqlite3.OperationalError:
    """The error SQLite raises when the disk is full."""
    exc = sqlite3.OperationalError("database or disk is full")
    exc.sqlite_errorcode = 13  # type: ignore[attr-defined]
    return exc


@dataclass
class StallingTransport(FakeTransport):
    """A fake transport whose send number ``stall_at`` (1-based) never returns: a kill there."""

    stall_at: int = 0
    stalled: asyncio.Event = field(default_factory=asyncio.Event)

    async def send_text(self, to: str, text: str, *, quoted: IncomingMessage | None = None) -> str:
        """Record the text, or hang forever on the chosen send."""
        if len(self.sent) + 1 == self.stall_at:
            self.stalled.set()
            await asyncio.Event().wait()
        return await super().send_text(to, text, quoted=quoted)


@pytest.fixture
async def start() -> AsyncIterator[Callable[..., Awaitable[Pipeline]]]:
    """Start pipelines with the test's parts; stop them at the end."""
    started: list[Pipeline] = []

    async def make(
        settings: Settings, store: Store, transport: FakeTransport, **kw: Any
    ) -> Pipeline:
        backend = kw.pop("backend", None) or ScriptedBackend()
        clock = kw.pop("clock", None) or FakeClock()
        pipeline = Pipeline(
            settings=settings,
            store=store,
            backend=backend,
            transport=transport,
            clock=clock,
            started_at=clock.now(),
            commands=Commands(
                settings=settings,
                store=store,
                backend=backend,
                clock=clock,
                started_at=clock.now(),
            ),
            **kw,
        )
        await pipeline.start()
        started.append(pipeline)
        return pipeline

    yield make
    for pipeline in started:
        await pipeline.drain(timeout=0)
        await pipeline.close(timeout=0)


async def test_the_reply_is_recorded_before_its_first_part_is_sent(
    make_settings: Callable[..., Settings], store: Store, start: Any
) -> None:
    """When WhatsApp gets the first part, the reply's text and parts are already stored."""
    seen: list[int] = []

    @dataclass
    class Peeking(FakeTransport):
        async def send_text(
            self, to: str, text: str, *, quoted: IncomingMessage | None = None
        ) -> str:
            seen.append(len(await store.unsent_replies()))
            return await super().send_text(to, text, quoted=quoted)

    transport = Peeking()
    pipeline = await start(make_settings(), store, transport)
    pipeline.submit(to_incoming(wa.private_text("hello", sender=ALICE, msg_id="M1")))
    await pipeline.join()
    assert transport.texts() == ["re: hello"]
    assert seen == [1]  # recorded, not yet complete, while it was being sent
    assert await store.unsent_replies() == []  # complete afterwards
    assert await store.replies(ALICE_JID) == [("answer", "re: hello")]


async def test_a_restart_sends_only_the_missing_parts_and_never_asks_again(
    make_settings: Callable[..., Settings], store: Store, start: Any
) -> None:
    """Killed after part 1 of 3: the next start sends parts 2 and 3 only; OpenAI is not asked."""
    settings = make_settings(MAX_MESSAGE_CHARS=200)
    backend = ScriptedBackend()
    killed = asyncio.Event()
    real = store.part_sending

    async def part_sending(reply_id: int, index: int) -> None:
        if index == 1:  # part 1 is out; the kill comes before part 2 begins
            killed.set()
            await asyncio.Event().wait()
        await real(reply_id, index)

    store.part_sending = part_sending  # type: ignore[method-assign]
    first = FakeTransport()
    pipeline = await start(settings, store, first, backend=backend)
    pipeline.submit(to_incoming(wa.private_text(LONG, sender=ALICE, msg_id="M1")))
    await asyncio.wait_for(killed.wait(), 10)
    await pipeline.drain(timeout=0)  # the kill
    await pipeline.close(timeout=0)
    store.part_sending = real  # type: ignore[method-assign]
    [part1] = first.texts()

    second = FakeTransport()
    restarted = await start(settings, store, second, backend=backend)
    await restarted.join()
    assert len(backend.turns) == 1  # the answer was recorded: never asked again
    assert len(second.texts()) == 2
    assert " ".join([part1, *second.texts()]) == f"re: {LONG}"
    assert await store.unsent_replies() == []
    [stored] = await store.messages(ALICE_JID)
    assert stored.state == "answered"

    third = FakeTransport()
    await (await start(settings, store, third, backend=backend)).join()
    assert third.texts() == []  # complete now: a third start sends nothing


async def test_a_part_whose_send_began_before_a_kill_is_never_sent_again(
    make_settings: Callable[..., Settings], store: Store, start: Any
) -> None:
    """Killed inside the send of part 2: the restart sends part 3 only (at most once)."""
    settings = make_settings(MAX_MESSAGE_CHARS=200)
    backend = ScriptedBackend()
    first = StallingTransport(stall_at=2)
    pipeline = await start(settings, store, first, backend=backend)
    pipeline.submit(to_incoming(wa.private_text(LONG, sender=ALICE, msg_id="M1")))
    await asyncio.wait_for(first.stalled.wait(), 10)
    await pipeline.drain(timeout=0)  # the kill: WhatsApp may or may not have part 2
    await pipeline.close(timeout=0)

    second = FakeTransport()
    await (await start(settings, store, second, backend=backend)).join()
    parts = split_message(f"re: {LONG}", 200)
    assert len(parts) == 3 and first.texts() == parts[:1]
    assert second.texts() == parts[2:]
    assert len(backend.turns) == 1
    assert await store.unsent_replies() == []


async def test_a_reply_waits_for_its_record_and_a_sent_part_is_never_followed_by_sorry(
    make_settings: Callable[..., Settings], store: Store, start: Any
) -> None:
    """Disk full at the reply's record and at its part's ack: sent once, no Sorry, not resent."""
    clock = FakeClock()
    transport = FakeTransport()
    failures = {"record_turn": 2, "part_sent": 3}
    for name in failures:
        real = getattr(store, name)

        async def failing(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            if failures[_name] > 0:
                failures[_name] -= 1
                raise disk_full()
            return await _real(*args, **kw)

        setattr(store, name, failing)
    health = StorageHealth(clock, first_retry=1, max_retry=4)
    pipeline = await start(make_settings(), store, transport, clock=clock, health=health)
    with capture_logs() as logs:
        pipeline.submit(to_incoming(wa.private_text("hello", sender=ALICE, msg_id="M1")))
        await clock.wait_for_sleepers(1)
        assert transport.texts() == []  # not sent before it is recorded
        while failures["record_turn"] or failures["part_sent"] or clock.sleepers:
            if not clock.sleepers:
                await clock.wait_for_sleepers(1)
            await clock.advance(4)
        await pipeline.join()
    assert transport.texts() == ["re: hello"]
    assert FAILURE_TEXT not in transport.texts()
    assert await store.unsent_replies() == []
    events = [e["event"] for e in logs]
    assert events.count("storage.failing") == 2 and events.count("storage.recovered") == 2
    again = FakeTransport()
    await (await start(make_settings(), store, again)).join()
    assert again.texts() == []


class GatedForget(ScriptedBackend):
    """A backend whose ``forget`` waits for the test, so a message can be stored meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.forget_entered = asyncio.Event()
        self.forget_gate = asyncio.Event()

    async def forget(self, chat: str) -> None:
        """Wait at the gate, then record the forget."""
        self.forget_entered.set()
        await self.forget_gate.wait()
        await super().forget(chat)


async def test_forget_confirm_racing_with_a_stored_message_forgets_it_quietly(
    make_settings: Callable[..., Settings], store: Store, start: Any
) -> None:
    """A message stored while /forget confirm runs goes with the chat: no error, no Sorry."""
    backend = GatedForget()
    transport = FakeTransport()
    pipeline = await start(make_settings(), store, transport, backend=backend)
    pipeline.submit(to_incoming(wa.private_text("/forget", sender=ALICE)))
    await pipeline.join()
    with capture_logs() as logs:
        pipeline.submit(to_incoming(wa.private_text("/forget confirm", sender=ALICE)))
        await asyncio.wait_for(backend.forget_entered.wait(), 10)
        pipeline.submit(to_incoming(wa.private_text("are you there?", sender=ALICE)))
        await pipeline.stored()  # stored, queued behind the forget
        backend.forget_gate.set()
        await pipeline.join()
    texts = transport.texts()
    assert texts[-1] == "Done: everything stored about this chat has been deleted."
    assert FAILURE_TEXT not in texts and len(texts) == 2
    assert backend.turns == []  # never sent to OpenAI
    assert await store.messages(ALICE_JID) == []
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]


async def test_a_reply_whatsapp_refuses_is_kept_and_sent_by_the_next_start(
    make_settings: Callable[..., Settings], store: Store, start: Any
) -> None:
    """Sending fails three times: no Sorry, the reply stays recorded; the next start sends it."""
    clock = FakeClock()
    backend = ScriptedBackend()
    down = FakeTransport(fail_sends=3)
    pipeline = await start(make_settings(), store, down, backend=backend, clock=clock)
    pipeline.submit(to_incoming(wa.private_text("hello", sender=ALICE, msg_id="M1")))
    for wait in (1, 2):  # the retries wait 1 s, then 2 s
        await clock.wait_for_sleepers(1)
        await clock.advance(wait)
    await pipeline.join()
    assert down.sent == [] and down.fail_sends == 0
    [unsent] = await store.unsent_replies()
    assert unsent.parts_sent == 0

    up = FakeTransport()
    await (await start(make_settings(), store, up, backend=backend)).join()
    assert up.texts() == ["re: hello"]
    assert len(backend.turns) == 1
    assert await store.unsent_replies() == []


async def test_a_storage_failure_after_a_command_ran_does_not_run_it_again(
    make_settings: Callable[..., Settings], store: Store, start: Any
) -> None:
    """The whole-turn retry stops once the turn acted: a command whose own write fails
    (disk full) is not run a second time when storage comes back; the user hears "Sorry"."""
    clock, transport = FakeClock(), FakeTransport()
    health = StorageHealth(clock, first_retry=1, max_retry=4)
    pipeline = await start(make_settings(), store, transport, clock=clock, health=health)
    runs: list[str] = []

    async def command(env: Any) -> str:
        runs.append(env.message.text)
        if len(runs) == 1:
            raise disk_full()  # e.g. /forget's own deletion hit a full disk
        return "done"

    pipeline.commands = command
    pipeline.submit(to_incoming(wa.private_text("/forget confirm", sender=ALICE, msg_id="C1")))
    joined = asyncio.create_task(pipeline.join())
    retry = asyncio.create_task(clock.wait_for_sleepers(1))
    await asyncio.wait({joined, retry}, return_when=asyncio.FIRST_COMPLETED)
    if retry.done():  # a retry is waiting: let it run, as storage would come back
        await clock.advance(4)
    retry.cancel()
    await asyncio.gather(retry, return_exceptions=True)
    await joined
    assert runs == ["/forget confirm"]
    assert transport.texts() == [FAILURE_TEXT]


async def test_a_reply_cut_longer_ago_than_the_recovery_window_is_not_sent_late(
    make_settings: Callable[..., Settings], store: Store, start: Any
) -> None:
    """After a long outage a cut reply is closed unsent (like unanswered messages, bounded by
    BOT_RECOVERY_WINDOW_SECONDS), not delivered out of its conversation days later."""
    settings = make_settings(MAX_MESSAGE_CHARS=200, BOT_RECOVERY_WINDOW_SECONDS="3600")
    killed = asyncio.Event()
    real = store.part_sending

    async def part_sending(reply_id: int, index: int) -> None:
        if index == 1:
            killed.set()
            await asyncio.Event().wait()
        await real(reply_id, index)

    store.part_sending = part_sending  # type: ignore[method-assign]
    clock = FakeClock()
    pipeline = await start(settings, store, FakeTransport(), clock=clock)
    pipeline.submit(to_incoming(wa.private_text(LONG, sender=ALICE, msg_id="M1")))
    await asyncio.wait_for(killed.wait(), 10)
    await pipeline.drain(timeout=0)
    await pipeline.close(timeout=0)
    store.part_sending = real  # type: ignore[method-assign]
    assert len(await store.unsent_replies()) == 1

    later = FakeClock()
    await later.advance(2 * 24 * 3600)  # two days of downtime
    transport = FakeTransport()
    with capture_logs() as logs:
        await (await start(settings, store, transport, clock=later)).join()
    assert transport.texts() == []
    assert await store.unsent_replies() == []
    assert "reply.expired" in [e["event"] for e in logs]
