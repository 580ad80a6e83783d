"""Tests for the live neonize front-end; nothing connects: the Go boundary is stubbed.

A real ``NewAClient`` is built (pure Python), its Go-calling methods are replaced by fakes, and
events are delivered the way Go delivers them: serialised, through ``client.event.execute``,
from another thread.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

import neonize.aioze.events as neonize_events
import pytest
import structlog
from google.protobuf.message import Message
from neonize.aioze.client import NewAClient
from neonize.events import EVENT_TO_INT
from neonize.exc import NeonizeError, PairPhoneError
from neonize.proto.Neonize_pb2 import (
    Connected,
    ConnectFailureReason,
    Device,
    Disconnected,
    LoggedOut,
    StreamReplaced,
    TemporaryBan,
)
from structlog.testing import capture_logs
from structlog.typing import EventDict

from bot.messages import BotIdentity, IncomingMessage
from bot.whatsapp.client import NeonizeFrontend, quiet_neonize_logging
from tests import wa_events as wa

T = TypeVar("T")
SESSION = "test-session.db"
BOT_JID = f"{wa.BOT_PHONE}@s.whatsapp.net"
BOT_LID = f"{wa.BOT_LID}@lid"


async def within(awaitable: Awaitable[T]) -> T:
    """Await with a safety limit, so a broken test fails instead of hanging."""
    return await asyncio.wait_for(awaitable, timeout=5)


def device() -> Device:
    """The bot's own device, as goneonize's FetchMe sends it (event code 0)."""
    return Device(
        JID=wa.jid(BOT_JID, device=7),
        LID=wa.jid(BOT_LID, device=7),
        Platform="",
        BussinessName="",
        PushName="Bot",
        Initialized=True,
    )


async def dispatch(client: NewAClient, event: Message) -> None:
    """Deliver ``event`` as Go does: serialised, via ``Event.execute``, from another thread."""
    data = event.SerializeToString()
    buffer = ctypes.create_string_buffer(data, len(data))
    code = EVENT_TO_INT[type(event)]
    await asyncio.to_thread(client.event.execute, 0, ctypes.addressof(buffer), len(data), code)


class FakeGo:
    """The Go side of one client: ``connect`` starts a session task that ``stop`` ends."""

    def __init__(
        self,
        *,
        connect_error: Exception | None = None,
        session_error: Exception | None = None,
        pair_error: Exception | None = None,
    ) -> None:
        self.connect_error = connect_error
        self.session_error = session_error
        self.pair_error = pair_error
        self.started = asyncio.Event()
        self.ended = asyncio.Event()
        self.presence: asyncio.Queue[object] = asyncio.Queue()
        self.client: NewAClient | None = None
        self.stops = 0
        self.pair_calls: list[tuple[str, bool]] = []

    def factory(self, name: str) -> NewAClient:
        """Build a real client for ``name`` and stub every Go call the front-end makes."""
        assert name == SESSION
        client = NewAClient(name)
        client.connect = self.connect  # type: ignore[method-assign]
        client.stop = self.stop  # type: ignore[method-assign]
        client.send_presence = self.send_presence  # type: ignore[method-assign]
        client.get_me = self.get_me  # type: ignore[method-assign]
        client.PairPhone = self.pair_phone  # type: ignore[method-assign]
        self.client = client
        return client

    async def connect(self) -> asyncio.Task[None]:
        """Start the fake session, or fail like a bad first connect."""
        if self.connect_error is not None:
            raise self.connect_error
        assert self.client is not None
        task = asyncio.get_running_loop().create_task(self._session())
        self.client.connect_task = task
        self.started.set()
        return task

    async def _session(self) -> None:
        await self.ended.wait()
        if self.session_error is not None:
            raise self.session_error

    async def stop(self) -> None:
        """End the session, as ``Stop`` cancels Go's context."""
        self.stops += 1
        self.ended.set()

    async def send_presence(self, presence: object) -> None:
        """Record the presence sent."""
        self.presence.put_nowait(presence)

    async def get_me(self) -> Device:
        """The bot's device, as Go reports it."""
        return device()

    async def pair_phone(self, phone: str, notify: bool) -> str:
        """Hand out a pairing code, or fail."""
        self.pair_calls.append((phone, notify))
        if self.pair_error is not None:
            raise self.pair_error
        return "ABCD1234"


