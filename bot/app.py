"""App wiring: build the objects from settings and run one front-end (live, console, replay)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal, Protocol

import structlog

from bot.clock import Clock, SystemClock
from bot.commands import Commands
from bot.confirmations import Confirmations
from bot.errors import StartupError, StorageError
from bot.limits import Gate
from bot.lines import LineReader
from bot.messages import BotIdentity
from bot.observe import Liveness, Observer
from bot.pipeline import Pipeline
from bot.reminders import ReminderService
from bot.settings import Settings
from bot.shutdown import GRACE_SECONDS, SignalHandlers
from bot.transport import Transport
from helpers.backends.base import ReplyBackend
from helpers.backends.common import OpenAIBackend
from helpers.backends.factory import build_backend
from helpers.google import build_google
from helpers.openai_client import build_client
from helpers.tools.box import ToolBox
from helpers.tools.builtin import build_registry
from helpers.transcription import Transcriber
from storage.single_bot import single_bot_lock
from storage.store import Store

log = structlog.get_logger("bot.app")

FrontEndKind = Literal["live", "console", "replay"]
DEFAULT_ME = "15550000000@s.whatsapp.net"
DEFAULT_ME_LID = "100000000000001@lid"


@dataclass(frozen=True, slots=True)
class FrontEnd:
    """Which front-end to run, and its options."""

    kind: FrontEndKind = "live"
    replay_file: str | None = None
    console_sender: str = "15551234567@s.whatsapp.net"
    me: str = DEFAULT_ME
    me_lid: str | None = DEFAULT_ME_LID
    #: Replay: after the input ends, stay to deliver reminders due within this many seconds.
    linger_seconds: float = 120.0


@dataclass(slots=True)
class Bot:
    """The wired-up objects one run shares."""

    settings: Settings
    store: Store
    backend: ReplyBackend
    pipeline: Pipeline
    reminders: ReminderService | None
    tools: ToolBox
    observer: Observer = field(default_factory=Observer)
    #: The WhatsApp side's state (the live front-end's own, once it runs).
    liveness: Liveness = field(default_factory=Liveness)


@contextlib.asynccontextmanager
async def wire(
    settings: Settings, *, clock: Clock | None = None, transport: Transport | None = None
) -> AsyncIterator[Bot]:
    """Open the store, build tools, backend, pipeline and reminders; close them on exit.

    Raises ``ConfigError`` (a broken plugin) or ``StartupError`` (the preflight failed).
    """
    clock = clock or SystemClock()
    started_at = clock.now()
    async with _startup_store(settings.database_path) as store:
        services: dict[str, object] = {"store": store}
        google = (
            await asyncio.to_thread(build_google, settings, store, clock)  # reads the token file
            if settings.google_tools
            else None
        )
        services["google"] = google
        tools = ToolBox(
            build_registry(settings),
            clock=clock,
            timezone=settings.timezone,
            timeout=settings.tools_timeout_seconds,
            max_rounds=settings.tools_max_rounds,
            services=services,
            audiences=google.audiences() if google else None,
        )
        backend = build_backend(settings, store, tools)
        if isinstance(backend, OpenAIBackend):
            services["knowledge"] = backend.knowledge  # search_knowledge (chat mode)
        transcriber = (
            Transcriber(build_client(settings), settings.openai_transcription_model)
            if settings.openai_transcription_model
            else None
        )
        try:
            await backend.preflight()
            commands = Commands(
                settings=settings, store=store, backend=backend, clock=clock, started_at=started_at
            )
            observer = _observer(settings)
            pipeline = Pipeline(
                observer=observer,
                settings=settings,
                store=store,
                backend=backend,
                transport=transport,
                clock=clock,
                started_at=started_at,
                commands=commands,
                gate=Gate(settings, store, clock),
                transcriber=transcriber,
                confirmations=(
                    Confirmations(google, clock, tell_model=settings.openai_api_mode != "chat")
                    if google
                    else None
                ),
                recent_files=google.files if google else None,
            )
            reminders = None
            if "set_reminder" in tools.registry.names():
                reminders = ReminderService(store, lambda: pipeline.transport, clock)
                services["reminders"] = reminders
            yield Bot(settings, store, backend, pipeline, reminders, tools, observer)
        finally:
            await backend.aclose()
            if transcriber is not None:
                await transcriber.aclose()


def _observer(settings: Settings) -> Observer:
    """Metrics only when the admin server is on: its imports stay off the start-up path."""
    if settings.admin_http_addr is None:
        return Observer()
    from bot.admin.metrics import PrometheusObserver

    return PrometheusObserver()


def _admin_server(bot: Bot) -> contextlib.AbstractAsyncContextManager[object]:
    """The admin HTTP server when ADMIN_HTTP_ADDR is set (imported only then)."""
    if bot.settings.admin_http_addr is None:
        return contextlib.nullcontext()
    from bot.admin.server import serving

    return serving(bot)


@contextlib.asynccontextmanager
async def _startup_store(path: Path | str) -> AsyncIterator[Store]:
    """Open the store; a database that cannot be used stops start-up (``StartupError``)."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            store = await stack.enter_async_context(Store.open(path))
        except StorageError as exc:
            raise StartupError(str(exc)) from None
        yield store


