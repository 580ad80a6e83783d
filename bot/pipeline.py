"""The pipeline: every incoming message is stored first, then answered in per-chat order.

Flow: ``submit`` (sync, called in arrival order by the front-end) -> one intake task that
classifies, files the message under its chat key and stores it (dedupe by WhatsApp id) ->
one worker task per busy chat that answers that chat's messages strictly in order. Different
chats run concurrently; at most ``MAX_CONCURRENT_REPLIES`` OpenAI calls are in flight. A worker
ends when its chat's queue is empty, so nothing per chat outlives the work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import structlog

from bot import junk
from bot.clock import Clock, SystemClock
from bot.confirmations import Confirmations
from bot.delivery import Delivery, revive
from bot.errors import ReplyError
from bot.health import StorageHealth
from bot.intake import Envelope, Intake
from bot.media import MediaReader, Transcribes
from bot.messages import IncomingMessage
from bot.observe import Observer
from bot.outbox import Outbox, quietly
from bot.rules import is_command
from bot.settings import Settings
from bot.transport import Transport
from bot.turns import TurnReader
from helpers.backends.base import ReplyBackend
from helpers.google.files import RecentFiles
from storage.store import MessageState, Store, ToolCallRow, UsageRow

log = structlog.get_logger("bot.pipeline")

FAILURE_TEXT = "Sorry, I couldn't answer just now. Please try again in a moment."
UNREADABLE_TEXT = "Sorry, I couldn't read that kind of message. Could you type it for me?"


#: Answers a command message (``/help``...) with the text to send, or None to say nothing.
CommandHandler = Callable[[Envelope], Awaitable[str | None]]
#: Decides, with storage, whether a turn may go to OpenAI; returns a notice or an ignore reason.
Gate = Callable[[Envelope], Awaitable["GateVerdict"]]


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """A gate's decision: go on, or stop (recording ``reason``) and maybe send ``notice``."""

    allowed: bool
    reason: str | None = None
    notice: str | None = None


OPEN = GateVerdict(True)


class TurnAborted(Exception):
    """A turn failed after it had acted outside (sent, ran a command, asked the model)."""


