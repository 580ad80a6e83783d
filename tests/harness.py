"""A fully wired pipeline (commands, gate) over real SQLite, a fake transport and clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.commands import Commands
from bot.limits import Gate
from bot.pipeline import Pipeline
from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from storage.store import Store
from tests.backends import ScriptedBackend
from tests.fakes import FakeClock, FakeTransport


@dataclass
class Harness:
    """What a test drives and inspects."""

    pipeline: Pipeline
    store: Store
    transport: FakeTransport
    backend: ScriptedBackend
    clock: FakeClock

    async def send(self, *events: Any) -> None:
        """Deliver neonize events as a live client would, and wait for every answer."""
        for ev in events:
            self.pipeline.submit(to_incoming(ev))
        await self.pipeline.join()


@asynccontextmanager
async def harness(
    settings: Settings,
    store: Store,
    *,
    transport: FakeTransport | None = None,
    backend: ScriptedBackend | None = None,
    clock: FakeClock | None = None,
) -> AsyncIterator[Harness]:
    """Start a pipeline wired like the app's; drain it on exit."""
    transport = transport or FakeTransport()
    backend = backend or ScriptedBackend()
    clock = clock or FakeClock()
    started = clock.now()
    pipeline = Pipeline(
        settings=settings,
        store=store,
        backend=backend,
        transport=transport,
        clock=clock,
        started_at=started,
        commands=Commands(
            settings=settings, store=store, backend=backend, clock=clock, started_at=started
        ),
        gate=Gate(settings, store, clock),
    )
    await pipeline.start()
    try:
        yield Harness(pipeline, store, transport, backend, clock)
    finally:
        await pipeline.drain(timeout=1)
        await pipeline.close()


MakeHarness = Callable[..., Any]
