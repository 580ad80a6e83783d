"""The admin server runs beside every front-end, and only when ADMIN_HTTP_ADDR is set."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
from structlog.testing import capture_logs

from bot.settings import Settings
from bot.whatsapp.convert import to_incoming
from tests import wa_events as wa
from tests.admin_kit import TOKEN
from tests.fake_openai import FakeOpenAI
from tests.test_app_live import start

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("strawberry", "prometheus_client", "bot.admin.server", "aiohttp.web", "graphql")


async def test_live_front_end_serves_readyz_once_connected(
    fake_openai: FakeOpenAI, make_settings: Callable[..., Settings]
) -> None:
    """With the live front-end /readyz is 503 until WhatsApp connects, then 200."""
    settings = make_settings(
        OPENAI_BASE_URL=fake_openai.base_url, ADMIN_HTTP_ADDR="127.0.0.1:0", ADMIN_TOKEN=TOKEN
    )
    stop = asyncio.Event()
    with capture_logs() as logs:
        task, front = await start(settings, stop)
    port = next(e["port"] for e in logs if e["event"] == "admin.listening")
    url = f"http://127.0.0.1:{port}/readyz"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers) as r:
            assert (r.status, await r.text()) == (503, "not ready: whatsapp: not connected\n")
        front.connected.set()
        front.deliver(to_incoming(wa.private_text("hi", sender="15550001111")))
        await asyncio.wait_for(front.transport.wait_for_sends(1), 10)  # serving now
        async with http.get(url, headers=headers) as r:
            assert r.status == 200
    stop.set()
    assert await asyncio.wait_for(task, 20) == 0


def test_with_the_admin_server_off_its_libraries_are_not_imported(tmp_path: Path) -> None:
    """Importing and wiring the bot without ADMIN_HTTP_ADDR loads no GraphQL, metrics or server."""
    probe = (
        "import sys, main, bot.app, bot.console\n"
        "from bot.app import _observer\n"
        "from bot.settings import load_settings\n"
        "_observer(load_settings({'OPENAI_API_KEY': 'sk-x'}))\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