class ManualClock:
    """A clock whose ``sleep`` either returns at once or waits until cancelled."""

    def __init__(self, *, instant: bool) -> None:
        self.instant = instant
        self.cancelled = asyncio.Event()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        """Fixed time."""
        return datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        """Fixed time."""
        return 0.0

    async def sleep(self, seconds: float) -> None:
        """Return now, or block until cancelled (and remember that)."""
        self.sleeps.append(seconds)
        if self.instant:
            return
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


class FlushSignal:
    """A text stream that records what is written and signals each flush."""

    def __init__(self) -> None:
        self.text = ""
        self.flushed = asyncio.Event()

    def write(self, data: str) -> int:
        """Record."""
        self.text += data
        return len(data)

    def flush(self) -> None:
        """Signal."""
        self.flushed.set()


class Harness:
    """A front-end wired to a FakeGo, run as a task."""

    def __init__(
        self,
        go: FakeGo,
        *,
        pair_phone: str | None = None,
        on_message: Callable[[IncomingMessage], None] | None = None,
        clock: ManualClock | None = None,
    ) -> None:
        self.go = go
        self.received: asyncio.Queue[IncomingMessage] = asyncio.Queue()
        self.stop = asyncio.Event()
        self.terminal = FlushSignal()
        self.frontend = NeonizeFrontend(
            SESSION,
            pair_phone,
            on_message or self.received.put_nowait,
            log=structlog.get_logger("test.whatsapp"),
            pair_timeout=30.0,
            client_factory=go.factory,
            qr_stream=self.terminal,  # type: ignore[arg-type]
            clock=clock or ManualClock(instant=False),
        )
        self.task: asyncio.Task[int] | None = None

    async def start(self) -> NewAClient:
        """Run the front-end until its (fake) session has started."""
        self.task = asyncio.create_task(self.frontend.run(self.stop))
        await within(self.go.started.wait())
        assert self.go.client is not None
        return self.go.client

    async def exit_code(self) -> int:
        """Wait for ``run`` to return."""
        assert self.task is not None
        return await within(self.task)

    async def show_qr(self, client: NewAClient, code: bytes = b"2@fakeqr,ref,key") -> None:
        """Deliver a QR code through neonize's own QR callback, from another thread."""
        self.terminal.flushed.clear()
        buffer = ctypes.create_string_buffer(code)
        on_qr = client._NewAClient__onQr  # type: ignore[attr-defined]
        await asyncio.to_thread(on_qr, 0, ctypes.addressof(buffer))