class Pipeline:
    """Takes incoming messages from any front-end and answers them through a reply backend."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        backend: ReplyBackend,
        transport: Transport | None = None,
        clock: Clock | None = None,
        started_at: datetime | None = None,
        commands: CommandHandler | None = None,
        gate: Gate | None = None,
        transcriber: Transcribes | None = None,
        health: StorageHealth | None = None,
        observer: Observer | None = None,
        confirmations: Confirmations | None = None,
        recent_files: RecentFiles | None = None,
    ) -> None:
        self.observer = observer or Observer()
        self.settings = settings
        self.store = store
        self.backend = backend
        self._transport = transport
        self.clock = clock or SystemClock()
        self.started_at = started_at or self.clock.now()
        self.commands = commands
        self.gate = gate
        #: Google tools: a "yes" to a pending action, and the media send_email may attach.
        self.confirmations = confirmations
        self._intake: asyncio.Queue[IncomingMessage] = asyncio.Queue()
        self._intake_task: asyncio.Task[None] | None = None
        self._chats: dict[str, deque[Envelope]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._replies = asyncio.Semaphore(settings.max_concurrent_replies)
        self.outbox = Outbox(
            lambda: self.transport, settings.max_message_chars, settings.max_reply_parts
        )
        self.intake = Intake(
            settings=settings,
            store=store,
            clock=self.clock,
            started_at=self.started_at,
            outbox=self.outbox,
            transport=lambda: self.transport,
            observer=self.observer,
        )
        self.media = MediaReader(
            lambda: self.transport, transcriber, max_document_mb=settings.max_document_mb
        )
        self.turns = TurnReader(
            store=store,
            media=self.media,
            clock=self.clock,
            recent_files=recent_files,
            confirmations=confirmations,
        )
        self.health = health or StorageHealth(self.clock)
        if self.health.notify is None:
            self.health.notify = self._tell_admins
        self.delivery = Delivery(store, self.outbox, self.health, self.clock, self.observer)
        self._accepting = True
        #: Chats a /forget deleted whose queued messages may be gone too (checked, then cleared).
        self._forgotten: set[str] = set()

    # --- wiring ------------------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        """The front-end's transport (bound before the first message is handled)."""
        if self._transport is None:
            raise RuntimeError("pipeline has no transport bound")
        return self._transport

    def bind_transport(self, transport: Transport) -> None:
        """Attach the front-end's transport (live front-ends create it after the pipeline)."""
        self._transport = transport

    def load(self) -> tuple[int, int, int]:
        """(messages waiting to be stored, messages waiting in chat queues, turns in flight)."""
        return self._intake.qsize(), sum(map(len, self._chats.values())), len(self._workers)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> int:
        """Finish replies a crash cut, re-queue messages it left unanswered, then take new ones.

        Recovery comes first so a chat's old message is answered before its new ones.
        Returns how many messages were re-queued.
        """
        window = timedelta(seconds=self.settings.bot_recovery_window_seconds)
        await self.delivery.resume(since=self.clock.now() - window)
        recovered = await self._recover()
        self._intake_task = asyncio.create_task(self._intake_loop(), name="pipeline-intake")
        return recovered

    def submit(self, msg: IncomingMessage) -> None:
        """Take one incoming message (sync, in arrival order). Never raises."""
        try:
            self._intake.put_nowait(msg)
        except Exception:  # pragma: no cover - put_nowait on an unbounded queue cannot fail
            log.exception("message.submit_failed", message_id=msg.id)

    async def stored(self) -> None:
        """Wait until every submitted message has been classified and stored."""
        await self._intake.join()

    async def join(self) -> None:
        """Wait until every submitted message has been stored and answered."""
        while True:
            await self._intake.join()
            workers = list(self._workers.values())
            if not workers and self._intake.empty():
                return
            # wait, not gather: cancelling this wait (a timeout, a signal) must not cancel
            # the chats' workers, whose replies are still wanted.
            await asyncio.wait(workers)

    async def drain(self, timeout: float) -> bool:
        """Stop answering new messages, wait up to ``timeout`` s for replies in flight.

        Messages that arrive meanwhile are still stored (as received), so the next start
        answers them; ``close()`` ends the intake. Returns True if everything in flight
        finished in time.
        """
        self._accepting = False
        finished = True
        workers = list(self._workers.values())
        if workers:
            _, pending = await asyncio.wait(workers, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                finished = False
                await asyncio.gather(*pending, return_exceptions=True)
                log.warning("pipeline.drain_timeout", unfinished_chats=len(pending))
        return finished

    async def close(self, timeout: float = 5.0) -> None:
        """Store what is still in the intake queue, then stop taking messages at all.

        Call after the front-end has stopped delivering: until then the intake keeps
        storing (not answering) what arrives, so nothing WhatsApp delivered is lost.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._intake.join(), timeout=timeout)
        if not self._intake.empty():
            # Storage never came back (or the intake is far behind): these are lost.
            log.error(
                "pipeline.unstored", messages=self._intake.qsize(), failing=self.health.failing
            )
        if self._intake_task is not None:
            self._intake_task.cancel()
            await asyncio.gather(self._intake_task, return_exceptions=True)
            self._intake_task = None
        with contextlib.suppress(TimeoutError):  # an admin notice still on its way
            await asyncio.wait_for(self.health.aclose(), timeout=timeout)

    # --- intake: classify, identify, store ------------------------------------------------

    async def _intake_loop(self) -> None:
        while True:
            msg = await self._intake.get()
            try:
                # A failing disk holds the intake here: later messages wait in memory, in
                # arrival order, and nothing is answered before it is stored.
                env = await self.health.write(partial(self.intake.accept, msg), "message.store")
                if env is None:
                    continue
                if not self._accepting:
                    log.info("message.deferred", why="shutting down", message_id=msg.id)
                    continue
                self._dispatch(env)
            except Exception:
                log.exception("message.intake_failed", message_id=msg.id, chat=msg.chat_jid)
            finally:
                self._intake.task_done()

    # --- per-chat workers --------------------------------------------------------------------

    def _dispatch(self, env: Envelope) -> None:
        queue = self._chats.setdefault(env.chat, deque())
        queue.append(env)
        if env.chat not in self._workers:
            self._workers[env.chat] = asyncio.create_task(
                self._chat_worker(env.chat), name=f"chat-{env.chat}"
            )

    async def _chat_worker(self, chat: str) -> None:
        queue = self._chats[chat]
        try:
            while queue and self._accepting:
                batch = [queue.popleft()]
                if not self._is_command(batch[0]):
                    await self._debounce(batch, queue)
                with structlog.contextvars.bound_contextvars(
                    chat=chat, message_id=batch[-1].message.id
                ):
                    try:
                        await self.health.write(partial(self._attempt, batch, [False]), "turn")
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("turn.crashed")
                        try:
                            await self._fail(batch, "crashed")
                        except Exception:
                            # Even recording the failure failed (e.g. the disk is full): the
                            # messages stay "received" and the next start answers them.
                            log.exception("turn.fail_record_failed")
        finally:
            # No await between the loop's last check and here: nothing can be queued meanwhile.
            # Left-overs (shutdown) stay "received" in storage and are answered on next start.
            self._workers.pop(chat, None)
            self._chats.pop(chat, None)

    def _is_command(self, env: Envelope) -> bool:
        return self.commands is not None and is_command(
            env.message, self.settings.bot_command_prefix
        )

    async def _debounce(self, batch: list[Envelope], queue: deque[Envelope]) -> None:
        """Gather the sender's quick follow-ups into this turn (DEBOUNCE_SECONDS of quiet)."""
        wait = self.settings.debounce_seconds
        if wait <= 0:
            return
        sender = batch[0].sender
        for _ in range(10):  # at most ten quiet windows, so a chatterbox still gets answers
            if queue and queue[0].sender == sender and not self._is_command(queue[0]):
                batch.append(queue.popleft())
                continue
            before = len(queue)
            await self.clock.sleep(wait)
            if len(queue) == before:
                break
        while queue and queue[0].sender == sender and not self._is_command(queue[0]):
            batch.append(queue.popleft())

    async def _attempt(self, batch: list[Envelope], acted: list[bool]) -> None:
        """One try of a turn. A storage failure that no write below waited out itself gets
        the whole turn tried again once storage works, but only while nothing has acted
        outside yet (a command, a confirmed action, a model call): past that, a second try
        would act twice, so the failure ends the turn instead."""
        try:
            await self._handle(batch, acted)
        except Exception as exc:
            if acted[0]:
                raise TurnAborted(f"storage failed after the turn acted: {exc}") from exc
            raise

    async def _handle(self, batch: list[Envelope], acted: list[bool] | None = None) -> None:
        acted = acted if acted is not None else [False]
        if self._is_command(batch[0]):
            await self._run_command(batch[0], acted)
            return
        if batch[0].chat in self._forgotten:
            # A /forget ran in this chat since these were stored: those it deleted go with it.
            alive = await self.store.existing([e.row_id for e in batch])
            if len(alive) == len(batch):
                self._forgotten.discard(batch[0].chat)  # past the forget: no more checks
            batch = [e for e in batch if e.row_id in alive]
            if not batch:
                log.info("turn.forgotten", why="the chat was forgotten meanwhile")
                return
        last = batch[-1]
        if self.confirmations is not None:
            acted[0] = True  # a "yes" may run an action in there
            if await self.confirmations.handle(batch, self.delivery, self.outbox):
                return  # a "yes"/"no" to a pending action: answered without OpenAI
            acted[0] = False
        if self.gate is not None:
            verdict = await self.gate(last)
            if not verdict.allowed:
                if verdict.notice:
                    await self._notice(batch, verdict.notice, verdict.reason)
                else:
                    ids = [e.row_id for e in batch]
                    await self.store.set_state(ids, "ignored", verdict.reason)
                    self.observer.message("ignored", verdict.reason, len(ids))
                log.info("turn.gated", reason=verdict.reason)
                return
        acted[0] = True  # the model is asked (and may call tools) from here on
        await self._answer(batch)

    async def _run_command(self, env: Envelope, acted: list[bool]) -> None:
        assert self.commands is not None
        # Filed as a command before it runs, so /stats does not count itself.
        await self.store.set_state([env.row_id], "ignored", "command")
        acted[0] = True
        text = await self.commands(env)
        parts = self.outbox.text_parts(text) if text else []
        sent = await self.delivery.deliver(
            env.message,
            parts,
            chat=env.chat,
            sender=env.sender,
            message_ids=[env.row_id],
            reply_text=text or "",
            state="ignored",
            reason="command",
            kind="command",
        )
        if sent is None:
            # /forget removed the chat, this command included: answer it, keep no trace.
            self._forgotten.add(env.chat)
            for index, part in enumerate(parts):
                await self.outbox.send_part(env.message, part, index)
        log.info("command.handled", recorded=sent is not None)

    async def _answer(self, batch: list[Envelope]) -> None:
        last = batch[-1]
        for env in batch:
            await quietly(self.transport.mark_read(env.message), "mark_read")
        turn, notices = await self.turns.read(batch)
        if junk.too_long(turn.text, self.settings.max_input_chars):
            notice = junk.too_long_notice(self.settings.max_input_chars)
            await self._notice(batch, notice, junk.TOO_LONG)
            log.info("turn.too_long", chars=len(turn.text), limit=self.settings.max_input_chars)
            return
        if not turn.text.strip() and not turn.images and not turn.documents:
            # A voice note, sticker-like media or a file without a caption: nothing to read.
            notice = "\n".join(notices) or UNREADABLE_TEXT
            reason = "document_refused" if notices else "unreadable"
            await self._notice(batch, notice, reason)
            log.info("turn.unreadable", kind=str(last.message.kind))
            return
        await quietly(self.transport.set_typing(last.message.chat_jid, True), "typing")
        typing = asyncio.create_task(self.outbox.keep_typing(last.message.chat_jid))
        started = self.clock.monotonic()
        try:
            async with self._replies:
                reply = await self.backend.reply(turn)
        except ReplyError as exc:
            log.warning("turn.failed", cause=exc.cause, error=str(exc))
            await self._fail(batch, exc.cause)
            return
        finally:
            self.observer.reply_latency(self.backend.mode, self.clock.monotonic() - started)
            typing.cancel()
            await asyncio.gather(typing, return_exceptions=True)
            await quietly(self.transport.set_typing(last.message.chat_jid, False), "typing")
        # Recorded before the first send: a crash from here on never asks OpenAI again.
        wa_ids = await self.delivery.deliver(
            last.message,
            self.outbox.reply_parts(reply),
            chat=last.chat,
            sender=last.sender,
            message_ids=[e.row_id for e in batch],
            # Text sent as an image caption is still what was said: keep it in the history.
            reply_text=reply.text or "\n".join(m.caption for m in reply.media if m.caption),
            usage=[
                UsageRow(
                    self.backend.mode,
                    u.model,
                    u.prompt_tokens,
                    u.completion_tokens,
                    u.total_tokens,
                    u.cached_tokens,  # added by compat
                )
                for u in reply.usage
            ],
            tool_calls=[
                ToolCallRow(t.tool, t.duration_ms, t.ok, t.error) for t in reply.tool_calls
            ],
        )
        log.info(
            "turn.answered",
            messages=len(batch),
            parts=len(wa_ids or ()),
            tokens=sum(u.total_tokens for u in reply.usage),
            seconds=round(self.clock.monotonic() - started, 3),
        )

    async def _fail(self, batch: list[Envelope], cause: str) -> None:
        """Tell the user honestly that no answer came, and record the turn as failed."""
        await self._notice(batch, FAILURE_TEXT, cause, state="failed", kind="error")

    async def _notice(
        self,
        batch: list[Envelope],
        text: str,
        reason: str | None,
        *,
        state: MessageState = "ignored",
        kind: str = "notice",
    ) -> None:
        """Answer the turn with a fixed ``text`` instead of a model reply, recorded as ``state``."""
        last = batch[-1]
        await self.delivery.deliver(
            last.message,
            self.outbox.text_parts(text),
            chat=last.chat,
            sender=last.sender,
            message_ids=[e.row_id for e in batch],
            reply_text=text,
            state=state,
            reason=reason,
            kind=kind,
        )

    async def _tell_admins(self, text: str) -> None:
        """Send ``text`` to every ADMIN_NUMBERS number (storage trouble: nothing recorded)."""
        for number in self.settings.admin_numbers:
            try:
                self.outbox.remember(
                    await self.transport.send_text(f"{number}@s.whatsapp.net", text)
                )
            except Exception as exc:
                log.warning("admin.notice_failed", error=str(exc))

    # --- crash recovery ------------------------------------------------------------------

    async def _recover(self) -> int:
        now = self.clock.now()
        since = now - timedelta(seconds=self.settings.bot_recovery_window_seconds)
        expired = await self.store.expire_pending(before=since)
        pending = await self.store.pending_messages(since=since)
        for stored in pending:
            self._dispatch(Envelope(stored.id, stored.chat, stored.sender, revive(stored)))
        if pending or expired:
            log.info("pipeline.recovered", requeued=len(pending), expired=expired)
        return len(pending)
