"""Scenario 1, overhead: what the bot adds to a reply beyond the time OpenAI spends on it.

Chat mode, fake server at 0 ms on its own event loop in a thread of this process (so its
recorded requests, with ``server_seconds``, can be read back). Messages go one at a time,
round-robin over the chats (so histories grow to 20 entries), each once the previous turn is
finished (an unloaded bot, so the figure is the per-message cost, not queueing): per message,
``overhead = sent_at - intake_at - server_seconds`` where ``intake_at`` is taken just before
``pipeline.submit(to_incoming(ev))`` (the conversion of the neonize event is included) and
``sent_at`` when the transport is asked to send the reply. The request that served a message
is found by its last user message, which is unique per message.

A second phase submits the same number of messages at once (a burst) and reports throughput.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

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
    summary_ms,
)

#: The SDK's two HTTP transports (OPENAI_HTTP_CLIENT), measured side by side.
TRANSPORTS = ("httpx", "aiohttp")
NAME = "overhead"
TITLE = "Overhead: intake to reply minus fake-server time (chat mode, 0 ms server)"


@dataclass(frozen=True)
class Size:
    """How much to run."""

    messages: int = 2000
    chats: int = 100
    burst: int = 2000


FULL = Size()
QUICK = Size(messages=400, chats=50, burst=400)
TINY = Size(messages=20, chats=5, burst=20)


def _text(number: int, chat: int, phase: str) -> str:
    return f"{phase} message {number} from chat {chat}"


async def run(size: Size = FULL) -> ScenarioResult:
    """Measure per-message overhead (sequential) and burst throughput, per HTTP transport."""
    result = ScenarioResult(NAME, TITLE)
    result.details = {
        "messages": size.messages,
        "chats": size.chats,
        "fake_server": "thread (own event loop, same process)",
    }
    for transport_name in TRANSPORTS:
        figures = await _measure(size, transport_name)
        over = summary_ms(figures.overheads)
        result.metrics += [
            Metric(f"overhead p50 ({transport_name})", over["p50"], "ms", 2.0),
            Metric(f"overhead p99 ({transport_name})", over["p99"], "ms", 10.0),
            Metric(
                f"burst throughput ({transport_name})", size.burst / figures.burst_seconds, "msg/s"
            ),
        ]
        result.details[transport_name] = {
            "overhead_ms": over,
            "intake_to_reply_ms": summary_ms(figures.totals),
            "server_ms": summary_ms(figures.server),
            "burst": {"messages": size.burst, "seconds": round(figures.burst_seconds, 3)},
        }
    return result


@dataclass
class Figures:
    """What one transport's run measured."""

    overheads: list[float]
    totals: list[float]
    server: list[float]
    burst_seconds: float


async def _measure(size: Size, transport_name: str) -> Figures:
    """One run of both phases with ``OPENAI_HTTP_CLIENT=transport_name``."""
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        async with fake_openai(latency=0.0, where="thread") as server:
            assert server.fake is not None
            settings = bench_settings(
                Path(tmp) / "bot.db", server.base_url, OPENAI_HTTP_CLIENT=transport_name
            )
            transport = StampingTransport()
            async with running_bot(settings, transport) as bot:
                # Warm-up: the first request opens the HTTP connection; not measured.
                bot.pipeline.submit(to_incoming(wa_events.private_text("hi", sender=phone(9999))))
                await transport.wait_for(1)
                sent_before = transport.count
                intake: dict[str, float] = {}
                for number in range(size.messages):
                    chat = number % size.chats
                    text = _text(number, chat, "seq")
                    ev = wa_events.private_text(text, sender=phone(chat), push_name=f"U{chat}")
                    intake[text] = time.perf_counter()
                    bot.pipeline.submit(to_incoming(ev))
                    await transport.wait_for(sent_before + number + 1)
                    # Let the turn finish (record_turn, logs) so the next message finds an idle
                    # bot, as a message that arrives a moment later would.
                    await bot.pipeline.join()
                server_time = {
                    str(r.json["messages"][-1]["content"]): float(r.server_seconds or 0.0)
                    for r in server.fake.requests_to("/chat/completions")
                    if r.json.get("messages")
                }
                overheads: list[float] = []
                totals: list[float] = []
                for sent in transport.deliveries[sent_before:]:
                    text = sent.text.removeprefix("echo: ")
                    total = sent.at - intake[text]
                    totals.append(total)
                    overheads.append(total - server_time[text])

                burst_start = transport.count
                events = [
                    wa_events.private_text(
                        _text(n, n % size.chats, "burst"), sender=phone(n % size.chats)
                    )
                    for n in range(size.burst)
                ]
                began = time.perf_counter()
                for ev in events:
                    bot.pipeline.submit(to_incoming(ev))
                await transport.wait_for(burst_start + size.burst)
                burst_seconds = time.perf_counter() - began
    return Figures(overheads, totals, list(server_time.values()), burst_seconds)
