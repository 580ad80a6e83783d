"""``main.py`` in live mode with the Go side stuck, for the signal tests (run as a subprocess).

The real ``NeonizeFrontend`` runs on a real ``NewAClient`` whose Go calls are replaced: the
connect attempt blocks a worker thread forever (as Go does while its dial hangs) and ``stop()``
blocks another (as Go's Stop does meanwhile). Usage: ``python -m tests.live_stub [main args]``.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
from typing import Any

from neonize.aioze.client import NewAClient

import main
from bot.whatsapp.client import NeonizeFrontend

_never = threading.Event()


def stuck_client(name: str) -> NewAClient:
    """A real client whose connect and stop hang in worker threads, like a stuck Go dial."""
    client = NewAClient(name)

    async def connect() -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(_never.wait))
        client.connect_task = task
        return task

    async def stop() -> None:
        await asyncio.to_thread(_never.wait)

    client.connect = connect  # type: ignore[method-assign]
    client.stop = stop  # type: ignore[method-assign]
    return client


if __name__ == "__main__":
    sys.exit(
        main.main(
            sys.argv[1:],
            frontend_factory=functools.partial(NeonizeFrontend, client_factory=stuck_client),
        )
    )
