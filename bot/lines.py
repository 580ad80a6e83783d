"""Reading input lines (a file or stdin) without blocking the event loop or shutdown.

A daemon thread does the blocking reads, so a signal can stop the bot while stdin is still
open: nothing waits for that thread at exit. Lines are read as bytes and decoded one by one,
so a line with invalid UTF-8 or a NUL byte is one bad line (``BadLine``), not the end of input.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading


class BadLine(ValueError):
    """One input line that cannot be text: invalid UTF-8 or a NUL byte. ``number`` is 1-based."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"line {number}: {reason}")
        self.number = number
        self.reason = reason


def decode_line(raw: bytes, number: int) -> str:
    """One input line as text; raises ``BadLine`` for invalid UTF-8 or a NUL byte."""
    if b"\x00" in raw:
        raise BadLine(number, "NUL byte")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadLine(number, f"invalid UTF-8 at byte {exc.start}") from None


class LineReader:
    """Lines of ``path`` (``-`` = stdin), handed to the event loop one at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._queue: asyncio.Queue[str | BadLine | OSError | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._pump, name="line-reader", daemon=True)
        self._thread.start()

    def _put(self, item: str | BadLine | OSError | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may be gone at exit
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _pump(self) -> None:
        try:
            # Our own reader on stdin's descriptor, not sys.stdin.buffer: a daemon thread
            # blocked inside sys.stdin.buffer holds its lock, and the interpreter aborts when
            # it flushes the standard streams at exit ("could not acquire lock").
            if self.path == "-":
                stream = open(sys.stdin.fileno(), "rb", closefd=False)  # noqa: SIM115
            else:
                stream = open(self.path, "rb")  # noqa: SIM115
            with stream:
                for number, raw in enumerate(stream, start=1):
                    try:
                        self._put(decode_line(raw, number))
                    except BadLine as bad:
                        self._put(bad)
        except OSError as exc:
            self._put(exc)
        finally:
            self._put(None)

    async def next(self, stop: asyncio.Event) -> str | None:
        """The next line; None at end of input or once ``stop`` is set.

        Raises ``BadLine`` for a line that is not text (the next call reads on), and
        OSError when the input cannot be read.
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
        if isinstance(line, BaseException):
            raise line
        return line
