"""Scenario 6, start-up: from process start to ready, without network.

Runs ``python main.py --replay - --env-file <none>`` with empty stdin in chat mode (its only
start-up request, the model check, meets a closed port at ``OPENAI_BASE_URL``: refused at
once, logged, and the bot starts) and
times, from just before the process is spawned, the ``bot.ready`` log line on stderr and the
exit. One untimed run first creates the database and warms the OS file cache; then ``runs``
timed runs on that existing database (a restart). The figure is the median.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .common import ROOT, Metric, ScenarioResult

NAME = "startup"
TITLE = "Start-up: process start to bot.ready (replay front-end, no network)"


@dataclass(frozen=True)
class Size:
    """How many timed runs."""

    runs: int = 7
    import_profile: bool = True


FULL = Size()
QUICK = Size(runs=3)
TINY = Size(runs=1, import_profile=False)


def _environment(db_path: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(
        OPENAI_API_KEY="sk-bench-not-a-secret",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        DATABASE_PATH=str(db_path),
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        PYTHONDONTWRITEBYTECODE="",
    )
    return env


def start_once(db_path: Path, *extra: str, log: list[str] | None = None) -> tuple[float, float]:
    """Start the bot once; return (seconds to ``bot.ready``, seconds to exit)."""
    command = [sys.executable, *extra, "main.py", "--replay", "-", "--env-file", os.devnull]
    began = time.perf_counter()
    ready = float("nan")
    lines = log if log is not None else []
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=_environment(db_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if '"bot.ready"' in line and math.isnan(ready):
                ready = time.perf_counter() - began
        code = proc.wait()
    ended = time.perf_counter() - began
    if code != 0 or math.isnan(ready):
        raise RuntimeError(f"main.py exited {code} without bot.ready:\n{''.join(lines[-20:])}")
    return ready, ended


#: Packages whose import time is worth knowing (each figure includes what it imports).
HEAVY_IMPORTS = (
    "openai", "neonize", "aiohttp", "httpx2", "pydantic", "google.protobuf", "aiosqlite",
    "structlog", "markdown_it", "jsonschema", "dotenv",
)  # fmt: skip


def import_times(db_path: Path) -> dict[str, float]:
    """Import time (ms, ``-X importtime``, cumulative) of the heavy packages at start-up."""
    log: list[str] = []
    start_once(db_path, "-X", "importtime", log=log)
    found: dict[str, float] = {}
    for line in log:
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| *(\S+)", line)
        if match and match.group(2) in HEAVY_IMPORTS:
            found[match.group(2)] = round(int(match.group(1)) / 1000, 1)
    return dict(sorted(found.items(), key=lambda item: -item[1]))


def run_sync(size: Size = FULL) -> ScenarioResult:
    """Time ``size.runs`` restarts."""
    result = ScenarioResult(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        db_path = Path(tmp) / "bot.db"
        fresh_ready, fresh_exit = start_once(db_path)
        timings = [start_once(db_path) for _ in range(size.runs)]
        imports = import_times(db_path) if size.import_profile else {}
    readies = [ready for ready, _ in timings]
    exits = [ended for _, ended in timings]
    result.metrics += [
        Metric("start to bot.ready (median)", statistics.median(readies) * 1000, "ms", 1000.0),
        Metric("start to exit (median)", statistics.median(exits) * 1000, "ms"),
    ]
    result.details = {
        "runs": size.runs,
        "ready_ms": [round(r * 1000, 1) for r in readies],
        "exit_ms": [round(e * 1000, 1) for e in exits],
        "fresh_database": {
            "ready_ms": round(fresh_ready * 1000, 1),
            "exit_ms": round(fresh_exit * 1000, 1),
        },
        "import_ms": imports,
        "command": "python main.py --replay - --env-file /dev/null  (stdin empty)",
    }
    return result


async def run(size: Size = FULL) -> ScenarioResult:
    """Async entry point like the other scenarios (the work is subprocesses)."""
    import asyncio

    return await asyncio.to_thread(run_sync, size)