@contextlib.asynccontextmanager
async def _one_bot_per_database(path: Path | str) -> AsyncIterator[None]:
    """Hold the database's single-bot lock; another bot holding it stops start-up."""
    with contextlib.ExitStack() as stack:
        try:
            # A few quick local calls (mkdir, open, a non-blocking flock), once, before anything
            # is served: on the loop itself, so a signal arriving meanwhile cannot leave the
            # lock taken by a worker thread after this block has already unwound.
            stack.enter_context(single_bot_lock(path))
        except StorageError as exc:
            raise StartupError(str(exc)) from None
        yield


async def _serve(bot: Bot, transport: Transport) -> asyncio.Task[None] | None:
    """Bind the transport, start the pipeline and the reminder loop."""
    bot.pipeline.bind_transport(transport)
    recovered = await bot.pipeline.start()
    log.info(
        "bot.ready",
        mode=bot.settings.openai_api_mode,
        recovered=recovered,
        **(bot.backend.ready_fields if isinstance(bot.backend, OpenAIBackend) else {}),  # compat
    )
    # The background loops: reminders, the model-shutdown watch, the uploaded-file sweeper.
    loops = [bot.reminders.run()] if bot.reminders is not None else []
    if isinstance(bot.backend, OpenAIBackend):
        watch = bot.backend.shutdown_watch(lambda: bot.pipeline.transport, bot.pipeline.clock)
        await watch.check_once()  # the start-up warning and the admins' message, before input
        loops.append(watch.run(check_first=False))
        loops.append(bot.backend.file_sweeper(bot.pipeline.clock))  # FILE_RETENTION_DAYS
    return asyncio.create_task(_background(*loops), name="background") if loops else None


async def _background(*loops: Awaitable[None]) -> None:
    """Run the background loops together; cancelling this cancels them all. A loop that
    dies is logged at once (the others go on), never lost in an unread task."""
    await asyncio.gather(*(_logged(loop) for loop in loops))


async def _logged(loop: Awaitable[None]) -> None:
    try:
        await loop
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background.loop_failed", loop=getattr(loop, "__qualname__", repr(loop)))


