"""Stopping when asked: SIGINT/SIGTERM start a graceful stop with a hard deadline; a second
signal exits at once.

The graceful stop finishes replies in flight (up to BOT_SHUTDOWN_TIMEOUT_SECONDS) and closes the
WhatsApp client (a few seconds more). Go threads can hang in ways Python cannot interrupt, so a
daemon timer ends the process if the graceful stop overruns ``deadline``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("bot.shutdown")

#: Seconds the graceful stop may take beyond BOT_SHUTDOWN_TIMEOUT_SECONDS (closing the client).
GRACE_SECONDS = 10.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_now(code: int) -> None:
    """Flush what was written and end the process at once, without waiting for any thread."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


class SignalHandlers:
    """First SIGINT/SIGTERM: set ``stop`` and arm the deadline. Second: exit at once."""

    def __init__(
        self,
        stop: asyncio.Event,
        *,
        deadline: float,
        exit_process: Callable[[int], Any] = exit_now,
    ) -> None:
        self._stop = stop
        self._deadline = deadline
        self._exit = exit_process
        self._installed: list[signal.Signals] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: threading.Timer | None = None
        self.received = 0

    def install(self) -> None:
        """Handle SIGINT and SIGTERM on the running loop (where the platform allows it)."""
        self._loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.add_signal_handler(sig, self._on_signal, sig)
                self._installed.append(sig)

    def remove(self) -> None:
        """Give the signals back (an armed deadline stays: it guards the rest of the exit)."""
        if self._loop is not None:
            for sig in self._installed:
                self._loop.remove_signal_handler(sig)
        self._installed = []

    def cancel_deadline(self) -> None:
        """Disarm the deadline (tests, or a caller that stays alive after stopping)."""
        if self._timer is not None:
            self._timer.cancel()

    def _on_signal(self, sig: signal.Signals) -> None:
        self.received += 1
        code = 128 + int(sig)
        if self.received > 1:
            log.warning("bot.signal_again", signal=sig.name, exit_code=code)
            self._exit(code)
            return
        log.warning(
            "bot.signal",
            signal=sig.name,
            deadline_seconds=self._deadline,
            hint="stopping: replies in flight are finished first; send it again to exit at once",
        )
        self._stop.set()
        self._timer = threading.Timer(self._deadline, self._deadline_passed, args=(code,))
        self._timer.daemon = True
        self._timer.start()

    def _deadline_passed(self, code: int) -> None:
        """Runs on the timer thread: the graceful stop took too long."""
        log.error(
            "bot.shutdown_deadline",
            seconds=self._deadline,
            exit_code=code,
            hint="the graceful stop took too long; exiting without waiting further",
        )
        self._exit(code)
