"""``main.py --replay`` as a subprocess: the whole bot, real events in, JSON lines out."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import wa_events as wa
from tests.fake_openai import FakeOpenAI, Text, ToolCalls

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ME = f"{wa.BOT_PHONE}@s.whatsapp.net"
ME_LID = f"{wa.BOT_LID}@lid"
ALICE = "15550001111"


def bot_env(fake: FakeOpenAI, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: the fake server, a database in tmp_path, no debounce."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OPENAI_API_KEY": "sk-e2e-secret-key",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_MAX_RETRIES": "0",
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "DEBOUNCE_SECONDS": "0",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    env.update(extra)
    return env


async def replay(
    fake: FakeOpenAI, tmp_path: Path, lines: list[str], **extra: str
) -> tuple[int, list[dict[str, Any]], str]:
    """Run one replay over ``lines``; return the exit code, stdout JSON lines and stderr."""
    return await replay_bytes(fake, tmp_path, "\n".join(lines).encode() + b"\n", **extra)


async def replay_bytes(
    fake: FakeOpenAI, tmp_path: Path, data: bytes, **extra: str
) -> tuple[int, list[dict[str, Any]], str]:
    """Run one replay over raw stdin bytes; return the exit code, stdout JSON lines and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "--replay",
        "-",
        "--me",
        ME,
        "--me-lid",
        ME_LID,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=bot_env(fake, tmp_path, **extra),
    )
    out, err = await asyncio.wait_for(proc.communicate(data), 60)
    sent = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    return proc.returncode or 0, sent, err.decode()