@pytest.fixture(autouse=True)
def restore_logger_levels() -> Iterator[None]:
    """Put neonize's logger levels back after each test."""
    names = ("neonize", "neonize.utils.log", "whatsmeow", "Whatsmeow")
    saved = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def bind_loop(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Make neonize dispatch onto the running loop (call from inside the test)."""

    def bind() -> None:
        monkeypatch.setattr(neonize_events, "event_global_loop", asyncio.get_running_loop())

    return bind


def events(logs: list[EventDict], name: str) -> list[EventDict]:
    """Captured log entries named ``name``."""
    return [entry for entry in logs if entry["event"] == name]


async def test_run_registers_handlers_and_stops_cleanly() -> None:
    """``run`` subscribes its events, and a stop request stops the client with exit code 0."""
    go = FakeGo()
    harness = Harness(go)
    client = await harness.start()
    codes = set(client.event.list_func)
    assert {EVENT_TO_INT[t] for t in (type(wa.private_text("x")), Connected, LoggedOut)} <= codes
    # Never subscribed: Go would serialise its empty payload and panic (neonize #194).
    assert EVENT_TO_INT[StreamReplaced] not in codes
    harness.stop.set()
    assert await harness.exit_code() == 0
    assert go.stops == 1
    assert client.connect_task is not None and client.connect_task.done()


async def test_messages_arrive_in_order_through_the_real_dispatch(
    bind_loop: Callable[[], None],
) -> None:
    """Events delivered through Event.execute reach on_message converted and in order."""
    bind_loop()
    harness = Harness(FakeGo())
    client = await harness.start()
    for number in range(20):
        await dispatch(client, wa.private_text(f"message {number}", msg_id=f"M{number}"))
    received = [await within(harness.received.get()) for _ in range(20)]
    assert [m.text for m in received] == [f"message {n}" for n in range(20)]
    assert received[0].id == "M0"
    assert received[0].chat_jid == "15550001111@s.whatsapp.net"
    harness.stop.set()
    assert await harness.exit_code() == 0


async def test_handler_exceptions_are_logged(bind_loop: Callable[[], None]) -> None:
    """A failing on_message is logged (neonize would swallow it) and the session goes on."""
    bind_loop()
    called = asyncio.Event()

    def explode(message: IncomingMessage) -> None:
        called.set()
        raise RuntimeError("queue full")

    with capture_logs() as logs:
        harness = Harness(FakeGo(), on_message=explode)
        client = await harness.start()
        await dispatch(client, wa.private_text("boom"))
        await within(called.wait())
        harness.stop.set()
        assert await harness.exit_code() == 0
    failures = events(logs, "whatsapp.handler_failed")
    assert len(failures) == 1
    assert failures[0]["handler"] == "message"
    assert failures[0]["log_level"] == "error"


async def test_connected_logs_identity_and_sends_presence_each_time(
    bind_loop: Callable[[], None],
) -> None:
    """ConnectedEv logs the bare JID and LID and announces presence, again on reconnect."""
    bind_loop()
    go = FakeGo()
    with capture_logs() as logs:
        harness = Harness(go)
        client = await harness.start()
        await dispatch(client, device())
        await dispatch(client, Connected(status=True))
        first = await within(go.presence.get())
        await dispatch(client, Connected(status=True))
        await within(go.presence.get())
        harness.stop.set()
        assert await harness.exit_code() == 0
    assert first.name == "AVAILABLE"  # type: ignore[attr-defined]
    connected = events(logs, "whatsapp.connected")
    assert [(e["jid"], e["lid"]) for e in connected] == [(BOT_JID, BOT_LID)] * 2
    assert harness.frontend.transport.identity == BotIdentity(BOT_JID, BOT_LID)


async def test_connected_without_device_event_asks_get_me(bind_loop: Callable[[], None]) -> None:
    """If Go has not sent the device yet, ConnectedEv fetches it with get_me."""
    bind_loop()
    go = FakeGo()
    harness = Harness(go)
    client = await harness.start()
    assert client.me is None
    await dispatch(client, Connected(status=True))
    await within(go.presence.get())
    assert harness.frontend.transport.identity == BotIdentity(BOT_JID, BOT_LID)
    harness.stop.set()
    assert await harness.exit_code() == 0


async def test_logged_out_exits_1_and_says_how_to_pair_again(
    bind_loop: Callable[[], None],
) -> None:
    """LoggedOutEv ends the run with 1 and an error naming the session file to delete."""
    bind_loop()
    go = FakeGo()
    with capture_logs() as logs:
        harness = Harness(go)
        client = await harness.start()
        await dispatch(client, LoggedOut(OnConnect=True, Reason=ConnectFailureReason.LOGGED_OUT))
        assert await harness.exit_code() == 1
    [entry] = events(logs, "whatsapp.logged_out")
    assert entry["log_level"] == "error"
    assert SESSION in entry["hint"] and "WHATSAPP_SESSION" in entry["hint"]
    assert go.stops == 1


class WakeOnceClock(ManualClock):
    """The first sleep returns at once; later ones block until cancelled."""

    def __init__(self) -> None:
        super().__init__(instant=False)
        self.second_sleep = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        """Return the first time; block (and say so) afterwards."""
        if not self.sleeps:
            self.sleeps.append(seconds)
            return
        self.second_sleep.set()
        await super().sleep(seconds)


async def test_staying_disconnected_is_reported_until_reconnected(
    bind_loop: Callable[[], None],
) -> None:
    """A disconnect with no reconnect (network, or a replaced stream) logs an error."""
    bind_loop()
    clock = WakeOnceClock()
    with capture_logs() as logs:
        harness = Harness(FakeGo(), clock=clock)
        client = await harness.start()
        await dispatch(client, device())
        await dispatch(client, Disconnected(status=True))
        await within(clock.second_sleep.wait())
        assert events(logs, "whatsapp.still_disconnected")
        await dispatch(client, Connected(status=True))
        await within(clock.cancelled.wait())
        harness.stop.set()
        assert await harness.exit_code() == 0


async def test_temporary_ban_exits_1(bind_loop: Callable[[], None]) -> None:
    """A temporary ban ends the run with 1."""
    bind_loop()
    harness = Harness(FakeGo())
    client = await harness.start()
    await dispatch(client, TemporaryBan(Code=TemporaryBan.SEND_TO_TOO_MANY_PEOPLE, Expire=3600))
    assert await harness.exit_code() == 1


async def test_failing_connect_exits_1() -> None:
    """An exception from connect() is logged and gives exit code 1."""
    go = FakeGo(connect_error=RuntimeError("no database"))
    with capture_logs() as logs:
        code = await within(Harness(go).frontend.run(asyncio.Event()))
    assert code == 1
    assert "no database" in events(logs, "whatsapp.connect_failed")[0]["error"]
    assert go.stops == 1


async def test_failing_session_task_exits_1() -> None:
    """When the Go session task raises (first connect failed), run returns 1."""
    go = FakeGo(session_error=NeonizeError("websocket: bad handshake"))
    with capture_logs() as logs:
        harness = Harness(go)
        await harness.start()
        go.ended.set()
        assert await harness.exit_code() == 1
    assert "bad handshake" in events(logs, "whatsapp.connect_failed")[0]["error"]


async def test_session_ending_by_itself_exits_1() -> None:
    """A session task that ends without a stop request is an error."""
    go = FakeGo()
    with capture_logs() as logs:
        harness = Harness(go)
        await harness.start()
        go.ended.set()
        assert await harness.exit_code() == 1
    assert events(logs, "whatsapp.session_ended")


async def test_qr_code_is_shown_in_the_terminal(bind_loop: Callable[[], None]) -> None:
    """Without a pairing phone, each QR event prints a QR code and logs a hint."""
    bind_loop()
    go = FakeGo()
    with capture_logs() as logs:
        harness = Harness(go)
        client = await harness.start()
        await harness.show_qr(client)
        await within(harness.terminal.flushed.wait())
        harness.stop.set()
        assert await harness.exit_code() == 0
    assert "█" in harness.terminal.text or "▀" in harness.terminal.text
    assert events(logs, "whatsapp.qr_shown")
    assert go.pair_calls == []


async def test_pair_phone_asks_once_for_a_code(bind_loop: Callable[[], None]) -> None:
    """With a pairing phone, the first QR event requests a code, which is printed and logged."""
    bind_loop()
    go = FakeGo()
    with capture_logs() as logs:
        harness = Harness(go, pair_phone="+1 555-000-1111")
        client = await harness.start()
        await harness.show_qr(client)
        await within(harness.terminal.flushed.wait())
        await harness.show_qr(client, b"2@second")
        # Handlers run in dispatch order: once ConnectedEv is handled, the second QR was too.
        await dispatch(client, device())
        await dispatch(client, Connected(status=True))
        await within(go.presence.get())
        harness.stop.set()
        assert await harness.exit_code() == 0
    assert go.pair_calls == [("15550001111", True)]
    assert "ABCD1234" in harness.terminal.text
    assert "█" not in harness.terminal.text
    [entry] = events(logs, "whatsapp.pairing_code")
    assert entry["code"] == "ABCD1234"


async def test_failing_pair_phone_exits_1() -> None:
    """If WhatsApp refuses the pairing request, the run ends with 1."""
    go = FakeGo(pair_error=PairPhoneError("rate-overlimit"))
    with capture_logs() as logs:
        harness = Harness(go, pair_phone="15550001111")
        client = await harness.start()
        await client.event._qr(client, b"2@qr")
        assert await harness.exit_code() == 1
    assert "rate-overlimit" in events(logs, "whatsapp.pair_phone_failed")[0]["error"]


async def test_pairing_watchdog_ends_the_run() -> None:
    """Nobody pairs before the deadline: the run ends with 1."""
    clock = ManualClock(instant=True)
    with capture_logs() as logs:
        harness = Harness(FakeGo(), clock=clock)
        client = await harness.start()
        await client.event._qr(client, b"2@qr")
        assert await harness.exit_code() == 1
    assert clock.sleeps == [30.0]
    assert events(logs, "whatsapp.pairing_timeout")


async def test_connecting_cancels_the_pairing_watchdog(bind_loop: Callable[[], None]) -> None:
    """Once paired and connected, the pairing deadline no longer applies."""
    bind_loop()
    clock = ManualClock(instant=False)
    go = FakeGo()
    harness = Harness(go, clock=clock)
    client = await harness.start()
    await client.event._qr(client, b"2@qr")
    await dispatch(client, device())
    await dispatch(client, Connected(status=True))
    await within(clock.cancelled.wait())
    harness.stop.set()
    assert await harness.exit_code() == 0


async def test_run_quiets_neonize_logging() -> None:
    """At INFO, run() sets neonize's loggers (and so Go's log level) to WARNING."""
    logging.getLogger("neonize.utils.log").setLevel(logging.INFO)
    harness = Harness(FakeGo())
    await harness.start()
    assert logging.getLogger("neonize.utils.log").level == logging.WARNING
    harness.stop.set()
    assert await harness.exit_code() == 0


@pytest.mark.parametrize(("debug", "level"), [(False, logging.WARNING), (True, logging.DEBUG)])
def test_quiet_neonize_logging(debug: bool, level: int) -> None:
    """neonize's logger and the Go bridge loggers follow our debug setting."""
    quiet_neonize_logging(debug)
    for name in ("neonize.utils.log", "whatsmeow.Client", "Whatsmeow.Database"):
        assert logging.getLogger(name).getEffectiveLevel() == level


