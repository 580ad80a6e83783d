"""Scenario 5, memory: RSS before and after many messages over many chats, and what stays behind.

Chat mode, fake server at 0 ms in its own process (its request log would otherwise count as
our memory). Messages arrive in waves of ``wave`` (each to a different chat, cycling over all
chats) and each wave is answered before the next comes, like steady traffic rather than a
backlog. RSS (``psutil``) is read after a warm-up wave and again after the run, both after
``gc.collect()``. Afterwards the pipeline's per-chat structures must be empty and the bounded
ones within their bound, and the object types whose count grew most are listed.
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bot.outbox import SENT_IDS_KEPT
from bot.pipeline import Pipeline
from bot.whatsapp.convert import to_incoming
from tests import wa_events

from .common import (
    Metric,
    ScenarioResult,
    StampingTransport,
    bench_settings,
    fake_openai,
    phone,
    running_bot,
)

NAME = "memory"
TITLE = "Memory: RSS growth over many messages and chats (chat mode, 0 ms server)"
MB = 1024**2


@dataclass(frozen=True)
class Size:
    """How much to run."""

    messages: int = 100_000
    chats: int = 10_000
    wave: int = 500


FULL = Size()
QUICK = Size(messages=20_000, chats=10_000)
TINY = Size(messages=40, chats=20, wave=10)


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def _types() -> Counter[str]:
    gc.collect()
    return Counter(type(o).__qualname__ for o in gc.get_objects())


def per_chat_state(pipeline: Pipeline) -> dict[str, Any]:
    """Sizes of everything the pipeline keeps per chat or per message."""
    return {
        "chat_queues": len(pipeline._chats),
        "chat_workers": len(pipeline._workers),
        "intake_queue": pipeline._intake.qsize(),
        "sent_ids": len(pipeline.outbox.sent_ids),
        "sent_ids_bound": SENT_IDS_KEPT,
        "reply_slots_free": pipeline._replies._value,
    }


async def run(size: Size = FULL) -> ScenarioResult:
    """Send the messages in waves; compare RSS and object counts before and after."""
    result = ScenarioResult(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        async with fake_openai(latency=0.0, where="process") as server:
            settings = bench_settings(Path(tmp) / "bot.db", server.base_url)
            transport = StampingTransport(keep=False)
            async with running_bot(settings, transport) as bot:
                sent = 0

                async def wave(first: int, count: int) -> None:
                    nonlocal sent
                    events = [
                        wa_events.private_text(
                            f"message {n}", sender=phone(n % size.chats), push_name=f"U{n}"
                        )
                        for n in range(first, first + count)
                    ]
                    for ev in events:
                        bot.pipeline.submit(to_incoming(ev))
                    sent += count
                    await transport.wait_for(sent, timeout=600)

                # Warm-up on chats the run will not use again: imports, caches, connections.
                await wave(10**9, min(size.wave, size.messages))
                await bot.pipeline.join()
                before, types_before = _rss(), _types()
                peak = before
                began = time.perf_counter()
                for first in range(0, size.messages, size.wave):
                    await wave(first, min(size.wave, size.messages - first))
                    peak = max(peak, psutil.Process().memory_info().rss)
                await bot.pipeline.join()
                seconds = time.perf_counter() - began
                after, types_after = _rss(), _types()
                state = per_chat_state(bot.pipeline)
    growth = (after - before) / MB
    grown = (types_after - types_before).most_common(8)
    left_over = (
        state["chat_queues"]
        + state["chat_workers"]
        + state["intake_queue"]
        + max(0, state["sent_ids"] - SENT_IDS_KEPT)
    )
    result.metrics += [
        Metric("RSS before", before / MB, "MB"),
        Metric("RSS after", after / MB, "MB"),
        Metric(f"RSS growth, {size.messages:,} msgs", growth, "MB", 60.0),
        Metric("per-chat entries left over", left_over, "", 0.0, note=str(state)),
        Metric("throughput", size.messages / seconds, "msg/s"),
    ]
    result.details = {
        "messages": size.messages,
        "chats": size.chats,
        "wave": size.wave,
        "rss_before_mb": round(before / MB, 1),
        "rss_after_mb": round(after / MB, 1),
        "rss_peak_mb": round(peak / MB, 1),
        "seconds": round(seconds, 1),
        "pipeline_state_after": state,
        "object_types_grown": dict(grown),
        "fake_server": "separate process",
    }
    return result