async def test_replay_answers_what_it_should_once_and_keeps_context(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Answerable messages get one reply each; the rest nothing; a rerun continues the chat."""
    first = wa.private_text("my name is Ada", sender=ALICE, msg_id="R1")
    old = datetime.now(UTC) - timedelta(days=2)
    lines = [
        wa.to_json_line(first),
        wa.to_json_line(first),  # delivered twice
        wa.to_json_line(wa.private_text("via my LID", sender=ALICE, addressing="lid")),
        wa.to_json_line(wa.status_broadcast(sender=ALICE)),
        wa.to_json_line(wa.private_text("from last week", sender=ALICE, timestamp=old)),
        wa.to_json_line(wa.reaction("R1", "❤️", sender=ALICE)),
        wa.to_json_line(wa.private_text("typed by me", from_me=True, sender=ALICE)),
        wa.to_json_line(wa.group_text("group chatter", sender="15550002222")),
        wa.to_json_line(
            wa.group_text("@bot hi", sender="15550002222", mentions=[wa.BOT_PHONE], msg_id="G1")
        ),
        "this is not json",
    ]
    code, sent, err = await replay(fake_openai, tmp_path, lines, HANDOFF_MINUTES="0")
    assert code == 0, err
    # Chats run concurrently, so only the order within one chat is fixed.
    assert sorted(sent, key=lambda s: s["to"]) == [
        {"to": f"{wa.lid_for(ALICE)}@lid", "text": "echo: via my LID", "quoted_id": None},
        {"to": f"{wa.GROUP}@g.us", "text": "echo: Alice: @bot hi", "quoted_id": "G1"},
        {"to": f"{ALICE}@s.whatsapp.net", "text": "echo: my name is Ada", "quoted_id": None},
    ]
    assert [s["text"] for s in sent if s["to"] != f"{wa.GROUP}@g.us"] == [
        "echo: my name is Ada",
        "echo: via my LID",
    ]
    assert "replay.bad_line" in err
    assert "sk-e2e-secret-key" not in err
    assert "my name is Ada" not in err  # no message bodies at INFO

    again = wa.private_text("what is my name?", sender=ALICE, msg_id="R2")
    code, sent, err = await replay(
        fake_openai, tmp_path, [wa.to_json_line(first), wa.to_json_line(again)]
    )
    assert code == 0, err
    assert [s["text"] for s in sent] == ["echo: what is my name?"]
    context = fake_openai.calls[-1].messages
    assert ("user", "my name is Ada") in context and ("user", "via my LID") in context


async def test_sigterm_finishes_the_reply_in_flight_and_exits_0(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """SIGTERM mid-reply: the reply is finished and sent, the database is consistent."""
    gate = fake_openai.hold()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "--replay",
        "-",
        "--me",
        ME,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=bot_env(fake_openai, tmp_path),
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(wa.to_json_line(wa.private_text("slow one", sender=ALICE)).encode() + b"\n")
    await proc.stdin.drain()
    await asyncio.wait_for(gate.entered(1), 30)  # the OpenAI call is in flight
    proc.send_signal(signal.SIGTERM)
    gate.release()
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert [json.loads(line)["text"] for line in out.decode().splitlines()] == ["echo: slow one"]
    with sqlite3.connect(tmp_path / "bot.db") as db:
        states = db.execute("SELECT text, state FROM messages").fetchall()
    assert states == [("slow one", "answered")]


async def test_a_bad_env_file_is_refused_with_every_key_named(tmp_path: Path) -> None:
    """Bad settings: exit code 2, each bad key named on stderr, nothing else started."""
    (tmp_path / ".env").write_text(
        "OPENAI_API_MODE=chatty\nOPENAI_TIMEOUT_SECONDS=soon\nGROUP_MODE=loud\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "--replay",
        "-",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    text = err.decode()
    for key in ("OPENAI_API_MODE", "OPENAI_TIMEOUT_SECONDS", "GROUP_MODE", "OPENAI_API_KEY"):
        assert key in text
    assert out == b""
    assert not (tmp_path / "data").exists()


async def test_a_reminder_arrives_at_its_time_and_after_a_restart(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Set through a tool in a replay: delivered at its time; a missed one on the next start."""
    due = datetime.now(UTC) + timedelta(seconds=5)  # after the subprocess has started
    fake_openai.script(
        ToolCalls([("set_reminder", {"when": due.isoformat(), "text": "stretch"})]),
        Text("Reminder set."),
    )
    line = wa.to_json_line(wa.private_text("remind me to stretch", sender=ALICE))
    code, sent, err = await replay(fake_openai, tmp_path, [line])
    assert code == 0, err
    assert [s["text"] for s in sent] == ["Reminder set.", "⏰ Reminder: stretch"]
    assert datetime.now(UTC) >= due  # it came at its time, not before
    assert all(s["to"] == f"{ALICE}@s.whatsapp.net" for s in sent)

    # A second reminder, left pending by a run that does not linger...
    later = datetime.now(UTC) + timedelta(hours=1)
    fake_openai.script(
        ToolCalls([("set_reminder", {"when": later.isoformat(), "text": "tea"})]),
        Text("Noted."),
    )
    line = wa.to_json_line(wa.private_text("remind me about tea", sender=ALICE))
    code, sent, err = await replay(fake_openai, tmp_path, [line], LINGER="0")
    assert [s["text"] for s in sent] == ["Noted."]
    # ...and its time passes while the bot is down.
    with sqlite3.connect(tmp_path / "bot.db") as db:
        db.execute("UPDATE reminders SET due_at = due_at - 7200 WHERE state = 'pending'")
    code, sent, err = await replay(fake_openai, tmp_path, [])
    assert code == 0, err
    [late] = sent
    assert late["text"].startswith("⏰ Reminder: tea") and "offline" in late["text"]


@pytest.mark.parametrize("mode", ["chat", "responses", "assistants"])
async def test_each_mode_keeps_one_context_per_chat_across_restarts_and_runs_tools(
    fake_openai: FakeOpenAI, tmp_path: Path, mode: str
) -> None:
    """Per mode: one server-side thread/conversation per chat, reused after a restart;
    two parallel tool calls answered together, then a final answer."""
    env = {"OPENAI_API_MODE": mode, "OPENAI_ASSISTANT_ID": "asst_test"}
    bob = "15550002222"
    first = [
        wa.to_json_line(wa.private_text("hello", sender=ALICE)),
        wa.to_json_line(wa.private_text("hi", sender=bob)),
    ]
    code, sent, err = await replay(fake_openai, tmp_path, first, **env)
    assert code == 0, err
    assert sorted(s["text"] for s in sent) == ["echo: hello", "echo: hi"]

    fake_openai.script(
        ToolCalls(
            [
                ("current_datetime", {"timezone": "Asia/Tokyo"}),
                ("current_datetime", {"timezone": "Europe/Paris"}),
            ]
        ),
        Text("Tokyo and Paris times sent."),
    )
    again = [wa.to_json_line(wa.private_text("time in Tokyo and Paris?", sender=ALICE))]
    code, sent, err = await replay(fake_openai, tmp_path, again, **env)
    assert code == 0, err
    assert [s["text"] for s in sent] == ["Tokyo and Paris times sent."]

    with sqlite3.connect(tmp_path / "bot.db") as db:
        threads = db.execute("SELECT chat, backend FROM threads WHERE active = 1").fetchall()
        tools = db.execute("SELECT tool, ok FROM tool_calls").fetchall()
    if mode == "chat":
        assert threads == []
    else:
        assert sorted(threads) == [
            (f"{ALICE}@s.whatsapp.net", mode),
            (f"{bob}@s.whatsapp.net", mode),
        ]
        created = "/threads" if mode == "assistants" else "/conversations"
        made = [
            r
            for r in fake_openai.requests_to(created, method="POST")
            if r.json.get("metadata") != {"purpose": "preflight"}  # the auto state's probe
        ]
        assert len(made) == 2  # none after restart
    assert tools == [("current_datetime", 1), ("current_datetime", 1)]
    if mode == "assistants":
        [submit] = fake_openai.requests_to("/submit_tool_outputs")
        assert len(submit.body["tool_outputs"]) == 2
    elif mode == "responses":
        outputs = [
            item
            for r in fake_openai.requests_to("/responses", method="POST")
            for item in r.body["input"]
            if item.get("type") == "function_call_output"
        ]
        assert len(outputs) == 2
        assert len(fake_openai.requests_to("/responses", method="POST")) == 4  # 2 turns + 2


async def test_assistants_mode_refuses_to_start_when_the_api_is_gone(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """A server without the Assistants API: exit 2 and a message naming the fix."""
    fake_openai.assistants_enabled = False
    code, sent, err = await replay(
        fake_openai, tmp_path, [], OPENAI_API_MODE="assistants", OPENAI_ASSISTANT_ID="asst_test"
    )
    assert code == 2
    assert sent == []
    assert "OPENAI_API_MODE=responses" in err and "2026-08-26" in err


async def test_console_chats_as_one_user(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """--console: typed lines are that user's messages; answers and commands print."""
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
    out, err = await asyncio.wait_for(proc.communicate(b"hello bot\n/stats\n"), 60)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "bot> echo: hello bot" in text
    assert "Today: 1 messages" in text
    assert fake_openai.calls[-1].last_user_text == "hello bot"