DNS_ERROR = (
    "failed to dial whatsapp web websocket: failed to WebSocket dial: failed to send handshake "
    'request: Get "https://web.whatsapp.com/ws/chat": dial tcp: lookup web.whatsapp.com on '
    "10.255.255.53:53: no such host"
)
REFUSED_ERROR = (
    "failed to dial whatsapp web websocket: failed to WebSocket dial: failed to send handshake "
    'request: Get "https://web.whatsapp.com/ws/chat": dial tcp 157.240.0.53:443: connect: '
    "connection refused"
)
TIMEOUT_ERROR = (
    "failed to dial whatsapp web websocket: failed to WebSocket dial: failed to send handshake "
    'request: Get "https://web.whatsapp.com/ws/chat": dial tcp 157.240.0.53:443: i/o timeout'
)


class FlakyGo(FakeGo):
    """Go whose first ``failures`` connects fail as whatsmeow's do (the session task raises)."""

    def __init__(self, failures: int, error: str = DNS_ERROR, **kw: Exception | None) -> None:
        super().__init__(**kw)
        self.failures = failures
        self.error = error
        self.connects = 0

    async def connect(self) -> asyncio.Task[None]:
        """Fail like an unreachable WhatsApp, then connect for real."""
        self.connects += 1
        if self.connects > self.failures:
            return await super().connect()
        assert self.client is not None

        async def failing() -> None:
            raise NeonizeError(self.error)

        task = asyncio.get_running_loop().create_task(failing())
        self.client.connect_task = task
        return task


