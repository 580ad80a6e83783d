"""Kill loop: ``python -m bench.killloop [--messages N] [--cycles C] [--latency S]``.

The whole bot runs as ``main.py --replay -`` against the fake OpenAI server (its own process,
on 127.0.0.1, ``--latency`` seconds per model call) and is SIGKILLed at a random moment while
it answers, again and again, on one database. Each cycle feeds a new slice of the messages,
plus every earlier message not answered yet and the whole previous slice again (WhatsApp
redelivers after a reconnect); the last cycle runs to the end. Across all cycles' output:

- answered twice: an incoming message id that got more than one reply line;
- lost: a message that never got one.

Both must be 0. The figures go to stdout as one JSON object (exit code 1 when either is not 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ME = "15559990000@s.whatsapp.net"
ECHO = "echo: "


@dataclass
class KillLoopResult:
    """What one kill loop measured."""

    messages: int
    cycles: int
    kills: int
    latency: float
    mode: str
    answered_twice: int
    lost: int
    replies: int
    torn_lines: int
    wall_seconds: float
    doubled_ids: list[str] = field(default_factory=list)
    lost_ids: list[str] = field(default_factory=list)
    #: For each lost id: its stored state and its reply's parts sent / ids recorded.
    lost_detail: dict[str, str] = field(default_factory=dict)


async def _start_fake(latency: float, workdir: Path) -> tuple[asyncio.subprocess.Process, str]:
    """Run ``python -m tests.fake_openai`` in its own process; return it and its base URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fake_openai",
        "--latency",
        str(latency),
        "--assistant-id",
        "asst_kill",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    base_url = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
    if not base_url.startswith("http"):
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"the fake OpenAI server did not start: {base_url!r}")
    return proc, base_url


def _env(base_url: str, workdir: Path, mode: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OPENAI_API_KEY": "sk-killloop",
        "OPENAI_BASE_URL": base_url,
        "OPENAI_MAX_RETRIES": "0",
        "OPENAI_API_MODE": mode,
        "OPENAI_ASSISTANT_ID": "asst_kill",
        "DATABASE_PATH": str(workdir / "bot.db"),
        "DEBOUNCE_SECONDS": "0",
        "HANDOFF_MINUTES": "0",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def _line(index: int, chats: int) -> str:
    """Message ``index`` as a replay line, stamped now (so no restart finds it stale)."""
    from tests import wa_events as wa

    sender = f"1555020{index % chats:04d}"
    return wa.to_json_line(wa.private_text(f"kill{index:06d}", sender=sender, msg_id=_id(index)))


def _id(index: int) -> str:
    return f"KILL{index:06d}"


async def _cycle(
    env: dict[str, str],
    workdir: Path,
    lines: list[str],
    kill_after: float | None,
    replies: Counter[str],
    number: int,
) -> tuple[bool, int]:
    """Run the bot once over ``lines``; SIGKILL it ``kill_after`` s after its first reply
    (None: let it finish). Returns (killed, torn output lines)."""
    with (workdir / f"cycle-{number:03d}.stderr").open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "main.py"),
            "--replay",
            "-",
            "--me",
            ME,
            "--env-file",
            os.devnull,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            cwd=workdir,
            env=env,
        )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(line + "\n" for line in lines).encode())
    await proc.stdin.drain()
    if kill_after is None:
        proc.stdin.close()
    first_reply = asyncio.Event()
    torn = 0

    async def read() -> None:
        nonlocal torn
        assert proc.stdout is not None
        async for raw in proc.stdout:
            try:
                sent = json.loads(raw)
                text = str(sent["text"])
            except (ValueError, KeyError, TypeError):
                torn += 1
                continue
            if text.startswith(ECHO + "kill"):
                replies[text[len(ECHO) :]] += 1
            first_reply.set()

    reader = asyncio.create_task(read())
    killed = False
    if kill_after is not None:
        done = asyncio.create_task(proc.wait())
        got = asyncio.create_task(first_reply.wait())
        await asyncio.wait({done, got}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        got.cancel()
        if not done.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(done), kill_after)
        if not done.done():
            proc.send_signal(signal.SIGKILL)
            killed = True
        await done
    else:
        await asyncio.wait_for(proc.wait(), 300)
    await reader
    return killed, torn


async def kill_loop(
    *,
    messages: int = 1000,
    cycles: int = 30,
    latency: float = 0.03,
    chats: int = 20,
    mode: str = "chat",
    seed: int = 12,
    workdir: Path | None = None,
) -> KillLoopResult:
    """Run the kill loop and return its figures (see the module docstring)."""
    rng = random.Random(seed)
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="killloop-")))
        fake, base_url = await _start_fake(latency, workdir)
        try:
            env = _env(base_url, workdir, mode)
            replies: Counter[str] = Counter()
            slices = [list(range(messages))[k::cycles] for k in range(cycles)]
            slices = [sorted(s) for s in slices]
            kills = torn = 0
            previous: list[int] = []
            fed: set[int] = set()
            for number, new in enumerate([*slices, []]):
                last = number == len(slices)
                unanswered = sorted(i for i in fed if replies[f"kill{i:06d}"] == 0)
                batch = sorted(set(previous) | set(unanswered) | set(new))
                fed |= set(new)
                previous = new
                # The slice takes about (its messages per chat) x latency: kill inside that.
                span = max(0.05, (len(new) / chats + 1) * latency * 2)
                killed, torn_now = await _cycle(
                    env,
                    workdir,
                    [_line(i, chats) for i in batch],
                    None if last else rng.uniform(0, span),
                    replies,
                    number,
                )
                kills += killed
                torn += torn_now
            doubled = sorted(_id(int(t[4:])) for t, n in replies.items() if n > 1)
            lost = sorted(_id(i) for i in range(messages) if replies[f"kill{i:06d}"] == 0)
            detail = _explain(workdir / "bot.db", lost[:20])
        finally:
            fake.send_signal(signal.SIGTERM)
            await fake.wait()
    return KillLoopResult(
        messages=messages,
        cycles=cycles,
        kills=kills,
        latency=latency,
        mode=mode,
        answered_twice=len(doubled),
        lost=len(lost),
        replies=sum(replies.values()),
        torn_lines=torn,
        wall_seconds=round(time.perf_counter() - began, 1),
        doubled_ids=doubled[:20],
        lost_ids=lost[:20],
        lost_detail=detail,
    )


def _explain(db: Path, wa_ids: list[str]) -> dict[str, str]:
    """What the database says about each of ``wa_ids`` (to tell a kill window from a bug)."""
    found: dict[str, str] = {}
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for wa_id in wa_ids:
            row = conn.execute(
                "SELECT m.state, m.reason, r.parts_sent, r.parts IS NULL, r.wa_ids FROM messages m"
                " LEFT JOIN replies r ON r.message_id = m.id WHERE m.wa_id = ?",
                (wa_id,),
            ).fetchone()
            found[wa_id] = "not stored" if row is None else repr(row)
    return found


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the loop, print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.killloop", description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.03, help="seconds per model call")
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--mode", choices=["chat", "responses", "assistants"], default="chat")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the database here")
    args = parser.parse_args(argv)
    result = asyncio.run(
        kill_loop(
            messages=args.messages,
            cycles=args.cycles,
            latency=args.latency,
            chats=args.chats,
            mode=args.mode,
            seed=args.seed,
            workdir=args.workdir,
        )
    )
    print(json.dumps(asdict(result), indent=2))
    return 0 if result.answered_twice == 0 and result.lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
