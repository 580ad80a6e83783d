"""``main.py --replay`` fed junk: bad bytes, malformed ids, a huge text; the rest is answered."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.junk import QUARANTINE_CHAT, too_long_notice
from tests import wa_events as wa
from tests.fake_openai import FakeOpenAI
from tests.test_junk import with_sender
from tests.test_replay_e2e import ROOT, bot_env, replay_bytes

pytestmark = pytest.mark.slow

ALICE = "15550001111"


def line(text: str, msg_id: str) -> bytes:
    """One replay line: Alice says ``text``."""
    return wa.to_json_line(wa.private_text(text, sender=ALICE, msg_id=msg_id)).encode()


async def test_bad_bytes_and_junk_ids_are_counted_and_every_good_line_is_answered(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Invalid UTF-8 and NUL lines are bad lines; junk senders are quarantined; no traceback."""
    no_sender = wa.group_text("@bot hi", sender=ALICE, mentions=[wa.BOT_PHONE], msg_id="G0")
    no_sender.Info.MessageSource.Sender.CopyFrom(wa.jid())
    lines = [
        line("first", "A1"),
        line("second", "A2")[:40] + b"\xff" + line("second", "A2")[40:],  # invalid UTF-8
        line("third", "A3"),
        b"\x00" + line("fourth", "A4"),  # a NUL byte
        wa.to_json_line(with_sender(wa.private_text("junk"), "", "s.whatsapp.net")).encode(),
        wa.to_json_line(with_sender(wa.private_text("junk"), "1555\x00", "lid")).encode(),
        wa.to_json_line(no_sender).encode(),
        line("x" * 20_000, "BIG"),
        line("fifth", "A5"),
    ]
    code, sent, err = await replay_bytes(fake_openai, tmp_path, b"\n".join(lines) + b"\n")
    assert code == 0, err
    assert [s["text"] for s in sent] == [
        "echo: first",
        "echo: third",
        too_long_notice(16_000),
        "echo: fifth",
    ]
    assert "Traceback" not in err
    events = [json.loads(e) for e in err.splitlines() if e.startswith("{")]
    bad = [(e["line"], e["error"]) for e in events if e["event"] == "replay.bad_line"]
    assert [number for number, _ in bad] == [2, 4]
    [done] = [e for e in events if e["event"] == "replay.done"]
    assert done["bad_lines"] == 2
    assert all(len(c.last_user_text) < 16_000 for c in fake_openai.calls)
    with sqlite3.connect(tmp_path / "bot.db") as db:
        junk = db.execute(
            "SELECT COUNT(*) FROM messages WHERE chat = ? AND state = 'ignored'",
            (QUARANTINE_CHAT,),
        ).fetchone()
    assert junk == (3,)


async def test_console_skips_a_line_that_is_not_text_and_reads_on(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """--console: an invalid-UTF-8 line and a NUL line are skipped; the lines after are answered."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "--console",
        "--sender",
        f"{ALICE}@s.whatsapp.net",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=bot_env(fake_openai, tmp_path),
    )
    typed = b"hello\nbad \xff byte\nnul\x00here\nstill here\r\n"
    out, err = await asyncio.wait_for(proc.communicate(typed), 60)
    assert proc.returncode == 0, err.decode()
    assert "bot> echo: still here" in out.decode()
    assert [c.last_user_text for c in fake_openai.calls] == ["hello", "still here"]
    assert "line 2 skipped: invalid UTF-8" in err.decode()
    assert "line 3 skipped: NUL byte" in err.decode()