class StepClock(ManualClock):
    """Each sleep returns at once and moves the monotonic clock on by its length."""

    def __init__(self) -> None:
        super().__init__(instant=True)
        self.elapsed = 0.0

    def monotonic(self) -> float:
        """Seconds slept so far."""
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        """Record, advance, yield once."""
        self.sleeps.append(seconds)
        self.elapsed += seconds
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (DNS_ERROR, "DNS failed"),
        (REFUSED_ERROR, "was refused"),
        (TIMEOUT_ERROR, "did not answer in time"),
        (REFUSED_ERROR.replace("dial tcp", "proxyconnect tcp: dial tcp"), "HTTPS_PROXY"),
    ],
)
def test_network_errors_are_said_in_plain_words(error: str, words: str) -> None:
    """Go's dial errors for DNS, refused and timeout become a sentence naming the cause."""
    from bot.whatsapp.network import network_problem

    problem = network_problem(NeonizeError(error))
    assert problem is not None and words in problem and "web.whatsapp.com" in problem


async def test_an_unreachable_first_connect_is_retried_with_backoff(
    bind_loop: Callable[[], None],
) -> None:
    """A first connect that cannot reach WhatsApp is retried, each try logged with its delay."""
    bind_loop()
    go = FlakyGo(failures=4)
    clock = StepClock()
    with capture_logs() as logs:
        harness = Harness(go, clock=clock)
        client = await harness.start()
        await dispatch(client, device())
        await dispatch(client, Connected(status=True))
        await within(go.presence.get())
        harness.stop.set()
        assert await harness.exit_code() == 0
    retries = events(logs, "whatsapp.connect_retry")
    assert [r["retry_in"] for r in retries] == [2.0, 4.0, 8.0, 16.0]
    assert [r["attempt"] for r in retries] == [1, 2, 3, 4]
    assert all("DNS failed" in r["problem"] and "no such host" in r["error"] for r in retries)
    assert all(r["log_level"] == "warning" for r in retries)
    assert go.connects == 5 and harness.frontend.connected.is_set()
    assert not events(logs, "whatsapp.connect_failed")


