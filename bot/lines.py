"""Reading input lines (a file or stdin) without blocking the event loop or shutdown.

A daemon thread does the blocking reads, so a signal can stop the bot while stdin is still
open: nothing waits for that thread at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from typing import TextIO


class LineReader:
    """Lines of ``path`` (``-`` = stdin), handed to the event loop one at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._pump, name="line-reader", daemon=True)
        self._thread.start()

    def _put(self, item: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may be gone at exit
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _pump(self) -> None:
        try:
            stream: TextIO = sys.stdin if self.path == "-" else open(self.path, encoding="utf-8")  # noqa: SIM115
            with (
                contextlib.closing(stream) if stream is not sys.stdin else contextlib.nullcontext()
            ):
                for line in stream:
                    self._put(line)
        except OSError as exc:
            self._put(f"\x00{exc}")
        finally:
            self._put(None)

    async def next(self, stop: asyncio.Event) -> str | None:
        """The next line; None at end of input or once ``stop`` is set.

        Raises OSError when the input cannot be read.
        """
        if stop.is_set():
            return None
        getter = asyncio.ensure_future(self._queue.get())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not getter.done():
                getter.cancel()
        if not getter.done() or getter.cancelled():
            return None
        line = getter.result()
        if line is not None and line.startswith("\x00"):
            raise OSError(line[1:])
        return line
