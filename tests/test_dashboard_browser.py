"""The dashboard in a real headless Chromium (Playwright), on ``main.py --replay`` with the
admin server on: log in, see the chat a replayed message created, pause it, and see that the
next message is not answered."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests import wa_events as wa
from tests.fake_openai import FakeOpenAI, Text
from tests.test_replay_e2e import ME, ME_LID, ROOT, bot_env

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "dashboard-token-789"
ALICE = "15550001111"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _playwright() -> Any:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("no browser test: the playwright package is not installed (./test.sh does)")
    if CHROMIUM is None:
        pytest.skip("no browser test: no chromium on PATH (apt-get install chromium; .ci/run does)")
    return async_playwright


class Bot:
    """``main.py --replay -`` as a subprocess: write events, read its log events and replies."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read_log())

    async def _read_log(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            try:
                self.events.put_nowait(json.loads(line))
            except ValueError:
                continue

    async def event(self, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Wait for the next log event that passes ``check``."""
        while not check(event := await asyncio.wait_for(self.events.get(), 60)):
            pass
        return event

    async def send(self, ev: Any) -> None:
        """Deliver one neonize event."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(wa.to_json_line(ev).encode() + b"\n")
        await self.proc.stdin.drain()

    async def reply(self) -> dict[str, Any]:
        """The next message the bot sent."""
        assert self.proc.stdout is not None
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 60))
        return reply


@asynccontextmanager
async def replay_bot(fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[tuple[Bot, str]]:
    """The bot replaying stdin, its admin server on a free port; yields it and the base URL."""
    env = bot_env(fake, tmp_path, ADMIN_HTTP_ADDR="127.0.0.1:0", ADMIN_TOKEN=TOKEN)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "main.py"), "--replay", "-", "--me", ME, "--me-lid", ME_LID,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env=env,
    )  # fmt: skip
    bot = Bot(proc)
    try:
        listening = await bot.event(lambda e: e.get("event") == "admin.listening")
        yield bot, f"http://127.0.0.1:{listening['port']}"
    finally:
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 60)
        await bot.reader


async def test_log_in_see_the_chat_pause_it_and_the_next_message_is_not_answered(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Log in with the token, find the replayed chat, pause it: its next message gets no reply."""
    async_playwright = _playwright()
    fake_openai.script(Text("Hello Ada"))
    async with replay_bot(fake_openai, tmp_path) as (bot, base), async_playwright() as pw:
        await bot.send(wa.private_text("hello there", sender=ALICE, push_name="Ada"))
        assert (await bot.reply())["text"] == "Hello Ada"
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = await browser.new_page()
            response = await page.goto(f"{base}/chats")
            assert response is not None and response.status == 401
            await page.fill("input[name=token]", "not the token")
            await page.click("button[type=submit]")
            assert await page.locator(".bad").inner_text() == "That is not the admin token."
            await page.fill("input[name=token]", TOKEN)
            await page.click("button[type=submit]")
            assert "connected" in await page.locator("table").inner_text()
            await page.goto(f"{base}/chats")
            row = page.locator(f'tr[data-chat="{ALICE}@s.whatsapp.net"]')
            assert "Ada" in await row.inner_text()
            assert await row.locator(".state").inner_text() == "active"
            await row.get_by_role("button", name="Pause").click()
            row = page.locator(f'tr[data-chat="{ALICE}@s.whatsapp.net"]')
            assert await row.locator(".state").inner_text() == "paused"

            await bot.send(wa.private_text("are you there?", sender=ALICE, push_name="Ada"))
            gated = await bot.event(lambda e: e.get("event") == "turn.gated")
            assert gated["reason"] == "chat_paused"
            await page.goto(f"{base}/chats/{ALICE}@s.whatsapp.net")
            last = page.locator("tr.in").last
            assert "are you there?" in await last.inner_text()
            assert await last.locator(".state").inner_text() == "ignored (chat_paused)"
        finally:
            await browser.close()
        assert bot.proc.stdin is not None
        bot.proc.stdin.close()
        assert await asyncio.wait_for(bot.proc.stdout.read(), 60) == b""  # type: ignore[union-attr]
    assert bot.proc.returncode == 0
    assert len(fake_openai.calls) == 1
