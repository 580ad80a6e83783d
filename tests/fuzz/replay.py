"""Fuzz the replay front-end: N lines of real, junk and broken input through ``main.py --replay``.

Run (the fake OpenAI server is started and stopped for you)::

    python -m tests.fuzz.replay --lines 10000 [--seed 1] [--keep DIR]

Every line is one of: a real private text (tagged ``ok <n>``, must be answered once), a
message with a malformed chat/sender/alt id or no id (tagged ``junk <n>``, must never be
answered), a duplicate, a group message not addressed to the bot, plumbing (reactions,
revokes), an over-long text (must get the MAX_INPUT_CHARS notice), or a broken line (invalid
UTF-8, NUL bytes, not JSON, empty). The summary printed as JSON counts lines, replies, replies
to junk, missing answers, bad lines, tracebacks and the exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neonize.proto.Neonize_pb2 import JID
from neonize.proto.Neonize_pb2 import Message as MessageEv

from tests import wa_events as wa

ROOT = Path(__file__).resolve().parents[2]
ME = f"{wa.BOT_PHONE}@s.whatsapp.net"
ME_LID = f"{wa.BOT_LID}@lid"
#: Characters a hostile JID field might hold.
_NASTY = ["\x00", "\x01", "\n", "\t", " ", "@", ":", ".", "é", "١", "\u202e", "\ufeff", "/"]
_SERVERS = ["s.whatsapp.net", "lid", "g.us", "c.us", "broadcast", "newsletter", "hosted"]


@dataclass
class Plan:
    """The generated lines and what the bot must do with them."""

    lines: list[bytes] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)  # reply texts that must each come once
    notices: int = 0  # over-long texts: one MAX_INPUT_CHARS notice each
    surely_bad: int = 0  # lines that cannot be a MessageEv (invalid bytes, not JSON)
    kinds: Counter[str] = field(default_factory=Counter)


def _jid(user: str, server: str) -> JID:
    """A JID protobuf with exactly these fields (IsEmpty only when both are empty)."""
    empty = not (user or server)
    return JID(User=user, RawAgent=0, Device=0, Integrator=0, Server=server, IsEmpty=empty)


def _junk_jid(rng: random.Random, *, empty: bool = True) -> JID:
    """A JID no real WhatsApp event carries (the empty one only if ``empty``: an empty
    alternative id just means there is none)."""
    digits = str(rng.randrange(10**10, 10**12))
    choice = rng.randrange(7 if empty else 6)
    if choice == 0:
        return _jid("", rng.choice(_SERVERS))  # bare server
    if choice == 1:
        at = rng.randrange(len(digits))
        return _jid(digits[:at] + rng.choice(_NASTY) + digits[at:], "s.whatsapp.net")
    if choice == 2:
        return _jid(digits, rng.choice(["example.com", "", "s.whatsapp.net\x00", "LID", "g.us "]))
    if choice == 3:
        return _jid(rng.choice(["alice", "+" + digits, digits + "x", "0x1f"]), "s.whatsapp.net")
    if choice == 4:
        return _jid(digits, "g.us")  # a group where a person belongs
    if choice == 5:
        return _jid("".join(rng.choice(_NASTY) for _ in range(rng.randrange(1, 6))), "lid")
    return _jid("", "")


def _junk_event(rng: random.Random, tag: str) -> MessageEv:
    """A message with one malformed id (or none), addressed like a real one otherwise."""
    sender = str(rng.randrange(15550000000, 15559999999))
    variant = rng.randrange(6)
    if variant == 0:  # a group event without a sender
        ev = wa.group_text(f"@bot {tag}", sender=sender, mentions=[wa.BOT_PHONE])
        ev.Info.MessageSource.Sender.CopyFrom(_jid("", ""))
        return ev
    ev = wa.private_text(tag, sender=sender)
    source = ev.Info.MessageSource
    if variant == 1:
        source.SenderAlt.CopyFrom(_junk_jid(rng, empty=False))
    elif variant == 2:
        ev.Info.ID = rng.choice(["", "\x00", "id\nwith newline"])
    else:
        bad = _junk_jid(rng)
        source.Sender.CopyFrom(bad)
        source.Chat.CopyFrom(bad if variant == 3 else source.Chat)
        if variant == 5:
            source.IsGroup = True  # a "group" whose chat is a person's id
    return ev


def _line(ev: MessageEv) -> bytes:
    """One replay line."""
    return wa.to_json_line(ev).encode()


def generate(count: int, seed: int = 1, *, senders: int = 200) -> Plan:
    """``count`` fuzz lines (deterministic for a seed) and the expectations on them."""
    rng = random.Random(seed)
    plan = Plan()
    people = [str(15550000000 + rng.randrange(10**7)) for _ in range(senders)]
    good: list[bytes] = []
    for n in range(count):
        roll = rng.random()
        person = rng.choice(people)
        if roll < 0.35:
            kind, text = "real", f"ok {n}"
            line = _line(wa.private_text(text, sender=person, msg_id=f"OK{n:06d}"))
            plan.expected.add(f"echo: {text}")
            good.append(line)
        elif roll < 0.60:
            kind, line = "junk_id", _line(_junk_event(rng, f"junk {n}"))
        elif roll < 0.65 and good:
            kind, line = "duplicate", rng.choice(good)
        elif roll < 0.70:
            kind = "group_chatter"
            line = _line(wa.group_text(f"junk {n} chatter", sender=person))
        elif roll < 0.75:
            kind = "plumbing"
            ev = rng.choice([wa.reaction("X", sender=person), wa.revoke("X", sender=person)])
            line = _line(ev)
        elif roll < 0.77:
            kind = "too_long"
            size = rng.choice([16_001, 50_000, 1_000_000])
            line = _line(wa.private_text(f"junk {n} " + "x" * size, sender=person))
            plan.notices += 1
        elif roll < 0.83:
            kind = "invalid_utf8"
            raw = _line(wa.private_text(f"junk {n} ✓", sender=person))
            at = rng.randrange(len(raw))
            bad = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x9c"])
            line = raw[:at] + bad + raw[at:]
            plan.surely_bad += 1
        elif roll < 0.87:
            kind = "nul"
            raw = _line(wa.private_text(f"junk {n}", sender=person))
            at = rng.randrange(len(raw) + 1)
            line = raw[:at] + b"\x00" + raw[at:]
            plan.surely_bad += 1
        elif roll < 0.93:
            kind = "not_json"
            raw = _line(wa.private_text(f"junk {n}", sender=person))
            line = rng.choice([raw[: rng.randrange(1, len(raw))], b"junk", b"[1,2]", b"{"])
            plan.surely_bad += 1
        elif roll < 0.96:
            kind = "odd_json"  # valid JSON the parser may or may not take as an event
            line = rng.choice([b"{}", b'{"Info":{}}', b'{"Message":{"conversation":"junk"}}'])
        else:
            kind, line = "empty", rng.choice([b"", b"   ", b"\t"])
        plan.kinds[kind] += 1
        plan.lines.append(line)
    return plan


async def run_replay(
    base_url: str, input_path: Path, workdir: Path, **extra: str
) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``main.py --replay`` over ``input_path``; exit code, sent JSON lines, stderr."""
    env = {
        "PATH": "/usr/bin:/bin",
        "OPENAI_API_KEY": "sk-fuzz-key",
        "OPENAI_BASE_URL": base_url,
        "OPENAI_MAX_RETRIES": "0",
        "DATABASE_PATH": str(workdir / "bot.db"),
        "DEBOUNCE_SECONDS": "0",
        "HANDOFF_MINUTES": "0",
        "LINGER": "0",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        **extra,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "--replay",
        str(input_path),
        "--me",
        ME,
        "--me-lid",
        ME_LID,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=workdir,
        env=env,
    )
    out, err = await proc.communicate()
    sent = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    return proc.returncode or 0, sent, err.decode(errors="replace")


