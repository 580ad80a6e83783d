"""SIGINT/SIGTERM: a bounded graceful stop even while Go hangs; a second signal exits at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.shutdown import GRACE_SECONDS, SignalHandlers

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SHUTDOWN_SECONDS = 2.0


class StuckBot:
    """``python -m tests.live_stub``: main.py in live mode with a connect stuck in Go."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.events: list[dict[str, object]] = []
        self.stderr = ""
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start it and wait until it is connecting."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "OPENAI_API_KEY": "sk-signal-test",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "DATABASE_PATH": str(self.tmp_path / "bot.db"),
            "WHATSAPP_SESSION": str(self.tmp_path / "session.db"),
            "BOT_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_SECONDS),
            "LOG_FORMAT": "json",
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.live_stub",
            "--env-file",
            str(self.tmp_path / "absent.env"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.tmp_path,
            env=env,
        )
        await asyncio.wait_for(self.wait_for_event("whatsapp.connecting"), 30)

    async def wait_for_event(self, name: str) -> None:
        """Read stderr until a log event called ``name`` arrives."""
        assert self.proc is not None and self.proc.stderr is not None
        while not any(e.get("event") == name for e in self.events):
            line = await self.proc.stderr.readline()
            if not line:
                raise AssertionError(f"exited before {name}: {self.stderr}")
            self.stderr += line.decode()
            if line.startswith(b"{"):
                self.events.append(json.loads(line))

    async def exit_code(self, within: float) -> int:
        """Wait at most ``within`` seconds for the process to end; return its exit code."""
        assert self.proc is not None and self.proc.stderr is not None
        rest = await asyncio.wait_for(self.proc.stderr.read(), within)
        self.stderr += rest.decode()
        self.events += [json.loads(x) for x in rest.decode().splitlines() if x.startswith("{")]
        return await asyncio.wait_for(self.proc.wait(), within)

    def kill(self) -> None:
        """Make sure the process is gone."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


async def test_sigterm_stops_within_the_deadline_while_connect_hangs(tmp_path: Path) -> None:
    """SIGTERM during a connect stuck in Go: exit 0 within BOT_SHUTDOWN_TIMEOUT_SECONDS + 8 s."""
    bot = StuckBot(tmp_path)
    try:
        await bot.start()
        assert bot.proc is not None
        signalled = time.monotonic()
        bot.proc.send_signal(signal.SIGTERM)
        code = await bot.exit_code(within=SHUTDOWN_SECONDS + GRACE_SECONDS + 10)
        elapsed = time.monotonic() - signalled
    finally:
        bot.kill()
    assert code == 0, bot.stderr
    assert elapsed < SHUTDOWN_SECONDS + 8, elapsed
    names = [e["event"] for e in bot.events]
    assert "bot.signal" in names and "whatsapp.stop_timeout" in names and "bot.stopped" in names
    assert "Traceback" not in bot.stderr


async def test_a_second_sigint_exits_at_once_with_130(tmp_path: Path) -> None:
    """Ctrl-C twice: the second one ends the process at once with exit code 130."""
    bot = StuckBot(tmp_path)
    try:
        await bot.start()
        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(bot.wait_for_event("bot.signal"), 10)
        signalled = time.monotonic()
        bot.proc.send_signal(signal.SIGINT)
        code = await bot.exit_code(within=10)
        elapsed = time.monotonic() - signalled
    finally:
        bot.kill()
    assert code == 130, bot.stderr
    assert elapsed < 3, elapsed
    assert any(e["event"] == "bot.signal_again" for e in bot.events)
    assert "Traceback" not in bot.stderr


async def test_the_deadline_ends_a_graceful_stop_that_overruns() -> None:
    """After the first signal, a stop that takes longer than the deadline is ended with 130."""
    stop = asyncio.Event()
    exits: list[int] = []
    exited = threading.Event()

    def record(code: int) -> None:
        exits.append(code)
        exited.set()

    handlers = SignalHandlers(stop, deadline=0.05, exit_process=record)
    handlers.install()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.wait_for(stop.wait(), 5)
        assert await asyncio.to_thread(exited.wait, 5)
    finally:
        handlers.remove()
        handlers.cancel_deadline()
    assert exits == [130] and handlers.received == 1


async def test_a_second_signal_calls_exit_at_once() -> None:
    """In-process: the first SIGTERM only sets stop; the second one exits with 143."""
    stop = asyncio.Event()
    exits: list[int] = []
    exited = asyncio.Event()

    def record(code: int) -> None:
        exits.append(code)
        exited.set()

    handlers = SignalHandlers(stop, deadline=3600, exit_process=record)
    handlers.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
        assert exits == []
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(exited.wait(), 5)
    finally:
        handlers.remove()
        handlers.cancel_deadline()
    assert exits == [143] and handlers.received == 2
