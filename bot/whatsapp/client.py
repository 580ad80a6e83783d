"""The live WhatsApp front-end: neonize's asyncio client and its event handlers.

neonize traps handled here (see NEONIZE.md): ``connect()`` does not block, so ``run`` waits on
the Go session task, a stop event and a terminal outcome together; exceptions in handlers are
silently dropped by neonize, so every handler is wrapped and logs; whatsmeow reconnects on its
own, so the ConnectedEv handler is idempotent; nobody pairing leaves Go waiting forever, so a
watchdog ends the run. Sending goes through ``NeonizeTransport`` (``frontend.transport``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TextIO, TypeVar

import segno
import structlog
from neonize.aioze.client import NewAClient
from neonize.aioze.events import (
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    TemporaryBanEv,
)
from neonize.utils.enum import Presence

from bot.clock import Clock, SystemClock
from bot.errors import TransportError
from bot.jid import from_proto
from bot.messages import IncomingMessage
from bot.observe import Liveness
from bot.settings import redact_url
from bot.whatsapp.convert import to_incoming
from bot.whatsapp.neonize_transport import NeonizeTransport
from bot.whatsapp.network import backoff_delays, network_problem

__all__ = ["EXIT_FAILED", "EXIT_OK", "NeonizeFrontend", "NeonizeTransport", "quiet_neonize_logging"]

_log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
#: Disconnected this long without a reconnect: log an error (and again each period).
OFFLINE_WARN_SECONDS = 300.0

#: Loggers neonize writes to: its own, the Go log bridge ("whatsmeow.*", "Whatsmeow.Database").
_NEONIZE_LOGGERS = ("neonize", "neonize.utils.log", "whatsmeow", "Whatsmeow")

E = TypeVar("E")
Handler = Callable[[NewAClient, E], Awaitable[None]]


def quiet_neonize_logging(debug: bool) -> None:
    """Keep neonize and the Go log bridge at WARNING unless we run at DEBUG.

    ``neonize.utils.log``'s own level is also what neonize passes to Go at ``connect()``.
    """
    level = logging.DEBUG if debug else logging.WARNING
    for name in _NEONIZE_LOGGERS:
        logging.getLogger(name).setLevel(level)


class NeonizeFrontend:
    """Runs one neonize session: pairing, connection events, and incoming messages."""

    def __init__(
        self,
        session: str,
        pair_phone: str | None,
        on_message: Callable[[IncomingMessage], None],
        *,
        log: Any = None,
        pair_timeout: float = 160.0,
        client_factory: Callable[[str], NewAClient] = NewAClient,
        qr_stream: TextIO | None = None,
        clock: Clock | None = None,
        shutdown_timeout: float = 5.0,
    ) -> None:
        self.transport = NeonizeTransport()
        self._session = session
        self._pair_phone = "".join(c for c in pair_phone or "" if c.isdigit()) or None
        self._on_message = on_message
        self._log = log if log is not None else _log
        self._pair_timeout = pair_timeout
        self._client_factory = client_factory
        self._qr_stream = qr_stream
        self._clock = clock if clock is not None else SystemClock()
        self._shutdown_timeout = shutdown_timeout
        self._outcome: asyncio.Future[int] | None = None
        #: Set once the session is connected and the bot's identity is known.
        self.connected = asyncio.Event()
        #: Connection and pairing state for the admin server's status page.
        self.liveness = Liveness()
        self._watchdog: asyncio.Task[None] | None = None
        self._pairing = False
        self._offline_watch: asyncio.Task[None] | None = None

    async def run(self, stop: asyncio.Event) -> int:
        """Connect and serve until ``stop`` is set (0) or the session cannot go on (1).

        A first connect that fails because WhatsApp cannot be reached is retried with backoff,
        as whatsmeow retries a lost connection; other connect errors end the run.
        """
        quiet_neonize_logging(debug=logging.getLogger().isEnabledFor(logging.DEBUG))
        self._outcome = asyncio.get_running_loop().create_future()
        self._pairing = False
        client = self._client_factory(self._session)
        self.transport.attach(client)
        self._register(client)
        session: asyncio.Future[Any] | None = None
        stopping = asyncio.ensure_future(stop.wait())
        try:
            delays = backoff_delays()
            offline_since = last_report = self._clock.monotonic()
            attempt = 0
            while True:
                attempt += 1
                self._log.info(
                    "whatsapp.connecting", session=redact_url(self._session), attempt=attempt
                )
                error = await self._connect_once(client, stopping)
                session = client.connect_task
                if error is None or stop.is_set():
                    return self._exit_code(stop)
                raw = f"{type(error).__name__}: {error}"
                problem = network_problem(error)
                if problem is None:
                    self._log.error("whatsapp.connect_failed", error=raw)
                    return EXIT_FAILED
                delay = next(delays)
                self._log.warning(
                    "whatsapp.connect_retry",
                    attempt=attempt,
                    problem=problem,
                    error=raw,
                    retry_in=delay,
                )
                now = self._clock.monotonic()
                if now - last_report >= OFFLINE_WARN_SECONDS:
                    last_report = now
                    self._report_offline((now - offline_since) / 60)
                if await self._wait_or_end(delay, stopping):
                    return self._exit_code(stop)
        finally:
            stopping.cancel()
            self._cancel_watchdog()
            self._cancel_offline_watch()
            await self._shutdown(client, session)

    async def _connect_once(
        self, client: NewAClient, stopping: asyncio.Future[Any]
    ) -> BaseException | None:
        """Start a session and wait; return the error of a failed connect, else None."""
        assert self._outcome is not None
        try:
            await client.connect()
            session = client.connect_task
            if session is None:
                raise TransportError("neonize connect() started no session task")
        except Exception as exc:
            return exc
        await asyncio.wait({session, stopping, self._outcome}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.done() or self._outcome.done() or not session.done() or session.cancelled():
            return None
        error: BaseException | None = session.exception()
        return error

    async def _wait_or_end(self, delay: float, stopping: asyncio.Future[Any]) -> bool:
        """Wait ``delay`` before the next attempt; True if a stop or an outcome came first."""
        assert self._outcome is not None
        pause = asyncio.ensure_future(self._clock.sleep(delay))
        await asyncio.wait({pause, stopping, self._outcome}, return_when=asyncio.FIRST_COMPLETED)
        pause.cancel()
        await asyncio.gather(pause, return_exceptions=True)
        return stopping.done() or self._outcome.done()

    def _exit_code(self, stop: asyncio.Event) -> int:
        """Why the wait ended, as an exit code (a stop request wins)."""
        assert self._outcome is not None
        if stop.is_set():
            self._log.info("whatsapp.stopping")
            return EXIT_OK
        if self._outcome.done():
            return self._outcome.result()
        self._log.error("whatsapp.session_ended", hint="the Go session ended on its own")
        return EXIT_FAILED

    async def _shutdown(self, client: NewAClient, session: asyncio.Future[Any] | None) -> None:
        """Stop the Go client and give its session task a moment to end, within
        ``shutdown_timeout`` in all: ``stop()`` hangs while a connect attempt is stuck in Go."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._shutdown_timeout
        stopper = asyncio.ensure_future(client.stop())
        await asyncio.wait({stopper}, timeout=self._shutdown_timeout)
        stopped = stopper.done() and not stopper.cancelled()
        if not stopper.done():
            stopper.cancel()
            await asyncio.gather(stopper, return_exceptions=True)
            self._log.warning(
                "whatsapp.stop_timeout",
                seconds=self._shutdown_timeout,
                hint="the Go client did not stop (a connect attempt is stuck): leaving it",
            )
        elif (error := stopper.exception()) is not None:
            self._log.warning("whatsapp.stop_failed", error=f"{type(error).__name__}: {error}")
        if session is None:
            return
        if not session.done():
            await asyncio.wait({session}, timeout=max(0.0, deadline - loop.time()))
        if not session.done():
            if stopped:
                self._log.warning("whatsapp.stop_timeout", seconds=self._shutdown_timeout)
                # neonize's cancel handler calls Go's Stop synchronously: only safe once
                # stop() has returned, or it would block the event loop.
                session.cancel()
        elif not session.cancelled():
            session.exception()  # retrieved, so asyncio does not complain about it later

    def _finish(self, code: int) -> None:
        """End ``run`` with ``code`` (the first terminal event wins)."""
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(code)

    def _guard(
        self, name: str, handler: Handler[E]
    ) -> Callable[[NewAClient, E], Coroutine[Any, Any, None]]:
        """Wrap a handler so its exceptions are logged (neonize would drop them silently)."""

        async def guarded(client: NewAClient, event: E) -> None:
            try:
                await handler(client, event)
            except Exception:
                self._log.exception("whatsapp.handler_failed", handler=name)

        return guarded

    def _register(self, client: NewAClient) -> None:
        """Subscribe our handlers on ``client`` (one handler per event type)."""
        on = client.event
        on(MessageEv)(self._guard("message", self._on_message_event))
        on(ConnectedEv)(self._guard("connected", self._on_connected))
        on(DisconnectedEv)(self._guard("disconnected", self._on_disconnected))
        on(ConnectFailureEv)(self._guard("connect_failure", self._on_connect_failure))
        on(PairStatusEv)(self._guard("pair_status", self._on_pair_status))
        relink = (
            f"the session was logged out (device unlinked): delete the session file "
            f"{redact_url(self._session)!r} (WHATSAPP_SESSION) and run again to pair with a "
            "new QR code"
        )
        banned = "WhatsApp temporarily banned this account; whatsmeow will not reconnect"
        # StreamReplacedEv is deliberately not subscribed: Go only serialises subscribed
        # events, and serialising its empty payload panics in Go and kills the process
        # (neonize issue #194). A replaced stream shows up as a disconnect with no
        # reconnect, which the offline watchdog reports.
        for event_type, name, hint in (
            (LoggedOutEv, "logged_out", relink),
            (TemporaryBanEv, "temporary_ban", banned),
        ):
            on(event_type)(self._guard(name, self._ends_run(f"whatsapp.{name}", hint)))
        client.qr(self._guard("qr", self._on_qr))

    async def _on_message_event(self, client: NewAClient, event: MessageEv) -> None:
        """Hand the message to the pipeline at once, before any await, so order is kept."""
        message = to_incoming(event)
        self._on_message(message)
        self._log.debug(
            "whatsapp.message_received",
            message_id=message.id,
            chat=message.chat_jid,
            kind=str(message.kind),
        )

    async def _on_connected(self, client: NewAClient, event: ConnectedEv) -> None:
        """Log who we are and announce presence; runs again after every reconnect."""
        self._cancel_watchdog()
        if self._offline_watch is not None:
            self._offline_watch.cancel()
            self._offline_watch = None
        if client.me is None:
            client.me = await client.get_me()
        identity = self.transport.identity
        self._log.info("whatsapp.connected", jid=identity.jid, lid=identity.lid)
        live = self.liveness
        live.reconnects += self.connected.is_set()
        live.connected, live.pairing_qr, live.pairing_code = True, None, None
        self.connected.set()
        try:
            await client.send_presence(Presence.AVAILABLE)
        except Exception as exc:
            self._log.warning("whatsapp.presence_failed", error=f"{type(exc).__name__}: {exc}")

    async def _on_disconnected(self, client: NewAClient, event: DisconnectedEv) -> None:
        """whatsmeow reconnects by itself; say so, and say louder if it does not."""
        self._log.warning("whatsapp.disconnected", hint="whatsmeow reconnects automatically")
        self.liveness.connected = False
        if self._offline_watch is None or self._offline_watch.done():
            self._offline_watch = asyncio.get_running_loop().create_task(self._still_offline())

    async def _still_offline(self) -> None:
        """Log an error while the session stays disconnected (the network, or a takeover)."""
        while True:
            await self._clock.sleep(OFFLINE_WARN_SECONDS)
            self._report_offline(OFFLINE_WARN_SECONDS / 60)

    def _report_offline(self, minutes: float) -> None:
        """Say loudly that WhatsApp has been unreachable for ``minutes``."""
        self._log.error(
            "whatsapp.still_disconnected",
            minutes=round(minutes, 1),
            hint=(
                "no connection yet: check the network; if another process uses the same "
                "WHATSAPP_SESSION (stream replaced), stop one of them and restart this one"
            ),
        )

    def _ends_run(self, event_name: str, hint: str) -> Handler[object]:
        """A handler that logs ``event_name`` and ends ``run`` with exit code 1.

        It never reads the event's payload.
        """

        async def handler(client: NewAClient, event: object) -> None:
            self._log.error(event_name, session=redact_url(self._session), hint=hint)
            self._finish(EXIT_FAILED)

        return handler

    async def _on_connect_failure(self, client: NewAClient, event: ConnectFailureEv) -> None:
        """The server refused the connection (logged-out and ban reasons arrive separately)."""
        self._log.error("whatsapp.connect_failure", reason=int(event.Reason), error=event.Message)

    async def _on_pair_status(self, client: NewAClient, event: PairStatusEv) -> None:
        """Pairing finished, one way or the other."""
        if event.Status == PairStatusEv.SUCCESS:
            self._cancel_watchdog()
            self._log.info("whatsapp.paired", jid=from_proto(event.ID))
        else:
            self._log.error("whatsapp.pair_failed", error=event.Error)

    async def _on_qr(self, client: NewAClient, code: bytes) -> None:
        """Not paired yet: show the QR code, or ask once for a phone pairing code."""
        first = not self._pairing
        if first:
            self._pairing = True
            self._watchdog = asyncio.get_running_loop().create_task(self._pairing_deadline())
        out = self._qr_stream or sys.stdout
        if self._pair_phone is None:
            self.liveness.pairing_qr = code.decode(errors="replace")
            segno.make_qr(code).terminal(out=out, compact=True)
            out.flush()
            self._log.info(
                "whatsapp.qr_shown",
                hint="scan it: WhatsApp > Settings > Linked devices > Link a device",
            )
            return
        if not first:
            return  # the pairing code stays valid while the QR codes rotate
        try:
            pairing_code = await client.PairPhone(self._pair_phone, True)
        except Exception as exc:
            self._log.error("whatsapp.pair_phone_failed", error=f"{type(exc).__name__}: {exc}")
            self._finish(EXIT_FAILED)
            return
        self.liveness.pairing_code = pairing_code
        out.write(f"\nWhatsApp pairing code for +{self._pair_phone}: {pairing_code}\n\n")
        out.flush()
        self._log.info(
            "whatsapp.pairing_code",
            code=pairing_code,
            phone=self._pair_phone,
            hint=(
                "on the phone: WhatsApp > Settings > Linked devices > Link a device > "
                "Link with phone number instead, then enter this code"
            ),
        )

    async def _pairing_deadline(self) -> None:
        """End the run if nobody pairs in time (Go would wait forever)."""
        await self._clock.sleep(self._pair_timeout)
        self._log.error(
            "whatsapp.pairing_timeout",
            seconds=self._pair_timeout,
            hint="nobody linked this device in time; run again for a new code",
        )
        self._finish(EXIT_FAILED)

    def _cancel_watchdog(self) -> None:
        """Stop the pairing watchdog (paired, connected, or shutting down)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _cancel_offline_watch(self) -> None:
        """Stop the offline watchdog (shutting down)."""
        if self._offline_watch is not None:
            self._offline_watch.cancel()
            self._offline_watch = None
