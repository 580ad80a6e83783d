"""Scenario 3, delivery: how soon a reply goes out once the server has finished producing it.

The fake server runs on the bot's own event loop (so its state can be watched without hooks)
and every run / response takes ``latency`` (300 ms). Each round sends one message to each of
``chats`` chats at once; a message's delay is ``sent_at - completed_at``, where:

* assistants: ``completed_at`` is when the run reached ``completed`` in the fake (awaited with
  the fake's public ``wait_for_run``; runs are found by watching its threads every 5 ms, long
  before they end), and ``sent_at`` when the bot's transport got the reply;
* responses: ``completed_at`` is when the fake stored the finished response (just before it
  streams ``response.completed``): the fake's response table is swapped for a dict that
  timestamps each insertion;
* baseline (assistants only): what the seeds did, with the same client and fake: add the
  message, create the run, ``runs.retrieve`` every 1 s until it is done, list the messages,
  send the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

from bot.whatsapp.convert import to_incoming
from tests import wa_events
from tests.fake_openai import FakeOpenAI

from .common import (
    Metric,
    ScenarioResult,
    StampingTransport,
    bench_settings,
    chat_jid,
    fake_openai,
    phone,
    running_bot,
    summary_ms,
)

NAME = "delivery"
TITLE = "Delivery: server-side completion to reply sent (assistants, responses; 300 ms runs)"
ASSISTANT_ID = "asst_bench"
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})


@dataclass(frozen=True)
class Size:
    """How much to run."""

    chats: int = 10
    rounds: int = 3
    baseline_rounds: int = 2
    latency: float = 0.3
    poll_seconds: float = 1.0


FULL = Size()
QUICK = Size(rounds=2, baseline_rounds=1)
TINY = Size(chats=2, rounds=1, baseline_rounds=1, latency=0.05, poll_seconds=0.2)


class _StampedDict(dict[str, Any]):
    """A dict that notes when each key was first set (``time.perf_counter``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stamps: dict[str, float] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.stamps.setdefault(key, time.perf_counter())
        super().__setitem__(key, value)


def _quiet_assistants_warnings() -> None:
    """The SDK flags every Assistants call as deprecated; this scenario makes them on purpose.

    Matched by message: calls wrapped by the SDK's ``required_args`` (``runs.create``...) are
    attributed to ``openai._utils._utils``, not to the module that made them.
    """
    warnings.filterwarnings(
        "ignore", message="The Assistants API is deprecated", category=DeprecationWarning
    )


@contextlib.asynccontextmanager
async def _run_watcher(fake: FakeOpenAI) -> AsyncIterator[dict[tuple[str, str], float]]:
    """Note when each run of the fake completes: {(thread_id, run_id): completed_at}."""
    completed: dict[tuple[str, str], float] = {}
    waiting: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def stamp(thread_id: str, run_id: str) -> None:
        run = await fake.wait_for_run(thread_id, run_id, *TERMINAL)
        if run["status"] == "completed":
            completed[(thread_id, run_id)] = time.perf_counter()

    async def watch() -> None:
        while True:
            for thread_id, state in list(fake.assistants_store.threads.items()):
                for control in state.runs:
                    key = (thread_id, str(control.run["id"]))
                    if key not in waiting:
                        waiting[key] = asyncio.create_task(stamp(*key))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        yield completed
    finally:
        for task in [watcher, *waiting.values()]:
            task.cancel()
        await asyncio.gather(watcher, *waiting.values(), return_exceptions=True)


def _run_text(fake: FakeOpenAI, thread_id: str, run_id: str) -> str:
    """The assistant text a run wrote."""
    for message in fake.thread_messages(thread_id):
        if message["run_id"] == run_id and message["role"] == "assistant":
            return str(message["content"][0]["text"]["value"])
    return ""


async def _bot_rounds(
    size: Size, mode: str, tmp: Path, fake: FakeOpenAI, transport: StampingTransport
) -> None:
    """Send ``rounds`` rounds of one message per chat through the real pipeline."""
    settings = bench_settings(
        tmp / f"{mode}.db",
        fake.base_url,
        OPENAI_API_MODE=mode,
        OPENAI_ASSISTANT_ID=ASSISTANT_ID,
    )
    async with running_bot(settings, transport) as bot:
        for round_no in range(size.rounds):
            events = [
                wa_events.private_text(f"{mode} round {round_no} chat {n}", sender=phone(n))
                for n in range(size.chats)
            ]
            for ev in events:
                bot.pipeline.submit(to_incoming(ev))
            await transport.wait_for((round_no + 1) * size.chats, timeout=60)


async def _assistants_bot(size: Size, tmp: Path) -> list[float]:
    async with fake_openai(
        latency=size.latency, where="loop", assistant_ids=[ASSISTANT_ID]
    ) as server:
        fake = server.fake
        assert fake is not None
        transport = StampingTransport()
        async with _run_watcher(fake) as completed:
            await _bot_rounds(size, "assistants", tmp, fake, transport)
        sent = {d.text: d.at for d in transport.deliveries}
        return [
            sent[_run_text(fake, thread_id, run_id)] - done
            for (thread_id, run_id), done in completed.items()
        ]


async def _responses_bot(size: Size, tmp: Path) -> list[float]:
    async with fake_openai(latency=size.latency, where="loop") as server:
        fake = server.fake
        assert fake is not None
        stored = _StampedDict()
        fake.responses_store.responses = stored
        transport = StampingTransport()
        await _bot_rounds(size, "responses", tmp, fake, transport)
        sent = {d.text: d.at for d in transport.deliveries}
        delays = []
        for response_id, done in stored.stamps.items():
            text = stored[response_id].response["output"][0]["content"][0]["text"]
            delays.append(sent[text] - done)
        return delays


async def seed_style_turn(
    client: openai.AsyncOpenAI,
    fake: FakeOpenAI,
    thread_id: str,
    text: str,
    transport: StampingTransport,
    to: str,
    poll_seconds: float,
) -> float:
    """One turn as the seeds did it (poll every second); return completion-to-send seconds."""
    await client.beta.threads.messages.create(thread_id, role="user", content=text)
    run = await client.beta.threads.runs.create(thread_id, assistant_id=ASSISTANT_ID)
    stamps: list[float] = []
    completed = asyncio.ensure_future(fake.wait_for_run(thread_id, run.id, "completed"))
    completed.add_done_callback(lambda _: stamps.append(time.perf_counter()))
    while run.status not in TERMINAL:
        await asyncio.sleep(poll_seconds)
        run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    page = await client.beta.threads.messages.list(thread_id, run_id=run.id)
    reply = page.data[0].content[0]
    await transport.send_text(to, reply.text.value if reply.type == "text" else "")
    await completed
    return transport.deliveries[-1].at - stamps[0]


async def _assistants_baseline(size: Size) -> list[float]:
    async with fake_openai(
        latency=size.latency, where="loop", assistant_ids=[ASSISTANT_ID]
    ) as server:
        fake = server.fake
        assert fake is not None
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0)
        transport = StampingTransport()
        try:
            threads = [(await client.beta.threads.create()).id for _ in range(size.chats)]
            delays: list[float] = []
            for round_no in range(size.baseline_rounds):
                delays += await asyncio.gather(
                    *(
                        seed_style_turn(
                            client,
                            fake,
                            thread_id,
                            f"baseline round {round_no} chat {n}",
                            transport,
                            chat_jid(n),
                            size.poll_seconds,
                        )
                        for n, thread_id in enumerate(threads)
                    )
                )
        finally:
            await client.close()
        return delays


