"""What the scenarios share: results, percentiles, settings, a timing transport, the fake server."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import platform
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import psutil

from bot.app import Bot, wire
from bot.errors import TransportError
from bot.logs import configure_logging
from bot.messages import BotIdentity, IncomingMessage, OutgoingMedia
from bot.settings import Settings, load_settings
from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
BOT_JID = "15559990000@s.whatsapp.net"
BOT_LID = "199990000000001@lid"
#: Where the fake OpenAI server runs: on the bot's own event loop, on its own loop in a thread
#: of this process (its recorded requests stay readable), or in a separate process.
Placement = Literal["loop", "thread", "process"]


# --- results -----------------------------------------------------------------------------------


@dataclass
class Metric:
    """One measured figure, with its target when the issue sets one."""

    name: str
    value: float
    unit: str
    target: float | None = None
    better: Literal["lower", "higher"] = "lower"
    note: str = ""

    @property
    def passed(self) -> bool | None:
        """Whether the target is met (None: no target, the figure is for information)."""
        if self.target is None or math.isnan(self.value):
            return None if self.target is None else False
        return self.value <= self.target if self.better == "lower" else self.value >= self.target

    def target_text(self) -> str:
        """The target as shown in the table, e.g. ``<= 2 ms``."""
        if self.target is None:
            return "-"
        op = "<=" if self.better == "lower" else ">="
        return f"{op} {self.target:g} {self.unit}".rstrip()

    def to_dict(self) -> dict[str, Any]:
        """The metric as JSON-ready data."""
        return {**asdict(self), "passed": self.passed}


@dataclass
class ScenarioResult:
    """What one scenario measured: the table rows plus free-form details for the JSON file."""

    name: str
    title: str
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "name": self.name,
            "title": self.title,
            "seconds": round(self.seconds, 3),
            "metrics": [m.to_dict() for m in self.metrics],
            "details": self.details,
        }


def fmt(value: float) -> str:
    """A figure with sensible precision for the table."""
    if math.isnan(value):
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max/mean of durations given in seconds, as milliseconds (3 decimals)."""
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p90": round(percentile(ms, 90), 3),
        "p99": round(percentile(ms, 99), 3),
        "p99.9": round(percentile(ms, 99.9), 3),
        "max": round(max(ms), 3) if ms else math.nan,
        "mean": round(sum(ms) / len(ms), 3) if ms else math.nan,
    }


def machine_info() -> dict[str, Any]:
    """The machine and software the figures were taken on."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("openai", "httpx2", "aiohttp", "aiosqlite", "structlog", "neonize"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        "cpu_model": model,
        "logical_cpus": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
    }


# --- the bot -----------------------------------------------------------------------------------


def bench_settings(db_path: Path, base_url: str, **env: object) -> Settings:
    """Settings for a benchmark run: the fake server, no retries, no debounce, DB at ``db_path``."""
    values = {
        "OPENAI_API_KEY": "sk-bench-not-a-secret",
        "OPENAI_BASE_URL": base_url,
        "OPENAI_MAX_RETRIES": "0",
        "DEBOUNCE_SECONDS": "0",
        "DATABASE_PATH": str(db_path),
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    values.update({key: str(value) for key, value in env.items()})
    return load_settings(values)


def production_logging() -> None:
    """Log as the bot does in production (INFO, JSON), into /dev/null: formatting still costs."""
    configure_logging("INFO", "json", stream=open(os.devnull, "w"))  # noqa: SIM115


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outgoing text and when the transport got it (``time.perf_counter``)."""

    to: str
    text: str
    at: float


class StampingTransport:
    """An in-process WhatsApp transport that timestamps every outgoing message."""

    def __init__(self, *, keep: bool = True) -> None:
        self._identity = BotIdentity(BOT_JID, BOT_LID)
        self.keep = keep
        self.deliveries: list[Delivery] = []
        self.count = 0
        self._ids = itertools.count(1)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    @property
    def identity(self) -> BotIdentity:
        """The bot's own JID and LID."""
        return self._identity

    async def send_text(self, to: str, text: str, *, quoted: IncomingMessage | None = None) -> str:
        """Record (and timestamp) one outgoing text."""
        at = time.perf_counter()
        if self.keep:
            self.deliveries.append(Delivery(to, text, at))
        self.count += 1
        self._wake()
        return f"BENCH{next(self._ids):010d}"

    async def send_media(
        self, to: str, media: OutgoingMedia, *, quoted: IncomingMessage | None = None
    ) -> str:
        """Record media by its caption."""
        return await self.send_text(to, media.caption, quoted=quoted)

    async def set_typing(self, to: str, typing: bool) -> None:
        """Typing indicators cost nothing here."""

    async def mark_read(self, message: IncomingMessage) -> None:
        """Read receipts cost nothing here."""

    async def download(self, message: IncomingMessage) -> bytes:
        """No media in benchmarks."""
        raise TransportError("no media in benchmarks")

    async def wait_for(self, count: int, timeout: float = 120.0) -> None:
        """Wait until ``count`` messages have been sent in all."""
        if self.count >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((count, future))
        await asyncio.wait_for(future, timeout)

    def _wake(self) -> None:
        for waiter in [w for w in self._waiters if w[0] <= self.count]:
            self._waiters.remove(waiter)
            if not waiter[1].done():
                waiter[1].set_result(None)


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, transport: StampingTransport) -> AsyncIterator[Bot]:
    """The app's real wiring (store, backend, commands, gate, pipeline), started; then drained."""
    async with wire(settings, transport=transport) as bot:
        await bot.pipeline.start()
        try:
            yield bot
        finally:
            await bot.pipeline.drain(5.0)


def phone(number: int) -> str:
    """A made-up phone number for chat ``number``."""
    return f"1555{number:07d}"


def chat_jid(number: int) -> str:
    """The private-chat JID of chat ``number``."""
    return f"{phone(number)}@s.whatsapp.net"


# --- the fake OpenAI server --------------------------------------------------------------------


@dataclass
class FakeHandle:
    """A running fake server: its base URL, and the object itself unless it is another process."""

    base_url: str
    fake: FakeOpenAI | None
    pid: int | None = None


@contextlib.asynccontextmanager
async def fake_openai(
    *, latency: float, where: Placement = "thread", assistant_ids: Iterable[str] = ()
) -> AsyncIterator[FakeHandle]:
    """Start the fake OpenAI server on 127.0.0.1 with ``latency`` seconds per model call."""
    ids = list(assistant_ids)
    if where == "loop":
        async with FakeOpenAI(latency=latency, assistant_ids=ids, seed=1) as fake:
            yield FakeHandle(fake.base_url, fake)
    elif where == "thread":
        with FakeOpenAI.in_thread(latency=latency, assistant_ids=ids, seed=1) as fake:
            yield FakeHandle(fake.base_url, fake)
    else:
        args = ["-m", "tests.fake_openai", "--latency", str(latency)]
        for assistant_id in ids:
            args += ["--assistant-id", assistant_id]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE
        )
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            if not line.startswith(b"http"):
                raise RuntimeError(f"the fake server did not start: {line!r}")
            yield FakeHandle(line.decode().strip(), None, proc.pid)
        finally:
            if proc.returncode is None:
                proc.terminate()
            await proc.wait()
