"""The live wiring (bot.app.run) with a stand-in for the neonize front-end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import FrontEnd, run
from bot.messages import IncomingMessage
from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from storage.store import NewMessage, Store
from tests import wa_events as wa
from tests.fake_openai import FakeOpenAI
from tests.fakes import FakeTransport

ALICE = "15550001111"
ALICE_JID = f"{ALICE}@s.whatsapp.net"


class FakeFrontend:
    """Behaves like NeonizeFrontend at the app boundary: connects, delivers, stops."""

    def __init__(
        self, session: str, pair_phone: str | None, on_message: Callable[[IncomingMessage], None]
    ) -> None:
        self.transport = FakeTransport()
        self.connected = asyncio.Event()
        self.deliver = on_message
        self.running = asyncio.Event()
        self.exit_code = 0
        self.end = asyncio.Event()  # the session ends by itself (e.g. logged out)
        self.stop: asyncio.Event | None = None
        self.sent_when_stopped: list[str] | None = None

    async def run(self, stop: asyncio.Event) -> int:
        """Serve until told to stop, or until the session ends by itself."""
        self.stop = stop
        self.running.set()
        stopper = asyncio.ensure_future(stop.wait())
        ender = asyncio.ensure_future(self.end.wait())
        await asyncio.wait({stopper, ender}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        ender.cancel()
        self.sent_when_stopped = self.transport.texts()
        return self.exit_code


async def start(settings: Settings, stop: asyncio.Event) -> tuple[asyncio.Task[int], FakeFrontend]:
    """Run the app with a FakeFrontend; return the task and the front-end once it runs."""
    made: asyncio.Queue[FakeFrontend] = asyncio.Queue()

    def factory(*args: Any, **kwargs: Any) -> FakeFrontend:
        front = FakeFrontend(*args, **kwargs)
        made.put_nowait(front)
        return front

    task = asyncio.create_task(run(settings, FrontEnd("live"), stop=stop, frontend_factory=factory))
    front = await asyncio.wait_for(made.get(), 20)  # made once the store and backend are ready
    await front.running.wait()
    return task, front


async def test_sigterm_finishes_replies_before_the_client_closes(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Stop with a reply in flight: the reply is sent first, then the client is stopped."""
    settings = make_settings(OPENAI_BASE_URL=fake_openai.base_url)
    stop = asyncio.Event()
    gate = fake_openai.hold()
    task, front = await start(settings, stop)
    front.connected.set()
    await asyncio.wait_for(front_ready(front), 10)
    front.deliver(to_incoming(wa.private_text("still there?", sender=ALICE)))
    await asyncio.wait_for(gate.entered(1), 10)
    stop.set()  # what SIGTERM does
    for _ in range(50):
        await asyncio.sleep(0)
    assert front.stop is not None and not front.stop.is_set()  # still connected for the reply
    gate.release()
    assert await asyncio.wait_for(task, 20) == 0
    assert front.sent_when_stopped == ["echo: still there?"]
    async with Store.open(tmp_path / "bot.db") as store:
        [message] = await store.messages(ALICE_JID)
    assert message.state == "answered"


async def front_ready(front: FakeFrontend) -> None:
    """Wait until the pipeline answers on this front-end (its identity is in use)."""
    await front.connected.wait()


async def test_recovered_messages_wait_for_the_connection(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A message left by a crash is answered only once WhatsApp is connected."""
    now = datetime.now(UTC)
    async with Store.open(tmp_path / "bot.db") as store:
        await store.add_message(
            NewMessage(
                chat=ALICE_JID,
                chat_jid=ALICE_JID,
                wa_id="LEFT1",
                sender=ALICE_JID,
                sender_name="Alice",
                kind="text",
                text="before the crash",
                is_group=False,
                sent_at=now,
                received_at=now,
            )
        )
    settings = make_settings(OPENAI_BASE_URL=fake_openai.base_url)
    stop = asyncio.Event()
    task, front = await start(settings, stop)
    for _ in range(50):
        await asyncio.sleep(0)
    assert fake_openai.calls == [] and front.transport.sent == []
    front.connected.set()
    await asyncio.wait_for(front.transport.wait_for_sends(1), 20)
    stop.set()
    assert await asyncio.wait_for(task, 20) == 0
    assert front.transport.texts() == ["echo: before the crash"]


async def test_a_session_that_ends_gives_its_exit_code(
    make_settings: Callable[..., Settings],
) -> None:
    """Logged out (the front-end ends with 1): the app ends with 1 and closes cleanly."""
    settings = make_settings()
    task, front = await start(settings, asyncio.Event())
    front.connected.set()
    front.exit_code = 1
    front.end.set()
    assert await asyncio.wait_for(task, 20) == 1


async def test_a_background_loop_that_dies_is_logged_and_the_others_go_on() -> None:
    """A crashing background loop (reminders, model watch, file sweeper) is logged at once,
    with its traceback, and does not stop the loops beside it."""
    import asyncio

    from structlog.testing import capture_logs

    from bot.app import _background

    other_ran = asyncio.Event()

    async def crashing() -> None:
        raise RuntimeError("boom")

    async def other() -> None:
        other_ran.set()

    with capture_logs() as logs:
        await _background(crashing(), other())
    assert other_ran.is_set()
    failed = [e for e in logs if e["event"] == "background.loop_failed"]
    assert len(failed) == 1 and "crashing" in failed[0]["loop"]