async def run(size: Size = FULL) -> ScenarioResult:
    """Measure completion-to-reply for the bot (assistants, responses) and the polling baseline."""
    _quiet_assistants_warnings()
    result = ScenarioResult(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        assistants = await _assistants_bot(size, Path(tmp))
        responses = await _responses_bot(size, Path(tmp))
    baseline = await _assistants_baseline(size)
    a, r, b = summary_ms(assistants), summary_ms(responses), summary_ms(baseline)
    ratio = b["p50"] / a["p50"] if a["p50"] > 0 else float("nan")
    result.metrics += [
        Metric("assistants: bot p50", a["p50"], "ms", 20.0),
        Metric("assistants: bot p99", a["p99"], "ms", 20.0),
        Metric("assistants: 1 s polling p50", b["p50"], "ms"),
        Metric("assistants: speed-up (p50)", ratio, "x", 20.0, better="higher"),
        Metric("responses: bot p50", r["p50"], "ms", 20.0),
        Metric("responses: bot p99", r["p99"], "ms", 20.0),
    ]
    result.details = {
        "chats": size.chats,
        "rounds": size.rounds,
        "run_latency_s": size.latency,
        "assistants_bot_ms": a,
        "assistants_polling_baseline_ms": b,
        "responses_bot_ms": r,
        "baseline_poll_seconds": size.poll_seconds,
        "fake_server": "same event loop as the bot",
    }
    return result
