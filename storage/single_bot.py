"""One bot per database: an exclusive advisory lock on a file beside it, held while the bot runs.

Only the bot's front-ends (live, console, replay) take it; operator tools open the database
without it, so they keep working while a bot runs. The lock is ``flock`` on ``<database>.lock``:
the kernel drops it when the process ends, however it ends, so a crash leaves nothing stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from storage.open_checks import prepare_path, unusable


def lock_path(database: Path | str) -> Path:
    """The lock file that goes with ``database``."""
    return Path(f"{database}.lock")


@contextlib.contextmanager
def single_bot_lock(database: Path | str) -> Iterator[None]:
    """Hold the database's bot lock for the block; raise ``StorageError`` if another bot has it.

    Blocking calls, all of them quick (``LOCK_NB``): fine to call once at start-up.
    """
    if str(database) == ":memory:":
        yield
        return
    path = Path(database)
    prepare_path(path)
    lock = lock_path(path)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise unusable(
            path,
            f"cannot create the lock file {str(lock)!r} ({exc.strerror or type(exc).__name__})",
            "make the database's folder writable by the user the bot runs as",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise unusable(
                path,
                f"another bot is already running on this database (pid {holder}, lock file "
                f"{str(lock)!r})",
                "stop that bot first, or give this one its own DATABASE_PATH",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
