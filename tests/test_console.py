"""``main.py --console`` is pleasant: replies marked on every line, quiet logs, no debounce."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI, Text
from tests.test_replay_e2e import ALICE, ROOT, bot_env

pytestmark = pytest.mark.slow


async def _console(fake: FakeOpenAI, tmp_path: Path, typed: bytes, **env: str) -> tuple[str, str]:
    """Run the console over ``typed``; its stdout and stderr (it must exit 0)."""
    environ = bot_env(fake, tmp_path)
    del environ["LOG_LEVEL"]
    environ.update(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "main.py"), "--console", "--sender", f"{ALICE}@s.whatsapp.net",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env=environ,
    )  # fmt: skip
    # DEBOUNCE_SECONDS=60 would hold each answer a minute: the console must not wait.
    out, err = await asyncio.wait_for(proc.communicate(typed), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode(), err.decode()


async def test_console_marks_every_reply_line_and_answers_at_once(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """A two-line reply has "bot> " on both lines; a 60 s debounce setting adds no wait."""
    fake_openai.script(Text("first line\nsecond line"), Text("ok"))
    out, _ = await _console(fake_openai, tmp_path, b"hello\nagain\n", DEBOUNCE_SECONDS="60")
    assert "bot> first line\nbot> second line" in out
    assert "bot> ok" in out


async def test_console_logs_only_warnings_unless_log_level_is_set(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Without LOG_LEVEL the console prints no INFO log lines; LOG_LEVEL=INFO brings them."""
    _, quiet = await _console(fake_openai, tmp_path, b"hello\n", DEBOUNCE_SECONDS="0")
    assert "turn.answered" not in quiet and "bot.ready" not in quiet
    _, loud = await _console(
        fake_openai, tmp_path, b"hello\n", DEBOUNCE_SECONDS="0", LOG_LEVEL="INFO"
    )
    assert "turn.answered" in loud