async def test_staying_unreachable_from_the_start_is_reported() -> None:
    """While the first connect keeps failing, whatsapp.still_disconnected reports it."""
    go = FlakyGo(failures=10, error=TIMEOUT_ERROR)
    clock = StepClock()
    with capture_logs() as logs:
        harness = Harness(go, clock=clock)
        await harness.start()
        harness.stop.set()
        assert await harness.exit_code() == 0
    assert clock.sleeps == [2.0, 4.0, 8.0, 16.0, 32.0] + [60.0] * 5
    [report] = events(logs, "whatsapp.still_disconnected")  # the tenth failure, at 302 s
    assert report["log_level"] == "error" and report["minutes"] == 5.0


class PausingClock(ManualClock):
    """Sleeps block until cancelled; ``paused`` is set by the first one."""

    def __init__(self) -> None:
        super().__init__(instant=False)
        self.paused = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        """Signal, then block until cancelled."""
        self.paused.set()
        await super().sleep(seconds)


async def test_a_stop_during_the_backoff_ends_the_run_at_once() -> None:
    """A stop request while waiting to retry ends the run with 0 without another attempt."""
    go = FlakyGo(failures=1, error=REFUSED_ERROR)
    clock = PausingClock()
    harness = Harness(go, clock=clock)
    harness.task = asyncio.create_task(harness.frontend.run(harness.stop))
    await within(clock.paused.wait())
    harness.stop.set()
    assert await harness.exit_code() == 0
    assert go.connects == 1 and clock.sleeps == [2.0]
    assert await within(clock.cancelled.wait()) is True


async def test_other_connect_errors_are_not_retried() -> None:
    """A connect error that is not about the network ends the run with 1, as before."""
    go = FlakyGo(failures=1, error="failed to create store: database is locked")
    with capture_logs() as logs:
        code = await within(Harness(go).frontend.run(asyncio.Event()))
    assert code == 1 and go.connects == 1
    assert "database is locked" in events(logs, "whatsapp.connect_failed")[0]["error"]


class StuckGo(FakeGo):
    """Go stuck in a connect attempt: the session never ends and ``stop`` never returns."""

    async def stop(self) -> None:
        """Hang, as Go's Stop does while its dial is stuck."""
        self.stops += 1
        await asyncio.Event().wait()


async def test_stopping_is_bounded_when_the_client_stop_hangs() -> None:
    """client.stop() hanging does not hold the run: it ends within shutdown_timeout."""
    go = StuckGo()
    harness = Harness(go)
    harness.frontend._shutdown_timeout = 0.2
    with capture_logs() as logs:
        await harness.start()
        harness.stop.set()
        assert await harness.exit_code() == 0
    assert go.stops == 1
    [entry] = events(logs, "whatsapp.stop_timeout")
    assert entry["log_level"] == "warning"
    assert go.client is not None and go.client.connect_task is not None
    assert not go.client.connect_task.done()  # left alone: cancelling it would call Go's Stop
    go.ended.set()
