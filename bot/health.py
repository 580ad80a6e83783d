"""Storage health: a write that fails for a passing reason (disk full, I/O error) is retried.

Every write the pipeline cannot do without goes through ``StorageHealth.write``: on a transient
SQLite error it waits (capped exponential backoff on the injected clock) and tries again, so
the caller simply does not go on until its write is stored. The first failure logs one
``storage.failing`` error and tells the admins once on WhatsApp; the first success after that
logs ``storage.recovered``. Other errors (a constraint, a bug) are raised at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from bot.clock import Clock
from storage.outgoing import is_transient_write_error

log = structlog.get_logger("bot.health")

T = TypeVar("T")

#: First wait after a failed write, and the cap the doubling stops at (seconds).
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0

ADMIN_NOTICE = (
    "⚠️ The bot cannot write to its database ({error}). Messages are kept in memory and "
    "answered once the disk has room again; please check the server's disk."
)

#: Sends one text to every admin; failures are the callee's to log.
Notify = Callable[[str], Awaitable[None]]


class StorageHealth:
    """Retries transient storage write failures and reports the failing/recovered transitions."""

    def __init__(
        self,
        clock: Clock,
        notify: Notify | None = None,
        *,
        first_retry: float = FIRST_RETRY_SECONDS,
        max_retry: float = MAX_RETRY_SECONDS,
    ) -> None:
        self.clock = clock
        self.notify = notify
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.failing = False
        self.failed_writes = 0
        self._since = 0.0
        self._notices: set[asyncio.Task[None]] = set()
        self._recovered = asyncio.Event()

    async def write(self, op: Callable[[], Awaitable[T]], what: str) -> T:
        """Run ``op`` until it succeeds, waiting between tries while storage is failing."""
        delay = self.first_retry
        while True:
            try:
                result = await op()
            except Exception as exc:
                if not is_transient_write_error(exc):
                    raise
                self._failed(exc, what)
                await self.clock.sleep(delay)
                delay = min(delay * 2, self.max_retry)
                continue
            if self.failing:
                self._healed()
            return result

    def _failed(self, exc: BaseException, what: str) -> None:
        self.failed_writes += 1
        if self.failing:
            return
        self.failing = True
        self._since = self.clock.monotonic()
        self._recovered.clear()
        log.error("storage.failing", error=str(exc), write=what)
        if self.notify is not None:
            task = asyncio.create_task(self._tell_admins(str(exc)), name="storage-notice")
            self._notices.add(task)
            task.add_done_callback(self._notices.discard)

    def _healed(self) -> None:
        self.failing = False
        self._recovered.set()
        log.warning(
            "storage.recovered",
            seconds=round(self.clock.monotonic() - self._since, 3),
            failed_writes=self.failed_writes,
        )
        self.failed_writes = 0

    async def _tell_admins(self, error: str) -> None:
        assert self.notify is not None
        try:
            await self.notify(ADMIN_NOTICE.format(error=error))
        except Exception as exc:
            log.warning("storage.notice_failed", error=str(exc))

    async def recovered(self) -> None:
        """Wait until storage works again (returns at once when it is not failing)."""
        if self.failing:
            await self._recovered.wait()

    async def aclose(self) -> None:
        """Wait for admin notices still being sent."""
        await asyncio.gather(*self._notices, return_exceptions=True)
