"""Scenario 2, concurrency: many chats write at once while every OpenAI call takes a second.

Chat mode, ``MAX_CONCURRENT_REPLIES=256`` (the default, 32, would admit 200 chats in seven
waves: about 7 s). The fake server runs in its own process (OpenAI's work is not on our CPU),
with 1 s per model call. All chats' messages are submitted at once; the figure is the wall time
from the first ``submit`` to the last reply handed to the transport.

For scale, two more figures: the same requests fired straight from one ``AsyncOpenAI`` client
with no bot around it (what the SDK and its HTTP stack alone need), and the seeds' design, which
answered inside the event handler with a blocking client, one message at a time: measured on
a few chats (``baseline_chats``) and scaled to the full count.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from bot.settings import Settings
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
NAME = "concurrency"
TITLE = "Concurrency: N chats at once, fake server 1 s per call (chat mode)"


@dataclass(frozen=True)
class Size:
    """How much to run."""

    chats: int = 200
    latency: float = 1.0
    max_concurrent: int = 256
    baseline_chats: int = 3


FULL = Size()
QUICK = Size(chats=200, baseline_chats=2)
TINY = Size(chats=10, latency=0.05, baseline_chats=2)


async def sdk_floor(
    base_url: str, chats: int, system: str, tools: list[Any], transport: str = "httpx"
) -> float:
    """The same requests straight from one ``AsyncOpenAI`` client, no bot: the library's floor.

    Sent with ``client.post`` and plain-JSON bodies, the cheapest way through the SDK (and the
    way chat mode sends them), over the given HTTP transport.
    """
    http_client = openai.DefaultAioHttpClient() if transport == "aiohttp" else None
    client = openai.AsyncOpenAI(
        base_url=base_url, api_key="sk-bench", max_retries=0, http_client=http_client
    )

    async def ask(text: str, *extra: dict[str, Any]) -> None:
        body = {"model": "gpt-4.1-mini", "messages": [*extra, {"role": "user", "content": text}]}
        if extra:
            body["tools"] = tools
        await client.post("/chat/completions", body=body, cast_to=ChatCompletion)

    try:
        await ask("warm-up")
        began = time.perf_counter()
        system_message = {"role": "system", "content": system}
        await asyncio.gather(
            *(ask(f"hello from chat {number}", system_message) for number in range(chats))
        )
        return time.perf_counter() - began
    finally:
        await client.close()


def blocking_baseline(base_url: str, chats: int) -> float:
    """The seeds' design: a blocking client called in the event handler, one event at a time."""
    client = openai.OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    began = time.perf_counter()
    try:
        for number in range(chats):
            client.chat.completions.create(
                model="gpt-4.1-mini",
                messages=[{"role": "user", "content": f"hello from chat {number}"}],
            )
    finally:
        client.close()
    return time.perf_counter() - began


async def run(size: Size = FULL) -> ScenarioResult:
    """Measure the wall time until every chat has its reply, per HTTP transport."""
    result = ScenarioResult(NAME, TITLE)
    result.details = {
        "chats": size.chats,
        "latency_s": size.latency,
        "max_concurrent_replies": size.max_concurrent,
        "fake_server": "separate process",
    }
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp:
        async with fake_openai(latency=size.latency, where="process") as server:
            for number, transport_name in enumerate(TRANSPORTS):
                settings = bench_settings(
                    Path(tmp) / f"bot-{number}.db",
                    server.base_url,
                    MAX_CONCURRENT_REPLIES=size.max_concurrent,
                    OPENAI_HTTP_CLIENT=transport_name,
                )
                wall, latencies, tools = await _through_bot(settings, size)
                floor = await sdk_floor(
                    server.base_url, size.chats, settings.ai_system_prompt, tools, transport_name
                )
                result.metrics += [
                    Metric(
                        f"wall time, {size.chats} chats ({transport_name})",
                        wall,
                        "s",
                        1.3 * size.latency,
                    ),
                    Metric(
                        f"same calls from the SDK alone ({transport_name})",
                        floor,
                        "s",
                        note="no bot: the library's floor",
                    ),
                ]
                result.details[transport_name] = {
                    "wall_s": round(wall, 3),
                    "reply_after_ms": summary_ms(latencies),
                    "sdk_alone_s": round(floor, 3),
                }
            baseline = await asyncio.to_thread(
                blocking_baseline, server.base_url, size.baseline_chats
            )
    per_chat = baseline / size.baseline_chats
    result.metrics.append(
        Metric(
            "seed design (blocking), scaled",
            per_chat * size.chats,
            "s",
            note=f"measured on {size.baseline_chats} chats",
        )
    )
    result.details["blocking_baseline"] = {
        "chats": size.baseline_chats,
        "seconds": round(baseline, 3),
        "scaled_to_all_chats_s": round(per_chat * size.chats, 1),
    }
    return result


async def _through_bot(settings: Settings, size: Size) -> tuple[float, list[float], list[Any]]:
    """Every chat's message submitted at once; the wall time until the last reply."""
    transport = StampingTransport()
    async with running_bot(settings, transport) as bot:
        # Warm-up: imports and the first connection, as in a bot that has been running.
        bot.pipeline.submit(to_incoming(wa_events.private_text("hi", sender=phone(9999))))
        await transport.wait_for(1)
        events = [
            wa_events.private_text(f"hello from chat {n}", sender=phone(n))
            for n in range(size.chats)
        ]
        began = time.perf_counter()
        for ev in events:
            bot.pipeline.submit(to_incoming(ev))
        await transport.wait_for(1 + size.chats, timeout=60 + size.chats * size.latency)
        wall = time.perf_counter() - began
        latencies = [d.at - began for d in transport.deliveries[1:]]
        return wall, latencies, bot.tools.definitions("chat")
