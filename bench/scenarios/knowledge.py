"""Scenario 8, knowledge: ``main.py knowledge add`` of many small files against a slow upload.

The fake answers each ``POST /files`` after ``latency`` (100 ms by default, in its own process);
attaching to the vector store and ingestion are immediate. The command runs as the operator
runs it (``bot.cli.knowledge.run``: plan, hash, bounded concurrent uploads, wait for
ingestion). The ideal is ``files x latency / concurrency``; the figure is the wall time, then
the same folder again (everything unchanged: no upload at all).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import openai

from bot.cli.knowledge import parser
from bot.cli.knowledge import run as knowledge_run

from .common import ROOT, Metric, ScenarioResult, bench_settings

NAME = "knowledge"
TITLE = "Knowledge base: `knowledge add` of small files, 100 ms per upload"


@dataclass(frozen=True)
class Size:
    """How many files, how slow each upload is, how many run at once."""

    files: int = 200
    latency: float = 0.1
    concurrency: int = 8


FULL = Size()
QUICK = Size(files=80)
TINY = Size(files=6, latency=0.01, concurrency=3)


@contextlib.asynccontextmanager
async def fake_process(upload_latency: float) -> AsyncIterator[str]:
    """The fake in its own process (its work off this one's CPU); yields its base URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "tests.fake_openai", "--upload-latency", str(upload_latency)),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line.startswith(b"http"):
            raise RuntimeError(f"the fake server did not start: {line!r}")
        yield line.decode().strip()
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


async def sdk_alone(base_url: str, folder: Path, concurrency: int) -> float:
    """Wall seconds of the same uploads straight from one ``AsyncOpenAI`` (no hashing,
    no vector store, no database): what the library and the fake allow at this concurrency."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    gate = asyncio.Semaphore(concurrency)
    files = await asyncio.to_thread(lambda: [(p.name, p.read_bytes()) for p in folder.iterdir()])

    async def one(file: tuple[str, bytes]) -> None:
        async with gate:
            await client.files.create(file=file, purpose="assistants")

    began = time.perf_counter()
    await asyncio.gather(*(one(f) for f in files))
    seconds = time.perf_counter() - began
    await client.close()
    return seconds


def _count(out: str, action: str) -> int:
    """How many files the command's summary line says were ``action``."""
    summary = out.strip().splitlines()[-1]  # "N added, N replaced, N unchanged, ..."
    return next(int(p.split()[0]) for p in summary.split(", ") if p.endswith(action))


async def run_add(settings: object, folder: Path, concurrency: int) -> tuple[float, str]:
    """Wall seconds and output of one ``knowledge add FOLDER``; it must succeed."""
    args = parser().parse_args(["add", str(folder), "--concurrency", str(concurrency)])
    out, err = io.StringIO(), io.StringIO()
    began = time.perf_counter()
    code = await knowledge_run(args, settings, out, err)  # type: ignore[arg-type]
    seconds = time.perf_counter() - began
    if code != 0:
        raise RuntimeError(f"knowledge add failed ({code}): {err.getvalue()[-500:]}")
    return seconds, out.getvalue()


async def run(size: Size = FULL) -> ScenarioResult:
    """Add ``size.files`` files, then add them again."""
    result = ScenarioResult(NAME, TITLE)
    ideal = size.files * size.latency / size.concurrency
    with tempfile.TemporaryDirectory(prefix="bench-knowledge-") as tmp:
        folder = Path(tmp) / "kb"
        folder.mkdir()
        for number in range(size.files):
            (folder / f"note-{number:04d}.md").write_text(
                f"Note {number}: the answer is {number}.\n"
            )
        async with fake_process(size.latency) as base_url:
            settings = bench_settings(Path(tmp) / "bot.db", base_url)
            first, out = await run_add(settings, folder, size.concurrency)
            uploads = _count(out, "added")
            again, out = await run_add(settings, folder, size.concurrency)
            uploads_again = _count(out, "added") + _count(out, "replaced")
            floor = await sdk_alone(base_url, folder, size.concurrency)
    result.metrics += [
        Metric(
            f"add {size.files} files (concurrency {size.concurrency})",
            first,
            "s",
            target=round(ideal * 1.25, 3),
            note=f"ideal {ideal:.2f} s",
        ),
        Metric("wall / ideal", first / ideal, "x"),
        Metric("the same uploads from the SDK alone", floor, "s", note="the library's floor"),
        Metric("add again, unchanged", again, "s"),
        Metric("uploads on the unchanged add", float(uploads_again), "files", target=0.0),
    ]
    result.details = {
        "files": size.files,
        "upload_latency_s": size.latency,
        "concurrency": size.concurrency,
        "ideal_s": round(ideal, 3),
        "first_s": round(first, 3),
        "again_s": round(again, 3),
        "sdk_alone_s": round(floor, 3),
        "uploads": uploads,
        "uploads_again": uploads_again,
    }
    return result