async def _stop_reminders(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def run(
    settings: Settings,
    front: FrontEnd,
    *,
    stop: asyncio.Event | None = None,
    frontend_factory: Callable[..., LiveFrontend] | None = None,
) -> int:
    """Run the bot with ``front`` until it ends or ``stop`` is set (SIGINT/SIGTERM set it).

    Returns the process exit code. A second signal, or a graceful stop that overruns
    BOT_SHUTDOWN_TIMEOUT_SECONDS + GRACE_SECONDS, ends the process at once.
    """
    stop = stop or asyncio.Event()
    signals = SignalHandlers(stop, deadline=settings.bot_shutdown_timeout_seconds + GRACE_SECONDS)
    signals.install()
    try:
        async with _one_bot_per_database(settings.database_path):
            return await _run_front(settings, front, stop, frontend_factory)
    finally:
        signals.remove()


async def _run_front(
    settings: Settings,
    front: FrontEnd,
    stop: asyncio.Event,
    frontend_factory: Callable[..., LiveFrontend] | None,
) -> int:
    """Wire the bot and run the chosen front-end until it ends."""
    if front.kind == "console":  # one person typing: answer each line at once
        settings = settings.model_copy(update={"debounce_seconds": 0.0})
    async with wire(settings) as bot, _admin_server(bot):
        bot.liveness.connected = front.kind != "live"
        if front.kind == "replay":
            return await _run_replay(bot, front, stop)
        if front.kind == "console":
            from bot.console import run_console

            return await run_console(bot, front, stop, _serve, _stop_reminders)
        if frontend_factory is None:
            from bot.whatsapp.client import NeonizeFrontend

            frontend_factory = NeonizeFrontend
        return await _run_live(bot, stop, frontend_factory)


class LiveFrontend(Protocol):
    """What the app needs of a live WhatsApp front-end (``NeonizeFrontend``)."""

    @property
    def transport(self) -> Transport:
        """Sends to WhatsApp."""
        ...

    @property
    def connected(self) -> asyncio.Event:
        """Set once the session is up and the bot's identity known."""
        ...

    async def run(self, stop: asyncio.Event) -> int:
        """Serve until ``stop`` is set (exit code 0) or the session cannot go on."""
        ...


async def _run_live(bot: Bot, stop: asyncio.Event, factory: Callable[..., LiveFrontend]) -> int:
    frontend = factory(
        bot.settings.whatsapp_session,
        bot.settings.whatsapp_pair_phone,
        on_message=bot.pipeline.submit,
    )
    bot.liveness = getattr(frontend, "liveness", bot.liveness)
    front_stop = asyncio.Event()
    front_task = asyncio.create_task(frontend.run(front_stop), name="whatsapp")
    # Nothing can be sent before the session is up: recovery waits for the connection.
    await _first(frontend.connected.wait(), front_task, stop.wait())
    reminders = None
    serving = frontend.connected.is_set() and not stop.is_set() and not front_task.done()
    if serving:
        bot.liveness.connected = True  # a front-end without liveness of its own is up now
        reminders = await _serve(bot, frontend.transport)
        await _first(front_task, stop.wait())
    log.info("bot.stopping", reason="signal" if stop.is_set() else "whatsapp ended")
    await _stop_reminders(reminders)
    # Replies in flight are finished while the client is still connected, then it closes.
    finished = await bot.pipeline.drain(bot.settings.bot_shutdown_timeout_seconds)
    front_stop.set()
    code = await front_task
    await bot.pipeline.close()
    log.info("bot.stopped", exit_code=code, drained=finished)
    return code


async def _first(*awaitables: Awaitable[object]) -> None:
    """Wait until the first of ``awaitables`` is done; cancel (and reap) the rest, except
    tasks the caller passed in, which stay the caller's."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    mine = [t for t, a in zip(tasks, awaitables, strict=True) if t is not a and not t.done()]
    for task in mine:
        task.cancel()
    await asyncio.gather(*mine, return_exceptions=True)


async def _run_replay(bot: Bot, front: FrontEnd, stop: asyncio.Event) -> int:
    from bot.whatsapp.convert import to_incoming
    from bot.whatsapp.replay import ReplayTransport, parse_replay_line

    transport = ReplayTransport(BotIdentity(front.me, front.me_lid), stream=sys.stdout)
    reminders = await _serve(bot, transport)
    assert front.replay_file is not None
    reader = LineReader(front.replay_file)
    bad = number = 0
    try:
        while True:
            number += 1
            try:
                line = await reader.next(stop)
                if line is None:
                    break
                if not line.strip():
                    continue
                event, media = parse_replay_line(line)
                if media is not None:
                    transport.add_media(event.Info.ID, media)
            except ValueError as exc:  # BadLine included: the next line is read as usual
                bad += 1
                log.error("replay.bad_line", line=number, error=str(exc))
                continue
            bot.pipeline.submit(to_incoming(event))
        if not stop.is_set():
            await _first(bot.pipeline.join(), stop.wait())
        if not stop.is_set() and bot.reminders is not None:
            await _first(_reminders_due_within(bot, front.linger_seconds), stop.wait())
    finally:
        await _stop_reminders(reminders)
        await bot.pipeline.drain(bot.settings.bot_shutdown_timeout_seconds)
        await bot.pipeline.close()
    log.info("replay.done", bad_lines=bad)
    return 0


async def _reminders_due_within(bot: Bot, seconds: float) -> None:
    """Stay until every reminder due within ``seconds`` from now has been delivered."""
    clock = bot.pipeline.clock
    horizon = clock.now() + timedelta(seconds=seconds)
    while (due := await bot.store.next_reminder_due()) is not None and due <= horizon:
        log.info("replay.waiting_for_reminder", due=due.isoformat())
        await clock.sleep(min(1.0, max(0.05, (due - clock.now()).total_seconds())))