def summarize(plan: Plan, code: int, sent: list[dict[str, Any]], err: str) -> dict[str, Any]:
    """The figures of one run: what was answered, what must not have been, what broke."""
    texts = Counter(str(s.get("text", "")) for s in sent)
    events = []
    for line in err.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    done = [e for e in events if e.get("event") == "replay.done"]
    ignored = Counter(str(e.get("reason")) for e in events if e.get("event") == "message.ignored")
    return {
        "lines": len(plan.lines),
        "kinds": dict(sorted(plan.kinds.items())),
        "replies": len(sent),
        "replies_to_junk": sum(n for t, n in texts.items() if "junk" in t),
        "expected_answers": len(plan.expected),
        "missing_answers": len(plan.expected - set(texts)),
        "answered_twice": sum(1 for t in plan.expected if texts[t] > 1),
        "input_cap_notices": sum(n for t, n in texts.items() if "too long for me" in t),
        "expected_notices": plan.notices,
        "bad_lines": done[0].get("bad_lines") if done else None,
        "surely_bad_lines": plan.surely_bad,
        "ignored_by_reason": dict(sorted(ignored.items())),
        "intake_failures": sum(1 for e in events if e.get("event") == "message.intake_failed"),
        "tracebacks": err.count("Traceback"),
        "exit_code": code,
    }


async def fuzz(count: int, seed: int, keep: Path | None) -> dict[str, Any]:
    """Start the fake OpenAI server, run one fuzzed replay, stop the server, summarize."""
    from tests.fake_openai import FakeOpenAI

    plan = generate(count, seed)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        input_path = workdir / "fuzz.jsonl"
        input_path.write_bytes(b"\n".join(plan.lines) + b"\n")
        async with FakeOpenAI() as server:
            code, sent, err = await run_replay(server.base_url, input_path, workdir)
        (workdir / "stderr.log").write_text(err)
    return summarize(plan, code, sent, err)


def main(argv: list[str] | None = None) -> int:
    """CLI: print the summary as JSON; exit 1 if junk was answered or anything broke."""
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.replay", description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep input, database and stderr here")
    args = parser.parse_args(argv)
    if args.keep is not None and (args.keep / "bot.db").exists():
        parser.error(f"{args.keep} holds a database from an earlier run: use a fresh directory")
    summary = asyncio.run(fuzz(args.lines, args.seed, args.keep))
    print(json.dumps(summary, indent=2))
    broken = (
        summary["replies_to_junk"]
        or summary["missing_answers"]
        or summary["tracebacks"]
        or summary["exit_code"]
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
